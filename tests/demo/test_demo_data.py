"""Fast checks of the demo's real-data loaders (flexplatform.demo.data)."""

import csv
from datetime import UTC, date, datetime, time

import pytest

from flexplatform.demo import data as dd


def _csv_rows(path):
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_files_are_small_and_shipped_next_to_the_package():
    assert dd.NGED_FILE.is_file() and dd.CARBON_FILE.is_file()
    assert dd.NGED_FILE.stat().st_size < 100_000
    assert (dd.DATA_DIR / "ATTRIBUTION.md").is_file()


def test_every_nged_row_is_parsed():
    rows = _csv_rows(dd.NGED_FILE)
    offers = dd.load_offers()
    assert len(offers) == len(rows)  # the sample has no "No response received" rows
    needs = dd.load_needs()
    assert {n.cmz_code for n in needs} == {r["CMZ Code"] for r in rows}
    assert len(needs) == len({n.cmz_code for n in needs})  # one opportunity per CMZ
    assert {n.product for n in needs} == {"sustain", "secure", "dynamic"}
    assert {o.outcome for o in offers} == {"Accepted", "Rejected"}
    assert {o.cmz_code for o in offers} <= {n.cmz_code for n in needs}
    for n in needs:
        assert n.peak_mw > 0 and n.ceiling_availability_price > 0 and n.service_days
        assert n.service_hours > 0
    # several competing companies per CMZ on average
    assert len(dd.companies()) >= 5
    assert dd.companies() == sorted({o.company for o in offers})


def test_sustain_need_conversion_hand_computed():
    need = {n.cmz_code: n for n in dd.load_needs()}["CMZ_LV_T7A_EM_937511"]
    assert need.product == "sustain"
    assert need.peak_mw == pytest.approx(0.5745)  # 574.5 kW
    assert need.window_start == time(16, 0) and need.window_end == time(20, 0)
    assert need.service_days == ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"]
    assert (need.delivery_start, need.delivery_end) == (date(2024, 11, 4), date(2025, 2, 28))
    # 2024-11-04 (Mon) .. 2025-02-28 (Fri) = 16 weeks + 5 days -> 85 weekdays x 4 h = 340 h
    assert need.service_hours == 340.0
    # 10.57 GBP/kW/season * 1000 / 340 h
    assert need.ceiling_availability_price == pytest.approx(10.57 * 1000 / 340)
    assert need.ceiling_utilisation_price == 0.0


def test_secure_offer_conversion_hand_computed():
    offers = [o for o in dd.load_offers()
              if o.cmz_code == "CMZ_T7A_EM_0033" and o.company == "Octopus Energy Limited"
              and o.outcome == "Accepted"]
    assert {o.technology for o in offers} == {
        "Air source heat pump", "Battery, compressed air system", "EV charge point"}
    assert len({o.offer_id for o in offers}) == 1  # one portfolio offer, listed per technology
    o = next(o for o in offers if o.technology == "EV charge point")
    assert o.offered_mw == pytest.approx(1.41612)  # 1416.12 kW
    assert o.availability_price == pytest.approx(2146.43)  # GBP/MWh == GBP/MW/h
    assert o.utilisation_price == pytest.approx(3005.0)
    assert o.number_of_assets == 736 and o.installed_mw == pytest.approx(1.008320004)


def test_sustain_helpers():
    assert dd.service_hours(date(2024, 11, 4), date(2024, 11, 10), ["Monday", "Sunday"],
                            time(22, 0), time(2, 0)) == 8.0  # wraps midnight
    assert dd.sustain_to_gbp_per_mw_h(0.0, 0.0) == 0.0


def test_every_sample_technology_maps_to_a_known_code():
    techs = {o.technology for o in dd.load_offers()}
    assert len(techs) >= 5
    for t in techs:
        code = dd.technology_map(t)
        assert code in dd.TECHNOLOGIES and code != "other", t
    assert dd.technology_map("EV charge point") == "ev_charging"
    assert dd.technology_map("Battery, compressed air system") == "battery"
    assert dd.technology_map("Industrial process load") == "industrial_dsr"
    assert dd.technology_map("something else") == "other"
    for spec in dd.TECHNOLOGIES.values():
        assert set(spec) == {"name", "emission_t_per_mwh", "can_up", "can_down", "stores_energy"}
        assert spec["emission_t_per_mwh"] >= 0 and (spec["can_up"] or spec["can_down"])


def test_carbon_intensity_is_utc_and_positive():
    series = dd.load_carbon_intensity()
    assert len(series) == len(_csv_rows(dd.CARBON_FILE)) == 7 * 48
    for ts, value in series:
        assert ts.tzinfo is not None and ts.utcoffset().total_seconds() == 0
        assert value > 0
    assert [t for t, _ in series] == sorted(t for t, _ in series)
    # blank "actual" falls back to the forecast (214 gCO2/kWh in the source)
    assert dict(series)[datetime(2023, 1, 26, 13, 30, tzinfo=UTC)] == 214.0
    mean = sum(v for _, v in series) / len(series)
    assert dd.average_carbon_intensity_t_per_mwh() == pytest.approx(mean / 1000)
    assert 0.05 < dd.average_carbon_intensity_t_per_mwh() < 0.5
