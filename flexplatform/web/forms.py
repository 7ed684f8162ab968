"""Forms: from posted fields to the services' input models, and errors back to the fields.

Form fields are named after the fields of the API's input models, with dots for nesting
(``needs.0.product``), so the JSON pointers a service puts in ``DomainError.errors``
(``/needs/0/product``) and pydantic's error locations name the form field directly, and
one rule places every message next to its input. A message with no location (a
cross-field check) goes to the field it names first, else to the summary at the top.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import Session
from starlette.datastructures import FormData, UploadFile

from flexplatform.db import discard_after_commit
from flexplatform.errors import DomainError, InvalidInput, field_error

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)
MAX_CSV_BYTES = 20 * 1024 * 1024
_FIELD_IN_MESSAGE = re.compile(r"^(\w+)(?:\[(\d+)\]\.(\w+))?")


class FormErrors:
    """Messages per form field, plus those that belong to no field."""

    def __init__(self, errors: Iterable[dict[str, Any]] = (), fields: Iterable[str] = (),
                 detail: str | None = None):
        self.by_field: dict[str, list[str]] = {}
        self.general: list[str] = []
        self.detail = detail
        known = set(fields)
        for e in errors:
            name = _field_name(e)
            msg = _clean(e.get("message", "invalid"))
            if not name:
                name = _named_in(msg, known) or ""
            if name:
                self.by_field.setdefault(name, []).append(msg)
            else:
                self.general.append(msg)

    def __bool__(self) -> bool:
        return bool(self.by_field or self.general)

    def get(self, name: str) -> list[str]:
        """Messages for ``name`` and anything below it (``needs.0.mw.3`` under ``needs.0.mw``)."""
        out = list(self.by_field.get(name, []))
        for k, v in self.by_field.items():
            if k.startswith(name + "."):
                out += v
        return out

    def all(self) -> list[tuple[str, str, str]]:
        """(field, readable field name, message) for the summary; field '' for general ones."""
        return [(k, readable(k), m) for k, ms in self.by_field.items() for m in ms] + \
               [("", "", m) for m in self.general]


_UNITS = {"mw": "MW", "mwh": "MWh", "mpan": "MPAN", "id": "id", "csrf": "CSRF"}


def readable(name: str) -> str:
    """A form field's name as words for the error summary: ``needs.0.mw`` -> ``need 1: MW``."""
    parts = name.split(".")
    out = []
    i = 0
    while i < len(parts):
        p = parts[i]
        if i + 1 < len(parts) and parts[i + 1].isdigit():
            out.append(f"{p.rstrip('s')} {int(parts[i + 1]) + 1}")
            i += 2
            continue
        out.append(" ".join(_UNITS.get(w, w) for w in p.split("_")))
        i += 1
    return ": ".join(out)


def _field_name(e: dict[str, Any]) -> str:
    name = str(e.get("field") or "")
    for prefix in ("body.", "query."):
        if name.startswith(prefix):
            name = name[len(prefix):]
    return "" if name == "body" else name


def _clean(msg: str) -> str:
    return msg.removeprefix("Value error, ").removeprefix("Assertion failed, ")


def _named_in(msg: str, known: set[str]) -> str | None:
    """The form field a cross-field message starts with ("gate_close_at must ...")."""
    m = _FIELD_IN_MESSAGE.match(msg)
    if not m:
        return None
    name = f"{m[1]}.{m[2]}.{m[3]}" if m[2] else m[1]
    return name if name in known else None


def validation_errors(e: ValidationError, base: Iterable[Any] = ()) -> list[dict[str, Any]]:
    """pydantic errors in the services' shape (one entry per field, a JSON pointer)."""
    return [field_error([*base, *err["loc"]], err["msg"]) for err in e.errors(include_url=False)]


def parse(model: type[M], data: dict[str, Any]) -> M:
    """Validate form values with the API's own input model; InvalidInput names each field."""
    try:
        return model.model_validate(data)
    except ValidationError as e:
        raise InvalidInput("the form has errors", errors=validation_errors(e)) from None


def attempt(session: Session, fn: Callable[[], T]) -> T:
    """Run one service call in a SAVEPOINT: on a DomainError nothing it wrote survives.

    A form re-shown with its errors is still a successful request whose transaction commits,
    so what the failed call had already changed (an attribute set before a check) is rolled
    back here, and so are the after-commit hooks (task enqueues) it registered.
    """
    hooks = list(session.info.get("after_commit", []))
    try:
        with session.begin_nested():
            return fn()
    except DomainError:
        discard_after_commit(session)
        if hooks:
            session.info["after_commit"] = hooks
        raise


DIRECTIONS = [("up", "Up (more generation or less demand)"),
              ("down", "Down (less generation or more demand)")]


