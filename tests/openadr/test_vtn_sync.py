"""The VTN's sync loop without a network: new instructions are queued once, a restarted
VTN queues again what was sent and not answered (same event id), and an instruction no
longer 'issued' has its event withdrawn."""

from __future__ import annotations

import asyncio
import concurrent.futures

from sqlalchemy.orm import sessionmaker

from flexplatform import migrate
from flexplatform.auth import Principal
from flexplatform.db import make_engine
from flexplatform.identity import Participant
from flexplatform.openadr import service
from flexplatform.openadr.models import OpenadrEvent
from flexplatform.openadr.schemas import VenCreate
from flexplatform.openadr.vtn import Vtn, VtnConfig
from flexplatform.operations.models import Instruction
from tests.openadr.world import build

FP = "AA:BB:CC:DD:EE:FF:00:11:22:33"


def test_sync_queues_once_requeues_after_restart_and_withdraws(tmp_path):
    url = f"sqlite:///{tmp_path / 'sync.db'}"
    migrate.upgrade(url)
    engine = make_engine(url)
    factory = sessionmaker(bind=engine, expire_on_commit=False)
    from flexplatform.governance.service import seed_taxonomy

    with factory() as s:
        seed_taxonomy(s)
        w = build(s)
        fsp = Principal(participant=s.get(Participant, w.fsp_id), key_prefix="t")
        service.register_ven(s, VenCreate(ven_name="v1", fingerprint=FP, resources=[
            {"resource_id": "b1", "asset_id": w.assets[0]},
            {"resource_id": "b2", "asset_id": w.assets[1]}]), fsp)
        ven_id, _ = service.create_party_registration(s, "v1", FP)
        s.commit()
    cfg = VtnConfig(insecure=True, port=0)
    mine = {str(i) for i in w.instructions[:2]}

    def queued(vtn):
        return {e["event_descriptor"]["event_id"] for e in vtn.server.events.get(ven_id, [])}

    async def scenario():
        first = Vtn(cfg, session_factory=factory)
        assert await first.sync_once() == 2 and queued(first) == mine
        assert await first.sync_once() == 0  # nothing new, nothing sent twice
        second = Vtn(cfg, session_factory=factory)  # a restart: openleadr's queue is empty
        assert await second.sync_once() == 2 and queued(second) == mine
        with factory() as s:
            s.get(Instruction, w.instructions[0]).status = "cancelled"
            s.commit()
        assert await second.sync_once() == 1
        ev = next(e for e in second.server.events[ven_id]
                  if e["event_descriptor"]["event_id"] == str(w.instructions[0]))
        assert ev["event_descriptor"]["event_status"] == "cancelled"

    # On a thread of its own: an earlier test in the same process may have left a loop
    # marked running on this one, and asyncio.run refuses to nest.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, scenario()).result()
    with factory() as s:
        assert s.get(OpenadrEvent, str(w.instructions[0])).status == "cancelled"
        assert s.get(OpenadrEvent, str(w.instructions[1])).status == "queued"
    engine.dispose()
