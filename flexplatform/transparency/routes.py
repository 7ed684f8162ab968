"""Transparency API: carbon intensities, regulator reports, market summary, open data.

Who sees what (docs/transparency.md): the regulator and admin everything; the public
intensities, needs, prices and aggregates with thin cells suppressed. Reports are built
by a worker (202, then poll); the public market summary and open data are computed on
request over a bounded range.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from fastapi.responses import Response

from flexplatform.auth import AdminOnly, AdminOrRegulator, Public, SessionDep
from flexplatform.config import get_settings
from flexplatform.db import utcnow
from flexplatform.errors import InvalidInput, field_error
from flexplatform.pagination import Limit, Page, page
from flexplatform.transparency import carbon, exports, opendata, reports, service
from flexplatform.transparency.models import DNO_REGIONS, NATIONAL
from flexplatform.transparency.schemas import (
    CarbonApiDocument,
    CarbonIntensityOut,
    CatalogueOut,
    ImportOut,
    RegionOut,
    ReportOut,
    ReportRequest,
    ReportWithResult,
    ZoneRegionIn,
    ZoneRegionOut,
)
from flexplatform.validation import CodePath, Offset, Timestamp

router = APIRouter()
TAG_C, TAG_R, TAG_O = "carbon", "transparency reports", "open data"
OptTime = Annotated[Timestamp | None, Query(description="ISO 8601 with a UTC offset")]
Name = Annotated[str, Path(min_length=1, max_length=60, pattern=r"^[a-z0-9_\-]+$")]
_FILE = re.compile(r"^(\d{4})-(\d{2})\.(csv|parquet)$")


def _range(start: dt.datetime | None, end: dt.datetime | None) -> tuple[dt.datetime,
                                                                         dt.datetime]:
    """Default: the 30 days up to the current half-hour."""
    if start is None and end is None:
        now = utcnow()
        end = now.replace(minute=30 if now.minute >= 30 else 0, second=0, microsecond=0)
        start = end - dt.timedelta(days=30)
    return service.check_range(start, end)


# --- carbon intensities ------------------------------------------------------------------

@router.get("/carbon-intensities", response_model=Page[CarbonIntensityOut], tags=[TAG_C],
            summary="Grid carbon intensities by region and half-hour (public, CC BY 4.0)")
def list_intensities(session: SessionDep, who: Public, region_id: Annotated[
        int | None, Query(ge=0, le=14)] = None, start: OptTime = None, end: OptTime = None,
        limit: Limit = 1000, offset: Offset = 0):
    rows, total = service.list_intensities(session, region_id, start, end, limit, offset)
    return page(CarbonIntensityOut, rows, total, limit, offset)


@router.post("/carbon-intensities/import", response_model=ImportOut, tags=[TAG_C],
             summary="Import a Carbon Intensity API JSON response (admin)")
def import_intensities(body: CarbonApiDocument, session: SessionDep, who: AdminOnly):
    doc = body.model_dump(exclude={"source"})
    out = carbon.import_document(session, doc, body.source or "Carbon Intensity API (upload)")
    return ImportOut(**out.__dict__)


@router.get("/carbon-regions", response_model=list[RegionOut], tags=[TAG_C],
            summary="The 14 GB DNO carbon regions and the zones mapped to each (public)")
def carbon_regions(session: SessionDep, who: Public):
    from flexplatform.transparency.facts import zone_regions

    by: dict[int, list[str]] = {rid: [] for rid in [NATIONAL, *DNO_REGIONS]}
    for zone, rid in sorted(zone_regions(session).items()):
        by.setdefault(rid, []).append(zone)
    return [RegionOut(region_id=rid, name=reports.region_name(rid), zones=z)
            for rid, z in by.items()]


@router.put("/zones/{code}/carbon-region", response_model=ZoneRegionOut, tags=[TAG_C],
            summary="Map a zone to its carbon region (admin)")
def put_zone_region(code: CodePath, body: ZoneRegionIn, session: SessionDep, who: AdminOnly):
    return ZoneRegionOut.model_validate(service.set_zone_region(session, code, body.region_id,
                                                                who.actor))


# --- regulator reports --------------------------------------------------------------------

def _request(kind: str, body: ReportRequest, session: Any, who: Any) -> ReportOut:
    row = service.request_report(session, kind, body.start, body.end, who.actor, who.id)
    return ReportOut.model_validate(row)


@router.post("/reports/carbon", status_code=202, response_model=ReportOut, tags=[TAG_R],
             summary="Build the carbon report for a range (regulator, admin)")
def request_carbon(body: ReportRequest, session: SessionDep, who: AdminOrRegulator):
    return _request("carbon", body, session, who)


@router.post("/reports/market", status_code=202, response_model=ReportOut, tags=[TAG_R],
             summary="Build the full market report for a range (regulator, admin)")
def request_market(body: ReportRequest, session: SessionDep, who: AdminOrRegulator):
    return _request("market", body, session, who)


@router.get("/reports", response_model=Page[ReportOut], tags=[TAG_R],
            summary="Stored reports, newest first (regulator, admin)")
def list_reports(session: SessionDep, who: AdminOrRegulator, kind: Annotated[
        str | None, Query(pattern="^(carbon|market)$")] = None, limit: Limit = 100,
        offset: Offset = 0):
    rows, total = service.list_reports(session, kind, limit, offset)
    return page(ReportOut, rows, total, limit, offset)


@router.get("/reports/{report_id}", response_model=ReportWithResult, tags=[TAG_R],
            summary="One report with its figures once built (regulator, admin)")
def get_report(report_id: uuid.UUID, session: SessionDep, who: AdminOrRegulator):
    return ReportWithResult.model_validate(service.get_report(session, report_id))


@router.get("/reports/{report_id}/csv", tags=[TAG_R], response_class=Response,
            summary="A report's table as CSV (regulator, admin)",
            responses={200: {"content": {"text/csv": {}}}})
def report_csv(report_id: uuid.UUID, session: SessionDep, who: AdminOrRegulator,
               level: Annotated[str | None, Query(
                   max_length=20, description="carbon: halfhour, day (default), month, "
                                              "total; market: awarded (default), offered")
               ] = None):
    result = service.done_result(session, report_id)
    level = level or ("day" if result["kind"] == "carbon" else "awarded")
    body = exports.to_csv(result, level)
    name = f"{result['kind']}-report-{report_id}-{level}.csv"
    return Response(body, media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.get("/reports/{report_id}/charts/{name}", tags=[TAG_R], response_class=Response,
            summary="A report chart as SVG: carbon mwh-by-region or emissions-by-region, "
                    "market awarded-prices or awarded-volumes (regulator, admin)", responses={200: {"content": {"image/svg+xml": {}}}})
def report_chart(report_id: uuid.UUID, name: Name, session: SessionDep,
                 who: AdminOrRegulator):
    result = service.done_result(session, report_id)
    c = exports.chart(result, name.removesuffix(".svg"))
    return Response(c.svg, media_type="image/svg+xml")


@router.get("/market-report", tags=[TAG_R],
            summary="Market summary with thin cells suppressed (public)")
def public_market_report(session: SessionDep, who: Public, start: OptTime = None,
                         end: OptTime = None) -> dict[str, Any]:
    s, e = _range(start, end)
    return reports.market_report(session, s, e, public=True)


# --- open data ---------------------------------------------------------------------------

@router.get("/open-data", response_model=CatalogueOut, tags=[TAG_O],
            summary="Open datasets, their dictionaries, files and licence (public)")
def catalogue(who: Public):
    base = "/api/v1/open-data"
    return {"datasets": [{"name": n, "dictionary": f"{base}/{n}/dictionary",
                          "monthly_csv": f"{base}/{n}/monthly/YYYY-MM.csv",
                          "monthly_parquet": f"{base}/{n}/monthly/YYYY-MM.parquet"}
                         for n in opendata.dataset_names()],
            "licence": opendata.LICENCE,
            "suppression_min_fsps": get_settings().public_min_fsps}


@router.get("/open-data/licence", tags=[TAG_O], summary="Licence and attribution (public)")
def licence(who: Public) -> dict[str, Any]:
    return dict(opendata.LICENCE)


@router.get("/open-data/{dataset}/dictionary", tags=[TAG_O],
            summary="A dataset's columns and their meaning (public)")
def dataset_dictionary(dataset: Name, who: Public) -> dict[str, Any]:
    return opendata.dictionary(dataset)


@router.get("/open-data/{dataset}", response_model=Page[dict[str, Any]], tags=[TAG_O],
            summary="A dataset's rows in a time range, aggregated and suppressed (public)")
def dataset_rows(dataset: Name, session: SessionDep, who: Public, start: OptTime = None,
                 end: OptTime = None, limit: Limit = 1000, offset: Offset = 0):
    opendata.dictionary(dataset)
    s, e = _range(start, end)
    data = opendata.rows(session, dataset, s, e, full=False)
    return Page[dict[str, Any]](items=data[offset:offset + limit], total=len(data),
                                limit=limit, offset=offset)


@router.get("/open-data/{dataset}/full", response_model=Page[dict[str, Any]], tags=[TAG_O],
            summary="A dataset's unaggregated rows with participant ids (regulator, admin)")
def dataset_full(dataset: Name, session: SessionDep, who: AdminOrRegulator,
                 start: OptTime = None, end: OptTime = None, limit: Limit = 1000,
                 offset: Offset = 0):
    opendata.dictionary(dataset)
    s, e = _range(start, end)
    data = opendata.rows(session, dataset, s, e, full=True)
    return Page[dict[str, Any]](items=data[offset:offset + limit], total=len(data),
                                limit=limit, offset=offset)


@router.get("/open-data/{dataset}/monthly/{file}", tags=[TAG_O], response_class=Response,
            summary="One month of a dataset as CSV or Parquet, e.g. 2026-01.csv (public)",
            responses={200: {"content": {"text/csv": {}, "application/vnd.apache.parquet": {}}}})
def dataset_month(dataset: Name, file: Annotated[str, Path(max_length=60)], session: SessionDep,
                  who: Public):
    opendata.dictionary(dataset)
    m = _FILE.match(file)
    if m is None or not 1 <= int(m.group(2)) <= 12 or not 2000 <= int(m.group(1)) <= 2100:
        raise InvalidInput("bad file name", errors=[field_error(
            ["file"], "YYYY-MM.csv or YYYY-MM.parquet, a month from 2000 to 2100")])
    month = dt.date(int(m.group(1)), int(m.group(2)), 1)
    fmt = m.group(3)
    body = opendata.monthly_file(session, dataset, month, fmt, full=False)
    media = "text/csv; charset=utf-8" if fmt == "csv" else "application/vnd.apache.parquet"
    return Response(body, media_type=media, headers={
        "Content-Disposition": f'attachment; filename="{dataset}-{file}"'})
