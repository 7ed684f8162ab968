"""Settings, read once from the environment (prefix ``FLEX_``).

With nothing set the platform runs embedded: a SQLite file under ``./var`` and Celery
tasks executed in-process, so one command works on a bare machine. Setting
``FLEX_DATABASE_URL`` (Postgres) and ``FLEX_REDIS_URL`` switches to real workers.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ConfigError(RuntimeError):
    """A setting is missing or unsafe for this deployment (say which, and why)."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FLEX_", env_file=None, extra="ignore")

    database_url: str = Field(
        default="",
        description="SQLAlchemy URL; empty means a SQLite file in var_dir.",
    )
    redis_url: str | None = Field(
        default=None,
        description="Redis broker and result backend; unset means tasks run in-process.",
    )
    var_dir: Path = Path("var")
    # Request bodies above this are refused with 413 before parsing, so a hostile client
    # cannot make the API allocate gigabytes. 50,000 bids of 48 periods fit well inside.
    max_body_bytes: int = 96 * 1024 * 1024
    # Requests inside the app at once (more wait in line, costing no thread): kept below the
    # worker thread pool so a request holding a database lock always gets a thread back.
    max_inflight_requests: int = Field(default=32, ge=1, le=1000)
    max_bulk_assets: int = 10_000
    max_bulk_bids: int = 50_000
    max_bulk_readings: int = 100_000
    # The streamed CSV upload of meter readings holds one chunk in memory whatever its
    # size, so it gets its own limit (a million rows is ~50 MB).
    max_meter_csv_bytes: int = 2 * 1024 * 1024 * 1024
    # Optional server-side pepper mixed into API key hashes; keys are 256-bit random so a
    # plain SHA-256 is already infeasible to reverse, the pepper only adds defence in depth.
    api_key_pepper: str = ""
    task_always_eager: bool | None = Field(
        default=None, description="Force eager tasks on or off; default: eager iff no Redis."
    )
    solver_time_limit: float = Field(default=60.0, gt=0)
    solver_mip_gap: float = 1e-3
    # A round's result is final when proven optimal, or feasible with a proven MIP gap at
    # most this; otherwise it is solved once more with twice the time, then held for an
    # admin (competition.finality). No proven gap counts as 1.0; 1.0 accepts any feasible
    # result.
    clearing_max_final_gap: float = Field(default=0.01, ge=0, le=1)
    # Independent parts of a round (no shared asset, need or rule tie) are packed into at
    # most this many solves, fanned out over a Celery chord; 1 solves every round whole.
    clearing_fanout: int = Field(default=4, ge=1, le=64)
    # A run's lease (clearing round, dispatch run): renewed every quarter of it by the
    # worker's heartbeat; a worker killed whole is noticed within lease + one scan.
    run_lease_seconds: float = Field(default=120.0, gt=0)
    # Gate-closure scan cadence for celery beat, seconds.
    gate_scan_seconds: float = 60.0
    webhook_timeout_s: float = 5.0
    # A failed webhook delivery is retried after base, 2 x base, 4 x base... (capped).
    webhook_retry_base_s: float = Field(default=10.0, gt=0)
    webhook_retry_max_s: float = Field(default=600.0, gt=0)
    # Key of the audit chain's signed checkpoints (HMAC-SHA256). Required, at least 32
    # characters, with a server database; the embedded default generates one into var_dir.
    audit_secret: str = ""
    # How often beat (or the embedded scheduler) signs a checkpoint of the chain's head: a
    # rewritten or truncated tail older than this is caught by `audit verify`.
    audit_checkpoint_seconds: float = Field(default=900.0, gt=0)
    # Settlement calendar (verify D-5, settle ended periods, restart lost runs) and dispute
    # deadline reminders: beat cadences, seconds.
    settlement_calendar_seconds: float = Field(default=3600.0, gt=0)
    dispute_reminder_seconds: float = Field(default=3600.0, gt=0)
    # Meters per settlement shard task (frozen into a run's spec when it is taken).
    settlement_shard_meters: int = Field(default=2000, ge=1, le=1_000_000)
    # Market monitoring: the rules run over the last N days at this cadence (seconds).
    monitoring_scan_seconds: float = Field(default=3600.0, gt=0)
    monitoring_window_days: int = Field(default=7, gt=0, le=366)
    # Prefix for every Redis key of the broker and result backend, so several deployments
    # or test runs can share one Redis database.
    redis_key_prefix: str = ""
    # Webhooks go to public https endpoints only; true also allows http and loopback or
    # private targets, for tests and local demos. Never set it on a shared deployment.
    webhook_allow_insecure: bool = False
    # Dashboard sign-in sessions end this long after sign-in, whatever the activity.
    web_session_minutes: int = Field(default=480, ge=5, le=7 * 24 * 60)

    # Transparency (docs/transparency.md). A public cell (price or volume) backed by fewer
    # distinct FSPs than this is suppressed, so no one FSP's prices can be read off it.
    public_min_fsps: int = Field(default=3, ge=1, le=100)
    # Carbon report netting: storage is recharged with delivered / efficiency at the day's
    # mean intensity; demand turn-down comes back as this fraction in the next hours.
    carbon_recharge_efficiency: float = Field(default=0.85, gt=0, le=1)
    carbon_rebound_fraction: float = Field(default=1.0, ge=0, le=1)
    carbon_rebound_halfhours: int = Field(default=4, ge=1, le=48)
    # The widest time range one report or open-data request may cover.
    transparency_max_days: int = Field(default=366, ge=1, le=3660)

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            url = self.database_url
            # Bare postgresql:// means psycopg 3 here, the only driver we ship.
            if url.startswith("postgresql://"):
                url = "postgresql+psycopg://" + url[len("postgresql://") :]
            elif url.startswith("postgres://"):
                url = "postgresql+psycopg://" + url[len("postgres://") :]
            return url
        return f"sqlite:///{(self.var_dir / 'flexplatform.db').resolve()}"

    @property
    def eager(self) -> bool:
        if self.task_always_eager is not None:
            return self.task_always_eager
        return not self.redis_url


@lru_cache
def get_settings() -> Settings:
    return Settings()
