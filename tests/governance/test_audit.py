"""The audit chain: written with every change, verified, and tamper-evident."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from flexplatform import audit
from flexplatform.audit import AuditEvent
from tests.helpers import asset_body


def _disable_guard(db):
    """Simulate an attacker with DDL rights: drop the append-only triggers."""
    if db.get_bind().dialect.name == "postgresql":
        db.execute(text("ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_update"))
    else:
        db.execute(text("DROP TRIGGER audit_events_no_update"))
        db.execute(text("DROP TRIGGER audit_events_no_delete"))


def test_changes_are_audited_and_chain_verifies(client, make_party, zones, db):
    fsp, reg = make_party("fsp"), make_party("regulator")
    a = client.post("/api/v1/assets", json=asset_body(), headers=fsp.h).json()
    events = client.get("/api/v1/audit/events?limit=1000", headers=reg.h).json()
    actions = [e["action"] for e in events]
    assert "asset.create" in actions and "participant.create" in actions
    mine = client.get(f"/api/v1/audit/events?entity_id={a['id']}", headers=reg.h).json()
    assert mine[0]["actor_id"] == str(fsp.id) and mine[0]["actor_role"] == "fsp"
    v = client.get("/api/v1/audit/verify", headers=reg.h).json()
    assert v["ok"] and v["events"] == len(events) and v["head_seq"] == events[-1]["seq"]


def test_database_refuses_update_and_delete(db, make_party):
    make_party("fsp")
    with pytest.raises(Exception, match="append-only"), db.begin_nested():
        db.execute(text("UPDATE audit_events SET action = 'x'"))
    with pytest.raises(Exception, match="append-only"), db.begin_nested():
        db.execute(text("DELETE FROM audit_events"))


def test_edit_detected(db, make_party):
    make_party("fsp")
    make_party("mo")
    assert audit.verify(db).ok
    _disable_guard(db)
    db.execute(text("UPDATE audit_events SET data = :d WHERE seq = 2"), {"d": '{"role": "admin"}'})
    report = audit.verify(db)
    assert not report.ok
    assert {"seq": 2, "problem": "content_changed"}.items() <= report.problems[0].items()


def test_delete_detected(db, make_party):
    for _ in range(3):
        make_party("fsp")
    _disable_guard(db)
    db.execute(text("DELETE FROM audit_events WHERE seq = 3"))
    report = audit.verify(db)
    assert not report.ok
    kinds = {(p["seq"], p["problem"]) for p in report.problems}
    assert (4, "gap") in kinds and (4, "broken_link") in kinds


def test_rehashing_a_row_still_breaks_the_next_link(db, make_party):
    for _ in range(3):
        make_party("fsp")
    _disable_guard(db)
    ev = db.query(AuditEvent).filter_by(seq=2).one()
    forged = {"forged": True}
    new_hash = audit.content_hash(ev.seq, ev.at, ev.actor_id, ev.actor_role, ev.action,
                                  ev.entity_type, ev.entity_id, forged, ev.prev_hash)
    db.execute(text("UPDATE audit_events SET data = :d, row_hash = :h WHERE seq = 2"),
               {"d": '{"forged": true}', "h": new_hash})
    report = audit.verify(db)
    assert [(p["seq"], p["problem"]) for p in report.problems] == [(3, "broken_link")]


def test_cli_verify(tmp_path, monkeypatch):
    """`flexplatform audit verify` on a fresh embedded database: exit 0, then 1 after tamper."""
    import sqlite3

    from typer.testing import CliRunner

    from flexplatform.cli import app as cli
    from flexplatform.db import reset_runtime

    monkeypatch.setenv("FLEX_VAR_DIR", str(tmp_path))
    monkeypatch.delenv("FLEX_DATABASE_URL", raising=False)
    reset_runtime()
    try:
        runner = CliRunner()
        assert runner.invoke(cli, ["db", "upgrade"]).exit_code == 0
        r = runner.invoke(cli, ["admin", "create-participant", "--role", "admin", "--name",
                                "Ops Ltd"])
        assert r.exit_code == 0 and "fpk_" in r.output
        r = runner.invoke(cli, ["audit", "verify"])
        assert r.exit_code == 0 and "OK" in r.output
        con = sqlite3.connect(tmp_path / "flexplatform.db")
        con.execute("DROP TRIGGER audit_events_no_update")
        con.execute("UPDATE audit_events SET action = 'participant.delete'")
        con.commit()
        con.close()
        r = runner.invoke(cli, ["audit", "verify"])
        assert r.exit_code == 1 and "TAMPERED" in r.output
    finally:
        reset_runtime()
