"""Real-data basis of the demo market day (``flexplatform demo``).

Pure, offline loaders for the small data files shipped in ``flexplatform/demo_data/``
(see ``ATTRIBUTION.md`` there for sources, licences and how the samples were selected):

* ``nged_trades_sample.csv``: rows of NGED's flexibility trade results (unchanged values),
  one trade opportunity per CMZ, 19 CMZs, Sustain / Secure / Dynamic.
* ``carbon_intensity_sample.csv``: one winter week (2023-01-23 .. 2023-01-29 UTC) of the
  GB national carbon intensity (Carbon Intensity API, NESO).

Units and conversions
---------------------
NGED columns: capacities in kW; ``... Availability Price`` and ``... Utilisation Price`` in
GBP/MWh; ``... Sustain Price`` in GBP/kW/season.

* MW = kW / 1000.
* Availability price (Secure, Dynamic): GBP/MWh of availability is GBP per MW per hour of
  availability, so ``availability_price [GBP/MW/h] = NGED availability price [GBP/MWh]``.
* Utilisation price: GBP/MWh, unchanged. (Sustain has no utilisation payment: 0.)
* Sustain price (Sustain only) in GBP/kW/season is spread over the season's service hours::

      service_hours = (number of dates d with delivery_start <= d <= delivery_end
                       whose weekday is in the service days)
                      * (window_end - window_start in hours; +24 h if the window wraps midnight)
      availability_price [GBP/MW/h] = sustain_price [GBP/kW/season] * 1000 / service_hours

  Example: 10.57 GBP/kW/season, Mon-Fri 2024-11-04 .. 2025-02-28 (85 weekdays), 16:00-20:00
  (4 h) gives 340 h and 10.57 * 1000 / 340 = 31.088... GBP/MW/h. Bank holidays are not removed.

Needs
-----
The sample holds exactly one NGED trade opportunity per CMZ, so there is one ``DemoNeed`` per
CMZ. An opportunity's rows can carry several sub-requirements (different windows, days or peak
capacities); the need summarises them: ``peak_mw`` is the largest ``Peak Tendered Capacity``,
the window runs from the earliest ``Earliest Start Time`` to the latest ``Latest End Time``,
``service_days`` is the union of the rows' service days (Monday-first order), the delivery period
runs from the earliest start date to the latest end date. Ceiling prices are constant within an
opportunity in the source.

Offers
------
One ``DemoOffer`` per CSV row. NGED lists a portfolio offer once per technology in it: such rows
repeat the same offered capacity and prices and share an ``offer_id``; do not sum their
``offered_mw`` (``number_of_assets`` and ``installed_mw`` are per technology and may be summed).
Some rejected rows offer 0 kW (NGED records a non-offer on a sub-window as Rejected).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent.parent / "demo_data"
NGED_FILE = DATA_DIR / "nged_trades_sample.csv"
CARBON_FILE = DATA_DIR / "carbon_intensity_sample.csv"

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
NO_RESPONSE_COMPANY = "0"

# ---------------------------------------------------------------------------------------------
# Technologies
# ---------------------------------------------------------------------------------------------

#: Platform technology codes. ``emission_t_per_mwh`` is the typical *direct* emission per MWh of
#: flexibility delivered (demand-side and storage actions emit nothing at the point of use; their
#: system effect is valued with the grid carbon intensity). ``can_up`` = can raise export or cut
#: demand (what a DSO constraint product buys); ``can_down`` = can raise demand or cut export;
#: ``stores_energy`` = energy-limited with a payback/rebound (battery, EV battery, thermal store).
TECHNOLOGIES: dict[str, dict] = {
    "battery": {"name": "Battery storage", "emission_t_per_mwh": 0.0,
                "can_up": True, "can_down": True, "stores_energy": True},
    "ev_charging": {"name": "EV smart charging", "emission_t_per_mwh": 0.0,
                    "can_up": True, "can_down": True, "stores_energy": True},
    "heat_pump": {"name": "Heat pump (thermal inertia)", "emission_t_per_mwh": 0.0,
                  "can_up": True, "can_down": True, "stores_energy": True},
    "industrial_dsr": {"name": "Industrial / commercial demand response", "emission_t_per_mwh": 0.0,
                       "can_up": True, "can_down": False, "stores_energy": False},
    # Gas reciprocating engine, ~0.45 tCO2/MWh electrical (diesel would be ~0.65-0.75).
    "generator": {"name": "Dispatchable generator (engine)", "emission_t_per_mwh": 0.45,
                  "can_up": True, "can_down": False, "stores_energy": False},
    "domestic_demand": {"name": "Domestic demand turn-down", "emission_t_per_mwh": 0.0,
                        "can_up": True, "can_down": False, "stores_energy": False},
    # Solar can only be curtailed (turn down export); it cannot raise output on request.
    "solar": {"name": "Solar PV", "emission_t_per_mwh": 0.0,
              "can_up": False, "can_down": True, "stores_energy": False},
    "other": {"name": "Other", "emission_t_per_mwh": 0.0,
              "can_up": True, "can_down": False, "stores_energy": False},
}

#: Exact NGED ``Technology Type`` strings (all seven found in the full 2023-2025 results).
_NGED_TECHNOLOGY: dict[str, str] = {
    "battery, compressed air system": "battery",
    "ev charge point": "ev_charging",
    "air source heat pump": "heat_pump",
    "hybrid heat pump": "heat_pump",
    "household demand": "domestic_demand",
    "engine (combustion / reciprocating)": "generator",
    "photovoltaic": "solar",
}

#: Keyword fallback for other NGED / DNO strings, checked in order.
_KEYWORDS: tuple[tuple[str, str], ...] = (
    ("batter", "battery"), ("storage", "battery"),
    ("ev ", "ev_charging"), ("electric vehicle", "ev_charging"), ("charge point", "ev_charging"),
    ("charger", "ev_charging"), ("heat pump", "heat_pump"),
    ("industrial", "industrial_dsr"), ("commercial", "industrial_dsr"), ("site demand", "industrial_dsr"),
    ("engine", "generator"), ("generator", "generator"), ("chp", "generator"), ("diesel", "generator"),
    ("gas", "generator"),
    ("household", "domestic_demand"), ("domestic", "domestic_demand"), ("residential", "domestic_demand"),
    ("photovoltaic", "solar"), ("solar", "solar"), ("pv", "solar"),
)


def technology_map(nged_technology: str) -> str:
    """Map an NGED ``Technology Type`` string to a platform technology code.

    Exact mapping: "Battery, compressed air system" -> battery; "EV charge point" -> ev_charging;
    "Air source heat pump" and "Hybrid heat pump" -> heat_pump; "Household demand" ->
    domestic_demand; "Engine (combustion / reciprocating)" -> generator; "Photovoltaic" -> solar.
    Other strings are matched by keyword (battery/storage, EV/charger, heat pump, industrial/
    commercial/site demand, engine/generator/CHP/diesel/gas, household/domestic, solar/PV);
    anything else (including blank) -> ``other``. Case-insensitive.
    """
    key = " ".join((nged_technology or "").lower().split())
    if key in _NGED_TECHNOLOGY:
        return _NGED_TECHNOLOGY[key]
    padded = f" {key} "
    for word, code in _KEYWORDS:
        if word in padded:
            return code
    return "other"


# ---------------------------------------------------------------------------------------------
# Unit conversions
# ---------------------------------------------------------------------------------------------


def _parse_days(text: str) -> list[str]:
    days = {d.strip() for d in text.split(",") if d.strip()}
    unknown = days - set(WEEKDAYS)
    if unknown:
        raise ValueError(f"unknown service day(s) {sorted(unknown)}")
    return [d for d in WEEKDAYS if d in days]


def _window_hours(start: time, end: time) -> float:
    h = (datetime.combine(date.min, end) - datetime.combine(date.min, start)).total_seconds() / 3600
    return h if h > 0 else h + 24.0


def service_hours(delivery_start: date, delivery_end: date, service_days: list[str],
                  window_start: time, window_end: time) -> float:
    """Hours of service in a season: matching weekdays in [start, end] x window length."""
    wanted = {WEEKDAYS.index(d) for d in service_days}
    n_days = sum(
        1 for i in range((delivery_end - delivery_start).days + 1)
        if (delivery_start + timedelta(days=i)).weekday() in wanted
    )
    return n_days * _window_hours(window_start, window_end)


def sustain_to_gbp_per_mw_h(price_gbp_per_kw_season: float, hours: float) -> float:
    """GBP/kW/season -> GBP/MW/h: ``price * 1000 / service_hours``."""
    if price_gbp_per_kw_season == 0:
        return 0.0
    if hours <= 0:
        raise ValueError("a Sustain price needs positive service hours")
    return price_gbp_per_kw_season * 1000.0 / hours


# ---------------------------------------------------------------------------------------------
# Dataclasses
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DemoNeed:
    """An NGED CMZ requirement (one trade opportunity).

    ``peak_mw`` = Peak Tendered Capacity [kW] / 1000. ``ceiling_availability_price`` is GBP/MW/h:
    for Secure/Dynamic the NGED ceiling availability price in GBP/MWh unchanged; for Sustain the
    Tendered Sustain Ceiling Price [GBP/kW/season] * 1000 / service_hours, where service_hours =
    (service days in the delivery period) x (window_end - window_start). ``ceiling_utilisation_price``
    is GBP/MWh unchanged (0 for Sustain).
    """

    cmz_code: str
    product: str  # "sustain" | "secure" | "dynamic"
    opportunity_name: str
    peak_mw: float
    ceiling_availability_price: float  # GBP/MW/h
    ceiling_utilisation_price: float  # GBP/MWh
    window_start: time
    window_end: time
    service_days: list[str] = field(hash=False)
    # Extras (not part of the minimal interface):
    delivery_start: date | None = None
    delivery_end: date | None = None
    service_hours: float = 0.0  # hours in the delivery period (used for the Sustain conversion)
    ceiling_sustain_price_gbp_per_kw_season: float = 0.0  # original NGED value


@dataclass(frozen=True)
class DemoOffer:
    """One NGED offer row. Prices converted as for ``DemoNeed`` (Sustain: with the row's own
    service days, window and delivery dates); ``offered_mw``/``installed_mw`` = kW / 1000."""

    cmz_code: str
    company: str
    technology: str  # NGED Technology Type, unchanged; use technology_map() for the code
    offered_mw: float
    availability_price: float  # GBP/MW/h
    utilisation_price: float  # GBP/MWh
    outcome: str  # "Accepted" | "Rejected"
    number_of_assets: int
    installed_mw: float
    # Extras:
    product: str = ""
    opportunity_name: str = ""
    offer_id: str = ""  # rows sharing it are the per-technology parts of one portfolio offer
    accepted_mw: float = 0.0
    window_start: time | None = None
    window_end: time | None = None
    service_days: list[str] = field(default_factory=list, hash=False)


# ---------------------------------------------------------------------------------------------
# Loaders
# ---------------------------------------------------------------------------------------------


def _rows() -> list[dict[str, str]]:
    with NGED_FILE.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _row_prices(row: dict[str, str], side: str) -> tuple[float, float, float, list[str], time, time]:
    """(availability GBP/MW/h, utilisation GBP/MWh, service hours, days, start, end) of a row.

    ``side`` is "tender" (ceiling prices) or "offer" (offered prices).
    """
    days = _parse_days(row["Service Days Across All Windows"])
    start = time.fromisoformat(row["Earliest Start Time"])
    end = time.fromisoformat(row["Latest End Time"])
    hours = service_hours(date.fromisoformat(row["Trade Opportunity Delivery Start Date"]),
                          date.fromisoformat(row["Trade Opportunity Delivery End Date"]),
                          days, start, end)
    if side == "tender":
        avail, util, sustain = (row["Tendered Ceiling Availability Price"],
                                row["Tendered Ceiling Utilisation Price"],
                                row["Tendered Sustain Ceiling Price"])
    else:
        avail, util, sustain = (row["Offered Availability Price"], row["Offered Utilisation Price"],
                                row["Offered Sustain Price"])
    if row["Flexibility Product"].lower() == "sustain":
        a = sustain_to_gbp_per_mw_h(float(sustain), hours)
    else:
        a = float(avail)
    return a, float(util), hours, days, start, end


@lru_cache(maxsize=1)
def _needs() -> tuple[DemoNeed, ...]:
    groups: dict[tuple[str, str], list[dict[str, str]]] = {}
    for row in _rows():
        groups.setdefault((row["CMZ Code"], row["Trade Opportunity Name"]), []).append(row)
    needs = []
    for (cmz, opp), rows in groups.items():
        days = _parse_days(",".join(r["Service Days Across All Windows"] for r in rows))
        start = min(time.fromisoformat(r["Earliest Start Time"]) for r in rows)
        end = max(time.fromisoformat(r["Latest End Time"]) for r in rows)
        d0 = min(date.fromisoformat(r["Trade Opportunity Delivery Start Date"]) for r in rows)
        d1 = max(date.fromisoformat(r["Trade Opportunity Delivery End Date"]) for r in rows)
        hours = service_hours(d0, d1, days, start, end)
        product = rows[0]["Flexibility Product"].lower()
        sustain = max(float(r["Tendered Sustain Ceiling Price"]) for r in rows)
        if product == "sustain":
            avail = sustain_to_gbp_per_mw_h(sustain, hours)
        else:
            avail = max(float(r["Tendered Ceiling Availability Price"]) for r in rows)
        needs.append(DemoNeed(
            cmz_code=cmz, product=product, opportunity_name=opp,
            peak_mw=max(float(r["Peak Tendered Capacity"]) for r in rows) / 1000.0,
            ceiling_availability_price=avail,
            ceiling_utilisation_price=max(float(r["Tendered Ceiling Utilisation Price"]) for r in rows),
            window_start=start, window_end=end, service_days=days,
            delivery_start=d0, delivery_end=d1, service_hours=hours,
            ceiling_sustain_price_gbp_per_kw_season=sustain,
        ))
    return tuple(needs)


_OFFER_KEY = ("CMZ Code", "Trade Opportunity Name", "Company Name", "Trade Windows",
              "Service Days Across All Windows", "Earliest Start Time", "Latest End Time",
              "Peak Tendered Capacity", "Offered Capacity [kW]", "Offered Availability Price",
              "Offered Utilisation Price", "Offered Sustain Price", "Trade Outcome")


@lru_cache(maxsize=1)
def _offers() -> tuple[DemoOffer, ...]:
    ids: dict[tuple[str, ...], str] = {}
    per_cmz: dict[str, int] = {}
    offers = []
    for row in _rows():
        if row["Company Name"] == NO_RESPONSE_COMPANY:
            continue
        key = tuple(row[k] for k in _OFFER_KEY)
        if key not in ids:
            per_cmz[row["CMZ Code"]] = per_cmz.get(row["CMZ Code"], 0) + 1
            ids[key] = f"{row['CMZ Code']}#{per_cmz[row['CMZ Code']]}"
        avail, util, _hours, days, start, end = _row_prices(row, "offer")
        offers.append(DemoOffer(
            cmz_code=row["CMZ Code"], company=row["Company Name"], technology=row["Technology Type"],
            offered_mw=float(row["Offered Capacity [kW]"]) / 1000.0,
            availability_price=avail, utilisation_price=util, outcome=row["Trade Outcome"],
            number_of_assets=int(row["Number of Assets"]),
            installed_mw=float(row["Total Asset Installed Capacity"]) / 1000.0,
            product=row["Flexibility Product"].lower(), opportunity_name=row["Trade Opportunity Name"],
            offer_id=ids[key], accepted_mw=float(row["Accepted Capacity [kW]"]) / 1000.0,
            window_start=start, window_end=end, service_days=days,
        ))
    return tuple(offers)


def load_needs() -> list[DemoNeed]:
    """One need per CMZ in the NGED sample, in file order."""
    return list(_needs())


def load_offers() -> list[DemoOffer]:
    """One offer per NGED sample row (rows without a company are skipped; the sample has none)."""
    return list(_offers())


def companies() -> list[str]:
    """FSP companies in the sample, sorted."""
    return sorted({o.company for o in _offers()})


@lru_cache(maxsize=1)
def _carbon() -> tuple[tuple[datetime, float], ...]:
    out = []
    with CARBON_FILE.open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            ts = datetime.fromisoformat(row["from"])
            if ts.tzinfo is None:
                raise ValueError(f"naive timestamp {row['from']!r}")
            value = row["actual"].strip() or row["forecast"].strip()
            out.append((ts.astimezone(UTC), float(value)))
    out.sort(key=lambda p: p[0])
    return tuple(out)


def load_carbon_intensity() -> list[tuple[datetime, float]]:
    """Half-hourly GB national carbon intensity: (slot start, UTC-aware; gCO2/kWh).

    Uses the "actual" (estimated outturn) value, falling back to the forecast where it is blank.
    """
    return list(_carbon())


def average_carbon_intensity_t_per_mwh() -> float:
    """Mean of the sample in tCO2/MWh (1 gCO2/kWh = 0.001 tCO2/MWh)."""
    values = [v for _, v in _carbon()]
    return sum(values) / len(values) * 0.001


__all__ = [
    "TECHNOLOGIES",
    "DemoNeed",
    "DemoOffer",
    "average_carbon_intensity_t_per_mwh",
    "companies",
    "load_carbon_intensity",
    "load_needs",
    "load_offers",
    "service_hours",
    "sustain_to_gbp_per_mw_h",
    "technology_map",
]
