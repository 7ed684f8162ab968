"""One test per engine defect of issue 12, each failing on the engine before its fix."""
from datetime import date, time
from decimal import ROUND_HALF_UP, Decimal

import numpy as np
import pandas as pd
import pytest

from settlement import (
    BL01,
    FLAT,
    MeterData,
    Nominated,
    PaymentRules,
    ProductBaselines,
    SettlementPeriodError,
    XofY,
    Zero,
    utilisation_lines,
    verify,
)
from settlement.periods import from_settlement_period
from tests.settlement._helpers import instruction, readings

DAY = date(2024, 1, 18)


def _generator(level_in_event=400.0):
    return readings("G", DAY, DAY, 0.0, export=lambda d, p: level_in_event if p in (35, 36, 37) else 0.0)


def _turn_up(iid, start, end, mw=1.0, direction="turn_up", product="p"):
    return instruction(iid, "G", start, end, mw, direction=direction, measure="export",
                       product=product)


# ------------------------------------------------ the same instruction twice, overlaps
def test_the_same_instruction_twice_is_refused_not_paid_twice():
    md, _ = MeterData.validate(_generator())
    one = _turn_up(1, "2024-01-18 17:00Z", "2024-01-18 18:00Z")
    with pytest.raises(ValueError, match="more than once"):
        verify(md.to_grid(), pd.DataFrame([one, one]), Zero())


def test_overlapping_instructions_are_paid_once_shared_pro_rata():
    # Exports 400 kWh (0.8 MW) in periods 35-37.  Instruction 1: 1 MW for 35-36;
    # instruction 2: 0.6 MW for 36-37.  Period 36 is shared: the meter delivered 0.8 MW
    # once, capped at the combined 1.6 MW order, split 1 : 0.6 -> 0.5 and 0.3 MW.
    md, _ = MeterData.validate(_generator())
    ins = pd.DataFrame([_turn_up(1, "2024-01-18 17:00Z", "2024-01-18 18:00Z", 1.0),
                        _turn_up(2, "2024-01-18 17:30Z", "2024-01-18 18:30Z", 0.6)])
    v = verify(md.to_grid(), ins, Zero())
    p = v.periods.set_index(["instruction_id", "period"])
    assert p.loc[(1, 36), "paid_mw"] == pytest.approx(0.5)
    assert p.loc[(2, 36), "paid_mw"] == pytest.approx(0.3)
    shared = v.periods[v.periods["period"] == 36]
    assert shared["paid_mw"].sum() == pytest.approx(0.8)  # the meter's response, once
    assert shared["shared_with"].tolist() == [1, 1]
    # unshared periods are the meter's own: 0.8 MW each, capped at 0.6 for instruction 2
    assert p.loc[(1, 35), "paid_mw"] == pytest.approx(0.8)
    assert p.loc[(2, 37), "paid_mw"] == pytest.approx(0.6)
    # total paid over both instructions equals what the meter exported (3 x 0.8 MW,
    # less 0.2 MW over instruction 2's cap in period 37) -- never counted twice
    assert v.instructions["paid_mwh"].sum() == pytest.approx((0.8 + 0.8 + 0.6) * 0.5)


def test_contradictory_overlaps_are_refused():
    md, _ = MeterData.validate(_generator())
    ins = pd.DataFrame([_turn_up(1, "2024-01-18 17:00Z", "2024-01-18 18:00Z"),
                        _turn_up(2, "2024-01-18 17:30Z", "2024-01-18 18:00Z",
                                 direction="turn_down")])
    with pytest.raises(ValueError, match="overlaps instruction 1") as e:
        verify(md.to_grid(), ins, Zero())
    assert e.value.problems[0]["field"] == "direction"


# ------------------------------------------------ 48 readings for a 46-period day
def test_readings_past_the_end_of_a_46_period_day_are_reported():
    # 48 half hours from local midnight of 31 Mar 2024 run two past its end (the day has
    # 46): they belong to 1 April and must be reported, not silently dropped.
    starts = pd.date_range("2024-03-31 00:00", periods=48, freq="30min", tz="Europe/London")
    f = pd.DataFrame({"mpan": "A", "start": starts.tz_convert("UTC"), "import_kwh": 1.0,
                      "export_kwh": 0.0})
    md, rep = MeterData.validate(f, window=(date(2024, 3, 31), date(2024, 3, 31)))
    assert not rep.ok
    assert rep.issues["row"].tolist() == [46, 47]
    assert set(rep.issues["issue"]) == {"outside_window"}
    assert md.to_grid().n_periods.tolist() == [46] and len(md.latest()) == 46


