"""Verification and money, worked by hand.  Generators with a Zero baseline make the
delivered volume exactly the metered export, which keeps the arithmetic visible."""
from datetime import date
from decimal import Decimal

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from settlement import (
    FLAT,
    SSEN_TIERS,
    AssetCapacity,
    MeterData,
    PaymentRules,
    PenaltyTerms,
    PerformanceTiers,
    ProductBaselines,
    Tier,
    Zero,
    availability_factors,
    availability_lines,
    build_statements,
    money,
    penalty_lines,
    utilisation_lines,
    verify,
)
from tests.settlement._helpers import instruction, readings

DAY = date(2024, 1, 18)
CONTRACTS = pd.DataFrame({
    "contract_id": ["C1", "C2"], "fsp": ["F1", "F1"], "mo": ["M1", "M1"], "product": ["p", "p"],
    "contracted_mw": [2.0, 1.0], "availability_price": [Decimal("4.50"), Decimal("3.00")],
    "utilisation_price": [Decimal("250"), Decimal("100")]})


def generator(export_kwh_in_event, mpan="G"):
    """Export `export_kwh_in_event` in periods 35-36 (17:00-18:00) of 18 Jan, else 0."""
    return readings(mpan, DAY, DAY, 0.0,
                    export=lambda d, p: export_kwh_in_event if p in (35, 36) else 0.0)


def verify_generator(export_kwh, mw=1.0, mpan="G", contract="C1"):
    md, _ = MeterData.validate(generator(export_kwh, mpan))
    ins = pd.DataFrame([instruction(1, mpan, "2024-01-18 17:00Z", "2024-01-18 18:00Z", mw,
                                    direction="turn_up", measure="export", contract=contract)])
    return verify(md.to_grid(), ins, ProductBaselines({"p": Zero()}))


# ------------------------------------------------------------ verification
def test_turn_up_generation_zero_baseline():
    # 1 MW instructed for 2 periods = 1 MWh; exports 400 kWh per period = 0.8 MW.
    v = verify_generator(400.0)
    p = v.periods
    assert p["baseline_mw"].tolist() == [0, 0] and p["actual_mw"].tolist() == [0.8, 0.8]
    assert p["delivered_mw"].tolist() == [0.8, 0.8]
    assert p["deficiency_mw"].tolist() == pytest.approx([0.2, 0.2])
    assert p["period"].tolist() == [35, 36]
    i = v.instructions.iloc[0]
    assert i["ordered_mwh"] == 1.0 and i["paid_mwh"] == pytest.approx(0.8)
    assert i["ratio"] == pytest.approx(0.8)


def test_over_delivery_capped_and_wrong_way_is_zero():
    assert verify_generator(700.0).periods["paid_mw"].tolist() == [1.0, 1.0]  # 1.4 MW capped
    # turn-down of demand from capacity: a 1 MW load (500 kWh/period) that *rises* to
    # 600 kWh delivered -0.2 MW: paid 0, deficiency the full order.
    f = readings("L", DAY, DAY, 600.0)
    md, _ = MeterData.validate(f)
    ins = pd.DataFrame([instruction(1, "L", "2024-01-18 17:00Z", "2024-01-18 17:30Z", 0.5)])
    v = verify(md.to_grid(), ins, AssetCapacity({"L": 1000.0}))
    assert v.periods["delivered_mw"].iloc[0] == pytest.approx(-0.2)
    assert v.periods["paid_mw"].iloc[0] == 0.0 and v.periods["deficiency_mw"].iloc[0] == 0.5


