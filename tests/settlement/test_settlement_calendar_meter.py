from datetime import date

import numpy as np
import pandas as pd
import pytest

from settlement import GBCalendar, MeterData, bank_holidays, is_working_day
from settlement.periods import SettlementPeriodError
from tests.settlement._helpers import readings


# ------------------------------------------------------------------ calendar
def test_england_wales_bank_holidays_2024():
    assert bank_holidays(2024) == [date(2024, 1, 1), date(2024, 3, 29), date(2024, 4, 1),
                                   date(2024, 5, 6), date(2024, 5, 27), date(2024, 8, 26),
                                   date(2024, 12, 25), date(2024, 12, 26)]


def test_scotland_differs():
    sc = bank_holidays(2024, "scotland")
    assert date(2024, 1, 2) in sc and date(2024, 8, 5) in sc and date(2024, 4, 1) not in sc
    assert not is_working_day(date(2024, 1, 2), "scotland")
    assert is_working_day(date(2024, 1, 2))  # England & Wales
    with pytest.raises(ValueError):
        GBCalendar("wessex")


def test_day_types_vectorised_with_extra_days():
    cal = GBCalendar(extra_non_working=[date(2024, 12, 27)])
    days = np.arange(np.datetime64("2024-12-23"), np.datetime64("2025-01-03"))
    #                 Mon Tue Wed(Xmas) Thu(Boxing) Fri(extra) Sat Sun Mon Tue Wed(NY) Thu
    assert cal.day_types(days).tolist() == [0, 0, 1, 1, 1, 1, 1, 0, 0, 1, 0]
    # one-off: 2023-05-08 coronation bank holiday (Monday)
    assert not is_working_day(date(2023, 5, 8))


# ------------------------------------------------------------------ meter
def _frame():
    return readings("A", date(2024, 1, 1), date(2024, 1, 1), 1.0)


def test_clean_data_is_ok():
    md, rep = MeterData.validate(_frame())
    assert rep.ok and rep.counts() == {"gap": 0, "superseded": 0}
    assert len(md.latest()) == 48


def test_problems_are_reported_with_rows_never_dropped():
    f = _frame()
    f.loc[3, "import_kwh"] = -0.5            # negative
    f.loc[4, "import_kwh"] = 1e6             # implausible
    f.loc[5, "export_kwh"] = np.nan          # missing value
    dup = f.iloc[[7]]                        # exact duplicate of row 7
    conflict = f.iloc[[9]].assign(import_kwh=2.0)  # same version, different value
    odd = f.iloc[[0]].assign(start=f.loc[0, "start"] + pd.Timedelta(minutes=10))
    f = pd.concat([f.drop(index=[20]), dup, conflict, odd], ignore_index=False)
    f.index = [f"r{i}" for i in range(len(f))]
    md, rep = MeterData.validate(f, max_kwh=100.0)
    assert len(md.frame) == len(f)  # nothing dropped
    issues = rep.issues.set_index("row")["issue"].to_dict()
    assert issues["r3"] == "negative" and issues["r4"] == "implausible"
    assert issues["r5"] == "missing_value" and issues["r49"] == "misaligned"
    assert issues["r47"] == "duplicate"  # the second copy; the first stays ok
    assert issues["r9"] == "conflict" and issues["r48"] == "conflict"
    gap_starts = set(rep.gaps["start"])
    # row 20 was removed; bad rows and the conflicting period are gaps too
    for k in (20, 3, 4, 5, 9):
        assert _frame().loc[k, "start"] in gap_starts
    assert _frame().loc[7, "start"] not in gap_starts
    assert rep.counts()["gap"] == 5


def test_per_point_implausible_limit():
    f = pd.concat([_frame(), readings("B", date(2024, 1, 1), date(2024, 1, 1), 30.0)])
    _, rep = MeterData.validate(f, max_kwh={"A": 10.0, "B": 20.0})
    assert (rep.issues["mpan"] == "B").sum() == 48 and (rep.issues["issue"] == "implausible").all()


def test_naive_timestamps_refused():
    f = _frame()
    f["start"] = f["start"].dt.tz_localize(None)
    with pytest.raises(SettlementPeriodError):
        MeterData.validate(f)


def test_correction_is_a_new_version_and_latest_wins():
    md, _ = MeterData.validate(_frame())
    s = _frame().loc[10, "start"]
    md2, rep2 = md.correct(pd.DataFrame({"mpan": ["A"], "start": [s], "import_kwh": [3.0],
                                         "export_kwh": [0.0]}))
    assert rep2.superseded == 1 and rep2.ok
    rows = md2.frame[md2.frame["start"] == s]
    assert sorted(rows["version"]) == [1, 2]
    assert rows.set_index("version").loc[1, "status"] == "superseded"
    latest = md2.latest()
    assert latest.loc[latest["start"] == s, "import_kwh"].tolist() == [3.0]
    assert len(md.frame) == 48  # the original object is untouched
    md3, _ = md2.correct(pd.DataFrame({"mpan": ["A"], "start": [s], "import_kwh": [4.0],
                                       "export_kwh": [0.0]}))
    assert md3.frame.loc[md3.frame["start"] == s, "version"].max() == 3
    g = md3.to_grid()
    assert g.import_kwh[0, 10] == 4.0


def test_grid_on_clock_change_days_and_gaps_as_nan():
    f = readings("A", date(2024, 10, 26), date(2024, 10, 28), 1.0)
    f = f.drop(index=60)
    md, rep = MeterData.validate(f)
    g = md.to_grid()
    assert g.n_periods.tolist() == [48, 50, 48]
    assert g.import_kwh.shape == (1, 146)
    assert np.isnan(g.import_kwh[0, 60]) and np.nansum(g.import_kwh) == 145
    assert len(rep.gaps) == 1


def test_gap_window_reports_missing_whole_days():
    f = readings("A", date(2024, 3, 31), date(2024, 3, 31), 1.0)
    _, rep = MeterData.validate(f, window=(date(2024, 3, 30), date(2024, 3, 31)))
    assert len(rep.gaps) == 48  # all of 30 March missing; 31 March (46) complete
