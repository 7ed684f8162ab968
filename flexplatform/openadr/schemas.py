"""Request and response bodies of the VEN registration endpoints."""

from __future__ import annotations

import datetime as dt
import uuid

from pydantic import Field

from flexplatform.registration.schemas import Input, Output

FINGERPRINT = r"^([0-9A-Fa-f]{2}:){9}[0-9A-Fa-f]{2}$"


class ResourceIn(Input):
    resource_id: str = Field(min_length=1, max_length=120, pattern=r"^[A-Za-z0-9._:-]+$",
                             description="the VEN's own name for the resource (its targets "
                                         "and report data sources use it)")
    asset_id: uuid.UUID = Field(description="one of the FSP's assets")


class VenCreate(Input):
    ven_name: str = Field(min_length=1, max_length=120, pattern=r"^[A-Za-z0-9._-]+$",
                          description="the venName the VEN sends in oadrCreatePartyRegistration")
    fingerprint: str = Field(pattern=FINGERPRINT, description="OpenADR fingerprint of the "
                             "VEN's client certificate: 10 colon-separated hex bytes")
    resources: list[ResourceIn] = Field(min_length=1, max_length=500)


class ResourceOut(Output):
    resource_id: str
    asset_id: uuid.UUID


class VenOut(Output):
    ven_id: str
    ven_name: str
    fsp_id: uuid.UUID
    fingerprint: str
    registered: bool = Field(description="the VEN has completed oadrCreatePartyRegistration")
    active: bool
    resources: list[ResourceOut]
    created_at: dt.datetime
    registered_at: dt.datetime | None
    last_seen_at: dt.datetime | None


class EventOut(Output):
    event_id: str
    instruction_id: uuid.UUID
    ven_id: str
    resource_id: str
    status: str
    opt_type: str | None
    outcome: str | None
    created_at: dt.datetime
    delivered_at: dt.datetime | None
    responded_at: dt.datetime | None
