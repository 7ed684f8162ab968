"""Every table, imported in one place so Alembic and ``create_all`` see the whole schema."""

from flexplatform.audit import AuditEvent  # noqa: F401
from flexplatform.competition.models import (  # noqa: F401
    Bid,
    ClearingRound,
    Contract,
    Market,
    Need,
    NeedOutcome,
    RuleSet,
)
from flexplatform.db import Base  # noqa: F401
from flexplatform.governance.models import Product, TechnologyType, Zone  # noqa: F401
from flexplatform.idempotency import IdempotencyRecord  # noqa: F401
from flexplatform.notifications import Notification  # noqa: F401
from flexplatform.registration.models import (  # noqa: F401
    ApiKey,
    Asset,
    Participant,
    Prequalification,
    TermsAcceptance,
    TermsVersion,
)
from flexplatform.reporting.models import (  # noqa: F401
    BaselineMethodology,
    MeterDataGrant,
    MeterPoint,
    MeterReading,
    MeterSubmission,
)
from flexplatform.web.models import WebSession  # noqa: F401