# ------------------------------------------------ nominated deadline in the repeated hour
def _nomination_case(deadline: time, day: date, submitted_utc: str):
    f = readings("A", date(2024, 10, 1), date(2024, 10, 31), 10.0)
    md, _ = MeterData.validate(f)
    starts = [from_settlement_period(day, p) for p in range(1, 49)]
    nom = pd.DataFrame({"mpan": "A", "start": pd.to_datetime(starts, utc=True), "kwh": 7.0,
                        "submitted_at": pd.Timestamp(submitted_utc)})
    ins = pd.DataFrame([instruction(1, "A", starts[34], starts[36], 0.01)])
    m = Nominated(nom, fallback=XofY(), deadline_days_before=1, deadline_time=deadline)
    return verify(md.to_grid(), ins, m)


def test_nominated_deadline_in_the_repeated_hour_is_its_first_occurrence():
    # Deadline 01:30 the day before 28 Oct 2024: 27 Oct 01:30 happens twice (BST, then
    # GMT).  The deadline is the first, 00:30 UTC.  A nomination at 00:15 UTC is timely
    # (before: the deadline was NaT and every nomination was rejected).
    v = _nomination_case(time(1, 30), date(2024, 10, 28), "2024-10-27 00:15Z")
    assert v.periods["baseline_mw"].tolist() == pytest.approx([7.0 / 500] * 2)
    # 00:45 UTC (01:45 BST) is after the first 01:30: late, the fallback (10 kWh) applies
    v = _nomination_case(time(1, 30), date(2024, 10, 28), "2024-10-27 00:45Z")
    assert v.periods["baseline_mw"].tolist() == pytest.approx([10.0 / 500] * 2)


# ------------------------------------------------ NaT and mixed time zones
def test_nat_start_is_reported_not_a_bare_type_error():
    f = readings("A", DAY, DAY, 1.0)
    f.loc[3, "start"] = pd.NaT
    md, rep = MeterData.validate(f)
    assert rep.issues.set_index("row").loc[3, "issue"] == "missing_start"
    assert len(md.latest()) == 47
    md, _ = MeterData.validate(readings("A", DAY, DAY, 1.0))
    ins = pd.DataFrame([instruction(7, "A", "2024-01-18 17:00Z", "2024-01-18 18:00Z", 0.1)])
    ins["start"] = ins["start"].astype(object)
    ins.loc[0, "start"] = pd.NaT
    with pytest.raises(ValueError, match=r"instruction 7.*start.*NaT"):
        verify(md.to_grid(), ins, Zero())


def test_mixed_timezone_column_is_named_as_such():
    f = readings("A", DAY, DAY, 1.0)
    f["start"] = f["start"].astype(object)
    f.loc[5, "start"] = f.loc[5, "start"].tz_convert("Europe/London")
    with pytest.raises(SettlementPeriodError, match="mixes time zones"):
        MeterData.validate(f)
    f = readings("A", DAY, DAY, 1.0)
    f["start"] = f["start"].dt.tz_localize(None)
    with pytest.raises(SettlementPeriodError, match="naive"):
        MeterData.validate(f)


# ------------------------------------------------ BL01 in-day window
def _bl01_case(value, first_period_start, end):
    f = readings("A", date(2024, 1, 1), date(2024, 1, 19), value)
    md, _ = MeterData.validate(f.dropna())
    ins = pd.DataFrame([instruction(1, "A", first_period_start, end, 0.005)])
    return verify(md.to_grid(), ins, ProductBaselines({"p": BL01()}))


def _levels(missing=(), window_level=20.0, day=DAY, window=range(27, 33)):
    def value(d, p):
        if d == day and p in missing:
            return np.nan
        if d == day:
            return window_level if p in window else 5.0
        return d.day
    return value


