"""Hand-worked baseline examples.  Readings are made so each day's level is obvious:
in most tests every period of day D of January 2024 has D kWh of import."""
from datetime import date, time

import numpy as np
import pandas as pd
import pytest

from settlement import (
    BL01,
    AssetCapacity,
    GBCalendar,
    MeterData,
    Nominated,
    ProductBaselines,
    ReferenceProfile,
    XofY,
    Zero,
    make_baseline,
    verify,
)
from settlement.baselines import BaselineContext, Targets
from settlement.periods import from_settlement_period
from tests.settlement._helpers import instruction, readings


def day_level(d, p):
    return d.day


def context(frame, event_days=()):
    md, _ = MeterData.validate(frame)
    g = md.to_grid()
    ev = np.zeros((len(g.points), len(g.days)), dtype=bool)
    for d in event_days:
        ev[0, g.day_index([np.datetime64(d)])[0]] = True
    return BaselineContext(g, "import", GBCalendar().day_types(g.days), ev)


def target(ctx, d, first_period=None):
    di = ctx.grid.day_index([np.datetime64(d)])
    first_t = None
    if first_period is not None:
        first_t = ctx.grid.offsets[di] + first_period - 1
    return Targets(np.array([0]), di, first_t)


JAN = readings("A", date(2024, 1, 1), date(2024, 1, 20), day_level)


def test_xofy_all_10_of_10_skips_weekends_and_bank_holiday():
    # Target Thu 18 Jan.  Previous working days: 17,16,15,12,11,10,9,8,5,4
    # (13/14 and 6/7 are weekends, 1 Jan is a bank holiday).  Sum 107 -> 10.7 kWh.
    ctx = context(JAN)
    r = XofY(x=10, y=10).compute(ctx, target(ctx, date(2024, 1, 18)))
    assert r.kwh[0, :48] == pytest.approx(np.full(48, 10.7))
    assert np.isnan(r.kwh[0, 48:]).all() and r.days_used[0] == 10


def test_event_days_are_excluded():
    # 16 Jan was an event day: take the next older working day, 3 Jan, instead.
    # 17+15+12+11+10+9+8+5+4+3 = 94 -> 9.4
    ctx = context(JAN, event_days=[date(2024, 1, 16)])
    r = XofY().compute(ctx, target(ctx, date(2024, 1, 18)))
    assert r.kwh[0, 0] == pytest.approx(9.4)


@pytest.mark.parametrize("selector,expected", [
    # the 5 most recent working days before 18 Jan: 17,16,15,12,11
    ("all", (17 + 16 + 15 + 12 + 11) / 5),   # 14.2: NODES' mean of 5 preceding working days
    ("highest", (17 + 16 + 15) / 3),          # 16.0
    ("lowest", (15 + 12 + 11) / 3),           # 12.667
    ("middle", (12 + 15 + 16) / 3),           # sorted 11,12,15,16,17; drop 11 and 17: 14.333
])
def test_xofy_selectors(selector, expected):
    ctx = context(JAN)
    r = XofY(x=3, y=5, selector=selector).compute(ctx, target(ctx, date(2024, 1, 18)))
    assert r.kwh[0, 20] == pytest.approx(expected)


def test_non_working_day_uses_non_working_history():
    # Target Sat 20 Jan; previous non-working days: 14, 13, 7, 6 (then 1 Jan, a bank
    # holiday, which counts as non-working).  4 of 4 -> (14+13+7+6)/4 = 10.0;
    # 5 of 5 adds 1 Jan -> 41/5 = 8.2
    ctx = context(JAN)
    t = target(ctx, date(2024, 1, 20))
    assert BL01(non_working_y=4, adjustment="none").compute(ctx, t).kwh[0, 0] == pytest.approx(10.0)
    assert XofY(non_working_x=5, non_working_y=5).compute(ctx, t).kwh[0, 0] == pytest.approx(8.2)


def test_missing_data_day_is_skipped_and_too_little_history_is_nan():
    # 17 Jan loses one reading: the day is no longer eligible (min_coverage 1.0), so the
    # 10 days are 16,15,12,11,10,9,8,5,4,3 -> 93/10 = 9.3
    f = JAN.drop(index=JAN.index[(JAN["start"] >= "2024-01-17 12:00Z")][0])
    ctx = context(f)
    assert XofY().compute(ctx, target(ctx, date(2024, 1, 18))).kwh[0, 0] == pytest.approx(9.3)
    # with a 50 % coverage rule 17 Jan counts again (mean of its 47 readings is still 17)
    assert XofY(min_coverage=0.5).compute(ctx, target(ctx, date(2024, 1, 18))).kwh[0, 0] == \
        pytest.approx(10.7)
    # 3 Jan has only 1 earlier working day (2 Jan): with min_days=2 there is no baseline
    r = XofY(min_days=2).compute(ctx, target(ctx, date(2024, 1, 3)))
    assert np.isnan(r.kwh[0, :48]).all() and r.days_used[0] == 0


