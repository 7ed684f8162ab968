"""Best-product advice for one asset (advice-request-v1 in, advice-result-v1 out), pure.

Public API: `load_advice_request` -> `AdviceRequest`; `advise(request, AdviceOptions())` ->
`AdviceResult` (`.to_dict()` is JSON); `history_groups` builds the request's history from
past records. docs/advice.md has the formats, the estimators, the MILP and the reasons.
"""

from .engine import advise
from .estimators import EstimatorSettings
from .history import history_groups
from .reasons import MEANING, REASONS
from .request import AdviceRequest, AdviceRequestError, load_advice_request
from .result import AdviceOptions, AdviceResult

__all__ = [
    "MEANING", "REASONS", "AdviceOptions", "AdviceRequest", "AdviceRequestError",
    "AdviceResult", "EstimatorSettings", "advise", "history_groups", "load_advice_request",
]
