"""A real openleadr VEN process against the platform's VTN on 127.0.0.1, over mutual TLS.

The VEN (``flexplatform.openadr.example_ven``, the example in docs/openadr.md) runs as a
subprocess; the VTN runs in this process on its own event loop thread, against a SQLite
file the test migrated and filled. Checked: registration with the registered fingerprint,
an event for each of the FSP's instructions (MW per half hour), the VEN's opt-in stored
as the instruction's acceptance, power telemetry and half-hour energy reports stored as
telemetry and meter readings, another FSP's instruction never sent, and a VEN whose
certificate is not the registered one refused. The exchange as both sides logged it is
printed and written to artifacts/openadr/exchange.log.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from flexplatform import migrate
from flexplatform.auth import Principal
from flexplatform.db import make_engine
from flexplatform.identity import Participant
from flexplatform.openadr import service
from flexplatform.openadr.certs import dev_pki
from flexplatform.openadr.models import OpenadrEvent, VenRegistration, VenTelemetry
from flexplatform.openadr.schemas import VenCreate
from flexplatform.openadr.vtn import Vtn, VtnConfig
from flexplatform.operations.models import Instruction
from flexplatform.reporting.models import MeterPoint, MeterReading
from tests.openadr.world import World, build

ROOT = Path(__file__).resolve().parents[2]
LOG = ROOT / "artifacts" / "openadr" / "exchange.log"
PREFIX = "/OpenADR2/Simple/2.0b"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(f"{time.strftime('%H:%M:%S')} vtn {record.getMessage()}")


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[dict[str, Any]]:
    pki = dev_pki(tmp_path / "pki", ["acme-ven-1", "impostor"])
    url = f"sqlite:///{tmp_path / 'vtn.db'}"
    migrate.upgrade(url)
    engine = make_engine(url)
    factory = sessionmaker(bind=engine, expire_on_commit=False)
    from flexplatform.governance.service import seed_taxonomy

    with factory() as s:
        seed_taxonomy(s)
        w = build(s)
        fsp = Principal(participant=s.get(Participant, w.fsp_id), key_prefix="test")
        ven = service.register_ven(s, VenCreate(
            ven_name="acme-ven-1", fingerprint=pki["acme-ven-1"],
            resources=[{"resource_id": "battery-1", "asset_id": w.assets[0]},
                       {"resource_id": "battery-2", "asset_id": w.assets[1]}]), fsp)
        s.commit()
        ven_id = ven.ven_id
    port = _free_port()
    cfg = VtnConfig(port=port, cert=str(tmp_path / "pki/vtn.pem"),
                    key=str(tmp_path / "pki/vtn.key"), ca_file=str(tmp_path / "pki/ca.pem"),
                    poll_seconds=1, sync_seconds=0.3, telemetry_seconds=1,
                    energy_report_seconds=2)
    handler = _Lines()
    lg = logging.getLogger("flexplatform.openadr")
    lg.addHandler(handler)
    lg.setLevel(logging.INFO)
    vtn = Vtn(cfg, session_factory=factory)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_until_complete, args=(vtn.run(),), daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # wait for the listener
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.05)
    try:
        yield {"w": w, "ven_id": ven_id, "factory": factory, "port": port, "pki": pki,
               "dir": tmp_path / "pki", "log": handler.lines, "tmp": tmp_path}
    finally:
        loop.call_soon_threadsafe(vtn.stop)
        thread.join(10)
        lg.removeHandler(handler)
        engine.dispose()


def _ven(st: dict[str, Any], name: str, out: Path, *extra: str) -> subprocess.Popen[bytes]:
    d = st["dir"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-m", "flexplatform.openadr.example_ven",
         "--vtn-url", f"https://127.0.0.1:{st['port']}{PREFIX}", "--ven-name", "acme-ven-1",
         "--cert", str(d / f"{name}.pem"), "--key", str(d / f"{name}.key"),
         "--ca", str(d / "ca.pem"), "--vtn-fingerprint", st["pki"]["vtn"],
         "--resource", "battery-1", "--resource", "battery-2", "--report-seconds", "2",
         "--run-seconds", "40", *extra],
        stdout=out.open("wb"), stderr=subprocess.STDOUT, env=env, cwd=ROOT)


def _state(s: Session, w: World) -> dict[str, Any]:
    mpans = select(MeterPoint.id).where(MeterPoint.asset_id.in_(w.assets))
    return {
        "status": {i: s.get(Instruction, i).status for i in w.instructions},  # type: ignore[union-attr]
        "telemetry": s.scalar(select(func.count()).select_from(VenTelemetry)),
        "readings": s.scalar(select(func.count()).select_from(MeterReading).where(
            MeterReading.meter_point_id.in_(mpans))),
    }


def _wait(st: dict[str, Any], done: Any, timeout: float) -> dict[str, Any]:
    end = time.monotonic() + timeout
    while True:
        with st["factory"]() as s:
            state = _state(s, st["w"])
        if done(state) or time.monotonic() > end:
            return state
        time.sleep(0.25)


def test_real_ven_registers_opts_in_and_reports(stack):
    st, w = stack, stack["w"]
    out = st["tmp"] / "ven.log"
    t0 = time.monotonic()
    proc = _ven(st, "acme-ven-1", out)
    try:
        mine = w.instructions[:2]
        state = _wait(st, lambda x: all(x["status"][i] == "accepted" for i in mine)
                      and x["telemetry"] and x["readings"] >= 2, 60)
    finally:
        proc.terminate()
        proc.wait(10)
    took = time.monotonic() - t0
    exchange = "\n".join([f"# VTN log ({took:.1f} s)", *st["log"], "# VEN process output",
                          out.read_text(errors="replace")])
    LOG.parent.mkdir(parents=True, exist_ok=True)
    LOG.write_text(exchange)
    print(exchange)

    assert all(state["status"][i] == "accepted" for i in w.instructions[:2]), state
    assert state["status"][w.instructions[2]] == "issued"  # another FSP's: never sent
    assert state["telemetry"] > 0 and state["readings"] >= 2, state
    with st["factory"]() as s:
        ven = s.get(VenRegistration, st["ven_id"])
        assert ven.registration_id and ven.registered_at
        evs = s.scalars(select(OpenadrEvent).order_by(OpenadrEvent.resource_id)).all()
        assert [(e.resource_id, e.status, e.opt_type, e.outcome) for e in evs] == [
            ("battery-1", "opted_in", "optIn", "accepted"),
            ("battery-2", "opted_in", "optIn", "accepted")]
        assert {e.instruction_id for e in evs} == set(w.instructions[:2])
        acked = s.get(Instruction, w.instructions[0])
        assert acked.acked_at is not None
        tel = s.scalars(select(VenTelemetry)).first()
        assert tel.mw == pytest.approx(-0.25)  # -250 kW reported
        reading = s.scalars(select(MeterReading)).first()
        assert reading.import_kwh == pytest.approx(12.5) and reading.export_kwh == 0
    assert "oadrCreatePartyRegistration" in exchange and "oadrDistributeEvent" in exchange
    assert "LOAD_DISPATCH MW [-1.5, -1.5]" in exchange
    # ~10 s on an idle machine, ~21 s at load 9 on 2 cores; the wait above allows 60.


def test_a_ven_with_another_certificate_is_refused(stack):
    st = stack
    out = st["tmp"] / "impostor.log"
    proc = _ven(st, "impostor", out, "--run-seconds", "3")
    proc.wait(20)
    with st["factory"]() as s:
        assert s.get(VenRegistration, st["ven_id"]).registration_id is None
        assert s.scalar(select(func.count()).select_from(OpenadrEvent)) == 0
    assert any("registration refused" in line for line in st["log"]), st["log"]
