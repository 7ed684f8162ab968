"""A failed webhook push is retried by the worker with exponential backoff until delivered."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import ClassVar

import pytest

from flexplatform.config import Settings


@pytest.fixture(scope="module")
def mode() -> str:
    return "worker"  # retries are the worker's (embedded, a retry would block a request)


def test_retry_schedule_doubles_up_to_its_cap(monkeypatch):
    from flexplatform import notifications
    from flexplatform.config import get_settings

    monkeypatch.setattr(notifications, "get_settings",
                        lambda: Settings(webhook_retry_base_s=10, webhook_retry_max_s=600))
    assert [notifications.retry_delay(n) for n in range(8)] == \
        [10, 20, 40, 80, 160, 320, 600, 600]
    assert notifications.MAX_RETRIES == 5
    assert get_settings().webhook_retry_base_s == 10  # the documented default


class _Flaky(BaseHTTPRequestHandler):
    """Answers 503 twice, then 204; records when each attempt arrived."""

    arrivals: ClassVar[list[float]] = []

    def do_POST(self):
        self.rfile.read(int(self.headers["content-length"]))
        _Flaky.arrivals.append(time.monotonic())
        self.send_response(503 if len(_Flaky.arrivals) <= 2 else 204)
        self.end_headers()

    def log_message(self, *a):
        pass


def test_a_later_success_marks_the_notification_delivered(live, monkeypatch):
    from flexplatform.audit import Actor
    from flexplatform.auth import Principal
    from flexplatform.db import reset_runtime, unit_of_work
    from flexplatform.notifications import Notification, notify
    from flexplatform.registration.schemas import ParticipantCreate
    from flexplatform.registration.service import create_participant, set_webhook

    base = 0.4
    monkeypatch.setenv("FLEX_WEBHOOK_RETRY_BASE_S", str(base))
    reset_runtime()
    server = HTTPServer(("127.0.0.1", 0), _Flaky)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    _Flaky.arrivals = []
    try:
        with unit_of_work() as s:
            p, _ = create_participant(s, ParticipantCreate(
                role="fsp", legal_name="Hooked Ltd",
                billing_contact={"name": "B", "email": "b@example.org"}), Actor.system())
            set_webhook(s, Principal(participant=p, key_prefix="t"),
                        f"http://127.0.0.1:{server.server_port}/hook")
            nid = notify(s, p.id, "test.ping", {"n": 1}, dedupe_key="retry-test").id
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with unit_of_work() as s:
                n = s.get(Notification, nid)
                if n.webhook_status == "delivered":
                    break
            time.sleep(0.1)
    finally:
        server.shutdown()
    assert n.webhook_status == "delivered" and n.webhook_last_error is None
    assert n.webhook_attempts == 3 and len(_Flaky.arrivals) == 3
    gaps = [b - a for a, b in zip(_Flaky.arrivals, _Flaky.arrivals[1:], strict=False)]
    # Celery's countdown is a lower bound: base, then twice base.
    assert gaps[0] >= 0.9 * base and gaps[1] >= 0.9 * 2 * base, gaps
