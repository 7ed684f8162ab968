"""The operations stage's service surface for other stages (settlement, reporting,
monitoring, OpenADR): they import from here, never from the modules behind it."""

from __future__ import annotations

from flexplatform.operations.availability import availability_factor, declare, monitoring
from flexplatform.operations.instructions import acknowledge, instructions_between, sweep
from flexplatform.operations.requests import cancel
from flexplatform.operations.requests import create as create_request

__all__ = ["acknowledge", "availability_factor", "cancel", "create_request", "declare",
           "instructions_between", "monitoring", "sweep"]
