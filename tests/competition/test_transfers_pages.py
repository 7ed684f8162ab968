"""The dashboard's transfer pages: parties see the transfer, others a 404; the MO
consents with one button (CSRF-checked), through the same services as the API."""

from __future__ import annotations

from tests.competition.test_transfers import API, _clear, _offer, _transfer, market  # noqa: F401
from tests.web.conftest import csrf_of, pages  # noqa: F401


def test_transfer_pages(client, db, market, pages):  # noqa: F811
    m = market
    client.put(f"{API}/markets/{m['market_id']}/transfer-settings", headers=m["mo"].h,
               json={"consent": "approval"}).raise_for_status()
    tid = _transfer(client, m)["id"]
    _offer(client, m["taker1"], tid, m["a1"], [2] * 4, 25)
    holder, mo, outsider = pages(m["holder"]), pages(m["mo"]), pages(m["outsider"])
    r = holder.get("/transfers")
    assert r.status_code == 200 and tid[:8] in r.text
    r = holder.get(f"/transfers/{tid}")
    assert r.status_code == 200 and "sealed until the offer deadline" in r.text
    board = outsider.get("/transfers")
    assert board.status_code == 200 and tid in board.text and "Open for offers" in board.text
    assert outsider.get(f"/transfers/{tid}").status_code == 404
    client.post(f"{API}/transfers/{tid}/close", headers=m["holder"].h).raise_for_status()
    _clear(db, tid)
    page = mo.get(f"/transfers/{tid}")
    assert page.status_code == 200 and "Approve" in page.text and "25.00" in page.text
    token = csrf_of(mo, f"/transfers/{tid}")
    r = mo.post(f"/transfers/{tid}/approve", data={"csrf_token": token},
                follow_redirects=False)
    assert r.status_code == 303
    done = holder.get(f"/transfers/{tid}")
    assert "completed" in done.text and "Payments between FSPs" in done.text
    assert client.get(f"{API}/transfers/{tid}", headers=m["holder"].h).json()["status"] == \
        "completed"
    other = pages(m["other_mo"])
    assert other.post(f"/transfers/{tid}/approve", data={
        "csrf_token": csrf_of(other, "/transfers")}).status_code == 404
