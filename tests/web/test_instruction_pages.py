"""FSP instruction pages: the list with accept and reject, one instruction with its
OpenADR delivery, form errors next to the reason, another FSP's instruction a 404, CSRF
refused. Answers go through the operations service, as the API's."""

from __future__ import annotations

import pytest

from flexplatform.auth import Principal
from flexplatform.identity import Participant
from flexplatform.operations.models import Instruction
from tests.helpers import Party
from tests.openadr.world import build
from tests.web.conftest import csrf_of


@pytest.fixture
def world(db, terms):
    from flexplatform.registration.service import accept_terms

    w = build(db)
    for pid in (w.fsp_id, w.other_fsp_id):
        accept_terms(db, terms, Principal(participant=db.get(Participant, pid), key_prefix="t"))
    db.commit()
    return w


def _post(c, url, page, **data):
    return c.post(url, data={"csrf_token": csrf_of(c, page), **data}, follow_redirects=False)


def test_fsp_lists_accepts_and_rejects_its_instructions(pages, world, db):
    w = world
    c = pages(Party(id=w.fsp_id, role="fsp", key=w.fsp_key))
    r = c.get("/fsp/instructions")
    assert r.status_code == 200
    assert r.text.count('/accept"') == 2 and "Battery 1" in r.text and "Other battery" not in r.text
    a, b, other = (str(i) for i in w.instructions)
    r = _post(c, f"/fsp/instructions/{a}/accept", "/fsp/instructions")
    assert r.status_code == 303 and r.headers["location"] == "/fsp/instructions"
    page = f"/fsp/instructions/{b}"
    r = _post(c, f"/fsp/instructions/{b}/reject", page, reason="")
    assert r.status_code == 422
    assert 'id="f-reason-error"' in r.text and "give the reason" in r.text
    r = _post(c, f"/fsp/instructions/{b}/reject", page, reason="Battery under maintenance")
    assert r.status_code == 303
    db.expire_all()
    assert db.get(Instruction, w.instructions[0]).status == "accepted"
    ins = db.get(Instruction, w.instructions[1])
    assert (ins.status, ins.reject_reason) == ("rejected", "Battery under maintenance")
    # answered once: a second answer is refused with the reason, nothing changes
    r = _post(c, f"/fsp/instructions/{a}/accept", f"/fsp/instructions/{a}")
    assert r.status_code == 303 and r.headers["location"] == f"/fsp/instructions/{a}"
    assert "already accepted" in c.get(f"/fsp/instructions/{a}").text
    # another FSP's instruction: the 404 page, for reading and answering
    assert c.get(f"/fsp/instructions/{other}").status_code == 404
    r = _post(c, f"/fsp/instructions/{other}/accept", "/fsp/instructions")
    assert r.status_code == 404
    db.expire_all()
    assert db.get(Instruction, w.instructions[2]).status == "issued"


def test_answers_need_the_csrf_token(pages, world, db):
    w = world
    c = pages(Party(id=w.fsp_id, role="fsp", key=w.fsp_key))
    r = c.post(f"/fsp/instructions/{w.instructions[0]}/accept", data={},
               follow_redirects=False)
    assert r.status_code == 403
    db.expire_all()
    assert db.get(Instruction, w.instructions[0]).status == "issued"
