"""Live harness for competition: committed data, tasks in-process or on a real worker.

Clearing runs in tasks with their own transactions, so these tests cannot use the
rolled-back connection; each test gets a freshly migrated database instead. The ``mode``
parameter runs the same test eagerly (embedded default) and, where Redis is configured,
through a real Celery worker (pool ``solo``) consuming from Redis.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from flexplatform.db import reset_runtime
from tests.conftest import fresh_postgres, missing_service, require_postgres


def redis_url() -> str | None:
    return os.environ.get("FLEX_TEST_REDIS_URL") or os.environ.get("FLEX_REDIS_URL")


@pytest.fixture(scope="module", params=["eager", "worker"])
def mode(request: pytest.FixtureRequest) -> str:
    if request.param == "worker" and not redis_url():
        missing_service("no Redis configured for the real-worker run (FLEX_REDIS_URL)")
    return request.param


def live_postgres_url() -> str:
    """A fresh, empty database of its own beside the suite's (``<name>_live``), so two
    checkouts testing against one server with different FLEX_TEST_POSTGRES_URL never share
    it."""
    from flexplatform.db import make_engine

    base = require_postgres()
    server, name = base.rsplit("/", 1)
    live_db = f"{name.split('?')[0]}_live"
    url = f"{server}/{live_db}"
    admin = make_engine(f"{server}/postgres")
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
        if not c.scalar(text("SELECT 1 FROM pg_database WHERE datname=:n"), {"n": live_db}):
            c.execute(text(f'CREATE DATABASE "{live_db}"'))
    admin.dispose()
    fresh_postgres(url).dispose()
    return url


def migrate_and_seed(url: str) -> None:
    from flexplatform import migrate
    from flexplatform.db import unit_of_work
    from flexplatform.governance.service import seed_taxonomy

    migrate.upgrade(url)
    with unit_of_work() as s:
        seed_taxonomy(s)


@pytest.fixture
def live(backend: str, mode: str, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
         ) -> Iterator[dict[str, Any]]:
    url = f"sqlite:///{tmp_path / 'live.db'}" if backend == "sqlite" else live_postgres_url()
    monkeypatch.setenv("FLEX_DATABASE_URL", url)
    monkeypatch.setenv("FLEX_VAR_DIR", str(tmp_path))
    # The tests' webhook receivers listen on loopback over http.
    monkeypatch.setenv("FLEX_WEBHOOK_ALLOW_INSECURE", "true")
    if mode == "worker":
        monkeypatch.setenv("FLEX_REDIS_URL", redis_url())  # type: ignore[arg-type]
        monkeypatch.setenv("FLEX_TASK_ALWAYS_EAGER", "false")
        # Keys of this test alone: a message left by another never reaches its worker, and
        # a producer built later (after reset_runtime) still speaks to this worker.
        monkeypatch.setenv("FLEX_REDIS_KEY_PREFIX", f"flextest-{uuid.uuid4().hex[:8]}:")
    else:
        monkeypatch.delenv("FLEX_REDIS_URL", raising=False)
        monkeypatch.setenv("FLEX_TASK_ALWAYS_EAGER", "true")
    reset_runtime()
    migrate_and_seed(url)
    worker_ctx = None
    if mode == "worker":
        from celery.contrib.testing.worker import start_worker

        from workers.app import make_celery

        capp = make_celery()
        capp.set_current()
        capp.loader.import_default_modules()
        import workers.tasks  # noqa: F401  (register shared tasks on this app)

        worker_ctx = start_worker(capp, pool="solo", concurrency=1, perform_ping_check=False,
                                  shutdown_timeout=30)
        worker_ctx.__enter__()
    from flexplatform.app import create_app

    try:
        with TestClient(create_app(), raise_server_exceptions=False) as client:
            yield {"client": client, "mode": mode, "backend": backend, "url": url}
    finally:
        if worker_ctx is not None:
            worker_ctx.__exit__(None, None, None)
        reset_runtime()


def run_task(name: str, **kw: Any) -> None:
    """Enqueue and wait: in-process it has already run; on the worker, wait for its result."""
    from flexplatform.queue import enqueue, producer

    task_id = enqueue(name, **kw)
    if task_id is not None:
        producer().AsyncResult(task_id).get(timeout=60)
