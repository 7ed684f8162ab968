"""Small builders shared by the API tests."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any


@dataclass
class Party:
    id: uuid.UUID
    role: str
    key: str

    @property
    def h(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


def new_mpan() -> str:
    from flexplatform.registration.mpan import make_mpan

    return make_mpan(f"14{uuid.uuid4().int % 10**10:010d}")


def asset_body(**over: Any) -> dict[str, Any]:
    body = {"name": "Battery 1", "mpan": new_mpan(), "zone": "CMZ_NORTH",
            "technology": "battery", "up_mw": 2.0, "down_mw": 2.0, "energy_mwh": 4.0,
            "ramp_mw_per_min": 10.0}
    body.update(over)
    return body
