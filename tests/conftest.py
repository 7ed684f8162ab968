"""Test harness: every API test runs against SQLite and, where configured, Postgres.

Each backend is migrated once per session with Alembic (so migrations are exercised on an
empty database); each test then runs inside one outer transaction rolled back at its end,
and each request inside it is a SAVEPOINT, so a request's commit or rollback behaves as in
production while tests stay independent.

Postgres comes from FLEX_TEST_POSTGRES_URL, else FLEX_DATABASE_URL. Without either the
Postgres half is skipped locally; under CI=true it is a failure, never a skip.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from flexplatform import migrate
from flexplatform.audit import Actor
from flexplatform.db import discard_after_commit, get_session, make_engine, run_after_commit
from tests.helpers import Party

IN_CI = os.environ.get("CI", "").lower() == "true"
# Whatever the embedded default would write (SQLite file) goes to a scratch folder.
os.environ.setdefault("FLEX_VAR_DIR", tempfile.mkdtemp(prefix="flex-test-"))
# Audit checkpoints are signed; a server database needs the key set (never a default).
os.environ.setdefault("FLEX_AUDIT_SECRET", "test-only-audit-checkpoint-key-0123456789abcdef")


def postgres_url() -> str | None:
    url = os.environ.get("FLEX_TEST_POSTGRES_URL") or os.environ.get("FLEX_DATABASE_URL")
    if url and url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    return url if url and url.startswith("postgresql") else None


def missing_service(reason: str) -> None:
    """A real service is not there: a failure under CI=true, a skip on a bare machine."""
    if IN_CI:
        pytest.fail(f"CI=true but {reason}")
    pytest.skip(reason)


def require_postgres() -> str:
    url = postgres_url()
    if url is None:
        missing_service("no Postgres configured (FLEX_TEST_POSTGRES_URL/FLEX_DATABASE_URL)")
    return url  # type: ignore[return-value]


def fresh_postgres(url: str) -> Engine:
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    except Exception as e:  # unreachable server
        missing_service(f"Postgres is unreachable: {e}")
    return engine


_engines: dict[str, Engine] = {}


def migrated_engine(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Engine:
    if backend in _engines:
        return _engines[backend]
    if backend == "sqlite":
        path = tmp_path_factory.mktemp("db") / "test.db"
        url = f"sqlite:///{path}"
        engine = make_engine(url)
    else:
        url = require_postgres()
        engine = fresh_postgres(url)
    with engine.connect() as conn:
        migrate.upgrade(connection=conn)
        conn.commit()
    from flexplatform.governance.service import seed_taxonomy

    with Session(engine) as s:
        seed_taxonomy(s)
        s.commit()
    _engines[backend] = engine
    return engine


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(scope="session")
def engine(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Engine:
    return migrated_engine(backend, tmp_path_factory)


@pytest.fixture
def connection(engine: Engine) -> Iterator[Any]:
    conn = engine.connect()
    outer = conn.begin()
    try:
        yield conn
    finally:
        outer.rollback()
        conn.close()


def _session(conn: Any) -> Session:
    return Session(bind=conn, join_transaction_mode="create_savepoint", expire_on_commit=False)


@pytest.fixture
def db(connection: Any) -> Iterator[Session]:
    """A session for arranging and inspecting data inside the test's transaction."""
    s = _session(connection)
    try:
        yield s
    finally:
        s.close()


@pytest.fixture(scope="session")
def app() -> Any:
    from flexplatform.app import create_app

    return create_app()


@pytest.fixture
def client(app: Any, connection: Any) -> Iterator[TestClient]:
    def override() -> Iterator[Session]:
        s = _session(connection)
        try:
            yield s
            s.commit()
        except BaseException:
            s.rollback()
            discard_after_commit(s)
            raise
        finally:
            s.close()
        run_after_commit(s)

    app.dependency_overrides[get_session] = override
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c
    app.dependency_overrides.clear()


@pytest.fixture
def terms(db: Session) -> str:
    import datetime as dt

    from flexplatform.registration.schemas import TermsCreate
    from flexplatform.registration.service import create_terms

    tv = create_terms(db, TermsCreate(version="T-2026.1", title="Market terms",
                                      body="The participant agrees to the market rules.",
                                      effective_from=dt.datetime(2020, 1, 1, tzinfo=dt.UTC)),
                      Actor.system())
    db.commit()
    return tv.version


@pytest.fixture
def make_party(db: Session, terms: str):
    """Create a participant with a key; accepts the terms in force unless told not to."""
    from flexplatform.auth import Principal
    from flexplatform.registration.schemas import ParticipantCreate
    from flexplatform.registration.service import accept_terms, create_participant

    counter = iter(range(1, 10_000))

    def make(role: str, accept: bool = True, name: str | None = None) -> Party:
        n = next(counter)
        p, key = create_participant(db, ParticipantCreate(
            role=role, legal_name=name or f"{role.upper()} {n} Ltd",
            billing_contact={"name": "Billing", "email": f"billing{n}@example.org"}),
            Actor.system())
        if accept and role in ("mo", "fsp"):
            accept_terms(db, terms, Principal(participant=p, key_prefix="test"))
        db.commit()
        return Party(id=p.id, role=role, key=key)

    return make


@pytest.fixture
def zones(db: Session) -> list[str]:
    from flexplatform.governance.models import Zone, ZoneKind

    codes = ["CMZ_NORTH", "CMZ_SOUTH"]
    if db.get(Zone, "GSP_A") is None:
        db.add(Zone(code="GSP_A", name="GSP group A", kind=ZoneKind.gsp_group))
        db.flush()
    for c in codes:
        if db.get(Zone, c) is None:
            db.add(Zone(code=c, name=c.title(), kind=ZoneKind.cmz, parent_code="GSP_A",
                        dso="NGED"))
    db.commit()
    return codes


