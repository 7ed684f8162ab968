"""Self-billed invoices: VAT per line, totals equal to the penny, CSV and JSON."""
import csv
import io
import json
from datetime import date
from decimal import Decimal

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from settlement import build_statements, money
from settlement.invoices import (
    SELF_BILLING_NOTICE,
    VatTerms,
    invoice_to_csv,
    invoice_to_json,
    invoices_for,
    make_invoice,
)
from settlement.schema import DataError

KINDS = ["availability", "utilisation", "penalty_shortfall", "penalty_failed"]


def _lines(amounts, kinds=None, fsp="F1", mo="M1"):
    kinds = kinds or ["utilisation"] * len(amounts)
    return pd.DataFrame({
        "fsp": fsp, "mo": mo, "contract_id": "C1", "period": "2024-11", "kind": kinds,
        "reference": [f"r{k:03d}" for k in range(len(amounts))],
        "quantity_mwh": Decimal("1.000000"), "unit_price": Decimal("1"),
        "multiplier": Decimal("1.000000"), "amount": list(amounts)})


def test_vat_per_line_half_up_and_totals_are_sums():
    # 0.125 of VAT on 0.63 at 20% (0.126 -> 0.13); three lines of 0.03: VAT 0.006 -> 0.01
    # each.  Per line: 0.13 + 3 x 0.01 = 0.16 (per invoice it would be 0.72 x 0.2 = 0.14:
    # the rule is stated and it is per line).
    st_ = build_statements(_lines([Decimal("0.63")] + [Decimal("0.03")] * 3))
    inv = make_invoice(st_.lines, number="SB-1", issue_date=date(2024, 12, 5),
                       vat=VatTerms(Decimal("0.20")))
    assert [ln.vat for ln in inv.lines] == [Decimal("0.13")] + [Decimal("0.01")] * 3
    assert (inv.net, inv.vat, inv.gross) == (Decimal("0.72"), Decimal("0.16"), Decimal("0.88"))
    assert inv.notice == SELF_BILLING_NOTICE and inv.customer == "M1" and inv.supplier == "F1"


def test_negative_lines_have_mirror_vat_and_kinds_can_carry_their_own_rate():
    st_ = build_statements(_lines([Decimal("100.00"), Decimal("-10.05"), Decimal("-25.00")],
                                  ["utilisation", "penalty_shortfall", "penalty_failed"]))
    inv = make_invoice(st_.lines, number="SB-2", issue_date=date(2024, 12, 5),
                       vat=VatTerms(Decimal("0.20"), {"penalty_failed": Decimal("0")}))
    assert [ln.vat for ln in inv.lines] == [Decimal("20.00"), Decimal("-2.01"), Decimal("0.00")]
    assert inv.net == Decimal("64.95") and inv.vat == Decimal("17.99")
    assert inv.gross == inv.net + inv.vat == Decimal("82.94")


@settings(max_examples=60, deadline=None)
@given(amounts=st.lists(st.decimals(min_value=Decimal("-5000"), max_value=Decimal("5000"),
                                    places=2), min_size=1, max_size=30),
       rate=st.sampled_from([Decimal("0.20"), Decimal("0.05"), Decimal("0"), Decimal("0.175")]),
       kinds=st.lists(st.sampled_from(KINDS), min_size=30, max_size=30))
def test_invoice_totals_equal_the_sum_of_lines_to_the_penny(amounts, rate, kinds):
    st_ = build_statements(_lines(amounts, kinds[:len(amounts)]))
    inv = make_invoice(st_.lines, number="X", issue_date=date(2024, 12, 1), vat=VatTerms(rate))
    assert inv.net == sum((ln.net for ln in inv.lines), Decimal(0)) == st_.totals["net"].iloc[0]
    assert inv.vat == sum((ln.vat for ln in inv.lines), Decimal(0))
    assert inv.gross == sum((ln.gross for ln in inv.lines), Decimal(0)) == inv.net + inv.vat
    for ln in inv.lines:
        assert ln.vat == money(ln.net * rate) and ln.gross == ln.net + ln.vat
    # the CSV's columns add up to the same totals, exactly
    rows = list(csv.DictReader(io.StringIO(invoice_to_csv(inv))))
    assert len(rows) == len(inv.lines)
    for col, total in (("net", inv.net), ("vat", inv.vat), ("gross", inv.gross)):
        assert sum((Decimal(r[col]) for r in rows), Decimal(0)) == total
    d = json.loads(invoice_to_json(inv))
    assert Decimal(d["totals"]["gross"]) == inv.gross
    assert sum((Decimal(x["net"]) for x in d["lines"]), Decimal(0)) == inv.net


def test_exports_are_exact_text():
    st_ = build_statements(_lines([Decimal("12.34")]))
    inv = make_invoice(st_.lines, number="SB-7", issue_date=date(2024, 12, 5),
                       vat=VatTerms(Decimal("0.20")))
    assert invoice_to_csv(inv).splitlines()[1] == (
        "SB-7,2024-12-05,F1,M1,2024-11,GBP,1,utilisation,\"Utilisation, instruction r000\","
        "C1,r000,1.000000,MWh,1,1.000000,12.34,0.20,2.47,14.81")
    j = invoice_to_json(inv)
    assert j.startswith('{"currency":"GBP","customer":"M1","issue_date":"2024-12-05","lines":[')
    assert json.loads(invoice_to_json(inv, indent=2)) == json.loads(j)


def test_every_statement_needs_a_number_and_numbers_are_unique():
    lines = pd.concat([_lines([Decimal("1.00")]), _lines([Decimal("2.00")], fsp="F2")])
    st_ = build_statements(lines)
    vat = VatTerms(Decimal("0.20"))
    with pytest.raises(ValueError, match=r"no invoice number.*F2"):
        invoices_for(st_, {("F1", "M1", "2024-11"): "A"}, date(2024, 12, 5), vat)
    with pytest.raises(ValueError, match="same invoice number"):
        invoices_for(st_, {("F1", "M1", "2024-11"): "A", ("F2", "M1", "2024-11"): "A"},
                     date(2024, 12, 5), vat)
    invs = invoices_for(st_, {("F1", "M1", "2024-11"): "A", ("F2", "M1", "2024-11"): "B"},
                        date(2024, 12, 5), vat, vat_by_fsp={"F2": VatTerms(Decimal("0"))})
    assert [(i.number, i.vat) for i in invs] == [("A", Decimal("0.20")), ("B", Decimal("0.00"))]


def test_vat_terms_are_validated_data():
    v = VatTerms.from_dict({"rate": "0.20", "by_kind": {"penalty_failed": "0"}})
    assert VatTerms.from_dict(v.to_dict()) == v
    with pytest.raises(DataError) as e:
        VatTerms.from_dict({"rate": 0.2, "by_kind": {"tips": "0.1"}, "currency": "EUR"})
    assert [p for p, _ in e.value.errors] == ["rate", "by_kind.tips", "currency"]
