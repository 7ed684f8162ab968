"""Reading versioned settlement data (methodologies, payment rules, VAT, documents).

Every ``from_dict`` in the engine checks the whole input and raises one
:class:`DataError` listing every bad field with its path (``"params.y"``,
``"utilisation_tiers[1].upper"``), so the platform can answer a 4xx naming each one
instead of failing on the first.  Numbers that become money or ratios are read as
``Decimal`` (strings or ints in JSON, never floats: a float has no exact decimal value).
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import date, time
from decimal import Decimal, InvalidOperation

__all__ = ["DataError", "Fields", "canonical_json", "sha256_hex", "to_decimal"]


class DataError(ValueError):
    """Invalid data; ``errors`` is a list of ``(path, message)``, every problem found."""

    def __init__(self, errors: list[tuple[str, str]], what: str = "data"):
        self.errors = list(errors)
        super().__init__(f"invalid {what}: " + "; ".join(f"{p}: {m}" for p, m in self.errors))


class _Default:
    """A default stood in for an absent field (so it is not validated as input)."""

    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value


class Fields:
    """Reads fields of one mapping, collecting errors instead of raising at the first."""

    def __init__(self, data, prefix: str = "", errors: list | None = None):
        self.errors: list[tuple[str, str]] = [] if errors is None else errors
        self.prefix = prefix
        if not isinstance(data, Mapping):
            self.errors.append((prefix or "(root)", f"must be an object, not {type(data).__name__}"))
            data = {}
        self.data = data
        self.seen: set[str] = set()

    def path(self, name: str) -> str:
        return f"{self.prefix}.{name}" if self.prefix else name

    def error(self, name: str, message: str) -> None:
        self.errors.append((self.path(name), message))

    def raw(self, name: str, default=...):
        """The value, or ``default`` when absent or null (an error if no default)."""
        self.seen.add(name)
        if name not in self.data or self.data[name] is None:
            if default is ...:
                self.error(name, "is required")
                return None
            return _Default(default)
        return self.data[name]

    def value(self, name: str, default=...):
        """The raw value (a nested object or list), or ``default`` when absent."""
        v = self.raw(name, default)
        return v.value if isinstance(v, _Default) else v

    def integer(self, name, default=..., lo=None, hi=None) -> int | None:
        v = self.raw(name, default)
        if v is None or isinstance(v, _Default):
            return None if v is None else v.value
        if isinstance(v, bool) or not isinstance(v, int):
            self.error(name, f"must be an integer, not {v!r}")
            return None
        if (lo is not None and v < lo) or (hi is not None and v > hi):
            self.error(name, f"must be in {lo if lo is not None else '-inf'}.."
                             f"{hi if hi is not None else 'inf'}, not {v}")
            return None
        return v

    def decimal(self, name, default=..., lo=None, hi=None, places: int | None = None
                ) -> Decimal | None:
        v = self.raw(name, default)
        if v is None or isinstance(v, _Default):
            return None if v is None or v.value is None else Decimal(v.value)
        d = to_decimal(v)
        if d is None:
            self.error(name, f"must be a decimal number as a string (e.g. \"0.5\"), not {v!r}")
            return None
        if (lo is not None and d < Decimal(lo)) or (hi is not None and d > Decimal(hi)):
            self.error(name, f"must be in {lo}..{hi}, not {d}")
            return None
        if places is not None and d != d.quantize(Decimal(1).scaleb(-places)):
            self.error(name, f"has more than {places} decimal places: {d}")
            return None
        return d

    def choice(self, name, options, default=...) -> str | None:
        v = self.raw(name, default)
        if v is None or isinstance(v, _Default):
            return None if v is None else v.value
        if v not in options:
            self.error(name, f"must be one of {', '.join(map(str, options))}, not {v!r}")
            return None
        return v

    def string(self, name, default=...) -> str | None:
        v = self.raw(name, default)
        if v is None or isinstance(v, _Default):
            return None if v is None else v.value
        if not isinstance(v, str) or not v:
            self.error(name, f"must be a non-empty string, not {v!r}")
            return None
        return v

    def clock_time(self, name, default=...) -> time | None:
        v = self.raw(name, default)
        if v is None or isinstance(v, _Default):
            return None if v is None else v.value
        if isinstance(v, time):
            return v
        try:
            return time.fromisoformat(v)
        except (TypeError, ValueError):
            self.error(name, f"must be a local time HH:MM, not {v!r}")
            return None

    def day(self, name, default=...) -> date | None:
        v = self.raw(name, default)
        if v is None or isinstance(v, _Default):
            return None if v is None else v.value
        if isinstance(v, date):
            return v
        try:
            return date.fromisoformat(v)
        except (TypeError, ValueError):
            self.error(name, f"must be a date YYYY-MM-DD, not {v!r}")
            return None

    def unknown(self, allowed=None) -> None:
        """Report fields nobody read (typos must not pass as defaults)."""
        allowed = self.seen if allowed is None else set(allowed)
        for k in self.data:
            if k not in allowed:
                self.error(k, "is not a known field")


def to_decimal(v) -> Decimal | None:
    """Decimal of a str, int or Decimal; None for floats, bools and junk."""
    if isinstance(v, bool | float):
        return None
    if isinstance(v, Decimal):
        return v if v.is_finite() else None
    if isinstance(v, int):
        return Decimal(v)
    if isinstance(v, str):
        try:
            d = Decimal(v.strip())
        except InvalidOperation:
            return None
        return d if d.is_finite() else None
    return None


def canonical_json(obj) -> bytes:
    """The one byte form of a JSON value used for hashes and comparisons: UTF-8, keys
    sorted, no whitespace.  Floats are refused (their decimal form is not unique across
    implementations): money, ratios and volumes travel as decimal strings."""
    stack = [obj]
    while stack:  # iterative, exact-type checks: documents hold ~10^5 values
        v = stack.pop()
        t = type(v)
        if t is float:
            raise TypeError(f"float {v!r} in canonical JSON: give it as a decimal string")
        if t is dict:
            stack.extend(v.values())
        elif t is list or t is tuple:
            stack.extend(v)
        elif t not in (str, int, bool, type(None)):
            if isinstance(v, float):
                raise TypeError(f"float {v!r} in canonical JSON: give it as a decimal string")
            if isinstance(v, Mapping):
                stack.extend(v.values())
            elif isinstance(v, list | tuple):
                stack.extend(v)
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


def sha256_hex(obj) -> str:
    """SHA-256 of :func:`canonical_json` of ``obj``."""
    return hashlib.sha256(canonical_json(obj)).hexdigest()
