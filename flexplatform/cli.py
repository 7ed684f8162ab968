"""The ``flexplatform`` command: serve, workers, migrations, admin, clearing, settlement and the demo."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from flexplatform.config import get_settings

app = typer.Typer(help="Flexplatform: central platform for GB local flexibility markets.",
                  no_args_is_help=True, add_completion=False)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
admin_app = typer.Typer(help="Administration.", no_args_is_help=True)
audit_app = typer.Typer(help="Audit trail.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(admin_app, name="admin")
app.add_typer(audit_app, name="audit")
meter_app = typer.Typer(help="Meter readings.", no_args_is_help=True)
app.add_typer(meter_app, name="meter")


def _upgrade() -> None:
    from flexplatform import migrate
    from flexplatform.db import unit_of_work
    from flexplatform.governance.service import seed_taxonomy

    migrate.upgrade(get_settings().resolved_database_url)
    with unit_of_work() as s:
        seed_taxonomy(s)


def _require_audit_key() -> None:
    """Refuse to start a server part without a safe audit checkpoint key."""
    from flexplatform.audit import checkpoint_key
    from flexplatform.config import ConfigError

    try:
        checkpoint_key()
    except ConfigError as e:
        typer.echo(f"refusing to start: {e}", err=True)
        raise typer.Exit(2) from None


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply migrations to head and seed the default GB taxonomy where missing."""
    _upgrade()
    typer.echo(f"database at head: {get_settings().resolved_database_url.split('@')[-1]}")


@app.command()
def serve(host: str = "127.0.0.1", port: int = 8000, migrate: bool = True) -> None:
    """Run the API (and, embedded, the beat schedule in-process)."""
    import uvicorn

    _require_audit_key()
    if migrate:
        _upgrade()
    if get_settings().eager:
        from flexplatform.scheduler import start_embedded_scheduler

        start_embedded_scheduler()
    uvicorn.run("flexplatform.app:create_app", factory=True, host=host, port=port)


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def worker(ctx: typer.Context, concurrency: int = 2, pool: str = "prefork") -> None:
    """Run a Celery worker (needs FLEX_REDIS_URL). Extra options go to celery."""
    from celery.bin.celery import main as celery_main

    _require_audit_key()
    sys.argv = ["celery", "-A", "workers.app", "worker", "--loglevel=INFO",
                f"--concurrency={concurrency}", f"--pool={pool}", *ctx.args]
    celery_main()


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def beat(ctx: typer.Context) -> None:
    """Run Celery beat (gate-closure scans, audit checkpoints). Extra options go to celery."""
    from celery.bin.celery import main as celery_main

    _require_audit_key()
    sys.argv = ["celery", "-A", "workers.app", "beat", "--loglevel=INFO", *ctx.args]
    celery_main()


@admin_app.command("create-participant")
def create_participant(
    role: Annotated[str, typer.Option(help="mo, fsp, regulator or admin")],
    name: Annotated[str, typer.Option(help="legal name")],
    email: Annotated[str, typer.Option(help="billing contact email")] = "billing@example.org",
    company_number: str | None = None,
) -> None:
    """Create a participant and print its one-time API key."""
    from pydantic import ValidationError

    from flexplatform.audit import Actor
    from flexplatform.db import unit_of_work
    from flexplatform.registration.schemas import ParticipantCreate
    from flexplatform.registration.service import create_participant as create

    try:
        data = ParticipantCreate(role=role, legal_name=name, company_number=company_number,
                                 billing_contact={"name": name, "email": email})
    except ValidationError as e:
        for err in e.errors():
            typer.echo(f"{'.'.join(map(str, err['loc']))}: {err['msg']}", err=True)
        raise typer.Exit(2) from None
    with unit_of_work() as s:
        p, key = create(s, data, Actor(id=None, role="cli"))
    typer.echo(f"participant {p.id} ({p.role.value}) {p.legal_name}")
    typer.echo(f"API key (shown once, store it now): {key}")


@audit_app.command("checkpoint")
def audit_checkpoint() -> None:
    """Sign the chain's head now (beat does this every FLEX_AUDIT_CHECKPOINT_SECONDS)."""
    from flexplatform import audit
    from flexplatform.db import unit_of_work

    with unit_of_work() as s:
        cp = audit.write_checkpoint(s)
    typer.echo(f"checkpoint at seq {cp.seq}" if cp else "nothing new to sign")


@audit_app.command("verify")
def audit_verify() -> None:
    """Check the hash chain against its signed checkpoints and the heads published in
    clearing results; exit 1 if any row was edited, deleted or rewritten."""
    from flexplatform.config import ConfigError
    from flexplatform.db import unit_of_work
    from flexplatform.governance.service import verify_audit

    try:
        with unit_of_work(readonly=True) as s:
            report = verify_audit(s)
    except ConfigError as e:
        typer.echo(f"cannot verify: {e}", err=True)
        raise typer.Exit(2) from None
    for p in report.problems:
        typer.echo(f"seq {p['seq']}: {p['problem']}: {p['detail']}")
    typer.echo(f"{report.events} events, head seq {report.head_seq} hash {report.head_hash}: "
               f"{'OK' if report.ok else 'TAMPERED'}")
    raise typer.Exit(0 if report.ok else 1)


