"""The VTN process: openleadr's OpenADR 2.0b server wired to the platform's database.

openleadr keeps each VEN's event queue in memory; the database is the truth. A sync loop
(every ``sync_seconds``) hands new instructions to openleadr as events, withdraws events
whose instruction is no longer 'issued' (cancelled, expired, answered through the API or
the dashboard), and on start re-queues every event that was sent and not answered, so a
restart loses nothing. Each handler runs its database work in a worker thread, in its own
transaction (``unit_of_work``), so the event loop never blocks on the database.

Security (docs/openadr.md): with ``cert``/``key``/``ca_file`` the server speaks TLS only,
demands a client certificate issued by the CA, and openleadr checks on every message that
the certificate's fingerprint and the XML signature's certificate are the ones registered
for that ``venID``; registration itself checks the fingerprint against the ``ven_name``'s
registration. ``insecure`` (plain HTTP, no signatures) exists for a local demo only and
is refused unless asked for by name.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from openleadr import OpenADRServer, hooks
from sqlalchemy.orm import Session

from flexplatform.db import unit_of_work
from flexplatform.errors import DomainError
from flexplatform.openadr import service

log = logging.getLogger("flexplatform.openadr")


@dataclass
class VtnConfig:
    host: str = "127.0.0.1"
    port: int = 8080
    vtn_id: str = "FLEXPLATFORM-VTN"
    cert: str | None = None      # PEM: TLS server certificate, also signs messages
    key: str | None = None
    ca_file: str | None = None   # PEM: CA the VENs' client certificates must chain to
    insecure: bool = False
    poll_seconds: float = 10.0   # oadrRequestedOadrPollFreq given to VENs
    sync_seconds: float = 5.0
    telemetry_seconds: float = 60.0      # sampling asked for power telemetry
    energy_report_seconds: float = 1800.0  # how often half-hour energy is reported
    market_context: str = "oadr://flexplatform"

    def check(self) -> None:
        if not self.insecure and not (self.cert and self.key and self.ca_file):
            raise ValueError("the VTN needs --cert, --key and --ca (TLS with client "
                             "certificates), or --insecure for a local demo")


def _summary(payload: dict[str, Any]) -> str:
    """One line of the interesting fields of a message, for the exchange log."""
    keep = ("ven_id", "ven_name", "registration_id", "opt_type", "event_id")
    parts = [f"{k}={payload[k]}" for k in keep if payload.get(k)]
    for er in payload.get("event_responses") or []:
        parts.append(f"event {er.get('event_id')}: {er.get('opt_type')}")
    for ev in payload.get("events") or []:
        d = ev.get("event_descriptor", {}) if isinstance(ev, dict) else {}
        sig = (ev.get("event_signals") or [{}])[0] if isinstance(ev, dict) else {}
        vals = [iv.get("signal_payload") for iv in sig.get("intervals", [])]
        parts.append(f"event {d.get('event_id')} {sig.get('signal_name')} MW {vals}")
    for rep in payload.get("reports") or []:
        n = len(rep.get("intervals") or rep.get("report_descriptions") or [])
        parts.append(f"report {rep.get('report_name')} ({n} items)")
    return ", ".join(parts)


# Polls that find nothing are most of the traffic: kept out of the INFO log.
async def _log_in(message_type: str, payload: dict[str, Any]) -> None:
    log.log(logging.DEBUG if message_type == "oadrPoll" else logging.INFO,
            "VEN -> VTN %s %s", message_type, _summary(payload))


async def _log_out(message_type: str, payload: dict[str, Any]) -> None:
    log.log(logging.DEBUG if message_type == "oadrResponse" else logging.INFO,
            "VTN -> VEN %s %s", message_type, _summary(payload))


def _log_exchange() -> None:
    """openleadr's hooks are process-wide: registered once however many VTNs start."""
    if _log_in not in hooks.HOOKS["before_handle"]:
        hooks.register("before_handle", _log_in)
        hooks.register("after_handle", _log_out)


