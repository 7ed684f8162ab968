"""Webhook targets: public https only, checked when set and again at delivery (after DNS)."""

from __future__ import annotations

import socket

import pytest

from flexplatform.config import get_settings

API = "/api/v1"


@pytest.fixture(autouse=True)
def _secure(monkeypatch):
    monkeypatch.delenv("FLEX_WEBHOOK_ALLOW_INSECURE", raising=False)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.mark.parametrize("url", [
    "http://169.254.169.254/latest/meta-data/", "https://169.254.169.254/x",
    "https://127.0.0.1/hook", "https://localhost/hook", "https://[::1]/hook",
    "https://10.1.2.3/hook", "https://192.168.0.7/hook", "https://[::ffff:127.0.0.1]/hook",
    "http://example.com/hook", "https://user:pw@example.com/hook", "ftp://example.com/x",
])
def test_unsafe_webhook_targets_are_refused(client, make_party, url):
    mo = make_party("mo")
    r = client.put(f"{API}/me/webhook", json={"url": url}, headers=mo.h)
    assert r.status_code == 422, (url, r.text)
    assert r.json()["errors"][0]["pointer"] == "/url"


def test_public_https_webhook_is_accepted(client, make_party):
    mo = make_party("mo")
    r = client.put(f"{API}/me/webhook", json={"url": "https://hooks.example.com/flex"},
                   headers=mo.h)
    assert r.status_code == 200 and r.json()["signing_secret"]


def test_delivery_rechecks_dns_and_never_posts_to_a_private_address(db, make_party,
                                                                    monkeypatch):
    """A name that passed when set but now resolves to loopback is refused at delivery."""
    import httpx

    from flexplatform.notifications import Notification, deliver
    from flexplatform.registration.models import Participant

    fsp = make_party("fsp")
    p = db.get(Participant, fsp.id)
    p.webhook_url, p.webhook_secret = "https://rebound.example.com/hook", "s3cret"
    n = Notification(participant_id=fsp.id, kind="test", payload={}, dedupe_key="t:1")
    db.add(n)
    db.flush()
    monkeypatch.setattr(socket, "getaddrinfo", lambda *a, **k: [
        (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", 443)),
        (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", 443))])
    posted = []
    monkeypatch.setattr(httpx.Client, "post", lambda *a, **k: posted.append(a))
    assert deliver(db, n.id) == "refused"
    assert not posted and "non-public" in n.webhook_last_error
    assert deliver(db, n.id) == "refused"  # final: not retried


def test_delivery_is_pinned_to_the_checked_address(db, make_party, monkeypatch):
    import httpx

    from flexplatform.notifications import Notification, deliver
    from flexplatform.registration.models import Participant

    fsp = make_party("fsp")
    p = db.get(Participant, fsp.id)
    p.webhook_url, p.webhook_secret = "https://hooks.example.com/flex?x=1", "s3cret"
    n = Notification(participant_id=fsp.id, kind="test", payload={"a": 1}, dedupe_key="t:2")
    db.add(n)
    db.flush()
    monkeypatch.setattr(socket, "getaddrinfo", lambda *a, **k: [
        (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", 443))])
    seen = {}

    def post(self, url, content, headers, extensions):
        seen.update(url=url, host=headers["host"], sni=extensions["sni_hostname"],
                    sig=headers["x-flex-signature"])
        return httpx.Response(200, request=httpx.Request("POST", url))

    monkeypatch.setattr(httpx.Client, "post", post)
    assert deliver(db, n.id) == "delivered"
    assert seen["url"] == "https://93.184.216.34/flex?x=1"
    assert seen["host"] == seen["sni"] == "hooks.example.com"
    assert seen["sig"].startswith("sha256=")
