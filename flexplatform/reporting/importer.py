"""``flexplatform meter import FILE``: readings from a CSV or Parquet file, read in batches.

The same checks, versions and all-or-nothing transaction as the API; the file is never
loaded whole. Without ``--as`` the platform operator imports for any registered meter
point (e.g. a data hub's file); with ``--as`` a participant's ownership and grants apply.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from pathlib import Path

from sqlalchemy.orm import Session

from flexplatform.audit import Actor
from flexplatform.auth import Principal
from flexplatform.errors import InvalidInput, field_error
from flexplatform.registration.models import Participant, ParticipantStatus
from flexplatform.reporting import service
from flexplatform.reporting.formats import CsvStream, file_chunks, parquet_batches
from flexplatform.reporting.ingest import Ingest, Outcome
from flexplatform.reporting.validate import MeterAccess

FORMATS = ("csv", "parquet")


def guess_format(path: Path) -> str:
    return "parquet" if path.suffix.lower() in (".parquet", ".pq") else "csv"


def submitter(session: Session, participant_id: uuid.UUID | None) -> Principal | None:
    if participant_id is None:
        return None
    p = session.get(Participant, participant_id)
    if p is None or p.role not in service.AGENT_ROLES or p.status != ParticipantStatus.active:
        raise InvalidInput("--as must name an active fsp or mda participant",
                           errors=[field_error(["as"], "no active fsp or mda with this id")])
    return Principal(participant=p, key_prefix="cli")


def import_file(session: Session, path: Path, fmt: str | None = None,
                as_participant: uuid.UUID | None = None, now: dt.datetime | None = None
                ) -> Outcome:
    """``now``: the clock periods must have ended by (the demo replays a day ahead)."""
    fmt = fmt or guess_format(path)
    who = submitter(session, as_participant)
    actor = Actor(id=str(who.id) if who else None, role="cli")
    ing = Ingest(session, MeterAccess(service.submit_lookup(session, who)),
                 source=f"file-{fmt}", submitted_by=who.id if who else None, actor=actor,
                 filename=path.name[:300], now=now)
    if fmt == "csv":
        stream = CsvStream(file_chunks(path), ing.problems)
        ing.feed(stream)
        return ing.finish(stream.sha256.hexdigest())
    ing.feed(parquet_batches(path))
    digest = hashlib.sha256()
    for chunk in file_chunks(path):
        digest.update(chunk)
    return ing.finish(digest.hexdigest())
