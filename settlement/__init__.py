"""Settlement engine: pure numpy/pandas, no database, no web.

Turns meter data, contracts and dispatch instructions into verified delivery, money and
invoices: ``periods`` (GB settlement periods, the timestamp rule), ``calendar`` (day
types, bank holidays), ``meter`` (validated, versioned readings), ``baselines`` (BL01,
X of Y, nominated, reference profile, zero, asset capacity), ``methodology`` (a product's
baseline as versioned data), ``verification`` (per-period delivery and performance),
``rounding`` and ``payments`` (exact Decimal money), ``statements``, ``invoices``
(self-billed, VAT per line), ``run`` (settlement runs as shards and their merge) and
``document`` (the reproducible settlement run document).  See docs/settlement.md.
"""
from .baselines import (
    BL01,
    METHODS,
    AssetCapacity,
    BaselineContext,
    BaselineMethod,
    BaselineResult,
    Nominated,
    ProductBaselines,
    ReferenceProfile,
    Targets,
    XofY,
    Zero,
    make_baseline,
)
from .calendar import GBCalendar, bank_holidays, day_types, is_bank_holiday, is_working_day
from .document import (
    DocumentError,
    Invoicing,
    build_document,
    check_document,
    document_inputs,
    settle_document,
)
from .invoices import (
    Invoice,
    InvoiceLine,
    VatTerms,
    invoice_to_csv,
    invoice_to_json,
    invoices_for,
    make_invoice,
)
from .meter import MeterData, MeterGrid, ValidationReport
from .methodology import Methodology, history_start, lookback
from .payments import (
    FLAT,
    SSEN_TIERS,
    PaymentRules,
    PenaltyTerms,
    PerformanceTiers,
    Tier,
    availability_factors,
    availability_lines,
    instruction_lines,
    penalty_lines,
    utilisation_lines,
)
from .periods import (
    SettlementPeriodError,
    from_settlement_period,
    from_settlement_periods,
    period_starts,
    periods_in_day,
    to_settlement_period,
    to_settlement_periods,
    utc_ns,
)
from .rounding import money, round_half_away
from .run import ProductTerms, SettlementInputs, ShardResult, StatementPeriod, merge, settle_shard
from .schema import DataError
from .statements import Statements, build_statements
from .verification import InstructionError, Verification, verify

__all__ = [
    "BL01",
    "FLAT",
    "METHODS",
    "SSEN_TIERS",
    "AssetCapacity",
    "BaselineContext",
    "BaselineMethod",
    "BaselineResult",
    "DataError",
    "DocumentError",
    "GBCalendar",
    "InstructionError",
    "Invoice",
    "InvoiceLine",
    "Invoicing",
    "MeterData",
    "MeterGrid",
    "Methodology",
    "Nominated",
    "PaymentRules",
    "PenaltyTerms",
    "PerformanceTiers",
    "ProductBaselines",
    "ProductTerms",
    "ReferenceProfile",
    "SettlementInputs",
    "SettlementPeriodError",
    "ShardResult",
    "StatementPeriod",
    "Statements",
    "Targets",
    "Tier",
    "ValidationReport",
    "VatTerms",
    "Verification",
    "XofY",
    "Zero",
    "availability_factors",
    "availability_lines",
    "bank_holidays",
    "build_document",
    "build_statements",
    "check_document",
    "day_types",
    "document_inputs",
    "from_settlement_period",
    "from_settlement_periods",
    "history_start",
    "instruction_lines",
    "invoice_to_csv",
    "invoice_to_json",
    "invoices_for",
    "is_bank_holiday",
    "is_working_day",
    "lookback",
    "make_baseline",
    "make_invoice",
    "merge",
    "money",
    "penalty_lines",
    "period_starts",
    "periods_in_day",
    "round_half_away",
    "settle_document",
    "settle_shard",
    "to_settlement_period",
    "to_settlement_periods",
    "utc_ns",
    "utilisation_lines",
    "verify",
]
