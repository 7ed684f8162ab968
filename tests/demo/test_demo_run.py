"""The demo market day runs end to end on a fresh embedded database (``run_demo(fast=True)``)."""

from __future__ import annotations

import io

import pytest
from rich.console import Console
from sqlalchemy import func, select

from flexplatform.db import reset_runtime


@pytest.fixture
def embedded(tmp_path, monkeypatch):
    monkeypatch.setenv("FLEX_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("FLEX_DATABASE_URL", raising=False)
    monkeypatch.delenv("FLEX_REDIS_URL", raising=False)
    monkeypatch.delenv("FLEX_TASK_ALWAYS_EAGER", raising=False)
    reset_runtime()
    yield tmp_path / "var"
    reset_runtime()


def test_fast_demo_clears_a_market_day(embedded):
    from flexplatform.competition.models import (
        Bid,
        BidStatus,
        ClearingRound,
        Contract,
        Market,
        RoundStatus,
    )
    from flexplatform.db import unit_of_work
    from flexplatform.demo.run import run_demo

    out = io.StringIO()
    code = run_demo(fast=True, console=Console(file=out, width=140))
    text = out.getvalue()
    assert code == 0, text
    assert (embedded / "flexplatform.db").is_file()
    with unit_of_work() as s:
        # The monitoring demo's planted past event has a round of its own (demo/monitoring.py).
        planted = {str(m) for m in s.scalars(select(Market.id).where(
            Market.name.like("Planted%")))}
        rounds = [r for r in s.scalars(select(ClearingRound)).all()
                  if not set(r.market_ids) & planted]
        assert len(planted) == 1
        assert [r.status for r in rounds] == [RoundStatus.done]
        assert rounds[0].solver_status in ("optimal", "feasible")
        assert s.scalar(select(func.count()).select_from(Contract)) > 0
        rejected = s.scalars(select(Bid).where(Bid.status == BidStatus.rejected)).all()
        assert rejected and all(b.reasons for b in rejected)
        assert all({"code", "message"} <= set(r) for b in rejected for r in b.reasons)
        codes = {r["code"] for b in rejected for r in b.reasons}
        # the battery bidding NGED Dynamic and NESO Quick Reserve loses the ESO side
        assert codes & {"stacking_conflict", "primacy"}
    assert "cleared schedule" in text and "Why bids were rejected" in text
    assert "Secondary trade" in text and "(completed)" in text  # one transfer, done
    assert "Monitoring flag (high) on a planted gaming case: baseline_inflation" in text, \
        text[-5000:]
    assert "Best-product advice for" in text and "no open need" not in text
    # the day continues: verification, statements, an invoice, a dispute through every step
    from flexplatform.reporting.settlement_models import Dispute, Invoice, Statement, Verification

    with unit_of_work() as s:
        perf = [v.performance for v in s.scalars(select(Verification))]
        assert len(perf) >= 4 and min(perf) < 0.5 <= max(perf)  # one site under-delivers
        assert s.scalar(select(func.count()).select_from(Statement)) > 0
        assert {d.status for d in s.scalars(select(Dispute))} == {"resolved"}
        assert {i.kind for i in s.scalars(select(Invoice))} == {"invoice", "adjustment"}
    assert "verification per instruction-period" in text and "dispute 5." in text
    assert "carbon report for the day" in text and "Market report summary" in text
    assert (embedded / "demo-reports" / "carbon-emissions-by-region.svg").is_file()


def test_fresh_refuses_a_configured_database(embedded, monkeypatch):
    from flexplatform.demo.run import run_demo

    monkeypatch.setenv("FLEX_DATABASE_URL", "postgresql://nobody@127.0.0.1:1/never")
    reset_runtime()
    out = io.StringIO()
    assert run_demo(fast=True, console=Console(file=out, width=120)) != 0
    assert "refuses to wipe" in out.getvalue()
