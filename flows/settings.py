"""One typed settings object, loaded at the edge (CLI, serve) and passed down.

Environment variables with the ``REFUND_AUDIT_`` prefix (nested with ``__``, e.g.
``REFUND_AUDIT_SMTP__PASSWORD``) or a ``.env`` file override the defaults. Secrets are
``SecretStr``: never printed, never written to run.json or the report.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

ROOT = Path(__file__).resolve().parents[1]
DEMO_DB = ROOT / "data" / "demo.sqlite"


class SmtpSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = 25
    security: str = "none"  # none | starttls | ssl
    username: str | None = None
    password: SecretStr | None = None
    sender: str = "refund-audit@localhost"
    timeout: float = 30.0
    # Tries per message when the failure is temporary (server down, 4xx), and the waits
    # between them in seconds. The only retry layer of the delivery step.
    attempts: int = 3
    retry_delays: tuple[float, ...] = (2.0, 8.0)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="REFUND_AUDIT_", env_nested_delimiter="__",
                                      env_file=".env", extra="ignore")

    # A database URL may carry a password: never shown (repr=False), never a run parameter
    # (flows.options passes its masked form and takes it back here, where the audit runs).
    source: str = Field(f"sqlite:///{DEMO_DB}", repr=False)
    # The password for a source given without one (postgresql://user@host/db), e.g. from a
    # secret store; used when the URL's password is the mask ***.
    source_password: SecretStr | None = None
    out_root: Path = ROOT / "out"
    window_days: int = 30
    at_risk_hours: float = 24.0
    encoding: str = "utf-8"
    pg_schema: str | None = None
    mapping: str | None = None  # column mapping for folder exports (sources.mapping)
    lang: str = "zh"
    # The zone a person reads the all-shops overview in: it dates mail subjects and names
    # output folders; a date-only --as-of (2026-11-20) is that date's midnight here. Shop
    # pages use their platform's zone.
    report_timezone: str = "Asia/Shanghai"
    profiles_dir: str | None = None
    schedule_cron: str = "0 2 * * *"
    schedule_timezone: str = "Asia/Shanghai"
    # Run-history store: a SQLAlchemy URL (postgresql+psycopg://…); empty: an SQLite file
    # history.sqlite next to the output folders (<out_root>/history.sqlite).
    history_url: str | None = Field(None, repr=False)
    # Days a run's findings stay in the history store (for diffs); older runs keep their
    # KPIs and counts (trends) only. 0: keep every run's findings.
    history_keep_days: int = Field(400, ge=0)
    # How `refund-audit run` runs: None (default) as a Prefect flow only when a Prefect server
    # is configured (PREFECT_API_URL), else in-process without Prefect; True / False force
    # it (docs/scheduling.md). `--prefect` / `--no-prefect` override it per run.
    prefect: bool | None = None
    # Buyers' personal data is masked in everything a person reads (pages, mails, CSV
    # detail, attachments). false: shown as it is, for internal use on trusted machines.
    mask_personal_data: bool = True
    # true (default): a partitioned run (large data) audits its partitions in parallel, one
    # worker process per usable core, when the machine has two or more; false: one after
    # another in the run's process, for a machine whose other cores are busy with other work
    # (docs/performance.md: on a quiet 2-core machine, 1M orders took 11 s instead of 13 s,
    # for ~4 s more CPU and ~0.8 GB more memory). --workers / --dask-address use Dask instead.
    # The same setting lets a run with 40 shops or more write its pages in two processes
    # (docs/decisions-report.md, Speed); false keeps them in the run's process.
    parallel: bool = True
    email: bool = False
    recipients_file: Path | None = None
    smtp: SmtpSettings = SmtpSettings()
