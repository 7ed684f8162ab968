"""The oversight page shows the stored carbon report's charts and table."""

from __future__ import annotations

from tests.transparency.test_reports import RANGE
from tests.web.conftest import pages  # noqa: F401  (the signed-in client fixture)


def test_regulator_page_shows_the_latest_reports(client, market, inline_tasks, pages):  # noqa: F811
    reg = market.regulator
    page = pages(reg)
    r = page.get("/regulator/transparency")
    assert r.status_code == 200 and "No carbon report built yet" in r.text
    for kind in ("carbon", "market"):
        assert client.post(f"/api/v1/reports/{kind}", json=RANGE,
                           headers=reg.h).status_code == 202
    r = page.get("/regulator/transparency")
    assert r.status_code == 200
    assert r.text.count("<svg") == 2 and "East Midlands" in r.text
    assert "Needs with no bid" in r.text and "CMZ_SOUTH" in r.text
    assert pages(market.fsps[0]).get("/regulator/transparency").status_code == 403
    assert "/regulator/transparency" in page.get("/regulator").text
