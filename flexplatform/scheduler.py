"""Embedded stand-in for celery beat: runs the beat schedule's tasks in-process.

Only used when no Redis is configured, so a single ``flexplatform serve`` still closes
gates and clears markets on time.
"""

from __future__ import annotations

import logging
import threading
import time

from flexplatform.config import get_settings
from flexplatform.queue import enqueue

log = logging.getLogger(__name__)
SCHEDULE = ("flex.competition.scan_gate_closures",)


def start_embedded_scheduler() -> threading.Thread:
    every = get_settings().gate_scan_seconds

    def loop() -> None:
        while True:
            for name in SCHEDULE:
                try:
                    enqueue(name)
                except Exception:  # keep the scheduler alive; the next tick retries
                    log.exception("scheduled task %s failed", name)
            time.sleep(every)

    t = threading.Thread(target=loop, name="flex-embedded-beat", daemon=True)
    t.start()
    return t