def choices(session: Session) -> dict[str, list[tuple[str, str]]]:
    """Options for the taxonomy selects, read through the governance service.

    Needs target a constraint managed zone or GB (never a GSP group), as the competition
    service requires; assets may sit in any zone.
    """
    from flexplatform.governance import service as taxonomy
    from flexplatform.governance.models import ZoneKind

    zones = taxonomy.list_zones(session)
    return {
        "product_options": [(p.code, f"{p.name} ({p.code})")
                            for p in taxonomy.list_products(session) if p.active],
        "zone_options": [(z.code, f"{z.name} ({z.code})") for z in zones
                         if z.kind != ZoneKind.gsp_group],
        "asset_zone_options": [(z.code, f"{z.name} ({z.code})") for z in zones],
        "technology_options": [(t.code, t.name) for t in taxonomy.list_technologies(session)
                               if t.active],
        "direction_options": DIRECTIONS,
    }


def values(form: FormData, names: Iterable[str]) -> dict[str, Any]:
    """The non-empty posted values of ``names``: an empty input means 'not given'."""
    out: dict[str, Any] = {}
    for n in names:
        v = form.get(n)
        if isinstance(v, str) and v.strip() != "":
            out[n] = v.strip()
    return out


def raw(form: FormData, names: Iterable[str]) -> dict[str, str]:
    """What was typed, to show the form again as the user left it."""
    return {n: v for n in names if isinstance(v := form.get(n), str)}


def utc(value: str | None) -> str | None:
    """A ``datetime-local`` value (no offset) read as UTC, as the form's labels say."""
    if not value:
        return None
    v = value.strip()
    if re.search(r"(Z|[+-]\d\d:\d\d)$", v):
        return v
    return v + "+00:00"


def local_input(t: dt.datetime) -> str:
    """A UTC time as a ``datetime-local`` input value (seconds kept)."""
    return t.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S")


def profile(text: str | None, periods: int | None) -> list[str] | str | None:
    """MW per period: one number for every period, or one per period.

    Values may be separated by commas, semicolons or spaces. With one number and a known
    period count the number is repeated; anything unparseable is handed on unchanged so
    the model reports it against the field.
    """
    if text is None or not text.strip():
        return None
    parts = [p for p in re.split(r"[,;\s]+", text.strip()) if p]
    if len(parts) == 1 and periods and periods > 0:
        return parts * periods
    return parts


def periods_between(start: str | None, end: str | None) -> int | None:
    try:
        a = dt.datetime.fromisoformat(utc(start) or "")
        b = dt.datetime.fromisoformat(utc(end) or "")
    except ValueError:
        return None
    n = int((b - a).total_seconds() // 1800)
    return n if n > 0 else None


def read_csv(upload: Any, required: Iterable[str]) -> list[dict[str, str]]:
    """Rows of an uploaded CSV (UTF-8, header row); empty cells are dropped.

    Raises InvalidInput against the ``file`` field for a missing, oversized, undecodable or
    headerless file, so the upload form shows why.
    """
    if not isinstance(upload, UploadFile) or not upload.filename:
        raise InvalidInput("no file", errors=[field_error(["file"], "choose a CSV file")])
    data = upload.file.read(MAX_CSV_BYTES + 1)
    if len(data) > MAX_CSV_BYTES:
        raise InvalidInput("file too large", errors=[field_error(
            ["file"], f"the file is over {MAX_CSV_BYTES // (1024 * 1024)} MiB")])
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInput("not UTF-8", errors=[field_error(
            ["file"], "the file is not UTF-8 text")]) from None
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip() for h in reader.fieldnames or []]
    missing = [c for c in required if c not in header]
    if missing:
        raise InvalidInput("missing columns", errors=[field_error(
            ["file"], f"the header row lacks column(s): {', '.join(missing)}")])
    rows = []
    for r in reader:
        row = {(k or "").strip(): (v or "").strip() for k, v in r.items() if k is not None}
        row = {k: v for k, v in row.items() if v != ""}
        if row:
            rows.append(row)
    if not rows:
        raise InvalidInput("empty file", errors=[field_error(["file"], "the file has no rows")])
    return rows


def upload_refused(e: InvalidInput, collection: str) -> dict[str, Any]:
    """What ``forms.upload`` shows for a refused file: the file's own problems next to its
    input, the rows' problems by line and column."""
    rows = [r for r in row_errors(e.errors, collection) if r["column"] != "file"]
    return {"errors": FormErrors([x for x in e.errors if x.get("field") == "file"], ["file"],
                                 e.detail),
            "problems": {"rows": rows, "detail": e.detail,
                         "error_count": e.extra.get("error_count", len(rows))}}


def row_errors(errors: Iterable[dict[str, Any]], collection: str) -> list[dict[str, Any]]:
    """Bulk errors (``/assets/3/mpan``) as CSV lines people can find (line 5, mpan)."""
    out = []
    for e in errors:
        parts = e.get("pointer", "").strip("/").split("/")
        if len(parts) >= 2 and parts[0] == collection and parts[1].isdigit():
            out.append({"line": int(parts[1]) + 2, "column": ".".join(parts[2:]) or "-",
                        "message": _clean(e.get("message", "invalid"))})
        else:
            out.append({"line": "-", "column": ".".join(parts) or "-",
                        "message": _clean(e.get("message", "invalid"))})
    return out
