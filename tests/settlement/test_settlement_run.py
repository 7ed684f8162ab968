"""Settlement runs: shards, merge order independence, history bounds, clock-change days."""
import itertools
from datetime import date
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from settlement import BL01, MeterData, ProductBaselines, verify
from settlement.document import Invoicing, outputs_json
from settlement.invoices import VatTerms
from settlement.periods import clock_slots, periods_in_day
from settlement.run import SettlementInputs, merge, settle_shard
from settlement.schema import canonical_json
from tests.settlement._helpers import instruction, readings, small_run

INVOICING = Invoicing(date(2024, 11, 5), VatTerms(Decimal("0.20")),
                      {("F1", "MA"): "SB-1", ("F1", "MB"): "SB-2", ("F2", "MA"): "SB-3"})


def _bytes(res) -> bytes:
    return canonical_json(outputs_json(res, INVOICING))


def _shard(inp: SettlementInputs, meters, availability=False) -> SettlementInputs:
    return SettlementInputs(
        inp.period, inp.products, inp.contracts,
        inp.instructions[inp.instructions["mpan"].isin(meters)],
        inp.readings[inp.readings["mpan"].isin(meters)],
        meters=inp.meters[inp.meters["mpan"].isin(meters)],
        availability=inp.availability if availability else None)


@pytest.fixture(scope="module")
def run():
    return small_run()


@pytest.fixture(scope="module")
def whole(run):
    return settle_shard(run)


def test_a_run_settles_by_hand(whole):
    # i6: AssetCapacity 40 kW = 20 kWh per period; M4 reads 10 + 4 + (30 Oct's ordinal
    # % 3 = 1) = 15 kWh: delivered 5 kWh = 0.01 MW = the order -> 0.01 MWh x 300 = 3.00.
    i6 = whole.instructions.set_index("instruction_id").loc["i6"]
    assert i6["ratio"] == pytest.approx(1.0) and i6["methodology_version"] == 1
    # C3 availability: 0.01 MW, factors 0.75, 1, 0 repeating over 11 days x 8 periods:
    # 29 cycles + 0.75 = 51.5 -> 0.01 x 0.5 h x 51.5 = 0.2575 MW x h x GBP 6 = 1.545 -> 1.55
    t = whole.statements.totals.set_index(["fsp", "mo"])
    assert t.loc[("F2", "MA"), "availability"] == Decimal("1.55")
    assert t.loc[("F2", "MA"), "net"] == Decimal("4.55")
    whole.statements.check()
    # every period carries the reading version and the product's methodology version
    assert set(whole.periods["reading_version"]) == {1}
    assert set(whole.periods.loc[whole.periods["product"] == "dfs", "methodology_version"]) == {3}


def test_merge_of_shards_equals_the_whole_run_in_any_order_and_grouping(run, whole):
    groups = [["M0", "M3"], ["M1", "M2", "M5"], ["M4"]]
    shards = [settle_shard(_shard(run, g)) for g in groups]
    shards.append(settle_shard(_shard(run, [], availability=True)))  # contract-level lines
    want = _bytes(whole)
    for perm in itertools.permutations(shards):
        assert _bytes(merge(perm)) == want
    a, b, c, d = shards
    assert _bytes(merge([merge([c, a]), merge([d, b])])) == want
    assert _bytes(merge([a, merge([b, merge([c, d])])])) == want
    assert merge(shards).readings == len(run.readings)


def test_merge_refuses_anything_settled_twice(run):
    a = settle_shard(_shard(run, ["M0", "M1"]))
    b = settle_shard(_shard(run, ["M1", "M2"]))
    with pytest.raises(ValueError, match="meters settled in two shards"):
        merge([a, b])
    x = settle_shard(_shard(run, ["M0"], availability=True))
    y = settle_shard(_shard(run, ["M2"], availability=True))
    with pytest.raises(ValueError, match="settled in two shards"):
        merge([x, y])


