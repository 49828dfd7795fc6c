"""One audit's options, checked before anything runs, and the source's secret kept out of
them.

Why here: every way into the pipeline (``refund-audit run``, the Prefect flow, the nightly
deployment) builds the same ``Options``, so a bad value is refused the same way, with a
one-paragraph message, before a file is read or Prefect is imported. The ranges are the
sane ones for a refund audit: a window of 1 day to 10 years, an at-risk horizon of up to 30
days, an ``as_of`` between the years 2000 and 2100 (a date-only ``as_of`` is that date's
midnight in the report zone, ``REFUND_AUDIT_REPORT_TIMEZONE``, default Asia/Shanghai).

``Options.source`` is the *shown* source: a database password is replaced by ``***``
(``sources.base.mask_uri``), so the options can be logged, stored as Prefect parameters and
written to run.json. The load step gets the real URL back with ``real_source``: from this
process's memory (the CLI registers what the user typed) or from the settings
(``REFUND_AUDIT_SOURCE``, ``REFUND_AUDIT_SOURCE_PASSWORD``) of the process that runs it.
"""

from __future__ import annotations

import codecs
import math
import re
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Literal

import pandas as pd
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
)

from schemas.errors import InputError
from sources.base import SECRET, mask_uri, with_password

YEARS = (2000, 2100)
MAX_WINDOW_DAYS = 3660
MAX_AT_RISK_HOURS = 720.0
_DATE_ONLY = re.compile(r"\d{4}-\d{2}-\d{2}")


def parse_as_of(value: str | datetime | None, zone: str = "Asia/Shanghai") -> pd.Timestamp:
    """``as_of`` as UTC. ISO 8601 only (``now``/``today`` are refused: two runs of one audit
    must not differ by their clock); with an offset, or naive = UTC; a date alone is its
    midnight in ``zone``. Default: now, to the second."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return pd.Timestamp.now(tz="UTC").floor("s")
    if isinstance(value, datetime):
        dt = value
    else:
        text = str(value).strip()
        try:
            dt = (datetime.combine(date.fromisoformat(text), datetime.min.time())
                  if _DATE_ONLY.fullmatch(text) else datetime.fromisoformat(text))
        except ValueError:
            raise ValueError(f"{text!r} is not an ISO 8601 date or timestamp (e.g. "
                             "2026-11-20T02:00:00+08:00 or 2026-11-20)") from None
    if not YEARS[0] <= dt.year <= YEARS[1]:
        raise ValueError(f"{value!s} is outside the supported years {YEARS[0]}–{YEARS[1]}")
    ts = pd.Timestamp(dt)
    if isinstance(value, str) and _DATE_ONLY.fullmatch(value.strip()):
        ts = ts.tz_localize(zone)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


class Options(BaseModel):
    """What one audit needs to know; see ``refund-audit run --help`` for each option."""

    model_config = ConfigDict(arbitrary_types_allowed=True, frozen=True, extra="forbid")

    source: str
    out: Path
    as_of: pd.Timestamp
    window_days: int = Field(30, ge=1, le=MAX_WINDOW_DAYS)
    at_risk_hours: float = Field(24.0, gt=0, le=MAX_AT_RISK_HOURS, allow_inf_nan=False)
    encoding: str = "utf-8"
    pg_schema: str | None = None
    lang: Literal["zh", "en"] = "zh"
    profiles_dir: str | None = None
    mapping: str | None = None
    platforms: Annotated[list[str], BeforeValidator(lambda v: sorted(v or []))] = []
    shops: Annotated[list[str], BeforeValidator(lambda v: sorted(v or []))] = []
    history_store: str | None = None
    workers: int | None = Field(None, ge=1, le=256)
    dask_address: str | None = None
    email: bool = False
    partitions: int = Field(0, ge=0, le=100_000)  # 0: from the data size; 1: never

    @field_validator("source")
    @classmethod
    def _masked(cls, v: str) -> str:
        if not v or not v.strip():
            raise ValueError("no source given")
        return mask_uri(v)

    @field_validator("encoding")
    @classmethod
    def _codec(cls, v: str) -> str:
        try:
            codecs.lookup(v)
        except LookupError:
            raise ValueError(f"{v!r} is not a known text encoding; use utf-8 (the default), "
                             "gbk or gb18030") from None
        return v

    @field_validator("at_risk_hours", mode="before")
    @classmethod
    def _finite(cls, v):
        if isinstance(v, float | int | str) and not math.isfinite(float(v)):
            raise ValueError("must be a finite number of hours")
        return v

    @property
    def store(self) -> str | Path:
        """The history store: a SQLAlchemy URL, or by default next to the output folder."""
        return real_source(self.history_store) if self.history_store else Path(self.out).parent


# CLI option names, for messages a user can act on.
OPTION_NAMES = {"as_of": "--as-of", "window_days": "--window-days",
                "at_risk_hours": "--at-risk-hours", "lang": "--lang", "encoding": "--encoding",
                "pg_schema": "--schema", "source": "--source", "out": "--out",
                "workers": "--workers", "dask_address": "--dask-address",
                "partitions": "--partitions"}


def options(*, as_of: str | datetime | None = None, report_timezone: str = "Asia/Shanghai",
            **given) -> Options:
    """Options from raw values; InputError (one paragraph) naming each bad option."""
    problems = []
    try:
        ts = parse_as_of(as_of, report_timezone)
    except (ValueError, TypeError, OverflowError) as exc:
        problems.append(f"--as-of: {exc}")
        ts = pd.Timestamp("2000-01-01", tz="UTC")
    try:
        opts = Options(as_of=ts, **{k: v for k, v in given.items() if v is not None})
    except ValidationError as exc:
        problems += [f"{OPTION_NAMES.get(str(e['loc'][0]), e['loc'][0])}: "
                     f"{e['msg'].removeprefix('Value error, ')}"
                     + (f" (got {e['input']!r})" if not isinstance(e["input"], dict) else "")
                     for e in exc.errors()]
    if problems:
        raise InputError("Invalid option(s): " + "; ".join(problems) + ". Nothing was "
                         "audited.")
    return opts


# -- the source's secret --------------------------------------------------------------------
_REGISTERED: dict[str, str] = {}


def register_source(uri: str) -> str:
    """Keep ``uri`` in this process's memory and return its shown (masked) form."""
    shown = mask_uri(uri)
    if shown != uri:
        _REGISTERED[shown] = uri
    return shown


def real_source(shown: str) -> str:
    """The source to open for a shown source name (see the module docstring)."""
    if shown in _REGISTERED:
        return _REGISTERED[shown]
    if SECRET not in shown:
        return shown
    from flows.settings import Settings

    s = Settings()
    for configured in (s.source, s.history_url):
        if configured and mask_uri(configured) == shown:
            return configured
    if s.source_password is not None:
        return with_password(shown, s.source_password.get_secret_value())
    raise InputError(
        f"The source {shown} needs a password this process does not have: set "
        "REFUND_AUDIT_SOURCE to the full URL, or REFUND_AUDIT_SOURCE_PASSWORD, where the "
        "audit runs (a password is never passed as a run parameter). Nothing was audited.")