@app.command()
def clear(
    snapshot: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    out: Annotated[Path | None, typer.Option("--out", help="write the result JSON here")] = None,
    time_limit: Annotated[float, typer.Option("--time-limit", min=0.1)] = 60.0,
    gap: Annotated[float, typer.Option("--gap", min=0.0, max=1.0)] = 1e-3,
    threads: Annotated[int | None, typer.Option("--threads", min=1)] = None,
    method: Annotated[str, typer.Option(
        "--method", help="auto | monolithic | decomposed (auto: decomposition when large)")
    ] = "auto",
) -> None:
    """Clear a market snapshot (market-snapshot-v1) and write the result."""
    from optimiser.cli import main

    if method not in ("auto", "monolithic", "decomposed"):
        raise typer.BadParameter("use auto, monolithic or decomposed", param_hint="--method")
    raise typer.Exit(main(snapshot, out=out, time_limit=time_limit, gap=gap, threads=threads,
                          method=method))


@app.command()
def dispatch(
    snapshot: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    out: Annotated[Path | None, typer.Option("--out", help="write the result JSON here")] = None,
    time_limit: Annotated[float, typer.Option("--time-limit", min=0.1)] = 60.0,
    gap: Annotated[float, typer.Option("--gap", min=0.0, max=1.0)] = 1e-4,
) -> None:
    """Dispatch a snapshot (dispatch-snapshot-v1) and write the result; exit 2 if invalid."""
    from optimiser.dispatch.cli import main

    raise typer.Exit(main(snapshot, out=out, time_limit=time_limit, gap=gap))


@app.command()
def settle(
    document: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    check: Annotated[bool, typer.Option(
        "--check", help="exit 1 if the re-run's outputs differ from the document's")] = False,
    out: Annotated[Path | None, typer.Option(
        "--out", help="write the document with the re-run's outputs here")] = None,
) -> None:
    """Re-run a settlement run document and print its statements."""
    from settlement.cli import main

    raise typer.Exit(main(document, check=check, out=out))


@app.command()
def demo(
    fast: Annotated[bool, typer.Option(help="smaller market day for a quick look")] = False,
    fresh: Annotated[bool, typer.Option(help="start from an empty demo database")] = True,
) -> None:
    """Run a full demo market day on the embedded default and print the outcome."""
    from flexplatform.demo.run import run_demo

    raise typer.Exit(run_demo(fast=fast, fresh=fresh))


@meter_app.command("import")
def meter_import(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    as_participant: Annotated[str | None, typer.Option(
        "--as", help="submit as this fsp or mda participant id (its meter points only); "
                     "default: the platform operator, for any registered meter point")] = None,
    fmt: Annotated[str | None, typer.Option(
        "--format", help="csv or parquet (default: from the file name)")] = None,
) -> None:
    """Import meter readings (columns mpan, start, import_kwh, export_kwh; see
    docs/reporting.md), all or nothing; a correction becomes a new version."""
    import json
    import uuid

    import pyarrow as pa

    from flexplatform.db import unit_of_work
    from flexplatform.errors import DomainError
    from flexplatform.reporting.importer import FORMATS, import_file

    if fmt is not None and fmt not in FORMATS:
        raise typer.BadParameter("use csv or parquet", param_hint="--format")
    try:
        who = uuid.UUID(as_participant) if as_participant else None
    except ValueError:
        raise typer.BadParameter("a participant id (UUID)", param_hint="--as") from None
    try:
        with unit_of_work() as s:
            out = import_file(s, file, fmt, who)
    except DomainError as e:
        typer.echo(f"{e.title}: {e.detail}", err=True)
        for err in e.errors:
            typer.echo(f"  {err.get('pointer', '')}: {err['message']}", err=True)
        raise typer.Exit(1) from None
    except (pa.ArrowException, OSError) as e:
        typer.echo(f"cannot read {file}: {e}", err=True)
        raise typer.Exit(2) from None
    typer.echo(json.dumps(out.__dict__, indent=2, default=str))


carbon_app = typer.Typer(help="Grid carbon intensities.", no_args_is_help=True)
app.add_typer(carbon_app, name="carbon")


@carbon_app.command("import")
def carbon_import(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    source: Annotated[str | None, typer.Option(
        help="provenance stored with each value (default: the file name)")] = None,
) -> None:
    """Import a Carbon Intensity API JSON response (national /intensity or regional
    /regional shapes; see docs/transparency.md), all or nothing."""
    import json

    from flexplatform.db import unit_of_work
    from flexplatform.errors import DomainError
    from flexplatform.transparency.carbon import import_document

    try:
        doc = json.loads(file.read_bytes())
    except (ValueError, OSError) as e:
        typer.echo(f"cannot read {file}: {e}", err=True)
        raise typer.Exit(2) from None
    try:
        with unit_of_work() as s:
            out = import_document(s, doc, source or f"Carbon Intensity API file {file.name}")
    except DomainError as e:
        typer.echo(f"{e.title}: {e.detail}", err=True)
        for err in e.errors:
            typer.echo(f"  {err.get('pointer', '')}: {err['message']}", err=True)
        raise typer.Exit(1) from None
    typer.echo(json.dumps(out.__dict__, indent=2, default=str))


from flexplatform.openadr.cli import register as _register_openadr  # noqa: E402

_register_openadr(app, _upgrade, _require_audit_key)

if __name__ == "__main__":
    app()
