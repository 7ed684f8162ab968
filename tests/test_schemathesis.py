"""Schemathesis over the whole OpenAPI document, against a live server, as admin, MO and FSP.

Every operation gets generated requests (valid ones, and invalid ones where the schema
says what invalid is) on SQLite and on Postgres. No answer may be a server error, and every
answer must be declared: its status code, its content type and its body's schema. The
example count is bounded (``FLEX_FUZZ_EXAMPLES`` per operation and mode) so the run stays a
minute or two in CI; raise it locally to search harder.
"""

from __future__ import annotations

import datetime as dt
import os
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from tests.live_server import serve

ROLES = ("admin", "mo", "fsp")
EXAMPLES = int(os.environ.get("FLEX_FUZZ_EXAMPLES", "3"))


@pytest.fixture(scope="module")
def server(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A migrated database with one party per role and a little market, served live."""
    from flexplatform.db import reset_runtime
    from tests.competition.conftest import live_postgres_url, migrate_and_seed

    tmp = tmp_path_factory.mktemp("fuzz")
    url = f"sqlite:///{tmp / 'fuzz.db'}" if backend == "sqlite" else live_postgres_url()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FLEX_DATABASE_URL", url)
        mp.setenv("FLEX_VAR_DIR", str(tmp))
        mp.setenv("FLEX_TASK_ALWAYS_EAGER", "true")
        mp.delenv("FLEX_REDIS_URL", raising=False)
        reset_runtime()
        migrate_and_seed(url)
        headers = _world()
        from flexplatform.app import create_app

        try:
            with serve(create_app()) as base:
                yield {"base": base, "headers": headers, "backend": backend}
        finally:
            reset_runtime()


def _world() -> dict[str, dict[str, str]]:
    from flexplatform.audit import Actor
    from flexplatform.auth import Principal
    from flexplatform.competition.schemas import BidIn, MarketIn
    from flexplatform.competition.service import create_market, submit_bid
    from flexplatform.db import unit_of_work
    from flexplatform.governance.models import Zone, ZoneKind
    from flexplatform.registration.schemas import AssetCreate, ParticipantCreate, TermsCreate
    from flexplatform.registration.service import (
        accept_terms,
        create_asset,
        create_participant,
        create_terms,
    )
    from tests.helpers import asset_body

    now = dt.datetime.now(dt.UTC)
    headers, who = {}, {}
    with unit_of_work() as s:
        create_terms(s, TermsCreate(version="FUZZ-1", title="Terms", body="Rules.",
                                    effective_from=now - dt.timedelta(days=1)), Actor.system())
        s.add(Zone(code="CMZ_NORTH", name="North", kind=ZoneKind.cmz, dso="NGED"))
        s.flush()
        for role in ROLES:
            p, key = create_participant(s, ParticipantCreate(
                role=role, legal_name=f"Fuzz {role}",
                billing_contact={"name": "B", "email": f"{role}@example.org"}), Actor.system())
            who[role] = Principal(participant=p, key_prefix="fuzz")
            if role != "admin":
                accept_terms(s, "FUZZ-1", who[role])
            headers[role] = {"Authorization": f"Bearer {key}"}
        start = (now + dt.timedelta(days=2)).replace(hour=17, minute=0, second=0, microsecond=0)
        market = create_market(s, MarketIn.model_validate({
            "name": "Fuzz market", "gate_open_at": (now - dt.timedelta(hours=1)).isoformat(),
            "gate_close_at": (now + dt.timedelta(days=1)).isoformat(),
            "delivery_start": start.isoformat(),
            "delivery_end": (start + dt.timedelta(hours=1)).isoformat(), "open": True,
            "needs": [{"product": "dynamic", "zone": "CMZ_NORTH", "direction": "up",
                       "mw": [1.0, 1.0], "max_availability_price": "50",
                       "utilisation_price_cap": "300", "unmet_penalty": "900"}]}), who["mo"])
        asset = create_asset(s, AssetCreate.model_validate(asset_body()), who["fsp"])
        submit_bid(s, BidIn.model_validate({
            "need_id": str(market.needs[0].id), "asset_id": str(asset.id), "mw": [1.0, 1.0],
            "availability_price": "20", "utilisation_price": "150"}), who["fsp"])
    return headers


def _fuzz(base: str, headers: dict[str, str]) -> tuple[int, Counter[int], list[str], int]:
    """Run every operation; returns (operations, statuses seen, failures, requests)."""
    import schemathesis
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis.errors import Unsatisfiable
    from schemathesis import GenerationMode
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import (
        content_type_conformance,
        negative_data_rejection,
        response_schema_conformance,
        status_code_conformance,
    )

    schema = schemathesis.openapi.from_url(f"{base}/api/v1/openapi.json")
    checks = [not_a_server_error, status_code_conformance, content_type_conformance,
              response_schema_conformance, negative_data_rejection]
    statuses: Counter[int] = Counter()
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        op = result.ok()
        operations += 1
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
                      phases=[Phase.explicit, Phase.generate], report_multiple_bugs=False,
                      suppress_health_check=list(HealthCheck))
            @given(case=op.as_strategy(generation_mode=mode))
            def run(case: Any) -> None:
                r = case.call(base_url=base, headers=headers, timeout=30)
                statuses[r.status_code] += 1
                case.validate_response(r, checks=checks, headers=headers)

            try:
                run()
            except Unsatisfiable:
                pass  # nothing in the schema to make invalid (no constrained input)
            except (Exception, BaseExceptionGroup) as e:  # one finding must not hide others
                failures.append(f"{op.method.upper()} {op.path} [{mode.value}]: "
                                f"{str(e)[:1500]}")
    return operations, statuses, failures, sum(statuses.values())


@pytest.mark.parametrize("role", ROLES)
def test_every_operation_answers_within_its_schema(server, role):
    operations, statuses, failures, requests = _fuzz(server["base"], server["headers"][role])
    print(f"\nschemathesis {server['backend']} as {role}: {operations} operations, "
          f"{requests} requests, statuses {dict(sorted(statuses.items()))}")
    assert not failures, f"{len(failures)} finding(s):\n\n" + "\n\n".join(failures[:10])
    assert operations >= 60
    assert requests >= operations * EXAMPLES  # every operation was really called
