"""Taxonomy kept as data: admins change products, technologies and zones without a release.

A product change re-runs prequalification for every asset, which is why products carry
the technical limits (notice, durations, minimum size) that prequalification checks.
"""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Integer, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from flexplatform.db import Base, str_enum, utcnow


class Direction(str, enum.Enum):
    up = "up"
    down = "down"
    both = "both"


class ZoneKind(str, enum.Enum):
    cmz = "cmz"  # constraint managed zone under a DSO
    gsp_group = "gsp_group"
    gb = "gb"


class TechnologyType(Base):
    __tablename__ = "technology_types"

    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    stores_energy: Mapped[bool] = mapped_column(Boolean, default=False)
    default_emission_t_per_mwh: Mapped[float] = mapped_column(Float, default=0.0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Product(Base):
    __tablename__ = "products"

    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    operator_kind: Mapped[str] = mapped_column(String(10))  # dso | eso | supplier
    direction: Mapped[Direction] = mapped_column(str_enum(Direction, 10))
    notice_minutes: Mapped[int] = mapped_column(Integer)
    min_utilisation_minutes: Mapped[int] = mapped_column(Integer)
    max_utilisation_minutes: Mapped[int] = mapped_column(Integer)
    stacking_class: Mapped[str] = mapped_column(String(40))
    min_mw: Mapped[float] = mapped_column(Float, default=0.0)
    # Empty list: any technology may qualify.
    allowed_technologies: Mapped[list[Any]] = mapped_column(JSON, default=list)
    accepts_pre_energisation: Mapped[bool] = mapped_column(Boolean, default=False)
    # Operations rules as data (declaration deadline, acknowledgement minutes, whether an
    # undeclared asset counts as available, day-ahead batch time); keys and defaults in
    # flexplatform.operations.rules.
    operations_rules: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Zone(Base):
    __tablename__ = "zones"

    code: Mapped[str] = mapped_column(String(60), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[ZoneKind] = mapped_column(str_enum(ZoneKind, 12))
    parent_code: Mapped[str | None] = mapped_column(ForeignKey("zones.code"), default=None)
    dso: Mapped[str | None] = mapped_column(String(60), default=None)
    operator_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("participants.id"), default=None
    )