def test_history_is_read_only_as_far_as_the_baselines_look_back(run):
    assert run.history_start() == date(2024, 10, 11)  # BL01 lookback_days = 10
    older = readings("M0", date(2024, 10, 9), date(2024, 10, 10), 1.0).assign(version=1)
    inp = SettlementInputs(run.period, run.products, run.contracts, run.instructions,
                           pd.concat([older, run.readings], ignore_index=True),
                           meters=run.meters, availability=run.availability)
    res = settle_shard(inp)
    assert (res.reading_issues["issue"] == "outside_window").sum() == 96
    # a run of products without history (AssetCapacity) reads the period only
    cap = {"cap": run.products["cap"]}
    only_cap = SettlementInputs(run.period, cap, run.contracts[run.contracts["product"] == "cap"],
                                run.instructions[run.instructions["contract_id"] == "C3"],
                                run.readings)
    assert only_cap.history_start() == run.period.first


def test_bad_instructions_are_all_listed(run):
    ins = run.instructions.copy()
    ins.loc[0, "contract_id"] = "C9"
    ins.loc[1, "start"] = pd.Timestamp("2024-11-02 16:00Z")
    ins.loc[1, "end"] = pd.Timestamp("2024-11-02 17:00Z")
    ins.loc[2, "mpan"] = "ELSEWHERE"
    inp = SettlementInputs(run.period, run.products, run.contracts, ins, run.readings,
                           meters=run.meters)
    with pytest.raises(ValueError) as e:
        settle_shard(inp)
    assert [(p["instruction_id"], p["field"]) for p in e.value.problems] == [
        ("i1", "contract_id"), ("i2", "start"), ("i3", "mpan")]


def test_a_corrected_reading_is_read_at_its_new_version(run, whole):
    fix = run.readings[(run.readings["mpan"] == "M4")
                       & (run.readings["start"] == pd.Timestamp("2024-10-30 17:00Z"))]
    fix = fix.assign(version=2, import_kwh=16.0)
    inp = SettlementInputs(run.period, run.products, run.contracts, run.instructions,
                           pd.concat([run.readings, fix], ignore_index=True), meters=run.meters,
                           availability=run.availability)
    res = settle_shard(inp)
    p = res.periods[res.periods["instruction_id"] == "i6"]
    assert p["reading_version"].tolist() == [2, 1]
    m = res.meters.set_index("mpan")
    old = whole.meters.set_index("mpan")
    assert m.loc["M4", "max_version"] == 2
    assert m.loc["M4", "versions_sha256"] != old.loc["M4", "versions_sha256"]
    assert m.loc["M3", "versions_sha256"] == old.loc["M3", "versions_sha256"]


def _slot_value(d, p):
    return 100.0 + clock_slots(periods_in_day(d))[p - 1]


@pytest.mark.parametrize("day,start,end,periods,slots", [
    # 31 Mar 2024 (46 periods): 00:30, 01:00 and 01:30 UTC are 00:30 GMT, 02:00 and
    # 02:30 BST -- periods 2, 3, 4 at clock slots 1, 4, 5
    (date(2024, 3, 31), "2024-03-31 00:30Z", "2024-03-31 02:00Z", [2, 3, 4], [1, 4, 5]),
    # 27 Oct 2024 (50 periods): 00:00-02:00 UTC is 01:00, 01:30 BST then 01:00, 01:30 GMT --
    # periods 3-6, clock slots 2, 3, 2, 3
    (date(2024, 10, 27), "2024-10-27 00:00Z", "2024-10-27 02:00Z", [3, 4, 5, 6], [2, 3, 2, 3]),
])
def test_46_and_50_period_days_through_verification(day, start, end, periods, slots):
    # History reads 100 + clock slot in every period, so the like-day baseline of a
    # period is 100 + its clock slot whatever the day's length.
    f = readings("A", date(day.year, day.month, day.day - 14), day, _slot_value)
    md, rep = MeterData.validate(f)
    assert rep.ok
    ins = pd.DataFrame([instruction(1, "A", start, end, 0.01)])
    v = verify(md.to_grid(), ins, ProductBaselines({"p": BL01(non_working_y=2, adjustment="none")}))
    assert v.periods["period"].tolist() == periods
    assert (v.periods["baseline_mw"] * 500).tolist() == pytest.approx([100.0 + s for s in slots])
    assert v.periods["status"].tolist() == ["ok"] * len(periods)
    starts = v.periods["start"]
    assert starts.is_unique and (np.diff(starts.astype("int64")) == 30 * 60 * 10**9).all()