def test_turn_up_of_demand_and_turn_down_of_generation():
    # demand turn-up: delivered = metered import - baseline; AssetCapacity 0 kW -> import
    f = readings("L", DAY, DAY, 100.0)
    md, _ = MeterData.validate(f)
    ins = pd.DataFrame([instruction(1, "L", "2024-01-18 17:00Z", "2024-01-18 17:30Z", 0.5,
                                    direction="turn_up")])
    v = verify(md.to_grid(), ins, Zero())
    assert v.periods["delivered_mw"].iloc[0] == pytest.approx(0.2)  # 100 kWh / 500
    # generation turn-down: delivered = baseline export - metered export
    f = readings("G", DAY, DAY, 0.0, export=150.0)
    md, _ = MeterData.validate(f)
    ins = pd.DataFrame([instruction(1, "G", "2024-01-18 17:00Z", "2024-01-18 17:30Z", 0.5,
                                    measure="export")])
    v = verify(md.to_grid(), ins, AssetCapacity({"G": 1000.0}))  # 500 kWh baseline
    assert v.periods["delivered_mw"].iloc[0] == pytest.approx(0.7)  # (500-150)/500
    assert v.periods["paid_mw"].iloc[0] == 0.5


def test_missing_meter_data_is_not_delivery():
    f = generator(500.0).drop(index=35)  # period 36 missing
    md, rep = MeterData.validate(f)
    assert len(rep.gaps) == 1
    ins = pd.DataFrame([instruction(1, "G", "2024-01-18 17:00Z", "2024-01-18 18:00Z", 1.0,
                                    direction="turn_up", measure="export")])
    v = verify(md.to_grid(), ins, Zero())
    assert v.periods["status"].tolist() == ["ok", "missing_meter"]
    assert v.periods["paid_mw"].tolist() == [1.0, 0.0]
    assert v.instructions["ratio"].iloc[0] == 0.5
    assert v.instructions["status"].iloc[0] == "missing_data"


def test_contract_ratio_is_energy_weighted():
    # C1: 1 MWh ordered, 0.8 paid; C1 again on another point: 0.5 MWh ordered, 0.5 paid
    f = pd.concat([generator(400.0, "G"), generator(500.0, "H")])
    md, _ = MeterData.validate(f)
    ins = pd.DataFrame([
        instruction(1, "G", "2024-01-18 17:00Z", "2024-01-18 18:00Z", 1.0, "turn_up", measure="export"),
        instruction(2, "H", "2024-01-18 17:00Z", "2024-01-18 17:30Z", 1.0, "turn_up", measure="export")])
    v = verify(md.to_grid(), ins, Zero())
    c = v.contracts.iloc[0]
    assert c["ordered_mwh"] == 1.5 and c["paid_mwh"] == pytest.approx(1.3)
    assert c["ratio"] == pytest.approx(1.3 / 1.5) and c["instructions"] == 2


# ------------------------------------------------------------ money
def test_rounding_rule_half_up():
    assert money(Decimal("0.125")) == Decimal("0.13")   # half-even would give 0.12
    assert money(Decimal("-0.125")) == Decimal("-0.13")
    assert money(Decimal("2.004999")) == Decimal("2.00")


def test_tiers():
    # SSEN: 0 below 50 %, then multiplier = ratio from 50 % to 100 %
    assert SSEN_TIERS([0.0, 0.49, 0.5, 0.8, 1.0, 1.3]).tolist() == [0, 0, 0.5, 0.8, 1.0, 1.0]
    # a stepped alternative: 0 below 50 %, 0.5 from 50 to 90 %, then 1
    steps = PerformanceTiers([Tier(0, 0.5, 0, 0), Tier(0.5, 0.9, 0.5, 0.5), Tier(0.9, 1.0, 1, 1)])
    assert steps([0.3, 0.6, 0.95]).tolist() == [0, 0.5, 1]
    with pytest.raises(ValueError):
        PerformanceTiers([Tier(0, 0.5, 1, 1), Tier(0.5, 1, 0.5, 0.5)])  # decreasing


