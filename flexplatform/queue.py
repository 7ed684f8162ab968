"""Enqueue tasks by name; the platform never imports worker code.

With Redis configured a producer-only Celery app sends the task to the workers. Embedded
(no Redis), tasks run in-process: the task modules are loaded by name from settings, as a
worker would load them, and executed synchronously once the request has committed.
"""

from __future__ import annotations

import importlib
import logging
from functools import lru_cache
from typing import Any

from celery import Celery

from flexplatform.config import get_settings

# The worker entry point (its configured Celery app becomes current) and its tasks.
# The one list: workers/app.py includes the same modules (every one but itself).
TASK_MODULES = ("workers.app", "workers.tasks", "workers.operations", "workers.reporting",
                "workers.transparency", "workers.trading", "workers.monitoring")
log = logging.getLogger(__name__)


@lru_cache
def producer() -> Celery:
    s = get_settings()
    app = Celery("flexplatform-api", broker=s.redis_url or "memory://",
                 backend=s.redis_url or "cache+memory://", set_as_current=False)
    app.conf.update(task_serializer="json", accept_content=["json"],
                    broker_connection_retry_on_startup=True)
    if s.redis_key_prefix:  # the workers' prefix (workers.app), or they never meet
        opts = {"global_keyprefix": s.redis_key_prefix}
        app.conf.broker_transport_options = opts
        app.conf.result_backend_transport_options = dict(opts)
    return app


@lru_cache
def eager_app() -> Celery:
    """The worker's own Celery app, built from the current (eager) settings."""
    app = importlib.import_module("workers.app").make_celery()
    for mod in TASK_MODULES:
        importlib.import_module(mod)
    return app


def _eager_task(name: str) -> Any:
    app = eager_app()
    # Tasks that start other work (a chord) use the current app: make it this eager one.
    app.set_current()
    return app.tasks[name]


def enqueue(name: str, **kwargs: Any) -> str | None:
    """Send task ``name``; returns the task id (None when it ran in-process)."""
    if get_settings().eager:
        # As with a real worker, a failing task is the task's failure, not the caller's:
        # the request that enqueued it has already committed.
        res = _eager_task(name).apply(kwargs=kwargs, throw=False)
        if res.failed():
            log.error("in-process task %s failed: %r\n%s", name, res.result, res.traceback)
        return None
    return producer().send_task(name, kwargs=kwargs).id