class Vtn:
    def __init__(self, config: VtnConfig, session_factory: Callable[[], Session] | None = None):
        config.check()
        self.config = config
        self.factory = session_factory
        tls = {} if config.insecure else {"http_cert": config.cert, "http_key": config.key,
                                          "http_ca_file": config.ca_file}
        self.server = OpenADRServer(
            vtn_id=config.vtn_id, http_host=config.host, http_port=config.port,
            cert=None if config.insecure else config.cert,
            key=None if config.insecure else config.key,
            ven_lookup=self._ven_lookup, show_fingerprint=False,
            requested_poll_freq=dt.timedelta(seconds=config.poll_seconds),
            verify_message_signatures=not config.insecure, **tls)
        self.server.add_handler("on_create_party_registration", self._on_register)
        self.server.add_handler("on_cancel_party_registration", self._on_cancel)
        self.server.add_handler("on_register_report", self._on_register_report)
        self.queued: set[str] = set()  # event ids handed to openleadr in this process
        self._stop = asyncio.Event()
        _log_exchange()

    # --- plumbing ----------------------------------------------------------------------
    def _work(self, fn: Callable[..., Any], *args: Any) -> Any:
        with unit_of_work(self.factory) as s:
            return fn(s, *args)

    async def db(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.to_thread(self._work, fn, *args)

    # --- openleadr handlers ------------------------------------------------------------
    async def _ven_lookup(self, ven_id: str) -> dict[str, Any] | None:
        return await self.db(service.ven_lookup, ven_id)  # type: ignore[no-any-return]

    async def _on_register(self, payload: dict[str, Any]) -> tuple[str, str] | bool:
        result = await self.db(partial(service.create_party_registration,
                                       require_tls=not self.config.insecure),
                               payload.get("ven_name", ""), payload.get("fingerprint"))
        if result is None:
            log.warning("registration refused: ven_name=%s fingerprint=%s",
                        payload.get("ven_name"), payload.get("fingerprint"))
            return False
        log.info("registered ven_name=%s as ven_id=%s registration_id=%s",
                 payload.get("ven_name"), *result)
        return result  # type: ignore[no-any-return]

    async def _on_cancel(self, payload: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        await self.db(service.cancel_party_registration, payload.get("ven_id"))
        return "oadrCanceledPartyRegistration", {
            "registration_id": payload.get("registration_id"), "ven_id": payload.get("ven_id")}

    async def _on_register_report(self, ven_id: str, resource_id: str, measurement: str,
                                  unit: str, scale: str,
                                  min_sampling_interval: dt.timedelta,
                                  max_sampling_interval: dt.timedelta) -> tuple[Any, ...] | None:
        kind = service.report_kind(measurement, unit)
        asset = await self.db(service.resource_asset, ven_id, resource_id)
        if kind is None or asset is None:
            return None
        want = dt.timedelta(seconds=self.config.telemetry_seconds if kind == "telemetry"
                            else self.config.energy_report_seconds)
        lo, hi = min_sampling_interval or want, max_sampling_interval or want
        every = min(max(want, lo), hi)
        log.info("report requested: ven_id=%s resource=%s %s (%s %s) every %ss", ven_id,
                 resource_id, kind, scale, unit, every.total_seconds())
        return partial(self._on_values, ven_id, resource_id, kind, scale), every

    async def _on_values(self, ven_id: str, resource_id: str, kind: str, scale: str,
                         values: list[tuple[dt.datetime, float]]) -> None:
        store = service.store_telemetry if kind == "telemetry" else service.store_energy
        try:
            out = await self.db(store, ven_id, resource_id, values, scale)
        except DomainError as e:  # a reading the metering checks refuse: nothing stored
            log.warning("report from %s/%s refused: %s %s", ven_id, resource_id, e,
                        getattr(e, "errors", ""))
            return
        log.info("report stored: ven_id=%s resource=%s %s %d value(s) -> %s", ven_id,
                 resource_id, kind, len(values),
                 out if isinstance(out, int) else getattr(out, "submission_id", None))

    async def _on_opt(self, ven_id: str, event_id: str, opt_type: str) -> None:
        outcome = await self.db(service.apply_opt, ven_id, event_id, opt_type)
        self.queued.discard(event_id)
        log.info("opt: ven_id=%s event=%s %s -> instruction %s", ven_id, event_id, opt_type,
                 outcome)

    async def _on_delivered(self, event_id: str, ven_id: str) -> None:
        # openleadr flags a VEN's queue as changed when an event is added and clears the
        # flag only on a poll, so an event first fetched by oadrRequestEvent would be sent
        # again on the next poll: the VEN has everything queued at this point.
        self.server.events_updated[ven_id] = False
        await self.db(service.mark_delivered, event_id)

    # --- the sync loop -----------------------------------------------------------------
    def _queue(self, ev_id: str, ven_id: str, payload: dict[str, Any]) -> None:
        self.server.add_raw_event(ven_id=ven_id, event=payload, callback=self._on_opt,
                                  delivery_callback=partial(self._on_delivered, ev_id, ven_id))
        self.queued.add(ev_id)

    def _sync(self, s: Session) -> list[tuple[str, str, dict[str, Any] | None]]:
        """What to hand to openleadr: (event_id, ven_id, payload or None to cancel)."""
        todo: list[tuple[str, str, dict[str, Any] | None]] = []
        for ev, ins in service.open_events(s):
            if ins.status != "issued":
                service.mark_cancelled(s, ev.event_id)
                todo.append((ev.event_id, ev.ven_id, None))
            elif ev.event_id not in self.queued:  # sent before a restart
                todo.append((ev.event_id, ev.ven_id, service.event_payload(
                    ins, ev.ven_id, ev.resource_id, self.config.market_context)))
        for ins, res in service.new_instructions(s):
            ev = service.queue_event(s, ins, res)
            todo.append((ev.event_id, ev.ven_id, service.event_payload(
                ins, res.ven_id, res.resource_id, self.config.market_context)))
        return todo

    async def sync_once(self) -> int:
        todo = await self.db(self._sync)
        for ev_id, ven_id, payload in todo:
            if payload is None:
                if ev_id in self.queued:
                    self.server.cancel_event(ven_id, ev_id)
                    self.queued.discard(ev_id)
                log.info("event %s withdrawn: its instruction is no longer issued", ev_id)
            else:
                self._queue(ev_id, ven_id, payload)
                log.info("event %s queued for ven_id=%s", ev_id, ven_id)
        return len(todo)

    async def run(self) -> None:
        await self.server.run()
        scheme = "http" if self.config.insecure else "https"
        log.info("VTN %s listening on %s://%s:%s%s", self.config.vtn_id, scheme,
                 self.config.host, self.config.port, self.server.http_path_prefix)
        try:
            while not self._stop.is_set():
                try:
                    await self.sync_once()
                except Exception:  # keep serving; the next round retries
                    log.exception("sync failed")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), self.config.sync_seconds)
        finally:
            await self.server.stop()

    def stop(self) -> None:
        self._stop.set()


def serve(config: VtnConfig) -> None:
    """Run the VTN until interrupted (``flexplatform vtn``)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    vtn = Vtn(config)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(vtn.run())
