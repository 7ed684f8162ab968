"""A fresh Postgres schema for a bench run (the benches share it; run them as scripts,
``python bench/<name>.py``, so this directory is on the path)."""

from __future__ import annotations


def fresh_schema(url: str) -> None:
    """Create the database if missing, then drop and recreate its public schema."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    u = make_url(url)
    admin = create_engine(u.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        if not c.execute(text("SELECT 1 FROM pg_database WHERE datname = :d"),
                         {"d": u.database}).scalar():
            c.execute(text(f'CREATE DATABASE "{u.database}"'))
    admin.dispose()
    eng = create_engine(u)
    with eng.begin() as c:
        c.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        c.execute(text("CREATE SCHEMA public"))
    eng.dispose()
