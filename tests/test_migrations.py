"""Migrations: one head, apply cleanly on an empty database, and match the models."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from flexplatform.db import Base
from flexplatform.migrate import alembic_config


def test_single_head():
    heads = ScriptDirectory.from_config(alembic_config()).get_heads()
    assert len(heads) == 1, heads


def test_models_match_migrations(engine):
    """Runs on each backend's database, which the session built with Alembic only."""
    import flexplatform.models  # noqa: F401
    from flexplatform.reporting.partitions import include_name

    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True,
                                                     "include_name": include_name})
        diff = compare_metadata(ctx, Base.metadata)
    assert diff == [], diff


def test_upgrade_from_empty(tmp_path):
    from sqlalchemy import inspect

    from flexplatform.db import make_engine
    from flexplatform.migrate import upgrade

    url = f"sqlite:///{tmp_path / 'empty.db'}"
    upgrade(url)
    engine = make_engine(url)
    tables = set(inspect(engine).get_table_names())
    engine.dispose()
    assert {"participants", "assets", "audit_events", "markets", "needs"} <= tables
