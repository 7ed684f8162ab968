"""`flexplatform carbon import FILE` against an embedded database of its own."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from flexplatform.cli import app
from tests.transparency.test_carbon import NATIONAL, REGIONAL


@pytest.fixture
def embedded(tmp_path, monkeypatch):
    from flexplatform import migrate
    from flexplatform.db import reset_runtime

    monkeypatch.setenv("FLEX_VAR_DIR", str(tmp_path))
    monkeypatch.delenv("FLEX_DATABASE_URL", raising=False)
    reset_runtime()
    migrate.upgrade(f"sqlite:///{tmp_path / 'flexplatform.db'}")
    yield tmp_path
    reset_runtime()


def test_carbon_import_cli(embedded):
    from sqlalchemy import func, select

    from flexplatform.db import unit_of_work
    from flexplatform.transparency.models import CarbonIntensity

    for f, n in ((NATIONAL, 336), (REGIONAL, 672)):
        r = CliRunner().invoke(app, ["carbon", "import", str(f)])
        assert r.exit_code == 0, r.output
        assert json.loads(r.output)["inserted"] == n
    with unit_of_work() as s:
        assert s.scalar(select(func.count()).select_from(CarbonIntensity)) == 336 + 672
        row = s.scalars(select(CarbonIntensity).limit(1)).one()
        assert row.source.startswith("Carbon Intensity API file")
    bad = embedded / "bad.json"
    bad.write_text(json.dumps({"data": [{"from": "2026-01-01T00:00Z", "to": "2026-01-01T00:30Z",
                                         "intensity": {"forecast": -5000.5e9}}]}))
    r = CliRunner().invoke(app, ["carbon", "import", str(bad)])
    assert r.exit_code == 1 and "/data/0/intensity/forecast" in r.output
    bad.write_text("{not json")
    assert CliRunner().invoke(app, ["carbon", "import", str(bad)]).exit_code == 2
