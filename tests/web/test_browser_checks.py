"""In real Chromium: authorisation, form errors by their fields, CSRF, keyboard and
accessibility basics, sign-out, and pages working with JavaScript off."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest

from flexplatform.registration.mpan import make_mpan
from tests.web.conftest import browser_sign_in, look


@pytest.fixture(scope="module")
def world(live):
    """Set-up that is not the point: terms, two MOs, two FSPs, an open market, an asset."""
    from flexplatform.audit import Actor
    from flexplatform.auth import Principal
    from flexplatform.competition.schemas import MarketIn
    from flexplatform.competition.service import create_market
    from flexplatform.db import unit_of_work
    from flexplatform.registration.models import Participant
    from flexplatform.registration.schemas import AssetCreate, TermsCreate
    from flexplatform.registration.service import create_asset, create_terms

    with unit_of_work() as s:
        create_terms(s, TermsCreate(version="W-1", title="Terms", body="Rules.",
                                    effective_from=dt.datetime(2020, 1, 1, tzinfo=dt.UTC)),
                     Actor.system())
    w = SimpleNamespace(mo=live.party("mo", "North DSO"), mo2=live.party("mo", "South DSO"),
                        fsp=live.party("fsp", "Flex One"), fsp2=live.party("fsp", "Flex Two"),
                        admin=live.party("admin", "Ops"))
    now = dt.datetime.now(dt.UTC)
    start = (now + dt.timedelta(days=2)).replace(hour=16, minute=0, second=0, microsecond=0)
    with unit_of_work() as s:
        mo = Principal(participant=s.get(Participant, w.mo.id), key_prefix="setup")
        m = create_market(s, MarketIn(
            name="North peak", gate_open_at=now - dt.timedelta(hours=1),
            gate_close_at=now + dt.timedelta(days=1), delivery_start=start,
            delivery_end=start + dt.timedelta(hours=1), open=True,
            needs=[{"name": "N1", "product": "dynamic", "zone": "CMZ_WEB", "direction": "up",
                    "mw": [1, 1], "max_availability_price": "50",
                    "utilisation_price_cap": "300", "unmet_penalty": "1000"}]), mo)
        fsp = Principal(participant=s.get(Participant, w.fsp.id), key_prefix="setup")
        a = create_asset(s, AssetCreate(name="Flex One battery", mpan=make_mpan("150000000777"),
                                        zone="CMZ_WEB", technology="battery", up_mw=2,
                                        down_mw=2, energy_mwh=4, ramp_mw_per_min=10), fsp)
        w.market, w.need, w.asset = str(m.id), str(m.needs[0].id), str(a.id)
    return w


def test_another_participants_pages_answer_404(contexts, world):
    other_fsp = browser_sign_in(contexts(), world.fsp2.key, "/fsp")
    r = other_fsp.goto(f"/fsp/assets/{world.asset}")
    assert r.status == 404
    assert other_fsp.get_by_role("heading", level=1).inner_text() == "Page not found"
    look(other_fsp, "20-404-another-fsps-asset")
    other_mo = browser_sign_in(contexts(), world.mo2.key, "/mo")
    assert other_mo.goto(f"/mo/markets/{world.market}").status == 404
    # A page for another role: 403, and the public is sent to sign in.
    assert other_mo.goto("/fsp/assets").status == 403
    look(other_mo, "21-403-wrong-role")
    public = contexts().new_page()
    public.goto("/fsp/assets")
    assert public.url.endswith("/signin?next=%2Ffsp%2Fassets")
    # The owners see their own.
    assert browser_sign_in(contexts(), world.fsp.key, "/fsp").goto(
        f"/fsp/assets/{world.asset}").status == 200


def test_form_errors_are_shown_next_to_their_fields(contexts, world):
    fsp = browser_sign_in(contexts(), world.fsp.key, "/fsp")
    fsp.goto("/fsp/assets/new")
    fsp.get_by_label("Asset name").fill("Bad asset")
    fsp.get_by_label("MPAN (13-digit core)").fill("1234567890123")
    fsp.get_by_label("Zone").select_option("CMZ_WEB")
    fsp.get_by_label("Technology").select_option("battery")
    fsp.get_by_label("Up MW (more generation or less demand)").fill("-2")
    fsp.get_by_role("button", name="Register asset").click()
    for field in ("mpan", "up_mw"):
        block = fsp.locator(f".field:has(#f-{field})")
        assert block.locator(".field-error").is_visible(), field
        inp = fsp.locator(f"#f-{field}")
        assert inp.get_attribute("aria-invalid") == "true"
        assert f"f-{field}-error" in inp.get_attribute("aria-describedby")
    assert fsp.locator(".field:has(#f-name) .field-error").count() == 0
    assert fsp.get_by_label("Asset name").input_value() == "Bad asset"
    # The summary links to the field.
    fsp.locator(".error-summary a[href='#f-mpan']").click()
    assert fsp.evaluate("document.activeElement.id") == "f-mpan"
    look(fsp, "22-form-errors")
    mo = browser_sign_in(contexts(), world.mo.key, "/mo")
    mo.goto("/mo/markets/new")
    mo.get_by_label("Market name").fill("Late market")
    mo.get_by_label("Gate opens (UTC)").fill("2020-01-01T10:00:00")
    mo.get_by_label("Gate closes (UTC)").fill("2020-01-01T11:00:00")
    mo.get_by_label("Product").select_option("dynamic")
    mo.get_by_label("Zone").select_option("CMZ_WEB")
    mo.get_by_role("button", name="Create market").click()
    assert "gate closure is in the past" in mo.locator(
        ".field:has(#f-gate_close_at) .field-error").inner_text()


def test_csrf_is_refused(contexts, world, live):
    ctx = contexts()
    mo = browser_sign_in(ctx, world.mo.key, "/mo")
    url = f"/mo/markets/{world.market}/cancel"
    for form in ({}, {"csrf_token": "forged"}):
        r = mo.request.post(url, form=form, max_redirects=0)
        assert r.status == 403 and "This form was refused" in r.text()
    # A form posted from another site: SameSite=Lax keeps the session cookie home, so the
    # POST arrives signed out (and is sent to sign in, which sends a signed-in user home).
    evil = ctx.new_page()
    evil.set_content(f'<form method="post" action="{live.url}{url}"><button>Win</button></form>')
    with evil.expect_navigation():
        evil.get_by_role("button", name="Win").click()
    assert evil.url.endswith("/mo") and "cancelled" not in evil.content()
    mo.goto(f"/mo/markets/{world.market}")
    assert mo.locator(".lead .badge-open").count() == 1
    look(mo, "23-market-still-open")


def test_keyboard_reaches_and_operates_the_main_buttons(contexts, world):
    page = contexts().new_page()
    page.goto("/signin")

    def tab_to(predicate: str, limit: int = 40) -> None:
        for _ in range(limit):
            page.keyboard.press("Tab")
            if page.evaluate(f"(() => {{ const e = document.activeElement; return {predicate}; }})()"):
                return
        pytest.fail(f"Tab never reached {predicate}")

    tab_to("e.id === 'f-api_key'")
    page.keyboard.type(world.fsp.key)
    tab_to("e.tagName === 'BUTTON' && e.textContent.trim() === 'Sign in'")
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none", "focus is not visible"
    page.keyboard.press("Enter")
    page.wait_for_url("**/fsp")
    page.goto(f"/fsp/bids/new?need_id={world.need}&asset_id={world.asset}")
    tab_to("e.tagName === 'BUTTON' && e.textContent.trim() === 'Check first'")
    page.keyboard.press("Enter")
    page.locator("#check-result").wait_for()
    assert "this bid would be accepted" in page.locator("#check-result").inner_text()
    look(page, "24-keyboard-check-bid")


def test_sign_out_ends_the_session(contexts, world):
    ctx = contexts()
    page = browser_sign_in(ctx, world.fsp.key, "/fsp")
    cookies = ctx.cookies()
    session = next(c for c in cookies if c["name"] == "flex_session")
    assert session["httpOnly"] and session["sameSite"] == "Lax"
    page.get_by_role("button", name="Sign out").click()
    page.get_by_text("Signed out").wait_for()
    assert not [c for c in ctx.cookies() if c["name"] == "flex_session"]
    page.goto("/fsp")
    assert "/signin?next=%2Ffsp" in page.url
    # The old cookie, replayed in another context, is dead on the server too.
    other = contexts()
    other.add_cookies([session])
    p2 = other.new_page()
    p2.goto("/fsp")
    assert "/signin" in p2.url


def test_pages_work_with_javascript_off(browser, live, world):
    ctx = browser.new_context(base_url=live.url, java_script_enabled=False)
    try:
        page = browser_sign_in(ctx, world.mo.key, "/mo")
        page.goto("/mo/markets/new")
        page.get_by_role("button", name="Add another need").click()
        assert page.get_by_text("Need 2").is_visible()
        assert page.locator(".countdown").count() == 0
        page.goto(f"/mo/markets/{world.market}")
        # Server-rendered countdown text is there without the script.
        assert page.locator(".countdown").inner_text().endswith("left")
    finally:
        ctx.close()

