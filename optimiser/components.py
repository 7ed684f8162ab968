"""Split a snapshot into independent markets, solve them in parallel, merge the results.

Two parts of a market are independent when no asset, need or exclusive group links them
through a bid that could be awarded (stacking and direction ties are per asset, so sharing no
asset covers them). The optimum of the whole is then the union of the parts' optima, also
under lexicographic primacy, because each stage's objective is a sum over parts.

Ineligible bids follow their need (or asset) so that they are rejected with the same reasons
as in the monolithic solve; the asset is copied if needed, which is harmless because in that
part only ineligible bids use it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor

import numpy as np

from .clearing import clear
from .problem import prepare
from .result import STATUSES, ClearingOptions, ClearingResult, Stage
from .snapshot import Snapshot


def _components(snap: Snapshot) -> list[tuple[list[int], list[int], list[int]]]:
    """(asset indexes, need indexes, bid indexes) of each connected part."""
    prob = prepare(snap)
    A, N = len(snap.assets), len(snap.needs)
    parent = list(range(A + N))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def union(i: int, j: int) -> None:
        ri, rj = find(i), find(j)
        if ri != rj:
            parent[max(ri, rj)] = min(ri, rj)

    usable = np.unique(prob.x_bid)
    group_need: dict[int, int] = {}
    for b in usable.tolist():
        a, n = int(prob.bid_asset[b]), int(prob.bid_need[b])
        union(a, A + n)
        g = int(prob.bid_group[b])
        if g >= 0:
            if g in group_need:
                union(A + n, A + group_need[g])
            else:
                group_need[g] = n
    usable_set = set(usable.tolist())
    roots: dict[int, tuple[list[int], list[int], list[int]]] = {}
    for n in range(N):
        roots.setdefault(find(A + n), ([], [], []))[1].append(n)
    for a in range(A):
        roots.setdefault(find(a), ([], [], []))[0].append(a)
    rest_root = None
    for b in range(len(snap.bids)):
        a, n = int(prob.bid_asset[b]), int(prob.bid_need[b])
        if b in usable_set:
            root = find(a)
        elif n >= 0:
            root = find(A + n)
            if a >= 0 and a not in roots[root][0]:
                roots[root][0].append(a)  # copy of the asset, used by ineligible bids only
        elif a >= 0:
            root = find(a)
        else:
            rest_root = next(iter(roots)) if roots else -1
            roots.setdefault(rest_root, ([], [], []))
            root = rest_root
        roots[root][2].append(b)
    return [v for v in roots.values() if v[1] or v[2]]


def _subset(snap: Snapshot, assets: list[int], needs: list[int], bids: list[int]) -> Snapshot:
    return Snapshot(version=snap.version, period_minutes=snap.period_minutes,
                    periods=snap.periods,
                    assets=tuple(snap.assets[i] for i in sorted(assets)),
                    needs=tuple(snap.needs[i] for i in sorted(needs)),
                    bids=tuple(snap.bids[i] for i in sorted(bids)), rules=snap.rules)


def split_components(snapshot: Snapshot) -> list[Snapshot]:
    """Independent sub-markets, largest first. Assets with no bid are dropped."""
    parts = _components(snapshot)
    parts.sort(key=lambda p: (-len(p[2]), p[1][:1], p[2][:1]))
    return [_subset(snapshot, *p) for p in parts]


def pack(sizes: Sequence[int], k: int) -> list[list[int]]:
    """Items packed into at most `k` bins of similar total size: the indexes in each bin.

    Largest first, each into the least loaded bin (the first of equals): the longest-
    processing-time rule, within 4/3 of the best makespan. Empty bins are left out. Used for
    the process pool here and for the platform's fan-out of a round into Celery tasks, so
    both split a market the same way.
    """
    bins: list[list[int]] = [[] for _ in range(max(1, min(k, len(sizes))))]
    load = [0] * len(bins)
    for i in sorted(range(len(sizes)), key=lambda i: -sizes[i]):
        j = load.index(min(load))
        bins[j].append(i)
        load[j] += sizes[i]
    return [b for b in bins if b]


def _bins(snapshot: Snapshot, k: int) -> list[Snapshot]:
    """Components packed into at most k snapshots of similar size (`pack`)."""
    parts = _components(snapshot)
    out = []
    for members in pack([len(p[2]) + len(p[1]) for p in parts], k):
        a = sorted({i for m in members for i in parts[m][0]})
        out.append(_subset(snapshot, a, [i for m in members for i in parts[m][1]],
                           [i for m in members for i in parts[m][2]]))
    return out


def merge_results(results: list[ClearingResult]) -> ClearingResult:
    """Combine the results of independent parts into the result of the whole."""
    if not results:
        return ClearingResult(status="optimal", objective=0.0, mip_gap=0.0)
    statuses = [r.status for r in results]
    status = next(s for s in reversed(STATUSES) if s in statuses)  # the worst
    msgs = [r.message for r in results if r.message]
    if status in ("error", "infeasible"):
        return ClearingResult(status=status, message="; ".join(msgs) or status,
                              timing=_sum_timing(results))
    gaps = [r.mip_gap for r in results]
    # the relative gap of a sum is at most the largest relative gap of its parts
    gap = None if any(g is None for g in gaps) else max(gaps)
    cost = {k: round(sum(r.cost.get(k, 0.0) for r in results), 6) for k in results[0].cost}
    stages: dict[int, float] = {}
    for r in results:
        for s in r.stages:
            stages[s.priority] = stages.get(s.priority, 0.0) + s.unmet_mwh
    return ClearingResult(
        status=status, mip_gap=gap, objective=round(sum(cost.values()), 6), cost=cost,
        awards=[a for r in results for a in r.awards],
        unmet=[u for r in results for u in r.unmet],
        rejected=[x for r in results for x in r.rejected],
        prices=[p for r in results for p in r.prices],
        stages=[Stage(p, round(v, 9)) for p, v in sorted(stages.items())],
        timing=_sum_timing(results), message="; ".join(msgs) or None,
        stats={"parts": len(results)},
        delivery=None if all(r.delivery is None for r in results)
        else [d for r in results for d in (r.delivery or [])],
    )


def _sum_timing(results: list[ClearingResult]) -> dict[str, float]:
    return {k: round(sum(r.timing.get(k, 0.0) for r in results), 4)
            for k in ("build_s", "solve_s")}


def _clear_one(args: tuple[Snapshot, ClearingOptions]) -> ClearingResult:
    return clear(*args)


def clear_components(snapshot: Snapshot, options: ClearingOptions | None = None,
                     processes: int | None = None) -> ClearingResult:
    """Clear independent parts in a process pool; the same awards as `clear` up to ties/gap.

    Parts are packed into `processes` snapshots of similar size, so each worker gets one solve
    with the full time limit and wall time stays within it. `timing` sums the parts (CPU
    seconds), not wall time.
    """
    opts = options or ClearingOptions()
    k = processes or os.cpu_count() or 1
    bins = _bins(snapshot, k)
    if len(bins) <= 1:
        return clear(snapshot, opts)
    with ProcessPoolExecutor(max_workers=min(k, len(bins))) as pool:
        results = list(pool.map(_clear_one, [(b, opts) for b in bins]))
    return merge_results(results)
