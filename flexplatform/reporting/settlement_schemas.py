"""Bodies for settlement runs, statements, invoices, disputes and verifications.

Money is a decimal string of at most 2 places in and out (never a float)."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import Field

from flexplatform.registration.schemas import Input, Output

Money = Annotated[Decimal, Field(max_digits=14, decimal_places=2, ge=Decimal("-1e12"),
                                 le=Decimal("1e12"))]
Text = Annotated[str, Field(min_length=1, max_length=4000)]


class SettingsIn(Input):
    period: Literal["monthly", "weekly", "daily"] = "monthly"
    vat_rate: Annotated[Decimal, Field(ge=0, le=1, max_digits=5, decimal_places=4)] = \
        Decimal("0.20")
    payment_rules: dict[str, Any] | None = Field(
        default=None, description="settlement.PaymentRules as data (version, utilisation_tiers, "
                                  "penalty, availability_scaling); null: the defaults")
    response_days: int = Field(default=10, ge=1, le=90)


class SettingsOut(Output):
    market_id: uuid.UUID
    period: str
    vat_rate: Decimal
    payment_rules: dict[str, Any] | None
    response_days: int


class RunCreate(Input):
    market_id: uuid.UUID
    day: dt.date = Field(description="any day of the statement period to settle")


class RunOut(Output):
    id: uuid.UUID
    market_id: uuid.UUID
    mo_id: uuid.UUID
    period_label: str
    period_first: dt.date
    period_last: dt.date
    version: int
    status: str
    trigger: str
    shards: int
    inputs_sha256: str | None
    outputs_sha256: str | None
    error: str | None
    attempts: int
    created_at: dt.datetime
    finished_at: dt.datetime | None


class LineOut(Output):
    line_no: int
    kind: str
    contract_id: str
    reference: str
    quantity_mwh: Decimal
    unit_price: Decimal
    multiplier: Decimal
    amount: Decimal
    dispute_id: uuid.UUID | None


class StatementOut(Output):
    id: uuid.UUID
    run_id: uuid.UUID
    market_id: uuid.UUID
    mo_id: uuid.UUID
    fsp_id: uuid.UUID
    period_label: str
    status: str
    availability: Decimal
    utilisation: Decimal
    penalties: Decimal
    adjustments: Decimal
    net: Decimal
    created_at: dt.datetime
    issued_at: dt.datetime | None
    accepted_at: dt.datetime | None


class StatementDetail(StatementOut):
    lines: list[LineOut]


class InvoiceOut(Output):
    id: uuid.UUID
    number: str
    kind: str
    statement_id: uuid.UUID
    mo_id: uuid.UUID
    fsp_id: uuid.UUID
    period_label: str
    issue_date: dt.date
    currency: str
    net: Decimal
    vat: Decimal
    gross: Decimal
    document: dict[str, Any]


class Evidence(Input):
    name: Annotated[str, Field(min_length=1, max_length=200)]
    sha256: Annotated[str | None, Field(pattern="^[0-9a-f]{64}$")] = None
    url: Annotated[str | None, Field(max_length=1000)] = None
    note: Annotated[str, Field(max_length=2000)] = ""


class DisputeCreate(Input):
    line_no: int = Field(ge=1, le=10_000_000)
    reason: Text
    amount_claimed: Money = Field(description="GBP the FSP says the line is off by: positive "
                                              "if underpaid, negative if overpaid")
    evidence: list[Evidence] = Field(default_factory=list, max_length=50)


class DisputeResponse(Input):
    decision: Literal["accept", "reject"]
    reason: Annotated[str, Field(max_length=4000)] = ""
    amount: Money | None = Field(default=None, description="accepted amount (default: the claim)")


class Escalation(Input):
    reason: Text


class Decision(Input):
    amount: Money = Field(description="GBP awarded (0 dismisses the claim)")
    reason: Text


class DisputeOut(Output):
    id: uuid.UUID
    statement_id: uuid.UUID
    line_no: int
    fsp_id: uuid.UUID
    mo_id: uuid.UUID
    status: str
    reason: str
    amount_claimed: Decimal
    evidence: list[Any]
    response_deadline: dt.datetime
    response: str | None
    responded_at: dt.datetime | None
    escalated_by: uuid.UUID | None
    escalated_at: dt.datetime | None
    decision: str | None
    amount_awarded: Decimal | None
    adjustment_invoice_id: uuid.UUID | None
    created_at: dt.datetime
    resolved_at: dt.datetime | None


class VerificationOut(Output):
    instruction_id: str
    period_start: dt.datetime
    version: int
    fsp_id: uuid.UUID
    mo_id: uuid.UUID
    contract_id: int
    mpan: str
    baseline_kwh: float | None
    metered_kwh: float | None
    ordered_kwh: float
    delivered_kwh: float | None
    performance: float | None
    reading_versions: dict[str, Any]
    methodology: str
    status: str
    created_at: dt.datetime

