"""``flexplatform vtn`` (run the VTN) and ``flexplatform vtn-dev-certs`` (a throw-away CA
and certificates for a local run); registered on the main command in ``cli.py``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def register(app: typer.Typer, upgrade: object, require_audit_key: object) -> None:
    @app.command()
    def vtn(
        host: str = "127.0.0.1",
        port: int = 8080,
        cert: Annotated[Path | None, typer.Option(help="TLS server certificate (PEM); it "
                                                       "also signs the messages")] = None,
        key: Annotated[Path | None, typer.Option(help="its private key (PEM)")] = None,
        ca: Annotated[Path | None, typer.Option(help="CA the VENs' client certificates "
                                                     "must be issued by (PEM)")] = None,
        insecure: Annotated[bool, typer.Option(help="plain HTTP, no certificates, no "
                                                    "signatures: a local demo only")] = False,
        vtn_id: str = "FLEXPLATFORM-VTN",
        poll_seconds: float = 10.0,
        sync_seconds: float = 5.0,
        telemetry_seconds: float = 60.0,
        energy_report_seconds: float = 1800.0,
        migrate: bool = True,
    ) -> None:
        """Run the OpenADR 2.0b VTN: instructions go to the FSPs' registered VENs as
        events, their opt-in/opt-out acknowledges them, their reports are stored."""
        from flexplatform.openadr.vtn import VtnConfig, serve

        cfg = VtnConfig(host=host, port=port, vtn_id=vtn_id,
                        cert=str(cert) if cert else None, key=str(key) if key else None,
                        ca_file=str(ca) if ca else None, insecure=insecure,
                        poll_seconds=poll_seconds, sync_seconds=sync_seconds,
                        telemetry_seconds=telemetry_seconds,
                        energy_report_seconds=energy_report_seconds)
        try:
            cfg.check()
        except ValueError as e:
            raise typer.BadParameter(str(e), param_hint="--cert/--key/--ca") from None
        require_audit_key()  # type: ignore[operator]
        if migrate:
            upgrade()  # type: ignore[operator]
        serve(cfg)

    @app.command("vtn-dev-certs")
    def vtn_dev_certs(
        folder: Path,
        ven: Annotated[list[str], typer.Option(help="a VEN certificate to make "
                                                    "(repeatable)")],
        host: Annotated[list[str] | None, typer.Option(help="names the VTN certificate "
                                                            "is valid for")] = None,
    ) -> None:
        """A throw-away CA, a VTN certificate and VEN client certificates (never for
        production), with the fingerprints to register."""
        from flexplatform.openadr.certs import dev_pki

        fps = dev_pki(folder, ven, tuple(host or ("localhost", "127.0.0.1")))
        for name, fp in fps.items():
            typer.echo(f"{name}\t{fp}\t{folder / (name + '.pem')}")