def test_utilisation_sliding_scale_by_hand():
    rules = PaymentRules()  # SSEN tiers, no penalties
    # 0.8 MWh delivered of 1 MWh: 0.8 MWh x GBP 250 x 0.8 = GBP 160.00
    u = utilisation_lines(verify_generator(400.0).instructions, CONTRACTS, rules)
    assert u["amount"].tolist() == [Decimal("160.00")]
    assert u["quantity_mwh"].iloc[0] == Decimal("0.800000")
    assert u["multiplier"].iloc[0] == Decimal("0.800000")
    # 0.4 of 1 MWh: below 50 % -> GBP 0.00
    assert utilisation_lines(verify_generator(200.0).instructions, CONTRACTS, rules)[
        "amount"].tolist() == [Decimal("0.00")]
    # 1.2 MWh capped to 1 -> 1 x 250 x 1 = GBP 250.00
    assert utilisation_lines(verify_generator(600.0).instructions, CONTRACTS, rules)[
        "amount"].tolist() == [Decimal("250.00")]
    # FLAT pays delivered MWh straight: 0.4 x 250 = GBP 100.00
    assert utilisation_lines(verify_generator(200.0).instructions, CONTRACTS,
                             PaymentRules(utilisation_tiers=FLAT))["amount"].tolist() == [Decimal("100.00")]


def test_penalties_by_hand():
    rules = PaymentRules(penalty=PenaltyTerms(shortfall_price=Decimal("50"), failed_fee=Decimal("25"),
                                              failed_below_ratio=Decimal("0.5")))
    # 0.8 of 1 MWh: shortfall 0.2 MWh x GBP 50 = GBP 10.00 charged; not failed (>= 50 %)
    p = penalty_lines(verify_generator(400.0).instructions, rules)
    assert p["kind"].tolist() == ["penalty_shortfall"] and p["amount"].tolist() == [Decimal("-10.00")]
    # 0.3 of 1 MWh: shortfall 0.7 x 50 = 35.00, plus the failed fee 25.00
    p = penalty_lines(verify_generator(150.0).instructions, rules)
    assert p["amount"].tolist() == [Decimal("-35.00"), Decimal("-25.00")]
    # full delivery: no penalty lines
    assert penalty_lines(verify_generator(500.0).instructions, rules).empty
    # apply_below_ratio 0.75: 80 % delivery escapes the shortfall charge
    lenient = PaymentRules(penalty=PenaltyTerms(shortfall_price=Decimal("50"),
                                                apply_below_ratio=Decimal("0.75")))
    assert penalty_lines(verify_generator(400.0).instructions, lenient).empty


def _availability_fixture():
    # C1: 2 MW at GBP 4.50/MW/h, window 16:00-20:00 (8 periods) on 17, 18 and 19 Jan.
    ws = pd.to_datetime(["2024-01-17 16:00Z", "2024-01-18 16:00Z", "2024-01-19 16:00Z"])
    windows = pd.DataFrame({"contract_id": "C1", "start": ws, "end": ws + pd.Timedelta(hours=4)})
    rows = []
    for k, w in enumerate(ws):
        for j in range(8):
            mw = [2.0, 2.0 if j < 6 else 1.0, 0.0][k]
            rows.append(("C1", w + pd.Timedelta(minutes=30 * j), mw))
    decl = pd.DataFrame(rows, columns=["contract_id", "start", "available_mw"])
    return windows, decl


def test_availability_by_hand():
    windows, decl = _availability_fixture()
    # 17 Jan: fully available: 2 MW x 4 h x 1 = 8 MWh-equivalent
    # 18 Jan: 6 periods at 2 MW, 2 at 1 MW -> share (6 + 2 x 0.5)/8 = 0.875 -> 7
    # 19 Jan: wholly unavailable -> 0
    # 15 x GBP 4.50 = GBP 67.50
    factors = availability_factors(CONTRACTS, windows, decl)
    assert factors["factor"].tolist() == [1.0] * 14 + [0.5] * 2 + [0.0] * 8
    a = availability_lines(CONTRACTS, factors, PaymentRules())
    assert a["quantity_mwh"].tolist() == [Decimal("15.000000")]
    assert a["amount"].tolist() == [Decimal("67.50")] and a["period"].tolist() == ["2024-01"]
    # scaled by last month's 75 % performance through SSEN tiers: x 0.75 = 50.625 -> 50.63
    scaled = PaymentRules(availability_scaling=SSEN_TIERS)
    a = availability_lines(CONTRACTS, factors, scaled, last_period_ratio={"C1": "0.75"})
    assert a["amount"].tolist() == [Decimal("50.63")]
    # last month under 50 %: availability scaled to nothing
    a = availability_lines(CONTRACTS, factors, scaled, last_period_ratio={"C1": "0.4"})
    assert a["amount"].tolist() == [Decimal("0.00")]
    # undeclared periods count as unavailable: drop all declarations -> 0
    a = availability_lines(CONTRACTS, availability_factors(CONTRACTS, windows, decl.iloc[:0]),
                           PaymentRules())
    assert a["amount"].tolist() == [Decimal("0.00")]
    # a run names its own statement period
    assert availability_lines(CONTRACTS, factors, PaymentRules(), period="run-7")[
        "period"].tolist() == ["run-7"]


