"""The audit chain: written with every change, verified, and tamper-evident."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select, text

from flexplatform import audit
from flexplatform.audit import AuditEvent
from tests.helpers import asset_body


def _disable_guard(db):
    """Simulate an attacker with DDL rights: drop the append-only triggers."""
    if db.get_bind().dialect.name == "postgresql":
        db.execute(text("ALTER TABLE audit_events DISABLE TRIGGER USER"))
    else:
        db.execute(text("DROP TRIGGER audit_events_no_update"))
        db.execute(text("DROP TRIGGER audit_events_no_delete"))


def _rehash_from(db, first: int, forged: dict) -> None:
    """Edit row ``first`` and re-hash every row after it with the project's own function:
    what is left is a valid chain, so only an anchor outside it can tell."""
    prev = db.scalar(select(AuditEvent.row_hash).where(AuditEvent.seq == first - 1)) \
        or audit.GENESIS
    for ev in db.scalars(select(AuditEvent).where(AuditEvent.seq >= first)
                         .order_by(AuditEvent.seq)).all():
        data = forged if ev.seq == first else ev.data
        h = audit.content_hash(ev.seq, ev.at, ev.actor_id, ev.actor_role, ev.action,
                               ev.entity_type, ev.entity_id, data, prev)
        db.execute(text("UPDATE audit_events SET data = :d, prev_hash = :p, row_hash = :h "
                        "WHERE seq = :s"),
                   {"d": json.dumps(data), "p": prev, "h": h, "s": ev.seq})
        prev = h
    db.expire_all()


def _chain(db, parties: int, make_party) -> int:
    for _ in range(parties):
        make_party("fsp")
    return audit.head(db)[0]


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


@pytest.fixture
def cli(tmp_path, monkeypatch):
    """The ``flexplatform`` command on a fresh embedded database (its own var_dir and key)."""
    from typer.testing import CliRunner

    from flexplatform.cli import app
    from flexplatform.db import reset_runtime

    monkeypatch.setenv("FLEX_VAR_DIR", str(tmp_path))
    monkeypatch.delenv("FLEX_DATABASE_URL", raising=False)
    monkeypatch.delenv("FLEX_AUDIT_SECRET", raising=False)
    reset_runtime()
    runner = CliRunner()

    def run(*args: str):
        return runner.invoke(app, list(args))

    assert run("db", "upgrade").exit_code == 0
    yield run
    reset_runtime()


def _tamper(tmp_path, *sql: str) -> None:
    import sqlite3

    con = sqlite3.connect(tmp_path / "flexplatform.db")
    for statement in sql:
        con.execute(statement)
    con.commit()
    con.close()


def test_cli_verify(cli, tmp_path):
    """`flexplatform audit verify` on a fresh embedded database: exit 0, then 1 after tamper."""
    r = cli("admin", "create-participant", "--role", "admin", "--name", "Ops Ltd")
    assert r.exit_code == 0 and "fpk_" in r.output
    r = cli("audit", "verify")
    assert r.exit_code == 0 and "OK" in r.output
    _tamper(tmp_path, "DROP TRIGGER audit_events_no_update",
            "UPDATE audit_events SET action = 'participant.delete'")
    r = cli("audit", "verify")
    assert r.exit_code == 1 and "TAMPERED" in r.output


def test_truncate_is_refused(db, make_party):
    """Postgres row triggers do not fire on TRUNCATE: a statement trigger refuses it."""
    make_party("fsp")
    audit.write_checkpoint(db)
    pg = db.get_bind().dialect.name == "postgresql"
    for table in ("audit_events", "audit_checkpoints"):
        wipe = f"TRUNCATE {table}" if pg else f"DELETE FROM {table}"  # SQLite has no TRUNCATE
        with pytest.raises(Exception, match="append-only"), db.begin_nested():
            db.execute(text(wipe))
    with pytest.raises(Exception, match="append-only"), db.begin_nested():
        db.execute(text("UPDATE audit_checkpoints SET seq = 1"))


def test_an_emptied_trail_is_caught(db, make_party):
    head = _chain(db, 3, make_party)
    audit.write_checkpoint(db)
    _disable_guard(db)
    pg = db.get_bind().dialect.name == "postgresql"
    db.execute(text("TRUNCATE audit_events" if pg else "DELETE FROM audit_events"))
    report = audit.verify(db)
    assert not report.ok and report.events == 0
    kinds = [(p["seq"], p["problem"]) for p in report.problems]
    assert (head, "truncated") in kinds  # the checkpoint saw it
    assert (None, "truncated") in kinds  # participants exist, their creation is gone


def test_deleted_newest_rows_are_caught(db, make_party):
    head = _chain(db, 4, make_party)
    audit.write_checkpoint(db)
    make_party("mo")  # after the checkpoint: the window no checkpoint covers yet
    assert audit.verify(db).ok
    _disable_guard(db)
    db.execute(text("DELETE FROM audit_events WHERE seq > :s"), {"s": head - 2})
    db.expire_all()
    report = audit.verify(db)
    assert not report.ok
    assert [(p["seq"], p["problem"]) for p in report.problems] == [(head, "truncated")]
    assert "newest rows were deleted" in report.problems[0]["detail"]


def test_a_tail_rehashed_with_content_hash_is_caught(db, make_party):
    head = _chain(db, 4, make_party)
    audit.write_checkpoint(db)
    make_party("mo")
    _disable_guard(db)
    _rehash_from(db, 2, {"forged": True})
    report = audit.verify(db)
    # Internally the forged chain is perfect; only the signed checkpoint sees it.
    assert [(p["seq"], p["problem"]) for p in report.problems] == [(head, "rewritten")]
    assert "checkpoint signed" in report.problems[0]["detail"]


def test_a_published_head_catches_a_rewrite_after_it(db, make_party):
    """No checkpoint yet: the head published in a clearing result is the anchor."""
    from flexplatform.competition.models import ClearingRound, RoundStatus
    from flexplatform.governance.service import verify_audit

    head = _chain(db, 3, make_party)
    seq, h = audit.head(db)
    rnd = ClearingRound(market_ids=[], status=RoundStatus.done,
                        result={"status": "optimal", "audit_head": {"seq": seq, "hash": h}})
    db.add(rnd)
    db.flush()
    make_party("fsp")
    assert verify_audit(db).ok
    _disable_guard(db)
    _rehash_from(db, 2, {"forged": True})
    assert audit.verify(db).ok  # the chain alone cannot tell
    report = verify_audit(db)
    assert [(p["seq"], p["problem"]) for p in report.problems] == [(head, "rewritten")]
    assert str(rnd.id) in report.problems[0]["detail"]


def test_a_checkpoint_not_signed_with_the_server_key_is_caught(db, make_party):
    head = _chain(db, 2, make_party)
    cp = audit.write_checkpoint(db)
    assert audit.write_checkpoint(db) is None  # nothing new since
    _disable_guard(db)
    _rehash_from(db, 1, {"forged": True})
    forged = audit.head(db)[1]
    db.add(audit.AuditCheckpoint(seq=head, head_hash=forged, at=cp.at, mac="0" * 64))
    db.flush()
    problems = {(p["seq"], p["problem"]) for p in audit.verify(db).problems}
    assert problems == {(head, "checkpoint_forged"), (head, "rewritten")}


def test_checkpoint_key_is_never_a_default_on_a_server_database(monkeypatch, tmp_path):
    from flexplatform.config import ConfigError, get_settings

    monkeypatch.setenv("FLEX_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("FLEX_DATABASE_URL", "postgresql://u@db.example/flex")
    monkeypatch.delenv("FLEX_AUDIT_SECRET", raising=False)
    get_settings.cache_clear()
    try:
        with pytest.raises(ConfigError, match="FLEX_AUDIT_SECRET must be set"):
            audit.checkpoint_key()
        monkeypatch.setenv("FLEX_AUDIT_SECRET", "short")
        get_settings.cache_clear()
        with pytest.raises(ConfigError, match="at least 32"):
            audit.checkpoint_key()
        monkeypatch.setenv("FLEX_AUDIT_SECRET", "k" * 40)
        get_settings.cache_clear()
        assert audit.checkpoint_key() == b"k" * 40
        # Embedded default: generated once into var_dir, private, stable.
        monkeypatch.delenv("FLEX_DATABASE_URL")
        monkeypatch.delenv("FLEX_AUDIT_SECRET")
        get_settings.cache_clear()
        first = audit.checkpoint_key()
        assert len(first) == 64 and audit.checkpoint_key() == first
        assert (tmp_path / "audit-secret").stat().st_mode & 0o777 == 0o600
    finally:
        get_settings.cache_clear()


def test_cli_checkpoint_then_verify_catches_deleted_rows(cli, tmp_path):
    for name in ("Ops Ltd", "Ops Two Ltd"):
        assert cli("admin", "create-participant", "--role", "admin", "--name",
                   name).exit_code == 0
    r = cli("audit", "checkpoint")
    assert r.exit_code == 0 and "checkpoint at seq 2" in r.output
    assert cli("audit", "verify").exit_code == 0
    _tamper(tmp_path, "DROP TRIGGER audit_events_no_delete",
            "DELETE FROM audit_events WHERE seq = 2")
    r = cli("audit", "verify")
    assert r.exit_code == 1 and "truncated" in r.output and "TAMPERED" in r.output
