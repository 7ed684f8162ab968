"""Pages without a browser: forms and their errors, uploads, actions, results, errors.

Each runs on both backends inside the test's rolled-back transaction (the ``pages``
fixture signs a participant into its own TestClient).
"""

from __future__ import annotations

import datetime as dt
import html as html_lib
import io
import re
import uuid

import pytest
from sqlalchemy import func, select

from flexplatform.competition.models import Bid, Market, RuleSet
from flexplatform.registration.models import Asset, Participant
from tests.helpers import asset_body, new_mpan
from tests.web.conftest import csrf_of

NOW = dt.datetime.now(dt.UTC)
START = (NOW + dt.timedelta(days=2)).replace(hour=16, minute=0, second=0, microsecond=0)


def _t(t: dt.datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S")


def market_form(**over):
    form = {"name": "Evening peak", "gate_open_at": _t(NOW - dt.timedelta(minutes=5)),
            "gate_close_at": _t(NOW + dt.timedelta(days=1)), "delivery_start": _t(START),
            "delivery_end": _t(START + dt.timedelta(hours=2)), "need_count": "1",
            "needs.0.name": "Feeder 1", "needs.0.product": "dynamic",
            "needs.0.zone": "CMZ_NORTH", "needs.0.direction": "up", "needs.0.mw": "1, 2, 2, 1",
            "needs.0.max_availability_price": "100", "needs.0.utilisation_price_cap": "500",
            "needs.0.expected_utilisation": "0.1", "needs.0.unmet_penalty": "1000",
            "action": "create"}
    form.update(over)
    return form


def post(c, url, data, files=None, page=None):
    token = csrf_of(c, page or url)
    return c.post(url, data={"csrf_token": token, **data}, files=files, follow_redirects=False)


def error_next_to(html: str, field: str) -> str:
    """The error message rendered inside the field's own block (empty if none)."""
    fid = "f-" + field.replace(".", "-")
    m = re.search(rf'<p class="field-error" id="{re.escape(fid)}-error">(.*?)</p>', html, re.S)
    assert re.search(rf'id="{re.escape(fid)}"[^>]*aria-describedby="[^"]*{re.escape(fid)}-error',
                     html) or not m, f"{field}: input not tied to its error"
    return html_lib.unescape(re.sub(r"<[^>]+>", "", m[1])).strip() if m else ""


# --- MO -----------------------------------------------------------------------------------


def test_mo_creates_opens_and_cancels_a_market(pages, make_party, zones, client, db):
    mo = make_party("mo")
    c = pages(mo)
    r = post(c, "/mo/markets/new", market_form(), page="/mo/markets/new")
    assert r.status_code == 303, r.text[:2000]
    mid = r.headers["location"].rsplit("/", 1)[1]
    page = c.get(f"/mo/markets/{mid}")
    assert "Market created" in page.text and "badge-draft" in page.text
    m = db.get(Market, uuid.UUID(mid))
    assert m.needs[0].mw == [1.0, 2.0, 2.0, 1.0] and m.gate_close_at.tzinfo is not None
    r = post(c, f"/mo/markets/{mid}/open", {}, page=f"/mo/markets/{mid}")
    assert r.status_code == 303 and "Market opened" in c.get(r.headers["location"]).text
    assert "data-countdown" in c.get(f"/mo/markets/{mid}").text
    r = post(c, f"/mo/markets/{mid}/open", {}, page=f"/mo/markets/{mid}")
    assert "Not done: a open market cannot open" in c.get(r.headers["location"]).text
    r = post(c, f"/mo/markets/{mid}/cancel", {}, page=f"/mo/markets/{mid}")
    assert "cancelled" in c.get(r.headers["location"]).text
    db.expire_all()
    assert db.get(Market, uuid.UUID(mid)).status.value == "cancelled"


def test_market_form_errors_sit_next_to_their_fields(pages, make_party, zones, db):
    c = pages(make_party("mo"))
    before = db.scalar(select(func.count()).select_from(Market))
    r = post(c, "/mo/markets/new", market_form(**{
        "gate_close_at": _t(NOW - dt.timedelta(hours=1)),
        "gate_open_at": _t(NOW - dt.timedelta(hours=2)),
        "needs.0.product": "no_such_product", "needs.0.max_availability_price": "-3"}),
        page="/mo/markets/new")
    assert r.status_code == 422
    assert "greater than or equal to 0" in error_next_to(r.text, "needs.0.max_availability_price")
    assert 'class="error-summary"' in r.text and "Nothing was saved" in r.text
    # What was typed is kept.
    assert 'value="Evening peak"' in r.text
    # Fixing the model errors reveals the service's own (pointers /needs/0/product, ...).
    r = post(c, "/mo/markets/new", market_form(**{
        "gate_close_at": _t(NOW - dt.timedelta(hours=1)),
        "gate_open_at": _t(NOW - dt.timedelta(hours=2)),
        "needs.0.product": "no_such_product"}), page="/mo/markets/new")
    assert r.status_code == 422
    assert "unknown or inactive product" in error_next_to(r.text, "needs.0.product")
    assert "gate closure is in the past" in error_next_to(r.text, "gate_close_at")
    # A cross-field check without a location goes next to the field it names.
    r = post(c, "/mo/markets/new", market_form(**{"needs.0.mw": "1, 2"}), page="/mo/markets/new")
    assert "has 2 values" in error_next_to(r.text, "needs.0.mw")
    assert db.scalar(select(func.count()).select_from(Market)) == before


def test_add_another_need_without_javascript(pages, make_party, zones):
    c = pages(make_party("mo"))
    r = post(c, "/mo/markets/new", market_form(action="add_need"), page="/mo/markets/new")
    assert r.status_code == 200
    assert "Need 2" in r.text and 'value="Feeder 1"' in r.text
    assert 'name="need_count" value="2"' in r.text
    form = market_form(need_count="2", **{
        "needs.1.name": "Feeder 2", "needs.1.product": "secure", "needs.1.zone": "CMZ_SOUTH",
        "needs.1.direction": "up", "needs.1.mw": "3", "needs.1.max_availability_price": "80",
        "needs.1.utilisation_price_cap": "300", "needs.1.unmet_penalty": "900"})
    r = post(c, "/mo/markets/new", form, page="/mo/markets/new")
    assert r.status_code == 303
    page = c.get(r.headers["location"]).text
    assert "Feeder 1" in page and "Feeder 2" in page


def test_trading_pages_need_the_terms(pages, make_party, zones):
    c = pages(make_party("mo", accept=False))
    r = c.get("/mo/markets/new")
    assert r.status_code == 403 and "Accept the terms first" in r.text
    assert "accept terms version" in c.get("/mo").text.lower()
    r = post(c, "/terms/accept", {"version": "T-2026.1"}, page="/terms")
    assert r.status_code == 303 and c.get("/mo/markets/new").status_code == 200


def test_another_participants_objects_answer_404(pages, make_party, zones, client):
    mo1, mo2, fsp1, fsp2 = (make_party(r) for r in ("mo", "mo", "fsp", "fsp"))
    m = client.post("/api/v1/markets", headers=mo1.h, json={
        "name": "Mine", "gate_open_at": NOW.isoformat(),
        "gate_close_at": (NOW + dt.timedelta(days=1)).isoformat(),
        "delivery_start": START.isoformat(),
        "delivery_end": (START + dt.timedelta(hours=1)).isoformat(),
        "needs": [{"product": "dynamic", "zone": "CMZ_NORTH", "direction": "up", "mw": [1, 1],
                   "max_availability_price": "50", "utilisation_price_cap": "300",
                   "unmet_penalty": "1000"}]}).json()
    a = client.post("/api/v1/assets", headers=fsp1.h, json=asset_body()).json()
    other_mo, other_fsp = pages(mo2), pages(fsp2)
    for url in (f"/mo/markets/{m['id']}",):
        r = other_mo.get(url)
        assert r.status_code == 404 and "Page not found" in r.text
    r = post(other_mo, f"/mo/markets/{m['id']}/cancel", {}, page="/mo")
    assert r.status_code == 404
    assert other_fsp.get(f"/fsp/assets/{a['id']}").status_code == 404
    assert other_fsp.get(f"/fsp/bids/new?need_id={m['needs'][0]['id']}").status_code == 404
    assert pages(mo1).get(f"/mo/markets/{m['id']}").status_code == 200
    assert pages(fsp1).get(f"/fsp/assets/{a['id']}").status_code == 200


# --- FSP ----------------------------------------------------------------------------------


def test_asset_form_registers_and_shows_errors_by_field(pages, make_party, zones, db):
    fsp = make_party("fsp")
    c = pages(fsp)
    bad = {"name": "Battery", "mpan": "1234567890123", "zone": "CMZ_NORTH",
           "technology": "battery", "status": "operational", "up_mw": "-1"}
    r = post(c, "/fsp/assets/new", bad, page="/fsp/assets/new")
    assert r.status_code == 422
    assert error_next_to(r.text, "mpan") and error_next_to(r.text, "up_mw")
    assert not error_next_to(r.text, "name")
    good = {**bad, "mpan": new_mpan(), "up_mw": "2", "down_mw": "2", "energy_mwh": "4",
            "ramp_mw_per_min": "10", "latitude": "", "longitude": ""}
    r = post(c, "/fsp/assets/new", good, page="/fsp/assets/new")
    assert r.status_code == 303
    page = c.get(r.headers["location"]).text
    assert "prequalified for every product" in page and "badge-eligible" in page
    dup = post(c, "/fsp/assets/new", good, page="/fsp/assets/new")
    assert "already registered" in error_next_to(dup.text, "mpan")
    assert db.scalar(select(func.count()).select_from(Asset).where(Asset.fsp_id == fsp.id)) == 1


def _csv(rows: list[str]) -> dict:
    return {"file": ("assets.csv", io.BytesIO("\n".join(rows).encode()), "text/csv")}


def test_asset_csv_upload_is_all_or_nothing(pages, make_party, zones, db):
    fsp = make_party("fsp")
    c = pages(fsp)
    head = "name,mpan,zone,technology,up_mw,down_mw,energy_mwh"
    m1, m2 = new_mpan(), new_mpan()
    bad = [head, f"A,{m1},CMZ_NORTH,battery,2,2,4", "B,1234,CMZ_NORTH,battery,1,0,",
           f"C,{m2},NOWHERE,battery,1,0,"]
    r = post(c, "/fsp/assets/upload", {}, files=_csv(bad), page="/fsp/assets/upload")
    assert r.status_code == 422
    lines = re.findall(r'<td class="num">(\d+)</td><td>(\w+)</td>', r.text)
    assert ("3", "mpan") in lines and ("4", "zone") in lines
    assert db.scalar(select(func.count()).select_from(Asset).where(Asset.fsp_id == fsp.id)) == 0
    r = post(c, "/fsp/assets/upload", {}, files=_csv([head, f"A,{m1},CMZ_NORTH,battery,2,2,4",
                                                      f"C,{m2},CMZ_SOUTH,heat_pump,0,1,"]),
             page="/fsp/assets/upload")
    assert r.status_code == 303 and "2 assets registered" in c.get(r.headers["location"]).text
    r = post(c, "/fsp/assets/upload", {}, files=_csv(["name,zone", "x,y"]),
             page="/fsp/assets/upload")
    assert "lacks column(s): mpan, technology" in error_next_to(r.text, "file")


@pytest.fixture
def open_need(client, make_party, zones):
    mo, fsp = make_party("mo"), make_party("fsp")
    m = client.post("/api/v1/markets", headers=mo.h, json={
        "name": "Bids market", "gate_open_at": (NOW - dt.timedelta(hours=1)).isoformat(),
        "gate_close_at": (NOW + dt.timedelta(days=1)).isoformat(),
        "delivery_start": START.isoformat(),
        "delivery_end": (START + dt.timedelta(hours=2)).isoformat(), "open": True,
        "needs": [{"name": "Peak", "product": "dynamic", "zone": "CMZ_NORTH", "direction": "up",
                   "mw": [1, 2, 2, 1], "max_availability_price": "50",
                   "utilisation_price_cap": "300", "unmet_penalty": "1000"}]}).json()
    a = client.post("/api/v1/assets", headers=fsp.h, json=asset_body(name="Avon battery")).json()
    return {"mo": mo, "fsp": fsp, "market": m, "need": m["needs"][0]["id"], "asset": a["id"]}


def test_bid_form_check_submit_and_withdraw(pages, open_need, db):
    c = pages(open_need["fsp"])
    need, asset = open_need["need"], open_need["asset"]
    form = f"/fsp/bids/new?need_id={need}&asset_id={asset}"
    page = c.get(form).text
    assert f'<option value="{asset}" selected>' in page
    base = {"need_id": need, "asset_id": asset, "mw": "1.5", "availability_price": "20",
            "utilisation_price": "200"}
    r = post(c, "/fsp/bids/new", {**base, "action": "check"}, page=form)
    assert r.status_code == 200 and "this bid would be accepted" in r.text
    assert db.scalar(select(func.count()).select_from(Bid)) == 0
    r = post(c, "/fsp/bids/new", {**base, "availability_price": "70", "mw": "9"}, page=form)
    assert r.status_code == 422
    assert "above the need's cap" in error_next_to(r.text, "availability_price")
    assert "exceeds the asset's" in error_next_to(r.text, "mw")
    r = post(c, "/fsp/bids/new", base, page=form)
    assert r.status_code == 303
    bids = c.get("/fsp/bids").text
    assert "badge-submitted" in bids and "Avon battery" in bids
    bid = db.scalar(select(Bid))
    assert bid.mw == [1.5] * 4
    r = post(c, f"/fsp/bids/{bid.id}/withdraw", {}, page="/fsp/bids")
    assert "withdrawn" in c.get(r.headers["location"]).text
    db.expire_all()
    assert db.get(Bid, bid.id).status.value == "withdrawn"


def test_bid_csv_upload(pages, open_need, db):
    c = pages(open_need["fsp"])
    need, asset = open_need["need"], open_need["asset"]
    head = "need_id,asset_id,mw,availability_price,utilisation_price,all_or_nothing"
    bad = [head, f"{need},{asset},1;2;2;1,20,200,no", f"{need},{asset},1;2,20,200,no",
           f"{uuid.uuid4()},{asset},1,20,200,"]
    r = post(c, "/fsp/bids/upload", {}, files=_csv(bad), page="/fsp/bids/upload")
    assert r.status_code == 422
    lines = {x[0] for x in re.findall(r'<td class="num">(\d+)</td><td>([\w.]+)</td>', r.text)}
    assert lines == {"3", "4"}
    assert db.scalar(select(func.count()).select_from(Bid)) == 0
    r = post(c, "/fsp/bids/upload", {}, files=_csv([head, f"{need},{asset},1.5,20,200,yes"]),
             page="/fsp/bids/upload")
    assert r.status_code == 303
    assert db.scalar(select(Bid)).all_or_nothing is True


def test_opportunities_and_home_point_at_the_need(pages, open_need):
    c = pages(open_need["fsp"])
    opp = c.get("/fsp/opportunities").text
    assert f"need_id={open_need['need']}&amp;asset_id={open_need['asset']}" in opp
    assert "Bid with Avon battery" in opp
    assert "fits 1 of your assets" in c.get("/fsp").text
    cat = c.get("/catalogue?zone=CMZ_NORTH&product=dynamic").text
    assert "Peak" in cat and "1 open need." in cat
    assert "No open need matches" in c.get("/catalogue?zone=CMZ_SOUTH").text
    assert 'id="f-window_from-error"' in c.get("/catalogue?window_from=tomorrow").text


# --- results ------------------------------------------------------------------------------


@pytest.fixture
def cleared(open_need, client, db, make_party):
    """The open need cleared through the platform's own round steps, in the test's
    transaction (the live browser test runs the same through the task)."""
    from flexplatform.competition import clearing
    from optimiser import ClearingOptions, clear, load_snapshot

    fsp = open_need["fsp"]
    for price, mw in ((20, 2.0), (45, 2.0)):
        a = client.post("/api/v1/assets", headers=fsp.h, json=asset_body(
            name=f"Asset {price}")).json()
        client.post("/api/v1/bids", headers=fsp.h, json={
            "need_id": open_need["need"], "asset_id": a["id"], "mw": [mw] * 4,
            "availability_price": str(price), "utilisation_price": "100"}).raise_for_status()
    rid = clearing.close_gates(db, NOW + dt.timedelta(days=1, minutes=1))[0]
    snap = clearing.prepare(db, rid)
    result = clear(load_snapshot(snap), ClearingOptions(time_limit=30)).to_dict()
    assert clearing.store(db, rid, result)
    db.commit()
    return {**open_need, "round": rid}


def test_schedule_page_with_chart_and_rationale(pages, cleared, make_party):
    mid = cleared["market"]["id"]
    page = pages(cleared["mo"]).get(f"/markets/{mid}/schedule")
    assert page.status_code == 200
    html = page.text
    assert html.count('<svg ') == 1 and 'role="img"' in html and "<title>Peak: MW awarded" in html
    assert "Asset 20" in html and "badge-accepted" in html and "badge-rejected" in html
    assert "cheaper offers met the need" in html
    assert pages(make_party("regulator")).get(f"/markets/{mid}/schedule").status_code == 200
    assert pages(make_party("mo")).get(f"/markets/{mid}/schedule").status_code == 404
    assert pages(make_party("fsp")).get(f"/markets/{mid}/schedule").status_code == 403
    rounds = pages(cleared["mo"]).get("/clearings").text
    assert str(cleared["round"])[:8] in rounds
    rnd = pages(make_party("regulator")).get(f"/clearings/{cleared['round']}").text
    assert "Why bids were rejected" in rnd and "Bids market" in rnd
    fsp_round = pages(cleared["fsp"]).get(f"/clearings/{cleared['round']}").text
    assert "your part" in fsp_round and "SHA-256 of the full document" in fsp_round
    awards = pages(cleared["fsp"]).get("/fsp/awards").text
    assert "Asset 20" in awards and "<svg " in awards
    assert pages(make_party("fsp")).get(f"/clearings/{cleared['round']}").status_code == 404


# --- admin --------------------------------------------------------------------------------


def test_admin_creates_a_participant_and_the_key_is_shown_once(pages, make_party, db):
    c = pages(make_party("admin"))
    r = post(c, "/admin/participants/new", {"role": "fsp", "legal_name": "",
                                            "billing_contact.email": "nope"},
             page="/admin/participants/new")
    assert r.status_code == 422
    assert error_next_to(r.text, "legal_name") and error_next_to(r.text, "billing_contact.email")
    assert error_next_to(r.text, "billing_contact.name")
    r = post(c, "/admin/participants/new", {
        "role": "fsp", "legal_name": "Fresh Flex Ltd", "status": "active",
        "billing_contact.name": "Desk", "billing_contact.email": "desk@fresh.example"},
        page="/admin/participants/new")
    assert r.status_code == 201 and r.headers["cache-control"] == "no-store"
    key = re.search(r'<code id="new-api-key">([^<]+)</code>', r.text)[1]
    assert key.startswith("fpk_")
    p = db.scalar(select(Participant).where(Participant.legal_name == "Fresh Flex Ltd"))
    detail = c.get(f"/admin/participants/{p.id}").text
    assert key not in detail and key.split(".")[0] in detail
    r = post(c, f"/admin/participants/{p.id}/keys", {"label": "desk"},
             page=f"/admin/participants/{p.id}")
    second = re.search(r'<code id="new-api-key">([^<]+)</code>', r.text)[1]
    assert second != key
    r = post(c, f"/admin/participants/{p.id}/status", {"status": "suspended"},
             page=f"/admin/participants/{p.id}")
    assert "is now suspended" in c.get(r.headers["location"]).text


def test_admin_cannot_suspend_itself(pages, make_party):
    admin = make_party("admin")
    c = pages(admin)
    r = post(c, f"/admin/participants/{admin.id}/status", {"status": "suspended"},
             page=f"/admin/participants/{admin.id}")
    assert "an admin cannot suspend itself" in c.get(r.headers["location"]).text


def test_terms_publish_and_duplicate_version(pages, make_party):
    c = pages(make_party("admin"))
    body = {"version": "2027.1", "title": "New terms", "body": "Text."}
    r = post(c, "/admin/terms", body, page="/admin/terms")
    assert r.status_code == 303 and "2027.1 published" in c.get("/admin/terms").text
    r = post(c, "/admin/terms", body, page="/admin/terms")
    assert r.status_code == 422 and "immutable" in error_next_to(r.text, "version")


def test_rule_changes_take_two_admins(pages, make_party, db):
    a, b = make_party("admin"), make_party("admin")
    ca, cb = pages(a), pages(b)
    r = post(ca, "/admin/rules", {"rules.incompatible_products": "dynamic, quick_reserve",
                                  "rules.primacy": "weighted", "rules.pricing": "pay_as_bid",
                                  "rules.carbon_price": "-5", "rules.primacy_order.dso": "1",
                                  "rules.primacy_order.eso": "2",
                                  "rules.primacy_order.supplier": "3"}, page="/admin/rules")
    assert r.status_code == 422 and error_next_to(r.text, "rules.carbon_price")
    r = post(ca, "/admin/rules", {"rules.incompatible_products": "dynamic, quick_reserve",
                                  "rules.primacy": "weighted", "rules.pricing": "pay_as_bid",
                                  "rules.carbon_price": "80", "rules.primacy_order.dso": "1",
                                  "rules.primacy_order.eso": "2",
                                  "rules.primacy_order.supplier": "3",
                                  "rationale": "Cost-weighted trial"}, page="/admin/rules")
    assert r.status_code == 303
    rs = db.scalar(select(RuleSet).where(RuleSet.rationale == "Cost-weighted trial"))
    assert rs.rules["incompatible_products"] == [["dynamic", "quick_reserve"]]
    mine = ca.get("/admin/rules").text
    assert "yours: awaiting another admin" in mine
    assert f'action="/admin/rules/{rs.version}/approve"' not in mine
    r = post(ca, f"/admin/rules/{rs.version}/approve", {}, page="/admin/rules")
    assert "needs a second admin" in ca.get(r.headers["location"]).text
    assert f'action="/admin/rules/{rs.version}/approve"' in cb.get("/admin/rules").text
    assert "needs a second pair of eyes" in cb.get("/admin").text
    r = post(cb, f"/admin/rules/{rs.version}/approve", {}, page="/admin/rules")
    assert "approved" in cb.get(r.headers["location"]).text
    db.expire_all()
    assert db.get(RuleSet, rs.id).status.value == "approved"


# --- errors -------------------------------------------------------------------------------


def test_unexpected_error_page_says_nothing_was_written(pages, make_party, zones, db,
                                                         monkeypatch):
    from flexplatform.web.pages import mo as mo_pages

    real = mo_pages.competition.create_market

    def crash_after_writing(session, data, who):
        real(session, data, who)
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(mo_pages.competition, "create_market", crash_after_writing)
    c = pages(make_party("mo"))
    before = db.scalar(select(func.count()).select_from(Market))
    r = post(c, "/mo/markets/new", market_form(name="Never stored"), page="/mo/markets/new")
    assert r.status_code == 500 and "text/html" in r.headers["content-type"]
    assert "Nothing was written" in r.text and "disk on fire" not in r.text
    db.expire_all()
    assert db.scalar(select(func.count()).select_from(Market)) == before


def test_pages_and_api_keep_their_own_error_shapes(client):
    r = client.get("/no/such/page")
    assert r.status_code == 404 and "Page not found" in r.text
    assert r.headers["content-security-policy"].startswith("default-src 'self'")
    r = client.get("/api/v1/no/such/endpoint")
    assert r.status_code == 404 and r.headers["content-type"].startswith("application/problem")
    r = client.get("/catalogue/not-a-uuid")
    assert r.status_code == 400 and "malformed" in r.text
    assert client.get("/api/v1/markets/not-a-uuid").status_code == 422
    assert client.get("/static/flex.css").status_code == 200


def test_pages_work_without_javascript(client):
    """The only script is our own, deferred, and no page needs it to submit anything."""
    html = client.get("/catalogue").text
    assert re.findall(r"<script[^>]*>", html) == ['<script src="/static/flex.js" defer>']
    assert "http://" not in html.split("<body")[0] and "https://" not in html.split("<body")[0]
