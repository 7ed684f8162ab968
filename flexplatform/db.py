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
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Any, ClassVar

from fastapi import Request
from sqlalchemy import JSON, DateTime, Enum, MetaData, create_engine, event, insert
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.pool import QueuePool
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


# How long a writer waits in line for SQLite's single write lock before the request is
# answered 503 (retry) rather than left hanging.
SQLITE_WRITE_WAIT_S = 30.0


class _WriterQueue:
    """One in-process line for SQLite's single write lock.

    SQLite's own busy handler polls with growing sleeps, so under fifty clients an unlucky
    writer can lose every race for 30 s; waiting on a Python lock instead hands the write
    lock over as soon as it is free, in close to arrival order. The lock is taken when a
    writing transaction begins and given back when it commits or rolls back (or when its
    connection goes back to the pool, whichever comes first).
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()

    def begin(self, conn: Any) -> None:
        mode = conn.get_execution_options().get("sqlite_begin", "IMMEDIATE")
        if mode == "IMMEDIATE" and not conn.info.get("sqlite_writer"):
            if not self.lock.acquire(timeout=SQLITE_WRITE_WAIT_S):
                raise OperationalError("BEGIN IMMEDIATE", None,
                                       sqlite3.OperationalError("database is locked"))
            conn.info["sqlite_writer"] = True
        try:
            conn.exec_driver_sql(f"BEGIN {mode}")
        except BaseException:
            self.end(conn)
            raise

    def end(self, conn: Any) -> None:
        if conn.info.pop("sqlite_writer", False):
            self.lock.release()

    def end_record(self, _dbapi_conn: Any, record: Any, *_: Any) -> None:
        if record.info.pop("sqlite_writer", False):
            self.lock.release()


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        path = url.removeprefix("sqlite:///")
        if path and path != url and not path.startswith(":memory:"):
            from pathlib import Path

            Path(path).parent.mkdir(parents=True, exist_ok=True)
        # A pool as large as the API's thread pool: SQLite connections are cheap, and a
        # request waiting for a connection would otherwise time out under a demo crowd.
        engine = create_engine(url, connect_args={"check_same_thread": False},
                               poolclass=QueuePool, pool_size=40, max_overflow=20,
                               pool_timeout=30)
        event.listen(engine, "connect", _sqlite_pragmas)
        # Writes take SQLite's one write lock up front (BEGIN IMMEDIATE), queued in-process;
        # read-only transactions (the API's GET requests) begin DEFERRED and run
        # concurrently under WAL, never waiting behind writes. IMMEDIATE turns the audit
        # chain's read-then-write into a queued wait instead of "database is locked".
        writers = _WriterQueue()
        event.listen(engine, "begin", writers.begin)
        event.listen(engine, "commit", writers.end)
        event.listen(engine, "rollback", writers.end)
        event.listen(engine.pool, "checkin", writers.end_record)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10)


@lru_cache
def get_engine() -> Engine:
    settings = get_settings()
    return make_engine(settings.resolved_database_url)


@lru_cache
def get_sessionmaker(readonly: bool = False) -> sessionmaker[Session]:
    engine = get_engine()
    bind = engine.execution_options(sqlite_begin="DEFERRED") if readonly else engine
    return sessionmaker(bind=bind, expire_on_commit=False, info={"readonly": readonly})


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
def unit_of_work(factory: Callable[[], Session] | None = None, readonly: bool = False
                 ) -> Iterator[Session]:
    """One transaction: commit on success, roll back on any error, then run hooks.

    ``readonly`` is a promise the work mostly reads (it may still write, e.g. a key's
    last-used time): on SQLite it begins without taking the write lock.
    """
    session = (factory or get_sessionmaker(readonly))()
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


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def get_session(request: Request) -> Iterator[Session]:
    """FastAPI dependency: one transaction per request, committed before the response."""
    with unit_of_work(readonly=request.method in SAFE_METHODS) as session:
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
