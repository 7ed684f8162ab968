"""Web test fixtures: signed-in test clients, a live server, and real Chromium.

- ``pages``: sign a Party into its own TestClient (the rolled-back connection of the API
  tests), for page tests that need no browser.
- ``live``: uvicorn serving ``create_app()`` in a thread on a free loopback port against a
  freshly migrated database (SQLite, and Postgres where configured), tasks in-process;
  module scoped, one per test module and backend.
- ``browser``: Debian's Chromium driven by Playwright, one per session. Under CI=true a
  missing browser is a failure (``missing_service``), never a skip.
- ``look(page, name)``: the basic accessibility checks on the page, then a full-page
  screenshot into :data:`SCREENSHOTS`.
"""

from __future__ import annotations

import os
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from flexplatform.db import reset_runtime
from tests.conftest import fresh_postgres, missing_service, require_postgres
from tests.helpers import Party
from tests.web import a11y

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
# Left behind by CI (gitignored): the main pages as the browser tests saw them.
SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"


# --- page tests without a browser --------------------------------------------------------


def sign_in(c: TestClient, key: str) -> TestClient:
    """Sign in through the real form (double-submit token and all)."""
    form = c.get("/signin")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)[1]  # type: ignore[index]
    r = c.post("/signin", data={"csrf_token": token, "api_key": key}, follow_redirects=False)
    assert r.status_code == 303, r.text
    return c


def csrf_of(c: TestClient, url: str = "/") -> str:
    """The session's CSRF token as a page embeds it."""
    r = c.get(url)
    m = re.search(r'name="csrf_token" value="([^"]+)"', r.text)
    assert m, f"no form with a CSRF token on {url}"
    return m[1]


@pytest.fixture
def pages(app: Any, client: TestClient) -> Iterator[Callable[[Party], TestClient]]:
    """``pages(party)``: a TestClient signed in as ``party`` (its own cookie jar)."""
    made: list[TestClient] = []

    def make(party: Party) -> TestClient:
        c = TestClient(app, raise_server_exceptions=False)
        made.append(c)
        return sign_in(c, party.key)

    yield make
    for c in made:
        c.close()


# --- live server --------------------------------------------------------------------------


@dataclass
class Live:
    url: str
    backend: str

    def party(self, role: str, name: str, accept: bool = True) -> Party:
        """Set-up that is not the point of a test: a participant, its key, terms accepted."""
        from flexplatform.audit import Actor
        from flexplatform.auth import Principal, current_terms
        from flexplatform.db import unit_of_work
        from flexplatform.registration.schemas import ParticipantCreate
        from flexplatform.registration.service import accept_terms, create_participant

        with unit_of_work() as s:
            p, key = create_participant(s, ParticipantCreate(
                role=role, legal_name=name, billing_contact={
                    "name": "Billing", "email": f"{role}@example.org"}), Actor.system())
            cur = current_terms(s)
            if accept and cur is not None and role in ("mo", "fsp"):
                accept_terms(s, cur.version, Principal(participant=p, key_prefix="setup"))
            return Party(id=p.id, role=role, key=key)


def _database(backend: str, tmp: Path) -> str:
    if backend == "sqlite":
        return f"sqlite:///{tmp / 'web.db'}"
    base = require_postgres()
    # A database of its own (<name>_webui), so no other live harness shares it.
    server, name = base.rsplit("/", 1)
    db = f"{name.split('?')[0]}_webui"
    from flexplatform.db import make_engine

    admin = make_engine(f"{server}/postgres")
    try:
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
            if not c.scalar(text("SELECT 1 FROM pg_database WHERE datname=:n"), {"n": db}):
                c.execute(text(f'CREATE DATABASE "{db}"'))
    finally:
        admin.dispose()
    fresh_postgres(f"{server}/{db}").dispose()
    return f"{server}/{db}"


def _free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@pytest.fixture(scope="module")
def live(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    import uvicorn

    from flexplatform import migrate

    tmp = tmp_path_factory.mktemp("live-web")
    with pytest.MonkeyPatch.context() as mp:
        url = _database(backend, tmp)
        mp.setenv("FLEX_DATABASE_URL", url)
        mp.setenv("FLEX_VAR_DIR", str(tmp))
        mp.delenv("FLEX_REDIS_URL", raising=False)
        mp.setenv("FLEX_TASK_ALWAYS_EAGER", "true")
        reset_runtime()
        migrate.upgrade(url)
        from flexplatform.db import unit_of_work
        from flexplatform.governance.schemas import ZoneIn
        from flexplatform.governance.service import seed_taxonomy, upsert_zone

        with unit_of_work() as s:
            seed_taxonomy(s)
            from flexplatform.audit import Actor

            upsert_zone(s, ZoneIn(code="CMZ_WEB", name="Bristol North", kind="cmz",
                                  dso="NGED"), Actor.system())
        from flexplatform.app import create_app

        sock = _free_socket()
        port = sock.getsockname()[1]
        server = uvicorn.Server(uvicorn.Config(create_app(), log_level="warning",
                                               access_log=False, lifespan="off"))
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        deadline = time.time() + 30
        while not server.started:
            if time.time() > deadline or not thread.is_alive():
                pytest.fail("the live server did not start")
            time.sleep(0.05)
        try:
            yield Live(url=f"http://127.0.0.1:{port}", backend=backend)
        finally:
            server.should_exit = True
            thread.join(timeout=15)
            sock.close()
            reset_runtime()


# --- browser ------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not os.path.exists(CHROMIUM):
        missing_service(f"no Chromium at {CHROMIUM} (apt-get install -y chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing_service("the playwright package is not installed")
    pw = sync_playwright().start()
    try:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
    except Exception as e:
        pw.stop()
        missing_service(f"Chromium would not start: {e}")
    try:
        yield b
    finally:
        b.close()
        pw.stop()


@pytest.fixture
def contexts(browser: Any, live: Live) -> Iterator[Callable[[], Any]]:
    """``contexts()``: a fresh browser context (own cookies) on the live server."""
    made: list[Any] = []

    def make() -> Any:
        ctx = browser.new_context(base_url=live.url, viewport={"width": 1280, "height": 900},
                                  locale="en-GB", timezone_id="UTC")
        ctx.set_default_timeout(15_000)
        made.append(ctx)
        return ctx

    yield make
    for ctx in made:
        ctx.close()


def browser_sign_in(ctx: Any, key: str, home: str) -> Any:
    """A new page in ``ctx``, signed in by typing the key into the sign-in form."""
    page = ctx.new_page()
    page.goto("/signin")
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"**{home}")
    return page


def look(page: Any, name: str) -> None:
    """Accessibility basics on the current page, then its screenshot."""
    problems = a11y.problems(page)
    assert not problems, f"{name} ({page.url}): {problems}"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
