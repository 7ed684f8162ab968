"""``flexplatform settle DOCUMENT [--check] [--out FILE]``: re-run a settlement run document.

`main` holds the logic; the platform's typer command only wraps it.  It checks the
document's format and input hashes, settles the inputs again, prints every statement
and, with ``check``, compares the re-run's outputs with the stored ones byte for byte.
Exit codes: 0 settled (and, with ``check``, identical), 1 outputs differ from the
document's, 2 the document is unreadable, malformed, or its inputs fail their hashes.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TextIO

from .document import DocumentError, check_document, dumps, settle_document
from .schema import DataError
from .verification import InstructionError

__all__ = ["format_statements", "main"]


def format_statements(outputs: dict) -> str:
    """The statements of a document's outputs data as a plain-text table."""
    out = []
    for st in outputs["statements"]:
        out.append(f"statement {st['period']}  MO {st['mo']} -> FSP {st['fsp']}: net GBP {st['net']}"
                   f"  (availability {st['availability']}, utilisation {st['utilisation']}, "
                   f"penalties {st['penalties']})")
        out.append(f"  {'#':>3} {'kind':<18} {'contract':<12} {'reference':<16} {'quantity':>14} "
                   f"{'price':>10} {'mult':>9} {'amount':>12}")
        for ln in st["lines"]:
            out.append(f"  {ln['line_no']:>3} {ln['kind']:<18} {ln['contract_id']:<12} "
                       f"{ln['reference']:<16} {ln['quantity_mwh']:>14} {ln['unit_price']:>10} "
                       f"{ln['multiplier']:>9} {ln['amount']:>12}")
    for inv in outputs["invoices"]:
        t = inv["totals"]
        out.append(f"invoice {inv['number']} ({inv['issue_date']}, self-billed by {inv['customer']} "
                   f"for {inv['supplier']}): net {t['net']} + VAT {t['vat']} = {t['gross']} "
                   f"{inv['currency']}, {len(inv['lines'])} lines")
    if not outputs["statements"]:
        out.append("no statements (nothing to settle)")
    return "\n".join(out)


def main(document: str | Path, check: bool = False, out: str | Path | None = None,
         stdout: TextIO | None = None, stderr: TextIO | None = None) -> int:
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    try:
        doc = json.loads(Path(document).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        print(f"cannot read {document}: {e}", file=stderr)
        return 2
    try:
        fresh = settle_document(doc)
    except (DocumentError, DataError, InstructionError, ValueError, KeyError) as e:
        print(f"invalid settlement run document: {e}", file=stderr)
        return 2
    print(format_statements(fresh["data"]), file=stdout)
    code = 0
    if check:
        diffs = check_document(doc, fresh)
        for d in diffs:
            print(f"DIFFERS: {d}", file=stdout)
        if diffs:
            code = 1
        else:
            print(f"outputs identical to the document's (sha256 {fresh['sha256']})", file=stdout)
    if out is not None:
        Path(out).write_bytes(dumps({**doc, "outputs": fresh}))
        print(f"document with these outputs written to {out}", file=stdout)
    return code
