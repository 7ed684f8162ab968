"""MPAN core validation.

The 13-digit MPAN core ends in a check digit: multiply the first 12 digits by the primes
3, 5, 7, 13, 17, 19, 23, 29, 31, 37, 41, 43, sum, take the sum modulo 11 and then modulo 10
(MRA Data Transfer Catalogue / Elexon). The first two digits are the distributor id.
"""

from __future__ import annotations

PRIMES = (3, 5, 7, 13, 17, 19, 23, 29, 31, 37, 41, 43)
# Distributor ids 10-23 are the 14 GB licensed DNO areas; others are IDNOs (24+) and are
# accepted too, since independent networks host flexible assets as well.


def check_digit(first12: str) -> int:
    return sum(int(d) * p for d, p in zip(first12, PRIMES, strict=True)) % 11 % 10


def mpan_problem(value: str) -> str | None:
    """Why ``value`` is not a valid MPAN core, or None if it is."""
    if not isinstance(value, str) or len(value) != 13 or not value.isdigit():
        return "MPAN core must be exactly 13 digits"
    if int(value[12]) != check_digit(value[:12]):
        return f"MPAN check digit should be {check_digit(value[:12])}, not {value[12]}"
    return None


def make_mpan(first12: str) -> str:
    """Complete 12 digits with their check digit (demo and test data)."""
    return first12 + str(check_digit(first12))
