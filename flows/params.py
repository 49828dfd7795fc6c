"""The parameters of a deployed audit run, as one typed model.

Prefect builds the deployment's parameter schema from this model, so the UI's "Run" dialog
shows a form (dates, numbers, lists of shops) and rejects bad values before a run starts;
``refund-audit trigger`` validates its options with the same model.

Empty values mean "as configured where the run executes": ``source`` and ``out`` come from
the serving process's settings at run time, so a database password never sits in the
deployment's parameters; ``as_of`` is the run's scheduled time (see ``flows.deploy``).
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from pathlib import Path
from typing import Literal

import pandas as pd
from pydantic import BaseModel, Field, field_validator

from flows.options import MAX_AT_RISK_HOURS, MAX_WINDOW_DAYS, YEARS
from flows.settings import Settings
from sources.base import mask_uri


class AuditParams(BaseModel):
    """One audit run: what to audit, as of when, and for which shops."""

    as_of: datetime | None = Field(
        None, title="As of",
        description="The audit's 'now' (ISO 8601 with offset, e.g. 2026-11-20T02:00:00+08:00). "
                    "Empty: the run's scheduled time.")
    platforms: list[str] = Field(
        default_factory=list, title="Platforms",
        description="Audit only these platforms (tmall_global, tmall, jd_worldwide, "
                    "amazon_us, …). Empty: all.")
    shops: list[str] = Field(
        default_factory=list, title="Shops",
        description="Audit only these shop ids. Empty: all shops.")
    window_days: int = Field(30, ge=1, le=MAX_WINDOW_DAYS, title="Window (days)",
                             description="Refunds requested in the last N days are audited.")
    at_risk_hours: float = Field(24.0, gt=0, le=MAX_AT_RISK_HOURS, allow_inf_nan=False,
                                 title="At-risk horizon (hours)")
    lang: Literal["zh", "en"] = Field("zh", title="Report language")
    source: str | None = Field(
        None, title="Source",
        description="sqlite:///…, postgresql+psycopg://… or a folder of CSV/Parquet files. "
                    "Empty: the source configured for the serving process.")
    out: str | None = Field(
        None, title="Output folder",
        description="Empty: <out_root>/<as_of>[-<selection>] on the serving host.")

    @field_validator("as_of")
    @classmethod
    def _sane_year(cls, v: datetime | None) -> datetime | None:
        if v is not None and not YEARS[0] <= v.year <= YEARS[1]:
            raise ValueError(f"must be in the years {YEARS[0]}–{YEARS[1]}")
        return v

    @field_validator("source")
    @classmethod
    def _no_password(cls, v: str | None) -> str | None:
        """A password never becomes a run parameter (the Prefect UI shows them): only the
        masked URL is kept, and the serving process supplies the password from its
        settings (REFUND_AUDIT_SOURCE or REFUND_AUDIT_SOURCE_PASSWORD)."""
        return mask_uri(v) if v else v

    @classmethod
    def from_settings(cls, settings: Settings, **given) -> AuditParams:
        """Defaults a deployment shows in its form: the configured window, horizon, language."""
        return cls(**{"window_days": settings.window_days,
                      "at_risk_hours": settings.at_risk_hours, "lang": settings.lang, **given})

    def audit_kwargs(self, settings: Settings, as_of: pd.Timestamp) -> dict:
        """Keyword arguments of ``flows.audit.audit`` for this run."""
        return {
            # masked: the password stays in the settings of the process that runs it
            "source": mask_uri(self.source or settings.source),
            "out": self.out or str(run_folder(settings.out_root, as_of, self.platforms,
                                              self.shops, zone=settings.report_timezone)),
            "as_of": as_of.isoformat(),
            "window_days": self.window_days,
            "at_risk_hours": self.at_risk_hours,
            "encoding": settings.encoding,
            "pg_schema": settings.pg_schema,
            "mapping": settings.mapping,
            "report_timezone": settings.report_timezone,
            "lang": self.lang,
            "profiles_dir": settings.profiles_dir,
            "platforms": sorted(self.platforms) or None,
            "shops": sorted(self.shops) or None,
            "history_store": settings.history_url,
            "email": settings.email,
        }


def run_folder(out_root: Path, as_of: pd.Timestamp, platforms: list[str] | None = None,
               shops: list[str] | None = None, *, zone: str = "Asia/Shanghai") -> Path:
    """``<out_root>/<as_of in the report zone, e.g. 2026-11-20T0200+0800>[-<8 hex of the
    selection>]`` (seconds only when not zero: ``2026-11-20T020030+0800``).

    Named in the zone the team reads (the 02:00 Beijing run is the 20th's, not the 19th's),
    with the offset so the name still says the instant. One folder per audit: a re-run of the
    same audit replaces its own folder, and the history store (``<out_root>/history.sqlite``)
    sits next to all of them.
    """
    local = pd.Timestamp(as_of).tz_convert(zone)
    name = local.strftime("%Y-%m-%dT%H%M%S%z" if local.second else "%Y-%m-%dT%H%M%z")
    if platforms or shops:
        sel = json.dumps({"platforms": sorted(platforms or []), "shops": sorted(shops or [])})
        name += "-" + hashlib.sha256(sel.encode()).hexdigest()[:8]
    return Path(out_root) / name