def test_missing_readings_in_the_window_are_explicit_not_averaged_away():
    # Window periods 27-32 (13:00-16:00) for an event at 17:00; period 30 missing.
    v = _bl01_case(_levels(missing=(30,)), "2024-01-18 17:00Z", "2024-01-18 17:30Z")
    assert v.periods["status"].tolist() == ["missing_window"]
    assert v.periods["paid_mw"].tolist() == [0.0]
    assert v.instructions["status"].tolist() == ["missing_data"]


def test_a_window_with_no_readings_is_not_ok_with_zero_adjustment():
    v = _bl01_case(_levels(missing=range(27, 33)), "2024-01-18 17:00Z", "2024-01-18 17:30Z")
    assert v.periods["status"].tolist() == ["missing_window"]
    assert np.isnan(v.periods["baseline_mw"].iloc[0])


def test_an_event_before_0400_reads_its_window_across_midnight():
    # Event at 02:00 on 18 Jan: the window is 22:00-01:00, 17 Jan periods 45-48 and
    # 18 Jan periods 1-2.  17 Jan reads 17 kWh, baseline 17 Jan (10 working days before
    # it: 16,15,12,11,10,9,8,5,4,3) = 9.3; 18 Jan's unadjusted is 10.7.  With the window
    # at 25 kWh the adjustment is mean(25-9.3 x4, 25-10.7 x2) = 15.233..., so the
    # baseline at 02:00 is 10.7 + 15.2333 = 25.9333 kWh.  Before: no adjustment (10.7).
    def value(d, p):
        if (d == date(2024, 1, 17) and p >= 45) or (d == DAY and p <= 2):
            return 25.0
        return 5.0 if d == DAY else d.day

    v = _bl01_case(value, "2024-01-18 02:00Z", "2024-01-18 02:30Z")
    adj = (4 * (25 - 9.3) + 2 * (25 - 10.7)) / 6
    assert v.periods["baseline_mw"].iloc[0] * 500 == pytest.approx(10.7 + adj)
    assert v.periods["status"].tolist() == ["ok"]
    assert v.periods["adjustment_kwh"].iloc[0] == pytest.approx(adj)


def test_a_partial_window_can_be_allowed_and_is_then_marked():
    f = readings("A", date(2024, 1, 1), date(2024, 1, 19), _levels(missing=(30,)))
    md, _ = MeterData.validate(f.dropna())
    ins = pd.DataFrame([instruction(1, "A", "2024-01-18 17:00Z", "2024-01-18 17:30Z", 0.005)])
    v = verify(md.to_grid(), ins, BL01(min_window_periods=5))
    assert v.periods["status"].tolist() == ["partial_window"]
    assert v.periods["baseline_mw"].iloc[0] * 500 == pytest.approx(20.0)  # 5 readings of 20
    assert v.periods["window_readings"].tolist() == [5]


# ------------------------------------------------ rounding ties above 16 MWh
def _paid(mwh: float):
    ins = pd.DataFrame({"fsp": ["F"], "mo": ["M"], "contract_id": ["C"], "instruction_id": [1],
                        "product": ["p"], "settlement_date": [np.datetime64("2024-01-18")],
                        "ordered_mwh": [mwh], "paid_mwh": [mwh]})
    c = pd.DataFrame({"contract_id": ["C"], "utilisation_price": [Decimal("1")]})
    return utilisation_lines(ins, c, PaymentRules(utilisation_tiers=FLAT))["quantity_mwh"].iloc[0]


@pytest.mark.parametrize("tie", ["33.5540045", "33.5540075", "16.7772165", "1000.0000005",
                                 "123456.7890125", "16.0000005", "0.0000005"])
def test_half_watt_hour_ties_round_half_away_exactly_at_any_size(tie):
    want = Decimal(tie).quantize(Decimal("0.000001"), ROUND_HALF_UP)
    assert _paid(float(tie)) == want


def test_ties_across_magnitudes_match_decimal():
    rng = np.random.default_rng(12)
    for lo in (16e6, 33e6, 1e9):
        k = rng.integers(int(lo), int(lo * 2), 300)
        for kk in k:
            tie = f"{kk // 10**6}.{kk % 10**6:06d}5"
            assert _paid(float(tie)) == Decimal(tie).quantize(Decimal("0.000001"), ROUND_HALF_UP)
