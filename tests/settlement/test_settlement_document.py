"""Settlement run documents: hashes, byte-identical re-runs, the settle CLI."""
import copy
import io
import json
from datetime import date
from decimal import Decimal

import pytest
from typer.testing import CliRunner

from flexplatform.cli import app
from settlement.cli import main
from settlement.document import (
    DocumentError,
    Invoicing,
    build_document,
    check_document,
    document_inputs,
    dumps,
    settle_document,
)
from settlement.invoices import VatTerms
from settlement.run import SettlementInputs
from settlement.schema import canonical_json, sha256_hex
from tests.settlement._helpers import small_run

INVOICING = Invoicing(date(2024, 11, 5), VatTerms(Decimal("0.20"), {"penalty_shortfall": Decimal("0")}),
                      {("F1", "MA"): "SB-1", ("F1", "MB"): "SB-2", ("F2", "MA"): "SB-3"})


@pytest.fixture(scope="module")
def doc():
    return build_document(small_run(), INVOICING)


def test_settle_document_twice_is_byte_identical(doc):
    a, b = settle_document(doc), settle_document(doc)
    assert canonical_json(a) == canonical_json(b) == canonical_json(doc["outputs"])
    assert check_document(doc) == []
    again = json.loads(dumps(doc))  # through a file and back
    assert canonical_json(settle_document(again)) == canonical_json(doc["outputs"])
    out = doc["outputs"]["data"]
    assert [s["net"] for s in out["statements"]] == ["5.78", "3.81", "4.55"]
    assert [i["number"] for i in out["invoices"]] == ["SB-1", "SB-2", "SB-3"]
    assert out["invoices"][1]["totals"] == {"net": "3.81", "vat": "0.79", "gross": "4.60"}


def test_every_input_is_hashed_and_a_change_changes_its_hash(doc):
    ins = doc["inputs"]
    assert set(ins) == {"run", "products", "invoicing", "contracts", "instructions", "readings",
                        "meters", "availability", "past_events", "nominations"}
    for sec in ins.values():
        assert sec["sha256"] == sha256_hex(sec["data"])
    edited = copy.deepcopy(doc)
    row = edited["inputs"]["readings"]["data"]["rows"][100]
    row[2] = str(float(row[2]) + 1)
    assert sha256_hex(edited["inputs"]["readings"]["data"]) != ins["readings"]["sha256"]
    with pytest.raises(DocumentError, match=r"hash mismatch.*readings"):
        settle_document(edited)
    # the same data in another row order hashes the same (rows are kept in key order)
    run = small_run()
    shuffled = SettlementInputs(run.period, run.products, run.contracts,
                                run.instructions.iloc[::-1], run.readings.sample(frac=1, random_state=3),
                                meters=run.meters, availability=run.availability.iloc[::-1])
    assert build_document(shuffled, INVOICING)["inputs_sha256"] == doc["inputs_sha256"]
    # a changed VAT rate is a changed input: new hash, new outputs
    dearer = build_document(run, Invoicing(INVOICING.issue_date, VatTerms(Decimal("0.21")),
                                           INVOICING.numbers))
    assert dearer["inputs"]["invoicing"]["sha256"] != ins["invoicing"]["sha256"]
    assert dearer["outputs"]["sha256"] != doc["outputs"]["sha256"]


def test_check_names_what_differs(doc):
    edited = copy.deepcopy(doc)
    edited["outputs"]["data"]["statements"][0]["net"] = "5.79"
    diffs = check_document(edited)
    assert "outputs.statements differs from a re-run" in diffs
    assert any("sha256 does not match" in d for d in diffs)


def test_document_inputs_round_trip(doc):
    inputs, invoicing = document_inputs(doc)
    assert invoicing == INVOICING
    assert inputs.period.label == "2024-10b" and len(inputs.readings) == len(small_run().readings)
    assert inputs.products["dfs"].methodology.version == 3


def test_settle_cli_exit_codes(doc, tmp_path):
    good = tmp_path / "run.json"
    good.write_bytes(dumps(doc))
    out, err = io.StringIO(), io.StringIO()
    assert main(good, check=True, stdout=out, stderr=err) == 0
    text = out.getvalue()
    assert "statement 2024-10b  MO MB -> FSP F1: net GBP 3.81" in text
    assert "outputs identical" in text and "invoice SB-2" in text
    edited = copy.deepcopy(doc)
    edited["outputs"]["data"]["invoices"][0]["number"] = "SB-99"
    (tmp_path / "edited.json").write_bytes(dumps(edited))
    assert main(tmp_path / "edited.json", check=True, stdout=io.StringIO(), stderr=err) == 1
    assert main(tmp_path / "edited.json", stdout=io.StringIO(), stderr=err) == 0  # no --check
    tampered = copy.deepcopy(doc)
    tampered["inputs"]["contracts"]["data"]["rows"][0][5] = "9.99"
    (tmp_path / "tampered.json").write_bytes(dumps(tampered))
    err = io.StringIO()
    assert main(tmp_path / "tampered.json", check=True, stdout=io.StringIO(), stderr=err) == 2
    assert "hash mismatch" in err.getvalue() and "contracts" in err.getvalue()
    (tmp_path / "junk.json").write_text("{not json")
    assert main(tmp_path / "junk.json", stdout=io.StringIO(), stderr=io.StringIO()) == 2


def test_flexplatform_settle_command(doc, tmp_path):
    path = tmp_path / "run.json"
    path.write_bytes(dumps({**doc, "outputs": None}))
    res = CliRunner().invoke(app, ["settle", str(path), "--check", "--out", str(tmp_path / "o.json")])
    assert res.exit_code == 1 and "the document holds no outputs" in res.output
    res = CliRunner().invoke(app, ["settle", str(tmp_path / "o.json"), "--check"])
    assert res.exit_code == 0, res.output
    assert "outputs identical" in res.output
