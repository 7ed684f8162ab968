"""Every table, imported in one place so Alembic and ``create_all`` see the whole schema."""

from flexplatform.audit import AuditCheckpoint, AuditEvent  # noqa: F401
from flexplatform.competition.models import (  # noqa: F401
    Bid,
    ClearingRound,
    Contract,
    Market,
    Need,
    NeedOutcome,
    RuleSet,
)
from flexplatform.competition.transfer_models import (  # noqa: F401
    Transfer,
    TransferClearing,
    TransferOffer,
    TransferPayment,
    TransferSettings,
)
from flexplatform.db import Base  # noqa: F401
from flexplatform.governance.models import Product, TechnologyType, Zone  # noqa: F401
from flexplatform.idempotency import IdempotencyRecord  # noqa: F401
from flexplatform.identity import (  # noqa: F401
    ApiKey,
    Participant,
    TermsAcceptance,
    TermsVersion,
)
from flexplatform.notifications import Notification  # noqa: F401
from flexplatform.openadr.models import OpenadrEvent, VenRegistration, VenResource, VenTelemetry  # noqa: F401
from flexplatform.operations.models import (  # noqa: F401
    AvailabilityDeclaration,
    Conflict,
    DispatchRun,
    Instruction,
    UtilisationRequest,
)
from flexplatform.registration.models import Asset, Prequalification  # noqa: F401
from flexplatform.reporting.models import (  # noqa: F401
    BaselineMethodology,
    MeterDataGrant,
    MeterPoint,
    MeterReading,
    MeterSubmission,
)
from flexplatform.reporting.settlement_models import (  # noqa: F401
    Dispute,
    Invoice,
    InvoiceLine,
    SettlementRun,
    SettlementSettings,
    SettlementShard,
    Statement,
    StatementLine,
    Verification,
)
from flexplatform.transparency.models import (  # noqa: F401
    CarbonIntensity,
    TransparencyReport,
    ZoneCarbonRegion,
)
from flexplatform.transparency.monitoring_models import (  # noqa: F401
    AssetRating,
    AuthFailure,
    MonitoringFlag,
    MonitoringRun,
)
from flexplatform.web.models import WebSession  # noqa: F401
