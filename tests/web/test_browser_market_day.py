"""A market day walked by clicking, in real Chromium, each role in its own browser context.

The admin publishes terms and registers the MO and the FSP (their keys are read off the
page that shows them once); the FSP accepts the terms and registers an asset by the form;
the MO accepts the terms, creates a market with a need and opens it; the FSP finds the
need among its opportunities and bids; the gate passes and the admin runs the clearing
from its home page; the MO sees the cleared schedule with its chart and the rationale; the
FSP sees its award; the MO calls for utilisation and the FSP accepts the dispatch
instruction on its Instructions page; the regulator opens the day's carbon report with its
charts. Every page visited passes the accessibility basics and is saved as a screenshot
(tests/web/conftest.py: SCREENSHOTS).
"""

from __future__ import annotations

import datetime as dt
import time

from flexplatform.registration.mpan import make_mpan
from tests.authz import declared_roles
from tests.web.conftest import browser_sign_in, look
from tests.web.pages_table import page_routes

GATE_SECONDS = 15


def nav(page, name):
    """A link of the header's main navigation."""
    return page.get_by_role("navigation", name="Main").get_by_role("link", name=name,
                                                                   exact=True)


def tour(app, signed: dict, public) -> int:
    """Every GET page without path parameters, as a role it is for, through ``look``."""
    visited = 0
    for method, path, route in page_routes(app):
        if method != "GET" or "{" in path or path == "/fsp/bids/new":
            continue
        allowed, _ = declared_roles(route)
        role = next((r for r in signed if path.startswith(f"/{r}")), None) or next(
            (r for r in signed if r in allowed and "public" not in allowed), None)
        page = signed[role] if role else public
        r = page.goto(path)
        assert r.status == 200, path
        assert path == "/signin" or "/signin" not in page.url, f"{path} sent to sign in"
        look(page, "30" + (path.replace("/", "-") if path != "/" else "-home"))
        visited += 1
    return visited


def _admin(live):
    party = live.party("admin", "Platform Ops")
    return party.key


