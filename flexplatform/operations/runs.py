"""Dispatch runs: the system-wide snapshot (dispatch-snapshot-v1), then the instructions.

As for clearing rounds, a run is split so the solver never holds a transaction:
``prepare`` freezes the snapshot (once) and takes a lease, the task solves, ``store``
writes instructions and request states in one transaction. Every step checks the run's
state first, and instructions are unique per (run, contract, request), so a redelivered
task or a worker killed mid-run yields one result and no duplicate instruction.

Runs are taken one at a time: two runs solved from the same open residual would both
cover it. A run that finds another running stays queued; the finishing run (or the
sweep) starts the next.

What a request still needs is its MW less what its live (issued or accepted)
instructions already cover, counted with the asset's reliability as the engine counts
coverage. Live instructions enter the snapshot as fixed; rejected and expired ones take
their asset out (availability 0) for their periods, which is how a re-dispatch finds
someone else.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from collections import defaultdict
from typing import Any

from sqlalchemy import and_, delete, false, or_, select, text
from sqlalchemy.orm import Session

from flexplatform import audit
from flexplatform import runs as leases
from flexplatform.competition import rules as rules_svc
from flexplatform.competition.models import Bid, Contract, Need
from flexplatform.db import after_commit, bulk_insert, utcnow
from flexplatform.notifications import notify
from flexplatform.operations import conflicts
from flexplatform.operations.availability import product_rules
from flexplatform.operations.models import (
    LIVE_INSTRUCTION,
    DispatchRun,
    Instruction,
    UtilisationRequest,
)
from flexplatform.registration.models import Asset

SYSTEM = audit.Actor.system()
HALF_HOUR = dt.timedelta(minutes=30)
RUN_TASK = "flex.operations.dispatch_run"
EPS = 1e-6


def sha(doc: Any) -> str:
    return hashlib.sha256(json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()
                          ).hexdigest()


def iso(t: dt.datetime) -> str:
    return t.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _lock(session: Session, q: Any) -> Any:
    if session.get_bind().dialect.name == "postgresql":
        return q.with_for_update()
    return q


def queue_run(session: Session, trigger: str, start: dt.datetime, end: dt.datetime,
              request_ids: list[uuid.UUID] | None = None) -> DispatchRun:
    """A queued run over ``[start, end)``, started after the caller commits."""
    run = DispatchRun(trigger=trigger, window_start=start, window_end=end,
                      request_ids=[str(r) for r in request_ids or []])
    session.add(run)
    session.flush()
    rid = str(run.id)
    audit.record(session, SYSTEM, "dispatch.queued", "dispatch_run", run.id,
                 {"trigger": trigger, "window": [start.isoformat(), end.isoformat()]})

    def start_later() -> None:
        from flexplatform.queue import enqueue

        enqueue(RUN_TASK, run_id=rid)

    after_commit(session, start_later)
    return run


def _covered(session: Session, request_ids: list[uuid.UUID], start: dt.datetime,
             end: dt.datetime, but_run: uuid.UUID | None = None
             ) -> dict[tuple[uuid.UUID, dt.datetime], float]:
    """(request, period) -> MW its live instructions cover (reliability-weighted)."""
    out: dict[tuple[uuid.UUID, dt.datetime], float] = defaultdict(float)
    if not request_ids:
        return out
    q = (select(Instruction.request_id, Instruction.period_start, Instruction.mw,
                Asset.reliability).join(Asset, Asset.id == Instruction.asset_id)
         .where(Instruction.request_id.in_(request_ids),
                Instruction.status.in_(LIVE_INSTRUCTION), Instruction.period_start >= start,
                Instruction.period_start < end))
    if but_run is not None:
        q = q.where(Instruction.run_id != but_run)
    for r in session.execute(q):
        out[(r.request_id, r.period_start)] += r.mw * r.reliability
    return out


def build_snapshot(session: Session, run: DispatchRun) -> dict[str, Any]:
    ws, we = run.window_start, run.window_end
    assert ws is not None and we is not None
    axis = []
    t = ws
    while t < we:
        axis.append(t)
        t += HALF_HOUR
    index = {t: i for i, t in enumerate(axis)}
    T = len(axis)
    reqs = session.scalars(select(UtilisationRequest).where(
        UtilisationRequest.status != "cancelled", UtilisationRequest.period_start < we,
        UtilisationRequest.period_end > ws).order_by(UtilisationRequest.created_at,
                                                    UtilisationRequest.id)).all()
    covered = _covered(session, [r.id for r in reqs], ws, we)
    need_penalty = dict(session.execute(select(Need.id, Need.unmet_penalty).where(
        Need.id.in_({r.need_id for r in reqs}))).all()) if reqs else {}
    req_docs = []
    for r in reqs:
        mw = [0.0] * T
        for t, i in index.items():
            if r.period_start <= t < r.period_end:
                mw[i] = round(max(0.0, r.mw - covered.get((r.id, t), 0.0)), 6)
        if max(mw) > EPS:
            req_docs.append({"id": str(r.id), "mo": str(r.mo_id), "product": r.product_code,
                             "zone": r.zone_code, "direction": r.direction,
                             "priority": r.priority, "mw": mw,
                             "shortfall_penalty": float(need_penalty.get(r.need_id, 0))})
    wanted = {(d["mo"], d["product"], d["direction"]) for d in req_docs}
    live = session.execute(select(Instruction.id, Instruction.contract_id,
                                  Instruction.period_start, Instruction.mw)
                           .where(Instruction.status.in_(LIVE_INSTRUCTION),
                                  Instruction.period_start >= ws, Instruction.period_start < we)
                           .order_by(Instruction.id)).all()
    fixed_contracts = {i.contract_id for i in live}
    # Only the contracts that can serve a request of this run, and those carrying a fixed
    # instruction (whole bids, so each stays one snapshot contract).
    scope = [and_(Contract.mo_id == uuid.UUID(mo), Contract.product_code == p,
                  Contract.direction == d) for mo, p, d in sorted(wanted)]
    if fixed_contracts:
        scope.append(Contract.bid_id.in_(select(Contract.bid_id).where(
            Contract.id.in_(sorted(fixed_contracts)))))
    in_window = (Contract.status == "active", Contract.period_start >= ws,
                 Contract.period_start < we, or_(*scope) if scope else false())
    # Per bid once (price, asset, MO...), then only (id, bid, period, MW) per contract row,
    # the period as epoch seconds (an int is cheap to read and index; 40,000 aware
    # datetimes are not).
    bids = {b.id: b for b in session.execute(select(
        Bid.id, Bid.asset_id, Bid.min_mw, Contract.mo_id, Contract.product_code,
        Contract.direction, Contract.utilisation_price).join(Contract, Contract.bid_id == Bid.id)
        .where(*in_window).distinct())}
    w0 = int(ws.timestamp())
    rows = session.execute(select(Contract.id, Contract.bid_id,
                                  _epoch(session, Contract.period_start), Contract.mw)
                           .where(*in_window).order_by(Contract.bid_id, Contract.period_start)
                           ).all()
    contracts: dict[uuid.UUID, dict[str, Any]] = {}
    bid_of_contract: dict[int, uuid.UUID] = {}
    cmap: dict[str, list[int]] = {}
    for cid, bid_id, e, cmw in rows:
        doc = contracts.get(bid_id)
        if doc is None:
            b = bids[bid_id]
            doc = contracts[bid_id] = {
                "id": str(bid_id), "asset": str(b.asset_id), "mo": str(b.mo_id),
                "product": b.product_code, "direction": b.direction, "mw": [0.0] * T,
                "min_mw": float(b.min_mw or 0.0),
                "utilisation_price": float(b.utilisation_price)}
            cmap[doc["id"]] = [0] * T
        k = (e - w0) // 1800
        doc["mw"][k] += cmw
        cmap[doc["id"]][k] = cid
        bid_of_contract[cid] = bid_id
    run.contract_map = cmap
    asset_ids = sorted({bids[b].asset_id for b in contracts})
    wanted_assets = set(asset_ids)
    assets = {a.id: a for a in session.execute(
        select(Asset.id, Asset.fsp_id, Asset.zone_code, Asset.technology_code, Asset.up_mw,
               Asset.down_mw, Asset.emission_t_per_mwh, Asset.reliability, Asset.energy_mwh,
               Asset.max_run_minutes).where(Asset.id.in_(
                   select(Contract.asset_id).where(*in_window)))) if a.id in wanted_assets}
    assets_in_scope = select(Contract.asset_id).where(*in_window)
    asset_docs = [{
        "id": str(a.id), "fsp": str(a.fsp_id), "zone": a.zone_code,
        "technology": a.technology_code, "up_mw": a.up_mw, "down_mw": a.down_mw,
        "emission_t_per_mwh": a.emission_t_per_mwh, "reliability": a.reliability,
        "energy_mwh": a.energy_mwh,
        "max_run_periods": (a.max_run_minutes // 30) if a.max_run_minutes else None}
        for a in (assets[i] for i in asset_ids)]
    # Availability: declared (latest version), else capability or 0 as the products say;
    # assets that refused or let lapse an instruction are out for its periods.
    rules = product_rules(session)
    declared = _declared(session, ws, we, assets_in_scope)
    strict: set[tuple[uuid.UUID, str]] = set()
    for c in contracts.values():
        if not rules[c["product"]].undeclared_available:
            strict.add((uuid.UUID(c["asset"]), c["direction"]))
    out_of: dict[tuple[uuid.UUID, str], set[int]] = defaultdict(set)
    for x in session.execute(select(Instruction.asset_id, Instruction.direction,
                                    Instruction.period_start).where(
            Instruction.status.in_(("rejected", "expired")),
            Instruction.period_start >= ws, Instruction.period_start < we)):
        out_of[(x.asset_id, x.direction)].add(index[x.period_start])
    avail_docs = []
    keys = {(k[0], k[1]) for k in declared} | strict | set(out_of)
    for aid, d in sorted(keys, key=lambda k: (str(k[0]), k[1])):
        if aid not in assets:
            continue
        a = assets[aid]
        cap = a.up_mw if d == "up" else a.down_mw
        base = 0.0 if (aid, d) in strict else cap
        mw = [declared.get((aid, d, k), (0, base))[1] for k in range(T)]
        for i in out_of.get((aid, d), ()):
            mw[i] = 0.0
        avail_docs.append({"asset": str(aid), "direction": d, "mw": mw})
    fixed = [{"id": str(i.id), "contract": str(bid_of_contract[i.contract_id]),
              "period": index[i.period_start], "mw": i.mw}
             for i in live if i.contract_id in bid_of_contract]
    _, rs = rules_svc.in_force(session, run.created_at)
    run.excluded_asset_ids = sorted({str(a) for a, _ in out_of})
    return {
        "version": 1, "period_minutes": 30, "periods": [iso(t) for t in axis],
        "assets": asset_docs, "contracts": list(contracts.values()),
        "availability": avail_docs, "instructions": fixed, "requests": req_docs,
        "rules": {"incompatible_products": [list(p) for p in rs.incompatible_products],
                  "primacy": rs.primacy, "carbon_price": rs.carbon_price,
                  "zone_conflicts": True},
    }


def _epoch(session: Session, col: Any) -> Any:
    """A timestamp column as integer epoch seconds, computed by the database."""
    from sqlalchemy import Integer, cast, func

    if session.get_bind().dialect.name == "postgresql":
        return cast(func.extract("epoch", col), Integer)
    return cast(func.strftime("%s", col), Integer)


def _declared(session: Session, ws: dt.datetime, we: dt.datetime, assets: Any
              ) -> dict[tuple[uuid.UUID, str, int], tuple[int, float]]:
    """Latest declaration per (asset, direction, period index) of the window."""
    from flexplatform.operations.models import AvailabilityDeclaration as D

    w0 = int(ws.timestamp())
    out: dict[tuple[uuid.UUID, str, int], tuple[int, float]] = {}
    for aid, d, e, v, mw in session.execute(select(
            D.asset_id, D.direction, _epoch(session, D.period_start), D.version, D.mw).where(
            D.period_start >= ws, D.period_start < we, D.asset_id.in_(assets))):
        key = (aid, d, (e - w0) // 1800)
        if key not in out or out[key][0] < v:
            out[key] = (v, mw)
    return out


def prepare(session: Session, run_id: uuid.UUID) -> dict[str, Any] | None:
    """Freeze the snapshot (once) and lease the run; None if there is nothing to do now."""
    if session.get_bind().dialect.name == "postgresql":
        # One preparer at a time, so two runs never both see the other as not running.
        session.execute(text("SELECT pg_advisory_xact_lock(7206)"))
    run = session.scalar(_lock(session, select(DispatchRun).where(DispatchRun.id == run_id)))
    if run is None or run.status in ("done", "failed") or leases.held(run):
        return None
    now = utcnow()
    busy = session.scalar(select(DispatchRun.id).where(
        DispatchRun.id != run.id, DispatchRun.status == "running",
        DispatchRun.lease_expires_at > now).limit(1))
    if busy is not None:
        return None  # started again when the running one stores (start_next)
    if run.snapshot is None:
        run.snapshot = build_snapshot(session, run)
        run.snapshot_sha256 = sha(run.snapshot)
    leases.take(run, now)
    return run.snapshot


def fail(session: Session, run_id: uuid.UUID, message: str) -> None:
    run = session.get(DispatchRun, run_id)
    if run is None or run.status == "done":
        return
    run.status, run.error, run.finished_at = "failed", message[:5000], utcnow()
    leases.release(session, run)
    audit.record(session, SYSTEM, "dispatch.failed", "dispatch_run", run.id,
                 {"error": message[:500]})
    start_next(session)


def start_next(session: Session) -> None:
    """After a run ends, start the oldest queued one (runs go one at a time)."""
    nxt = session.scalar(select(DispatchRun.id).where(DispatchRun.status == "queued")
                         .order_by(DispatchRun.created_at).limit(1))
    if nxt is not None:
        rid = str(nxt)

        def go() -> None:
            from flexplatform.queue import enqueue

            enqueue(RUN_TASK, run_id=rid)

        after_commit(session, go)


def store(session: Session, run_id: uuid.UUID, result: dict[str, Any],
          snapshot: dict[str, Any] | None = None) -> bool:
    """Write the run's instructions and request states; False if already stored.

    ``snapshot`` is the frozen snapshot the caller solved (as ``prepare`` returned it),
    which spares reading megabytes of JSON back; without it the stored one is read.
    """
    from sqlalchemy.orm import defer

    run = session.scalar(_lock(session, select(DispatchRun).where(DispatchRun.id == run_id)
                               .options(defer(DispatchRun.snapshot), defer(DispatchRun.result))))
    if run is None or run.status in ("done", "failed") or run.snapshot_sha256 is None:
        return False
    if result.get("status") not in ("optimal", "feasible", "time_limit"):
        fail(session, run_id, f"solver status {result.get('status')}: "
             f"{result.get('message', '')}")
        return True
    snap = snapshot if snapshot is not None else run.snapshot
    axis = [dt.datetime.fromisoformat(t.replace("Z", "+00:00")) for t in snap["periods"]]
    now = utcnow()
    session.execute(delete(Instruction).where(Instruction.run_id == run.id))
    cons = {c["id"]: c for c in snap["contracts"]}
    fsp_of = {a["id"]: a["fsp"] for a in snap["assets"]}
    rules = product_rules(session)
    ack = {p: now + dt.timedelta(minutes=r.ack_minutes) for p, r in rules.items()}
    ids: dict[str, uuid.UUID] = {}

    def uid(s: str) -> uuid.UUID:
        u = ids.get(s)
        if u is None:
            u = ids[s] = uuid.UUID(s)
        return u

    # A request cancelled while the run solved (no instruction existed yet, so the cancel
    # was allowed) gets none now: its calls would ask an FSP to deliver for nothing.
    cancelled = {str(i) for i in session.scalars(select(UtilisationRequest.id).where(
        UtilisationRequest.id.in_([uuid.UUID(r["id"]) for r in snap["requests"]]),
        UtilisationRequest.status == "cancelled"))}
    rows = []
    for x in result.get("instructions", []):
        if x["request"] in cancelled:
            continue
        k = x["period"]
        t = axis[k]
        c = cons[x["contract"]]
        rows.append({"id": uuid.uuid4(), "run_id": run.id, "request_id": uid(x["request"]),
                     "contract_id": run.contract_map[x["contract"]][k],
                     "asset_id": uid(c["asset"]), "fsp_id": uid(fsp_of[c["asset"]]),
                     "mo_id": uid(c["mo"]), "product_code": c["product"],
                     "direction": c["direction"], "period_start": t, "period_end": t + HALF_HOUR,
                     "mw": float(x["mw"]), "status": "issued", "ack_deadline": ack[c["product"]],
                     "acked_at": None, "reject_reason": None, "created_at": now})
    bulk_insert(session, Instruction, rows)
    _request_states(session, run, snap, result, rows)
    result = {k: v for k, v in result.items() if k != "timing"} | {"timing": result.get("timing")}
    run.result, run.result_sha256 = result, sha(result)
    run.solver_status = result.get("status")
    run.status, run.finished_at = "done", now
    leases.release(session, run)
    audit.record(session, SYSTEM, "dispatch.done", "dispatch_run", run.id, {
        "snapshot_sha256": run.snapshot_sha256, "result_sha256": run.result_sha256,
        "instructions": len(rows), "status": result.get("status")})
    conflicts.check_run(session, run, rows, snap)
    _notify(session, run, rows, snap)
    start_next(session)
    return True


def _request_states(session: Session, run: DispatchRun, snap: dict[str, Any],
                    result: dict[str, Any], rows: list[dict[str, Any]]) -> None:
    short: dict[str, float] = defaultdict(float)
    for s in result.get("shortfall", []):
        short[s["request"]] += s["mw"]
    ids = [uuid.UUID(r["id"]) for r in snap["requests"]]
    reqs = {r.id: r for r in session.scalars(select(UtilisationRequest).where(
        UtilisationRequest.id.in_(ids)))} if ids else {}
    lo = min((r.period_start for r in reqs.values()), default=None)
    hi = max((r.period_end for r in reqs.values()), default=None)
    covered = _covered(session, ids, lo, hi, but_run=run.id) if reqs else {}
    covered = defaultdict(float, covered)
    rel = {a["id"]: a["reliability"] for a in snap["assets"]}
    for x in rows:
        covered[(x["request_id"], x["period_start"])] += x["mw"] * rel[str(x["asset_id"])]
    with_cover = {rid for (rid, _), v in covered.items() if v > EPS}
    for doc in snap["requests"]:
        r = reqs[uuid.UUID(doc["id"])]
        if r.status == "cancelled":
            continue
        need = sum(doc["mw"])
        left = short.get(doc["id"], 0.0)
        had_cover = r.id in with_cover
        if left <= EPS * max(1.0, need):
            r.status = "dispatched"
        elif left >= need - EPS and not had_cover:
            r.status = "shortfall"
        else:
            r.status = "partly_covered"
        n = int((r.period_end - r.period_start) / HALF_HOUR)
        r.covered_mw = [round(covered.get((r.id, r.period_start + k * HALF_HOUR), 0.0), 6)
                        for k in range(n)]
        r.last_run_id = run.id


def _notify(session: Session, run: DispatchRun, rows: list[dict[str, Any]],
            snap: dict[str, Any]) -> None:
    per_fsp: dict[uuid.UUID, list[str]] = defaultdict(list)
    for r in rows:
        per_fsp[r["fsp_id"]].append(str(r["id"]))
    for fsp, ids in per_fsp.items():
        notify(session, fsp, "instructions.issued", {
            "run_id": str(run.id), "count": len(ids), "instruction_ids": ids[:500]},
            dedupe_key=f"instructions.issued:{run.id}:{fsp}")
    for mo in sorted({r["mo"] for r in snap["requests"]}):
        notify(session, uuid.UUID(mo), "dispatch.done", {
            "run_id": str(run.id), "requests": [r["id"] for r in snap["requests"]
                                                if r["mo"] == mo]},
            dedupe_key=f"dispatch.done:{run.id}:{mo}")


def visible_exclusions(session: Session, who: Any, excluded: list[Any]) -> list[Any]:
    """Of a run's excluded assets (those whose FSP rejected or let an instruction lapse),
    what ``who`` may see: all for oversight, an FSP its own, an MO none (another FSP's
    refusals are that FSP's business)."""
    if who.is_("regulator", "admin"):
        return list(excluded)
    if not who.is_("fsp") or not excluded:
        return []
    mine = {str(a) for a in session.scalars(select(Asset.id).where(
        Asset.fsp_id == who.id, Asset.id.in_([uuid.UUID(str(x)) for x in excluded])))}
    return [x for x in excluded if str(x) in mine]


def own_part(run: DispatchRun, who: Any) -> dict[str, Any] | None:
    """What of a run's snapshot and result one party may see; None if nothing is theirs."""
    snap, res = run.snapshot or {}, run.result or {}
    me = str(who.id)
    if who.is_("mo"):
        contracts = [c for c in snap.get("contracts", []) if c["mo"] == me]
        requests = [r for r in snap.get("requests", []) if r["mo"] == me]
        mine_r = {r["id"] for r in requests}
    else:
        assets_ = {a["id"] for a in snap.get("assets", []) if a["fsp"] == me}
        contracts = [c for c in snap.get("contracts", []) if c["asset"] in assets_]
        requests, mine_r = [], set()
    mine_c = {c["id"] for c in contracts}
    if not mine_c and not mine_r:
        return None
    mine_a = {c["asset"] for c in contracts}
    part_snap = {**{k: snap[k] for k in ("version", "period_minutes", "periods", "rules")
                    if k in snap},
                 "assets": [a for a in snap.get("assets", []) if a["id"] in mine_a],
                 "contracts": contracts, "requests": requests,
                 "availability": [a for a in snap.get("availability", [])
                                  if a["asset"] in mine_a],
                 "instructions": [i for i in snap.get("instructions", [])
                                  if i["contract"] in mine_c]}
    part_res = None
    if res:
        part_res = {**{k: res[k] for k in ("version", "status", "mip_gap", "stages")
                       if k in res},
                    "instructions": [i for i in res.get("instructions", [])
                                     if i["contract"] in mine_c or i["request"] in mine_r],
                    "shortfall": [s for s in res.get("shortfall", []) if s["request"] in mine_r],
                    "not_dispatched": [n for n in res.get("not_dispatched", [])
                                       if n["contract"] in mine_c or n["request"] in mine_r]}
    return {"snapshot": part_snap, "result": part_res}


def list_runs(session: Session, limit: int, offset: int) -> tuple[list[DispatchRun], int]:
    from sqlalchemy import func

    total = session.scalar(select(func.count()).select_from(DispatchRun)) or 0
    from sqlalchemy.orm import defer

    # The listing shows headers: the frozen documents (megabytes each) stay unread.
    rows = session.scalars(select(DispatchRun).options(
        defer(DispatchRun.snapshot), defer(DispatchRun.result), defer(DispatchRun.contract_map))
        .order_by(DispatchRun.created_at.desc()).limit(limit).offset(offset)).all()
    return list(rows), total


def get_run(session: Session, run_id: uuid.UUID) -> DispatchRun:
    from flexplatform.errors import NotFound

    run = session.get(DispatchRun, run_id)
    if run is None:
        raise NotFound(f"dispatch run {run_id} not found")
    return run
