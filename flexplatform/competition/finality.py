"""When a round's result may become the market result, and what happens when it may not.

A solve stopped by its time limit returns the best solution found so far; at a large
round that can be far from the best there is (found running the API: 2,000 assets at the
60 s limit stored gap 0.961, no awards, every need unmet, and the markets cleared). The
optimiser promises a result never worse than a merit-order start and an honest
``mip_gap``; this module decides on ``status`` and ``mip_gap`` alone:

- **final**: ``optimal``, or ``feasible`` with a proven gap at most
  ``FLEX_CLEARING_MAX_FINAL_GAP`` (default 1%). It is stored as the market result.
- **not final, first time**: the round is queued again with twice the time limit (the
  frozen snapshot makes it the same problem).
- **not final after that**: the round is **held**: markets stay closed, no contract is
  written, the MOs and the admins are told why. An admin then either releases the held
  result as it is, with a recorded reason, or re-runs it with a longer limit. Every step
  is audited.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from flexplatform import audit, runs
from flexplatform.auth import Principal
from flexplatform.competition.models import ClearingRound, Market, RoundStatus
from flexplatform.config import get_settings
from flexplatform.db import after_commit, utcnow
from flexplatform.errors import Conflict, InvalidInput, NotFound, field_error
from flexplatform.identity import Participant, ParticipantStatus, Role
from flexplatform.notifications import notify

CLEAR_TASK = "flex.competition.clear_round"
# A result that is not final is solved once more with this many times the time limit.
RERUN_TIME_FACTOR = 2.0
SYSTEM = audit.Actor.system()


def is_final(result: dict[str, Any], max_gap: float | None = None) -> bool:
    """Proven optimal, or feasible with a proven relative gap within ``max_gap``.

    No proven gap counts as 100%: only ``max_gap >= 1`` accepts any feasible result.
    """
    if max_gap is None:
        max_gap = get_settings().clearing_max_final_gap
    if result.get("status") == "optimal":
        return True
    gap = result.get("mip_gap")
    return result.get("status") == "feasible" and (1.0 if gap is None else gap) <= max_gap


def time_limit(rnd: ClearingRound) -> float:
    """Seconds the round's next solve may take."""
    return rnd.time_limit_s or get_settings().solver_time_limit


def _why(result: dict[str, Any], limit: float) -> str:
    gap = result.get("mip_gap")
    proven = "no proven gap" if gap is None else f"a proven gap of {gap:.2%}"
    return (f"the solver stopped at {result.get('status')} with {proven} after a {limit:g} s "
            f"limit; a final result needs optimal or a gap of at most "
            f"{get_settings().clearing_max_final_gap:.2%}")


def _sha(doc: Any) -> str:
    return hashlib.sha256(json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()
                          ).hexdigest()


def not_final(session: Session, rnd: ClearingRound, result: dict[str, Any], parts: int) -> str:
    """Re-run a first result that is not final with more time, else hold it. Returns
    ``"rerun"`` or ``"held"``."""
    limit = time_limit(rnd)
    why = _why(result, limit)
    if rnd.time_limit_s is None:
        requeue(session, rnd, RERUN_TIME_FACTOR * limit, SYSTEM,
                f"{why}; solving once more with {RERUN_TIME_FACTOR:g}x the time")
        return "rerun"
    hold(session, rnd, result, parts, why)
    return "held"


def requeue(session: Session, rnd: ClearingRound, limit: float, actor: audit.Actor,
            reason: str) -> None:
    """Queue the round to be solved again from its frozen snapshot within ``limit`` s."""
    previous = time_limit(rnd)
    rnd.status, rnd.time_limit_s, rnd.hold_reason = RoundStatus.queued, limit, None
    rnd.result = rnd.result_sha256 = rnd.solver_status = rnd.objective = None
    runs.release(session, rnd)
    audit.record(session, actor, "clearing.rerun", "clearing_round", rnd.id, {
        "reason": reason, "time_limit_s": limit, "previous_time_limit_s": previous})
    rid = str(rnd.id)

    def enqueue_later() -> None:
        from flexplatform.queue import enqueue

        enqueue(CLEAR_TASK, round_id=rid)

    after_commit(session, enqueue_later)


def hold(session: Session, rnd: ClearingRound, result: dict[str, Any], parts: int,
         reason: str) -> None:
    """Keep the result for an admin without making it the market result."""
    rnd.status, rnd.hold_reason, rnd.finished_at = RoundStatus.held, reason, utcnow()
    rnd.result, rnd.result_sha256 = result, _sha(result)
    rnd.solver_status, rnd.objective = result["status"], result.get("objective")
    rnd.timing = {**result.get("timing", {}), "parts": parts}
    runs.release(session, rnd)
    audit.record(session, SYSTEM, "clearing.held", "clearing_round", rnd.id, {
        "reason": reason, "status": result["status"], "mip_gap": result.get("mip_gap"),
        "time_limit_s": time_limit(rnd), "result_sha256": rnd.result_sha256})
    markets = session.scalars(select(Market).where(
        Market.id.in_([uuid.UUID(m) for m in rnd.market_ids]))).all()
    told: dict[uuid.UUID, list[str]] = {}
    for m in markets:
        told.setdefault(m.mo_id, []).append(str(m.id))
    for admin in session.scalars(select(Participant.id).where(
            Participant.role == Role.admin, Participant.status == ParticipantStatus.active)):
        told.setdefault(admin, list(rnd.market_ids))
    for pid, mids in told.items():
        notify(session, pid, "clearing.held", {"round_id": str(rnd.id), "markets": mids,
                                               "reason": reason},
               dedupe_key=f"clearing.held:{rnd.id}:{rnd.attempts}:{pid}")


def _held(session: Session, round_id: uuid.UUID) -> ClearingRound:
    rnd = session.get(ClearingRound, round_id, with_for_update=True)
    if rnd is None:
        raise NotFound(f"clearing round {round_id} not found")
    if rnd.status != RoundStatus.held:
        raise Conflict(f"the round is {rnd.status.value}; only a held round is released or "
                       "re-run by an admin")
    return rnd


def release(session: Session, round_id: uuid.UUID, reason: str, who: Principal
            ) -> ClearingRound:
    """An admin accepts the held result as the market result, and says why."""
    from flexplatform.competition.clearing import store

    rnd = _held(session, round_id)
    audit.record(session, who.actor, "clearing.release", "clearing_round", rnd.id, {
        "reason": reason, "result_sha256": rnd.result_sha256,
        "mip_gap": (rnd.result or {}).get("mip_gap"), "hold_reason": rnd.hold_reason})
    store(session, rnd.id, rnd.result or {}, parts=rnd.timing.get("parts", 1), final=True)
    return rnd


def rerun(session: Session, round_id: uuid.UUID, limit: float, reason: str, who: Principal
          ) -> ClearingRound:
    """An admin sends the held round back to the solver with a longer time limit."""
    rnd = _held(session, round_id)
    if limit <= time_limit(rnd):
        raise InvalidInput("the re-run needs a longer time limit", errors=[field_error(
            ["time_limit_s"], f"must be above the last limit, {time_limit(rnd):g} s")])
    requeue(session, rnd, limit, who.actor, reason)
    return rnd