def _event_day_frame(window_level):
    # History as above; on 18 Jan the site uses `window_level` kWh all day except the
    # instructed periods 35-36 (17:00-18:00), where it uses 5 kWh.
    def value(d, p):
        if d == date(2024, 1, 18):
            return 5.0 if p in (35, 36) else window_level
        return d.day
    return readings("A", date(2024, 1, 1), date(2024, 1, 19), value)


@pytest.mark.parametrize("adjustment,level,expected", [
    # unadjusted 10.7; window = periods 27-32 (13:00-16:00, the 3 h ending 1 h before 17:00)
    ("none", 20.0, 10.7),
    ("symmetric", 20.0, 20.0),       # adj = 20 - 10.7 = +9.3 -> 20.0
    ("positive_only", 20.0, 20.0),   # +9.3 kept
    ("negative_only", 20.0, 10.7),   # +9.3 dropped
    ("symmetric", 8.0, 8.0),         # adj = 8 - 10.7 = -2.7 -> 8.0
    ("positive_only", 8.0, 10.7),    # -2.7 dropped
    ("negative_only", 8.0, 8.0),     # -2.7 kept
])
def test_bl01_in_day_adjustment(adjustment, level, expected):
    ctx = context(_event_day_frame(level), event_days=[date(2024, 1, 18)])
    r = BL01(adjustment=adjustment).compute(ctx, target(ctx, date(2024, 1, 18), first_period=35))
    assert r.kwh[0, 34] == pytest.approx(expected)
    assert r.kwh[0, 0] == pytest.approx(expected)  # the adjustment applies to the whole day


def test_bl01_end_to_end_delivery():
    # symmetric BL01 baseline 20.0 kWh, metered 5.0 in the event: delivered 15 kWh per
    # period = 0.03 MW; instructed 0.02 MW -> paid 0.02, ratio 1.
    md, _ = MeterData.validate(_event_day_frame(20.0))
    ins = pd.DataFrame([instruction(1, "A", "2024-01-18 17:00Z", "2024-01-18 18:00Z", 0.02)])
    v = verify(md.to_grid(), ins, ProductBaselines({"p": {"method": "BL01"}}))
    assert v.periods["baseline_mw"].tolist() == pytest.approx([0.04, 0.04])
    assert v.periods["delivered_mw"].tolist() == pytest.approx([0.03, 0.03])
    assert v.periods["paid_mw"].tolist() == pytest.approx([0.02, 0.02])
    assert v.instructions["ratio"].iloc[0] == pytest.approx(1.0)


def test_clock_change_history_matched_by_clock_time():
    # History day Sun 27 Oct 2024 has 50 periods with value = period number; target
    # Sat 2 Nov (48).  1 of 1 non-working day -> the baseline is 27 Oct by clock time:
    # 17:00 (period 35 on 2 Nov) was period 37 on 27 Oct; 01:00 (period 3) averages
    # periods 3 and 5 (BST and GMT 01:00) = 4.
    f = readings("A", date(2024, 10, 27), date(2024, 11, 2), lambda d, p: p)
    ctx = context(f)
    r = XofY(non_working_x=1, non_working_y=1).compute(ctx, target(ctx, date(2024, 11, 2)))
    assert r.kwh[0, 34] == 37 and r.kwh[0, 2] == 4 and r.kwh[0, 3] == 5
    assert r.kwh[0, 47] == 50


def test_spring_clock_change_target_day():
    # Target Sun 31 Mar 2024 (46 periods), history Sat 30 Mar (48) with value = period.
    # 17:00 is period 33 on 31 Mar and period 35 on 30 Mar; 01:00-02:00 does not exist.
    f = readings("A", date(2024, 3, 30), date(2024, 3, 31), lambda d, p: p)
    ctx = context(f)
    r = XofY(non_working_x=1, non_working_y=1).compute(ctx, target(ctx, date(2024, 3, 31)))
    assert r.kwh[0, 32] == 35 and r.kwh[0, 2] == 5  # period 3 is 02:00 BST = slot 4
    assert np.isnan(r.kwh[0, 46:]).all() and not np.isnan(r.kwh[0, :46]).any()


