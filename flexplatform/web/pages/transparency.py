"""Oversight page of the transparency reports: the latest stored carbon report as charts
and a per-region table, and the latest market report's liquidity. The figures are the
stored reports (flexplatform/transparency); the regulator requests them over the API."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from flexplatform.auth import SessionDep
from flexplatform.transparency import exports, service
from flexplatform.web.access import OversightPage
from flexplatform.web.render import render

router = APIRouter()


def _latest(session: Any, kind: str) -> Any:
    rows, _ = service.list_reports(session, kind, 20, 0)
    return next((r for r in rows if r.status == "done" and r.result), None), rows


def _regions(result: dict[str, Any]) -> list[dict[str, Any]]:
    tot: dict[str, dict[str, float]] = {}
    for r in result["regions"]:
        a = tot.setdefault(r["region"], {"region": r["region"]})
        for m in ("contracted_mwh", "dispatched_mwh", "delivered_mwh", "direct_tco2",
                  "displaced_tco2", "net_avoided_tco2"):
            a[m] = a.get(m, 0.0) + r[m]
    return [tot[k] for k in sorted(tot)]


@router.get("/regulator/transparency")
def transparency_page(request: Request, session: SessionDep, who: OversightPage) -> Response:
    carbon, recent = _latest(session, "carbon")
    market, _ = _latest(session, "market")
    ctx: dict[str, Any] = {"carbon": carbon, "market": market, "recent": recent,
                           "charts": [], "regions": []}
    if carbon is not None:
        ctx["charts"] = [exports.chart(carbon.result, n) for n in exports.CARBON_CHARTS]
        ctx["regions"] = _regions(carbon.result)
    return render(request, "transparency/home.html", ctx)
