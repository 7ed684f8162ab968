"""``flexplatform meter import FILE``: CSV and Parquet files read in batches, through the
same checks and versions as the API; the command end to end on a committed database."""

from __future__ import annotations

import json
import uuid

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlalchemy import select, text
from typer.testing import CliRunner

from flexplatform.errors import InvalidInput
from flexplatform.reporting import formats
from flexplatform.reporting.importer import import_file
from flexplatform.reporting.models import MeterReading, MeterSubmission
from tests.conftest import fresh_postgres, require_postgres
from tests.reporting.conftest import DAY, csv_text, half_hours, iso, stored


def _table(meter, starts, imp, **over):
    cols = {"mpan": pa.array([meter] * len(starts)),
            "start": pa.array(starts, pa.timestamp("ms", "UTC")),
            "import_kwh": pa.array(imp, pa.float64()),
            "export_kwh": pa.array([0.0] * len(starts), pa.float32())}
    cols.update(over)
    return pa.table(cols)


def test_parquet_in_batches_then_csv_correction(client, db, metered, tmp_path, monkeypatch):
    starts = half_hours(DAY, 96)
    path = tmp_path / "readings.parquet"
    pq.write_table(_table(metered.mpan, starts, [i / 8 for i in range(96)]), path,
                   row_group_size=40)
    monkeypatch.setattr(formats, "PARQUET_BATCH_ROWS", 25)  # four batches
    out = import_file(db, path, as_participant=metered.fsp.id)
    assert (out.rows, out.stored, out.submission_id is not None) == (96, 96, True)
    sub = db.get(MeterSubmission, out.submission_id)
    assert sub.source == "file-parquet" and sub.filename == "readings.parquet"
    assert sub.submitted_by == metered.fsp.id and len(sub.content_sha256) == 64
    assert import_file(db, path, as_participant=metered.fsp.id).stored == 0  # re-send
    csv = tmp_path / "fix.csv"
    csv.write_text(csv_text([(metered.mpan, iso(starts[5]), "99", "0")]))
    fix = import_file(db, csv)  # the platform operator: any registered meter point
    assert (fix.stored, fix.corrections) == (1, 1)
    assert db.get(MeterSubmission, fix.submission_id).submitted_by is None
    versions = db.scalars(select(MeterReading.version).where(
        MeterReading.period_start == starts[5])).all()
    assert sorted(versions) == [1, 2]


def test_parquet_rows_numbered_across_batches(db, metered, tmp_path, monkeypatch):
    starts = half_hours(DAY, 60)
    imp = [1.0] * 60
    imp[47] = -3.0
    path = tmp_path / "bad.parquet"
    pq.write_table(_table(metered.mpan, starts, imp), path)
    monkeypatch.setattr(formats, "PARQUET_BATCH_ROWS", 20)
    before = stored(db)
    with pytest.raises(InvalidInput) as e:
        import_file(db, path, as_participant=metered.fsp.id)
    assert [(x["row"], x["issue"]) for x in e.value.errors] == [(48, "negative")]
    # Timestamps without a zone are naive whatever their type; MPANs may be integers.
    path2 = tmp_path / "naive.parquet"
    pq.write_table(_table(metered.mpan, starts[:3], [1.0] * 3,
                          mpan=pa.array([int(metered.mpan)] * 3),
                          start=pa.array([s.replace(tzinfo=None) for s in starts[:3]],
                                         pa.timestamp("us"))), path2)
    with pytest.raises(InvalidInput) as e:
        import_file(db, path2)
    assert {x["issue"] for x in e.value.errors} == {"naive_timestamp"}
    assert stored(db) == before


def test_parquet_schema_checked(db, tmp_path):
    path = tmp_path / "odd.parquet"
    pq.write_table(pa.table({"meter": ["1"], "start": ["x"], "import_kwh": [1.0]}), path)
    with pytest.raises(InvalidInput) as e:
        import_file(db, path)
    assert e.value.errors[0]["pointer"] == "/schema" and "unknown column 'meter'" in str(e.value)


def test_as_must_be_an_fsp_or_mda(db, make_party, tmp_path):
    path = tmp_path / "x.csv"
    path.write_text(csv_text([]))
    for who in (make_party("mo").id, uuid.uuid4()):
        with pytest.raises(InvalidInput, match="--as"):
            import_file(db, path, as_participant=who)


@pytest.fixture
def committed(backend, tmp_path, monkeypatch):
    """A migrated database of its own, committed to, with the CLI pointed at it."""
    from flexplatform import migrate
    from flexplatform.db import make_engine, reset_runtime, unit_of_work
    from flexplatform.governance.service import seed_taxonomy

    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'cli.db'}"
    else:
        base = require_postgres()
        server, name = base.rsplit("/", 1)
        url = f"{server}/{name.split('?')[0]}_live"
        admin = make_engine(f"{server}/postgres")
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
            if not c.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"),
                            {"n": url.rsplit("/", 1)[1]}):
                c.execute(text(f'CREATE DATABASE "{url.rsplit("/", 1)[1]}"'))
        admin.dispose()
        fresh_postgres(url).dispose()
    monkeypatch.setenv("FLEX_DATABASE_URL", url)
    reset_runtime()
    migrate.upgrade(url)
    with unit_of_work() as s:
        seed_taxonomy(s)
    yield url
    reset_runtime()


def test_cli_imports_csv_and_reports_problems(committed, tmp_path):
    from flexplatform.cli import app
    from flexplatform.db import unit_of_work
    from flexplatform.governance.models import Zone, ZoneKind
    from flexplatform.registration.models import Asset, Participant, Role
    from flexplatform.registration.mpan import make_mpan
    from flexplatform.reporting.models import MeterPoint

    mpan = make_mpan("180000000042")
    with unit_of_work() as s:
        fsp = Participant(role=Role.fsp, legal_name="CLI FSP Ltd")
        s.add(fsp)
        s.add(Zone(code="CMZ_CLI", name="cli", kind=ZoneKind.cmz))
        s.flush()
        asset = Asset(fsp_id=fsp.id, name="a", mpan=mpan, zone_code="CMZ_CLI",
                      technology_code="battery", up_mw=1.0)
        s.add(asset)
        s.flush()
        s.add(MeterPoint(mpan=mpan, asset_id=asset.id, measures="import"))
        fsp_id = fsp.id
    good = tmp_path / "day.csv"
    good.write_text("mpan,start,import_kwh\n" + "".join(
        f"{mpan},{iso(t)},{i}\n" for i, t in enumerate(half_hours(DAY, 48))))
    runner = CliRunner()
    r = runner.invoke(app, ["meter", "import", str(good), "--as", str(fsp_id)])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["stored"] == 48
    bad = tmp_path / "bad.csv"
    bad.write_text(f"mpan,start,import_kwh\n{mpan},{iso(DAY)},1\n{mpan},2025-01-15T00:10Z,1\n")
    r = runner.invoke(app, ["meter", "import", str(bad), "--format", "csv"])
    assert r.exit_code == 1 and "/rows/2/start" in r.output and "misaligned" not in r.output
    assert "not the start of a settlement period" in r.output
    r = runner.invoke(app, ["meter", "import", str(good), "--format", "xlsx"])
    assert r.exit_code == 2
    with unit_of_work() as s:
        assert len(s.scalars(select(MeterReading.version)).all()) == 48
