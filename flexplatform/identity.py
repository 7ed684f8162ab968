"""Identity: who a caller is. Participants, their API keys and the terms they accepted.

Core, not a stage: authentication (``auth``), notifications and every stage need to know
who a participant is, and none of them should depend on the registration stage to find
out. Registration owns the *rules* for creating and changing these records
(``registration/service.py``); the records and the one question every request asks of
them (which terms are in force?) live here. Table names are unchanged.
"""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, Text, UniqueConstraint, Uuid, select
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from flexplatform.db import Base, str_enum, utcnow


class Role(str, enum.Enum):
    mo = "mo"
    fsp = "fsp"
    regulator = "regulator"
    admin = "admin"
    # Meter data agent: submits readings for the meter points FSPs authorise it for, and
    # calls nothing else (reporting/routes.py).
    mda = "mda"


class ParticipantStatus(str, enum.Enum):
    pending = "pending"
    active = "active"
    suspended = "suspended"


class TermsVersion(Base):
    __tablename__ = "terms_versions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    version: Mapped[str] = mapped_column(String(40), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    body_sha256: Mapped[str] = mapped_column(String(64))
    effective_from: Mapped[dt.datetime] = mapped_column()
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Participant(Base):
    __tablename__ = "participants"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    role: Mapped[Role] = mapped_column(str_enum(Role, 12), index=True)
    legal_name: Mapped[str] = mapped_column(String(200))
    company_number: Mapped[str | None] = mapped_column(String(20), default=None)
    billing_contact: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[ParticipantStatus] = mapped_column(
        str_enum(ParticipantStatus, 12), default=ParticipantStatus.active
    )
    terms_version_id: Mapped[int | None] = mapped_column(
        ForeignKey("terms_versions.id"), default=None
    )
    terms_accepted_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    webhook_url: Mapped[str | None] = mapped_column(String(500), default=None)
    webhook_secret: Mapped[str | None] = mapped_column(String(100), default=None)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    terms_version: Mapped[TermsVersion | None] = relationship(lazy="joined")


class TermsAcceptance(Base):
    """Every acceptance kept (the participant row holds only the latest)."""

    __tablename__ = "terms_acceptances"
    __table_args__ = (UniqueConstraint("participant_id", "terms_version_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    participant_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("participants.id"))
    terms_version_id: Mapped[int] = mapped_column(ForeignKey("terms_versions.id"))
    accepted_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    accepted_by_key: Mapped[str | None] = mapped_column(String(20), default=None)


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    participant_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("participants.id"), index=True
    )
    # Public lookup part of the key; the secret part is stored only as a hash.
    prefix: Mapped[str] = mapped_column(String(20), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    label: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(default=None)

    participant: Mapped[Participant] = relationship(lazy="joined")


def current_terms(session: Session) -> TermsVersion | None:
    """The terms version in force now: the latest whose effective time has come."""
    return session.scalar(
        select(TermsVersion)
        .where(TermsVersion.effective_from <= utcnow())
        .order_by(TermsVersion.effective_from.desc(), TermsVersion.id.desc())
        .limit(1)
    )
