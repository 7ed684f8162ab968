"""Settlement engine: pure numpy/pandas, no database, no web.

Turns meter data, contracts and dispatch instructions into verified delivery and money:
``periods`` (GB settlement periods), ``calendar`` (day types, bank holidays), ``meter``
(validated, versioned readings), ``baselines`` (BL01, X of Y, nominated, reference
profile, zero, asset capacity), ``verification`` (per-period delivery and performance),
``payments`` and ``statements`` (Decimal money, penny-exact statements).
See docs/settlement.md.
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
from .meter import MeterData, MeterGrid, ValidationReport
from .payments import (
                        FLAT,
                        SSEN_TIERS,
                        PaymentRules,
                        PenaltyTerms,
                        PerformanceTiers,
                        Tier,
                        availability_factors,
                        availability_lines,
                        money,
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
)
from .statements import Statements, build_statements
from .verification import Verification, verify

__all__ = [
                        "BL01",
                        "FLAT",
                        "METHODS",
                        "SSEN_TIERS",
                        "AssetCapacity",
                        "BaselineContext",
                        "BaselineMethod",
                        "BaselineResult",
                        "GBCalendar",
                        "MeterData",
                        "MeterGrid",
                        "Nominated",
                        "PaymentRules",
                        "PenaltyTerms",
                        "PerformanceTiers",
                        "ProductBaselines",
                        "ReferenceProfile",
                        "SettlementPeriodError",
                        "Statements",
                        "Targets",
                        "Tier",
                        "ValidationReport",
                        "Verification",
                        "XofY",
                        "Zero",
                        "availability_factors",
                        "availability_lines",
                        "bank_holidays",
                        "build_statements",
                        "day_types",
                        "from_settlement_period",
                        "from_settlement_periods",
                        "is_bank_holiday",
                        "is_working_day",
                        "make_baseline",
                        "money",
                        "penalty_lines",
                        "period_starts",
                        "periods_in_day",
                        "to_settlement_period",
                        "to_settlement_periods",
                        "utilisation_lines",
                        "verify",
]