def test_bank_holiday_target_uses_non_working_history():
    # Easter Monday 1 Apr 2024 is a bank holiday: its like days are weekends/holidays:
    # 31 Mar (Sun), 30 Mar (Sat), 29 Mar (Good Friday), 24 Mar (Sun) -> (31+30+29+24)/4
    f = readings("A", date(2024, 3, 18), date(2024, 4, 1), day_level)
    ctx = context(f)
    r = XofY(non_working_x=4, non_working_y=4).compute(ctx, target(ctx, date(2024, 4, 1)))
    assert r.kwh[0, 20] == pytest.approx((31 + 30 + 29 + 24) / 4)


def test_nominated_on_time_late_and_fallback():
    ctx = context(JAN)
    day = date(2024, 1, 18)
    starts = [from_settlement_period(day, p) for p in range(1, 49)]
    on_time = pd.Timestamp("2024-01-17 11:59", tz="Europe/London")
    late = pd.Timestamp("2024-01-17 12:01", tz="Europe/London")
    nom = pd.DataFrame({"mpan": "A", "start": pd.to_datetime(starts, utc=True), "kwh": 7.0,
                        "submitted_at": on_time})
    # a later, late re-nomination of period 35 is ignored: deadline 12:00 the day before
    late_row = pd.DataFrame({"mpan": ["A"], "start": [nom["start"][34]], "kwh": [99.0],
                             "submitted_at": [late]})
    m = Nominated(pd.concat([nom, late_row]), fallback=XofY())
    r = m.compute(ctx, target(ctx, day))
    assert (r.kwh[0, :48] == 7.0).all() and not r.fallback[0]
    # only late nominations -> whole day falls back to 10 of 10 = 10.7
    r = Nominated(nom.assign(submitted_at=late), fallback=XofY()).compute(ctx, target(ctx, day))
    assert r.fallback[0] and r.kwh[0, 0] == pytest.approx(10.7)
    # an incomplete nomination (period 40 missing) also falls back
    r = Nominated(nom.drop(index=39), fallback=Zero()).compute(ctx, target(ctx, day))
    assert r.fallback[0] and (r.kwh[0, :48] == 0).all()


def test_reference_profile_pc1_times_devices(pc1_kw):
    # Elexon Profile Class 1 winter weekday: 0.89 kW at 17:00 (period 35), 0.33 kW at
    # 00:00.  100 homes: 100 x 0.89 kW x 0.5 h = 44.5 kWh; 100 x 0.33 x 0.5 = 16.5 kWh.
    ctx = context(JAN)
    m = ReferenceProfile.from_kw(pc1_kw, {"A": 100})
    r = m.compute(ctx, target(ctx, date(2024, 1, 18)))
    assert r.kwh[0, 34] == pytest.approx(44.5) and r.kwh[0, 0] == pytest.approx(16.5)
    assert np.nansum(r.kwh[0]) == pytest.approx(100 * 0.5 * pc1_kw.sum())


def test_zero_and_asset_capacity():
    ctx = context(JAN)
    t = target(ctx, date(2024, 1, 18))
    assert (Zero().compute(ctx, t).kwh[0, :48] == 0).all()
    # 250 kW for half an hour = 125 kWh
    assert (AssetCapacity({"A": 250.0}).compute(ctx, t).kwh[0, :48] == 125.0).all()


def test_registry_and_product_mapping():
    pb = ProductBaselines({"dfs": {"method": "BL01", "adjustment": "positive_only"},
                           "peak": {"method": "XofY", "x": 5, "y": 5},
                           "nominated": {"method": "Nominated", "fallback": "Zero"}},
                          default="Zero")
    assert isinstance(pb.for_product("dfs"), BL01) and pb.for_product("dfs").adjustment == "positive_only"
    assert pb.for_product("peak").spec()["y"] == 5
    assert isinstance(pb.for_product("nominated").fallback, Zero)
    assert isinstance(pb.for_product("other"), Zero)
    with pytest.raises(ValueError):
        make_baseline("Guess")
    with pytest.raises(ValueError):
        XofY(x=6, y=5, selector="highest")
    with pytest.raises(ValueError):
        BL01(adjustment="sideways")
    assert Nominated(deadline_time=time(10, 0)).spec()["deadline_time"] == "10:00:00"
