"""Engine, sessions and the unit of work.

Services take a ``Session`` and never commit: the request (or task) that opened the
session owns the transaction, so a request is all-or-nothing. Work that must only happen
once the data is durable (enqueueing a task, sending a webhook) is registered with
:func:`after_commit` and runs after the commit succeeds.
"""

from __future__ import annotations

import datetime as dt
import enum
import json
import operator
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Any, ClassVar

from sqlalchemy import JSON, DateTime, Enum, MetaData, create_engine, event, insert
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

from flexplatform.config import get_settings

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC on every backend.

    SQLite stores no offset; reading back a naive value and tagging it UTC keeps the rest of
    the code free of naive datetimes. Naive input is refused rather than guessed.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime refused; use timezone-aware UTC")
        return value.astimezone(dt.UTC)

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


def str_enum(cls: type[enum.Enum], length: int = 20) -> Enum:
    """A Python enum stored as VARCHAR on both backends.

    Non-native: adding a value is a code change, not a Postgres ALTER TYPE migration.
    """
    return Enum(cls, native_enum=False, length=length, validate_strings=True)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {dt.datetime: UTCDateTime, dict[str, Any]: JSON, list[Any]: JSON}


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # Let SQLAlchemy, not pysqlite, decide when transactions begin (needed for SAVEPOINTs).
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        path = url.removeprefix("sqlite:///")
        if path and path != url and not path.startswith(":memory:"):
            from pathlib import Path

            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
        # IMMEDIATE takes the write lock up front: SQLite has one writer anyway, and taking it
        # late turns read-then-write races (the audit chain's next sequence number) into
        # "database is locked" failures instead of a short wait.
        event.listen(engine, "begin", lambda conn: conn.exec_driver_sql("BEGIN IMMEDIATE"))
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10)


@lru_cache
def get_engine() -> Engine:
    settings = get_settings()
    return make_engine(settings.resolved_database_url)


@lru_cache
def get_sessionmaker() -> sessionmaker[Session]:
    return sessionmaker(bind=get_engine(), expire_on_commit=False)


def after_commit(session: Session, fn: Callable[[], Any]) -> None:
    """Run ``fn`` once the session's transaction has committed (dropped on rollback)."""
    session.info.setdefault("after_commit", []).append(fn)


def run_after_commit(session: Session) -> None:
    hooks = session.info.pop("after_commit", [])
    for fn in hooks:
        fn()


def discard_after_commit(session: Session) -> None:
    session.info.pop("after_commit", None)


@contextmanager
def unit_of_work(factory: Callable[[], Session] | None = None) -> Iterator[Session]:
    """One transaction: commit on success, roll back on any error, then run hooks."""
    session = (factory or get_sessionmaker())()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        discard_after_commit(session)
        raise
    finally:
        session.close()
    run_after_commit(session)


def get_session() -> Iterator[Session]:
    """FastAPI dependency: one transaction per request, committed before the response."""
    with unit_of_work() as session:
        yield session


def reset_runtime() -> None:
    """Forget the cached settings, engine, sessionmaker and task producer.

    For code that changes ``FLEX_*`` in-process (the demo's fresh database, tests that
    point the platform at another database): the next call reads the environment again.
    """
    from flexplatform import config, queue

    if get_engine.cache_info().currsize:
        get_engine().dispose()
    for fn in (config.get_settings, get_engine, get_sessionmaker, queue.producer,
               queue.eager_app):
        fn.cache_clear()


def _copy_converter(v: Any) -> Callable[[Any], Any] | None:
    """How a column's values must be written for COPY, judged from one sample value."""
    if isinstance(v, enum.Enum):
        return lambda x: None if x is None else x.value
    if isinstance(v, (dict, list)):
        return lambda x: None if x is None else json.dumps(x, separators=(",", ":"))
    if isinstance(v, dt.datetime):
        def to_utc(x: Any) -> Any:
            if x is not None and x.tzinfo is None:
                raise ValueError("naive datetime refused; use timezone-aware UTC")
            return None if x is None else x.astimezone(dt.UTC)
        return to_utc
    return None


def bulk_insert(session: Session, model: type[Base], rows: list[dict[str, Any]],
                chunk: int = 5000) -> None:
    """Insert many plain rows inside the session's transaction, as fast as the backend allows.

    Postgres gets ``COPY ... FROM STDIN`` (one round trip a chunk instead of one per row;
    ~15x faster than executemany for contracts and bids); SQLite's executemany is already
    a C loop. Values are converted as the column types would (enums by value, JSON as text,
    datetimes to UTC) because COPY bypasses SQLAlchemy's type processing.
    """
    if not rows:
        return
    if session.get_bind().dialect.name != "postgresql":
        for i in range(0, len(rows), chunk):
            session.execute(insert(model), rows[i : i + chunk])
        return
    session.flush()
    table = model.__table__
    cols = list(rows[0])
    raw = session.connection().connection.driver_connection
    sql = f'COPY {table.name} ({", ".join(cols)}) FROM STDIN'
    # One converter per column, chosen from the first non-null value (columns are uniform).
    convert = {c: _copy_converter(next((r[c] for r in rows if r[c] is not None), None))
               for c in cols}
    # Values are read with one C-level itemgetter per row; only the few columns that need a
    # converter are touched in Python (192,000 contract rows: ~0.5 s less than a per-cell loop).
    get = operator.itemgetter(*cols)
    fix = [(i, convert[c]) for i, c in enumerate(cols) if convert[c] is not None]
    with raw.cursor() as cur, cur.copy(sql) as copy:
        for r in rows:
            vals = get(r) if len(cols) > 1 else (r[cols[0]],)
            if fix:
                vals = list(vals)
                for i, f in fix:
                    vals[i] = f(vals[i])
            copy.write_row(vals)
