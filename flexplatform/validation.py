"""Input rules every endpoint shares, written once instead of at each field.

- **No NUL.** Postgres text and JSON cannot hold U+0000, so a NUL in any string reached the
  database as a 500 (14 places). :func:`refuse_nul` runs before every route and refuses a
  NUL in the path, the query or anywhere in a JSON body (keys included) with a 422 naming
  the field, on every backend alike.
- **Integers that fit.** ``INTEGER`` columns hold 32 bits and ``BIGINT`` 64; a larger
  number in ``offset``, ``after_seq`` or a path version overflowed the driver (500).
  :data:`Offset`, :data:`Seq` and :data:`Version` bound them where they are declared.
- **Times are ISO 8601 text.** Pydantic's lax mode reads ``0`` or ``"0.5"`` as a Unix
  time, so ``effective_from: 0`` and ``window_to=0.5`` were accepted as 1970.
  :data:`Timestamp` takes only an ISO 8601 string (or a ``datetime`` from Python callers)
  with a UTC offset.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import Path, Query, Request
from pydantic import AwareDatetime, BeforeValidator

from flexplatform.errors import InvalidInput, field_error

INT32_MAX = 2**31 - 1
INT64_MAX = 2**63 - 1

NUL = "\x00"
# How a NUL can appear in JSON text: only as the escape \u0000 (a raw NUL byte is not JSON).
_NUL_ESCAPE = b"\\u0000"


def escaped_nul(body: bytes) -> bool:
    """True if ``body`` holds a real ``\\u0000`` escape (not an escaped backslash + u0000)."""
    i = body.find(_NUL_ESCAPE)
    while i >= 0:
        j = i
        while j > 0 and body[j - 1] == 0x5C:  # backslashes before this one
            j -= 1
        if (i - j) % 2 == 0:  # an even run before it: this backslash starts an escape
            return True
        i = body.find(_NUL_ESCAPE, i + 1)
    return False


def _nul_paths(value: Any, at: list[Any]) -> Iterator[list[Any]]:
    if isinstance(value, str):
        if NUL in value:
            yield at
    elif isinstance(value, dict):
        for k, v in value.items():
            if NUL in k:
                yield [*at, k]
            yield from _nul_paths(v, [*at, k])
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _nul_paths(v, [*at, i])


def _refuse(locs: list[list[Any]]) -> None:
    if locs:
        raise InvalidInput("NUL characters are not accepted", errors=[
            field_error(loc, "contains a NUL character (U+0000), which is not accepted",
                        type="nul_character") for loc in locs[:100]])


async def refuse_nul(request: Request) -> None:
    """Dependency on every route: a NUL anywhere in the input is a 422 naming the field."""
    locs = [["path", k] for k, v in request.path_params.items()
            if isinstance(v, str) and NUL in v]
    locs += [["query", k] for k, v in request.query_params.multi_items()
             if NUL in k or NUL in v]
    # Only JSON bodies (or untyped ones, which FastAPI parses as JSON) are read here: a
    # streamed upload (CSV readings) must never be buffered whole, and its own parser
    # refuses any field a NUL could hide in (MPANs are digits, starts timestamps, values
    # numbers).
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype and not (ctype == "application/json" or ctype.endswith("+json")):
        _refuse(locs)
        return
    body = await request.body()
    if body and escaped_nul(body):
        try:
            doc = json.loads(body)
        except ValueError:
            doc = None  # malformed JSON: the route's own parsing answers 400
        if doc is not None:
            locs += list(_nul_paths(doc, []))
    _refuse(locs)


Offset = Annotated[int, Query(ge=0, le=INT32_MAX, description="rows to skip")]
Seq = Annotated[int, Query(ge=0, le=INT64_MAX)]
Version = Annotated[int, Path(ge=1, le=INT32_MAX)]
# Integer row ids in a path: a value past the column's range names nothing (404 in the
# service would need a query Postgres refuses; 422 says why).
RowId = Annotated[int, Path(ge=1, le=INT32_MAX)]

# Taxonomy codes, and terms versions (a path segment: a '/' or '?' in one could never be
# accepted, and every trading action would stop behind it).
CODE_PATTERN = r"^[A-Za-z0-9_\-\.]+$"
TERMS_VERSION_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"
CodePath = Annotated[str, Path(min_length=1, max_length=60, pattern=CODE_PATTERN)]
TermsVersionPath = Annotated[str, Path(min_length=1, max_length=40,
                                       pattern=TERMS_VERSION_PATTERN)]

_ISO = re.compile(r"^\s*\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")


def _iso_only(v: Any) -> Any:
    if isinstance(v, dt.datetime) or (isinstance(v, str) and _ISO.match(v)):
        return v
    raise ValueError("a time is an ISO 8601 string with a UTC offset, "
                     "e.g. 2026-06-01T17:00:00Z")


Timestamp = Annotated[AwareDatetime, BeforeValidator(_iso_only)]
