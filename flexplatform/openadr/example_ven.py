"""An example VEN an FSP can start from (docs/openadr.md), and the one the tests run.

It registers with the platform's VTN over mutual TLS, offers two reports per resource
(power telemetry and half-hour energy), and answers every dispatch event with the
``--opt`` it was given (a real VEN decides per event: can the asset deliver it?). Each
message in and out is logged on one line, so the exchange can be read afterwards.

    python -m flexplatform.openadr.example_ven --vtn-url https://vtn.example:8080/OpenADR2/Simple/2.0b \
        --ven-name acme-ven-1 --cert ven.pem --key ven.key --ca ca.pem \
        --vtn-fingerprint AA:BB:...:JJ --resource battery-1
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import logging
import re
from typing import Any

from openleadr import OpenADRClient, enums, objects

log = logging.getLogger("example_ven")
HALF_HOUR = dt.timedelta(minutes=30)


def _type(xml: str) -> str:
    m = re.search(r"<(?:\w+:)?(oadr(?!Payload|SignedObject)\w+)", xml)
    return m.group(1) if m else "?"


def last_half_hour(now: dt.datetime | None = None) -> dt.datetime:
    """Start of the last settlement period that has ended."""
    now = now or dt.datetime.now(dt.UTC)
    floor = now.replace(minute=now.minute - now.minute % 30, second=0, microsecond=0)
    return floor - HALF_HOUR


class Client(OpenADRClient):  # type: ignore[misc]
    """openleadr's client, with one fix: ``create_report`` collects the requested r_ids
    in one list across all report requests of a message, so with two reports each
    report's job also asks for the other's data points (and a 'full' report fails).
    Handling the requests one at a time keeps them apart."""

    async def create_report(self, response_payload: dict[str, Any]) -> None:
        for rr in response_payload.get("report_requests") or []:
            await super().create_report({**response_payload, "report_requests": [rr]})


def build(args: argparse.Namespace) -> OpenADRClient:
    tls = args.cert is not None
    client = Client(ven_name=args.ven_name, vtn_url=args.vtn_url,
                           cert=args.cert, key=args.key, ca_file=args.ca,
                           vtn_fingerprint=args.vtn_fingerprint, show_fingerprint=False,
                           disable_signature=not tls, allow_jitter=False)

    async def on_event(event: dict[str, Any]) -> str:
        d = event["event_descriptor"]
        for sig in event["event_signals"]:
            mw = [iv["signal_payload"] for iv in sig["intervals"]]
            log.info("event %s %s/%s MW per half hour %s from %s, targets %s -> %s",
                     d["event_id"], sig["signal_name"], sig["signal_type"], mw,
                     event["active_period"]["dtstart"].isoformat(), event.get("targets"),
                     args.opt)
        return str(args.opt)

    client.add_handler("on_event", on_event)

    def power(resource: str) -> Any:
        def read() -> float:
            return float(args.power_kw)  # kW, import positive (a real VEN reads the asset)
        return read

    def energy(resource: str) -> Any:
        def read(date_from: dt.datetime, date_to: dt.datetime,
                 sampling_interval: dt.timedelta) -> list[tuple[dt.datetime, float]]:
            return [(last_half_hour(date_to), float(args.energy_kwh))]  # kWh in that period
        return read

    every = dt.timedelta(seconds=args.report_seconds)
    for resource in args.resource:
        client.add_report(callback=power(resource), resource_id=resource,
                          measurement="power_real", unit="W", scale="k",
                          report_specifier_id=f"power-{resource}",
                          sampling_rate=_sampling(every),
                          report_duration=every, data_collection_mode="incremental")
        client.add_report(callback=energy(resource), resource_id=resource,
                          measurement="energy_real", unit="Wh", scale="k",
                          report_specifier_id=f"energy-{resource}",
                          sampling_rate=_sampling(every), report_duration=every,
                          data_collection_mode="full")

    async def sent(xml: str) -> None:
        kind = _type(xml)
        log.log(logging.DEBUG if kind == "oadrPoll" else logging.INFO, "VEN -> VTN %s", kind)

    async def received(message_type: str, payload: dict[str, Any]) -> None:
        keep = {k: payload[k] for k in ("ven_id", "registration_id") if payload.get(k)}
        if message_type == "oadrDistributeEvent":
            keep["events"] = [e["event_descriptor"]["event_id"] for e in payload["events"]]
        if message_type == "oadrRegisteredReport":
            keep["report_requests"] = len(payload.get("report_requests") or [])
        log.log(logging.DEBUG if message_type == "oadrResponse" else logging.INFO,
                "VTN -> VEN %s %s", message_type, keep)

    client.add_hook("before_send_xml", sent)
    client.add_hook("after_parse_xml", received)
    return client


def _sampling(every: dt.timedelta) -> Any:
    return objects.SamplingRate(min_period=min(every, dt.timedelta(seconds=1)),
                                max_period=max(every, HALF_HOUR), on_change=False)


async def main(args: argparse.Namespace) -> None:
    client = build(args)
    await client.run()
    try:
        await asyncio.sleep(args.run_seconds)
    finally:
        await client.stop()


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--vtn-url", required=True)
    p.add_argument("--ven-name", required=True)
    p.add_argument("--cert", help="client certificate (PEM); its fingerprint is registered")
    p.add_argument("--key", help="its private key (PEM)")
    p.add_argument("--ca", help="CA that issued the VTN's server certificate (PEM)")
    p.add_argument("--vtn-fingerprint", help="the VTN certificate's fingerprint: messages "
                                             "signed by any other certificate are ignored")
    p.add_argument("--resource", action="append", required=True,
                   help="resource id as registered with the platform (repeatable)")
    p.add_argument("--opt", choices=[enums.OPT.OPT_IN, enums.OPT.OPT_OUT], default="optIn")
    p.add_argument("--power-kw", type=float, default=-250.0)
    p.add_argument("--energy-kwh", type=float, default=12.5)
    p.add_argument("--report-seconds", type=float, default=1800.0)
    p.add_argument("--run-seconds", type=float, default=10 ** 9)
    return p.parse_args(argv)


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("openleadr").setLevel(logging.WARNING)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    asyncio.run(main(parse()))
