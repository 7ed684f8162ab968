"""Which assets an MO may see: those that have bid on its needs (chain.md).

Bids arrive with the competition stage; until then an MO sees no assets.
"""

from __future__ import annotations

import uuid

from sqlalchemy import Select, false, select
from sqlalchemy.orm import Session

from flexplatform.registration.models import Asset


def mo_visible_assets(mo_id: uuid.UUID) -> Select:
    return select(Asset.id).where(false())


def mo_can_see_asset(session: Session, asset_id: uuid.UUID, mo_id: uuid.UUID) -> bool:
    return False