def test_market_day(contexts, live, app):
    # Set-up that is not the point: the first admin exists (created from the CLI in life).
    admin = browser_sign_in(contexts(), _admin(live), "/admin")
    look(admin, "01-admin-home")

    # The admin publishes the terms and registers the two trading participants.
    nav(admin, "Terms").click()
    admin.get_by_label("Version").fill("2026.1")
    admin.get_by_label("Title").fill("Flexplatform participation terms")
    admin.get_by_label("Text of the terms").fill("The participant agrees to the market rules.")
    admin.get_by_role("button", name="Publish terms").click()
    admin.get_by_text("Terms version 2026.1 published").wait_for()
    look(admin, "02-admin-terms")

    keys = {}
    for role, name in (("mo", "Western Power Networks (DSO)"), ("fsp", "Bristol Flex Aggregator")):
        admin.goto("/admin/participants/new")
        admin.get_by_label("Role").select_option(role)
        admin.get_by_label("Legal name").fill(name)
        admin.get_by_label("Contact name").fill("Flex desk")
        admin.get_by_label("Contact email").fill(f"flex@{role}.example.org")
        admin.get_by_role("button", name="Create participant").click()
        keys[role] = admin.locator("#new-api-key").inner_text().strip()
        assert keys[role].startswith("fpk_")
        if role == "fsp":
            look(admin, "03-admin-key-shown-once")

    # The FSP signs in, accepts the terms and registers an asset by the form.
    fsp = browser_sign_in(contexts(), keys["fsp"], "/fsp")
    fsp.get_by_text("Accept terms version 2026.1").wait_for()
    fsp.get_by_role("link", name="Read and accept the terms").click()
    fsp.get_by_role("button", name="Accept version 2026.1").click()
    fsp.wait_for_url("**/fsp")
    fsp.get_by_role("link", name="Register an asset").first.click()
    fsp.get_by_label("Asset name").fill("Avonmouth battery")
    fsp.get_by_label("MPAN (13-digit core)").fill(make_mpan("140000001234"))
    fsp.get_by_label("Zone").select_option("CMZ_WEB")
    fsp.get_by_label("Technology").select_option("battery")
    fsp.get_by_label("Up MW (more generation or less demand)").fill("2")
    fsp.get_by_label("Down MW (less generation or more demand)").fill("2")
    fsp.get_by_label("Energy (MWh)").fill("4")
    fsp.get_by_label("Ramp (MW per minute)").fill("10")
    fsp.get_by_role("button", name="Register asset").click()
    fsp.get_by_text("Avonmouth battery registered").wait_for()
    assert fsp.locator("tr", has_text="dynamic").locator(".badge-eligible").count() == 1
    look(fsp, "04-fsp-asset")

    # The MO signs in, accepts the terms, creates a market with one need and opens it.
    mo = browser_sign_in(contexts(), keys["mo"], "/mo")
    mo.goto("/terms")
    mo.get_by_role("button", name="Accept version 2026.1").click()
    mo.wait_for_url("**/mo")
    mo.get_by_role("link", name="New market").first.click()
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    start = (now + dt.timedelta(days=1)).replace(hour=16, minute=0, second=0)
    gate = now + dt.timedelta(seconds=GATE_SECONDS)
    mo.get_by_label("Market name").fill("Avonmouth evening peak")
    mo.get_by_label("Gate opens (UTC)").fill((now - dt.timedelta(minutes=5)).strftime(
        "%Y-%m-%dT%H:%M:%S"))
    mo.get_by_label("Gate closes (UTC)").fill(gate.strftime("%Y-%m-%dT%H:%M:%S"))
    mo.get_by_label("Delivery starts (UTC)").fill(start.strftime("%Y-%m-%dT%H:%M"))
    mo.get_by_label("Delivery ends (UTC)").fill((start + dt.timedelta(hours=2)).strftime(
        "%Y-%m-%dT%H:%M"))
    mo.get_by_label("Need name").fill("Feeder 12 evening peak")
    mo.get_by_label("Product").select_option("dynamic")
    mo.get_by_label("Zone").select_option("CMZ_WEB")
    mo.get_by_label("MW per half-hour period").fill("1, 2, 2, 1")
    mo.get_by_role("button", name="Create market").click()
    mo.get_by_text("Market created").wait_for()
    assert mo.locator(".lead .badge-draft").count() == 1
    mo.get_by_role("button", name="Open for bids").click()
    mo.get_by_text("Market opened for bids").wait_for()
    # The countdown is server-rendered and our small script makes it tick.
    first = mo.locator(".countdown").first.inner_text()
    assert first.endswith("left")
    mo.wait_for_function("t => document.querySelector('.countdown').textContent !== t",
                         arg=first, timeout=5000)
    market_url = mo.url
    look(mo, "05-mo-market-open")

    # The FSP finds the need among its opportunities and bids with its battery.
    nav(fsp, "Opportunities").click()
    fsp.get_by_role("link", name="Bid with Avonmouth battery").click()
    fsp.get_by_label("MW offered per period").fill("1.5")
    fsp.get_by_label("Availability price (£/MW/h)").fill("20")
    fsp.get_by_label("Utilisation price (£/MWh)").fill("200")
    look(fsp, "06-fsp-bid-form")
    fsp.get_by_role("button", name="Submit bid").click()
    fsp.get_by_text("submitted on Feeder 12 evening peak").wait_for()
    assert fsp.locator("tbody .badge-submitted").count() == 1
    look(fsp, "07-fsp-bids")

    # While the gate is open: the public catalogue and the regulator's audit check.
    public = contexts().new_page()
    public.goto("/catalogue?zone=CMZ_WEB")
    public.get_by_role("link", name="Feeder 12 evening peak").wait_for()
    look(public, "08-public-catalogue")
    public.get_by_role("link", name="Feeder 12 evening peak").click()
    assert public.locator("figure.chart svg[role=img]").count() == 1
    look(public, "09-public-need")
    reg_key = live.party("regulator", "Ofgem").key
    regulator = browser_sign_in(contexts(), reg_key, "/regulator")
    regulator.get_by_role("link", name="Verify the audit trail").click()
    regulator.get_by_text("The chain is intact").wait_for()
    look(regulator, "10-regulator-audit")

    # Still inside the gate: every other page of every role, with today's data in it.
    assert tour(app, {"mo": mo, "fsp": fsp, "regulator": regulator, "admin": admin},
                public) >= 20

    # The gate passes; the admin's home offers the clearing and runs it.
    while dt.datetime.now(dt.UTC) <= gate:
        time.sleep(0.25)
    admin.goto("/admin")
    admin.get_by_text("past their gate").wait_for()
    admin.get_by_role("button", name="Run clearing now").first.click()
    admin.wait_for_url("**/clearings")
    admin.locator("tbody .badge-done").first.wait_for()
    look(admin, "11-clearings")

    # The MO sees the schedule with its chart and the rationale for every bid.
    mo.goto(market_url)
    mo.get_by_role("link", name="Schedule and rationale").click()
    chart = mo.locator("figure.chart svg[role=img]")
    assert chart.count() == 1 and "Feeder 12 evening peak" in chart.locator("title").text_content()
    assert mo.locator("table", has_text="Avonmouth battery").count() >= 1
    assert mo.locator("#rationale ~ .table-wrap .badge-accepted").count() == 1
    look(mo, "12-mo-schedule")

    # The FSP sees its award.
    nav(fsp, "Awards").click()
    row = fsp.locator("tbody tr", has_text="Avonmouth battery")
    assert row.count() == 1 and "1.5" in row.inner_text()
    look(fsp, "13-fsp-awards")
    nav(fsp, "Home").click()
    look(fsp, "14-fsp-home")

    # Operations: the MO calls for utilisation in the first delivery hour (by the API; the
    # MO's page for it is the operations stage's), the dispatch runs in-process and the FSP
    # accepts its instruction on the Instructions page by clicking.
    import httpx

    h = {"Authorization": f"Bearer {keys['mo']}"}
    market_id = market_url.rstrip("/").rsplit("/", 1)[-1]
    need_id = httpx.get(f"{live.url}/api/v1/markets/{market_id}", headers=h).json()["needs"][0]["id"]
    r = httpx.post(f"{live.url}/api/v1/utilisation-requests", headers=h, json={
        "need_id": need_id, "period_start": start.isoformat(),
        "period_end": (start + dt.timedelta(hours=1)).isoformat(), "mw": 1.0})
    assert r.status_code in (200, 201, 202), r.text
    nav(fsp, "Instructions").click()
    accept = fsp.get_by_role("button", name="Accept")
    for _ in range(120):  # the run is queued after the request commits, then solved
        if accept.count():
            break
        time.sleep(0.5)
        fsp.reload()
    assert accept.count() >= 1, fsp.content()[:2000]
    look(fsp, "15-fsp-instructions")
    accept.first.click()
    fsp.get_by_text("accepted").first.wait_for()
    assert fsp.locator("tbody .badge-accepted").count() >= 1
    look(fsp, "16-fsp-instruction-accepted")

    # The regulator asks for the day's carbon report (by the API; the report is built by
    # its task) and opens it: charts of the contracted and dispatched MWh by GB region.
    r = httpx.post(f"{live.url}/api/v1/reports/carbon",
                   headers={"Authorization": f"Bearer {reg_key}"},
                   json={"start": start.isoformat(),
                         "end": (start + dt.timedelta(hours=1)).isoformat()})
    assert r.status_code == 202, r.text
    regulator.goto("/regulator/transparency")
    charts = regulator.locator("figure.chart svg[role=img]")
    for _ in range(60):
        if charts.count():
            break
        time.sleep(0.5)
        regulator.reload()
    assert charts.count() == 2, regulator.content()[:2000]
    assert "MWh" in charts.first.locator("title").text_content()
    look(regulator, "17-regulator-carbon-report")