def test_statement_adds_up_exactly():
    windows, decl = _availability_fixture()
    rules = PaymentRules(penalty=PenaltyTerms(shortfall_price=Decimal("50")))
    ins = verify_generator(400.0).instructions
    st_ = build_statements(availability_lines(CONTRACTS, availability_factors(CONTRACTS, windows,
                                                                              decl), rules),
                           utilisation_lines(ins, CONTRACTS, rules), penalty_lines(ins, rules))
    st_.check()
    t = st_.totals.iloc[0]
    # 67.50 availability + 160.00 utilisation - 10.00 penalty = 217.50
    assert (t["availability"], t["utilisation"], t["penalties"], t["net"]) == (
        Decimal("67.50"), Decimal("160.00"), Decimal("-10.00"), Decimal("217.50"))
    assert st_.lines["line_no"].tolist() == [1, 2, 3]


def test_statement_lines_split_by_fsp_mo_month_and_sum_with_odd_pennies():
    # many small lines whose unrounded sum differs from the sum of rounded lines
    lines = pd.DataFrame({
        "fsp": ["F1"] * 3 + ["F2"], "mo": ["M1"] * 3 + ["M1"], "contract_id": "C",
        "period": ["2024-01"] * 2 + ["2024-02", "2024-01"], "kind": "utilisation",
        "reference": ["a", "b", "c", "d"], "quantity_mwh": Decimal("1"),
        "unit_price": Decimal("0.005"), "multiplier": Decimal("1"),
        "amount": [money(Decimal("0.005"))] * 4})
    s = build_statements(lines)
    s.check()
    assert s.totals["net"].tolist() == [Decimal("0.02"), Decimal("0.01"), Decimal("0.01")]


# ------------------------------------------------------------ properties
def _net_payment(export_kwh, mw, price, rules):
    ins = verify_generator(export_kwh, mw).instructions
    u = utilisation_lines(ins, CONTRACTS.assign(utilisation_price=price), rules)
    p = penalty_lines(ins, rules)
    return ins, sum(u["amount"], Decimal(0)) + sum(p["amount"], Decimal(0))


RULES = st.sampled_from([
    PaymentRules(),
    PaymentRules(utilisation_tiers=FLAT),
    PaymentRules(penalty=PenaltyTerms(shortfall_price=Decimal("75"), failed_fee=Decimal("10"))),
])
PRICES = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("5000"), places=2)
MWS = st.decimals(min_value=Decimal("0.001"), max_value=Decimal("50"), places=3).map(float)


@settings(max_examples=40, deadline=None)
@given(mw=MWS, price=PRICES, rules=RULES)
def test_exact_delivery_gives_ratio_one_and_full_payment(mw, price, rules):
    ins, net = _net_payment(mw * 500.0, mw, price, rules)
    assert ins["ratio"].iloc[0] == pytest.approx(1.0)
    # full payment: instructed MWh (mw x 2 periods x 0.5 h) x price, no penalty
    assert net == money(Decimal(str(mw)) * price)


@settings(max_examples=40, deadline=None)
@given(mw=MWS, price=PRICES, rules=RULES,
       a=st.floats(0, 1.5), b=st.floats(0, 1.5))
def test_payment_never_rises_when_delivery_falls(mw, price, rules, a, b):
    hi, lo = max(a, b), min(a, b)
    _, pay_hi = _net_payment(mw * 500.0 * hi, mw, price, rules)
    _, pay_lo = _net_payment(mw * 500.0 * lo, mw, price, rules)
    assert pay_lo <= pay_hi
