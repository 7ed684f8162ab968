"""The Celery application: Redis broker and result backend, at-least-once delivery.

Tasks are idempotent, so ``acks_late`` with ``task_reject_on_worker_lost`` is safe: a
worker killed mid-task leaves the message on the queue and the next worker redoes the task
from the database state. Solves are long and CPU-bound, hence prefetch of one and a
visibility timeout well above the longest solve.
"""

from __future__ import annotations

from celery import Celery

from flexplatform.config import get_settings
from flexplatform.queue import TASK_MODULES as _LOADED
from flexplatform.scheduler import schedule

# One list of task modules (flexplatform.queue's, which the embedded mode loads too).
TASK_MODULES = tuple(m for m in _LOADED if m != "workers.app")


def make_celery() -> Celery:
    s = get_settings()
    broker = s.redis_url or "memory://"
    backend = s.redis_url or "cache+memory://"
    app = Celery("flexplatform", broker=broker, backend=backend, include=list(TASK_MODULES))
    app.conf.update(
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_always_eager=s.eager,
        task_eager_propagates=True,
        task_track_started=True,
        result_expires=7 * 24 * 3600,
        timezone="UTC",
        enable_utc=True,
        # Longest task (a national clearing) is bounded by the solver time limit; keep the
        # redelivery window far above it so a slow solve is never handed to a second worker.
        broker_transport_options={"visibility_timeout": 4 * 3600},
        result_backend_transport_options={"visibility_timeout": 4 * 3600},
        broker_connection_retry_on_startup=True,
        beat_schedule={key: {"task": task, "schedule": every}
                       for key, (task, every) in schedule(s).items()},
    )
    if s.redis_key_prefix:
        for opts in (app.conf.broker_transport_options,
                     app.conf.result_backend_transport_options):
            opts["global_keyprefix"] = s.redis_key_prefix
    return app


app = make_celery()
