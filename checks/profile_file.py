"""The platform profile file format: pydantic models that forbid unknown keys, and the parse
of one file into a ``checks.profiles.Profile``.

A module of its own because building these models and importing the YAML parser cost
~25 ms of every process, and a process that finds the shipped profiles in the per-machine
cache (``checks.profiles.load_profiles``) needs neither.
"""

from __future__ import annotations

import zoneinfo
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal

import pandas as pd
import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from checks.profiles import Profile, Version
from schemas.errors import InputError

# libyaml's safe loader when the wheel has it (5-10x faster), else the pure-Python one.
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

Source = Annotated[str, Field(min_length=1)]
Amount = Annotated[float, Field(gt=0, allow_inf_nan=False)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DurationSetting(_Strict):
    """An SLA: ``hours`` or ``days`` (not both; ``null``: the setting does not apply)."""

    hours: Amount | None = None
    days: Amount | None = None
    clock: Literal["calendar", "business"] = "calendar"
    source: Source

    @model_validator(mode="after")
    def _one_unit(self) -> DurationSetting:
        # After the fields: a typo ("hour") is reported as the unknown key it is.
        if len({"hours", "days"} & self.model_fields_set) != 1:
            raise ValueError("give exactly one of 'hours' or 'days' (null: does not apply)")
        return self


class WindowSetting(DurationSetting):
    """The no-reason return window and where it starts counting."""

    anchor: Literal["next_midnight", "delivery"]


class CountrySetting(_Strict):
    """The country a return address must be in, for buyers of these regions."""

    value: Annotated[str, Field(pattern=r"^[A-Z]{2}$")] | None
    buyer_regions: list[Annotated[str, Field(pattern=r"^[A-Z]{2}$")] | None]
    source: Source


class FlagSetting(_Strict):
    value: bool
    source: Source


class SettingsModel(_Strict):
    """Every setting a rule reads; each must be present (``null`` says "does not apply")."""

    no_reason_return_window: WindowSetting
    refund_response_unshipped: DurationSetting
    refund_response_shipped: DurationSetting
    escalation_response: DurationSetting
    refund_after_receipt: DurationSetting
    message_response: DurationSetting
    return_address_country: CountrySetting
    quality_dispute_window: DurationSetting
    quality_dispute_needs_evidence: FlagSetting


class Threshold(_Strict):
    value: Annotated[float, Field(ge=0, allow_inf_nan=False)] | None
    source: Source


class ThresholdsModel(_Strict):
    """One threshold per KPI (the names of checks.kpis.METRICS)."""

    dispute_refund_rate: Threshold
    intervention_rate: Threshold
    late_response_rate: Threshold
    invalid_rejection_rate: Threshold
    self_completion_rate: Threshold
    seven_day_refusals: Threshold
    return_address_defect_rate: Threshold
    message_late_rate: Threshold


class VersionModel(_Strict):
    version: Annotated[str, Field(min_length=1)]
    effective_from: datetime
    settings: SettingsModel
    thresholds: ThresholdsModel

    @field_validator("version", mode="before")
    @classmethod
    def _text(cls, v: Any) -> Any:
        return str(v) if isinstance(v, int | float) else v

    @field_validator("effective_from")
    @classmethod
    def _aware(cls, v: datetime) -> datetime:
        if v.tzinfo is None:
            raise ValueError("needs an offset, e.g. 2024-01-01T00:00:00+08:00")
        return v


class ProfileModel(_Strict):
    platform: Annotated[str, Field(pattern=r"^[a-z0-9_]+$")]
    name: str | None = None
    timezone: str
    business_calendar: Literal["US", "CN"] | None = None
    versions: Annotated[list[VersionModel], Field(min_length=1)]

    @field_validator("timezone")
    @classmethod
    def _zone(cls, v: str) -> str:
        try:
            zoneinfo.ZoneInfo(v)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown IANA time zone {v!r}") from None
        return v

    @model_validator(mode="after")
    def _distinct(self) -> ProfileModel:
        starts = [v.effective_from for v in self.versions]
        if len(set(starts)) != len(starts):
            raise ValueError("two versions have the same effective_from")
        return self


def _problem(path: Path, exc: ValidationError) -> InputError:
    """One paragraph: the file, and each key that is wrong with what is wrong."""
    parts = []
    for err in exc.errors():
        key = ".".join(str(x) for x in err["loc"]) or "(top level)"
        msg = "unknown key (a typo?)" if err["type"] == "extra_forbidden" else err["msg"]
        parts.append(f"{key}: {msg}")
    return InputError(f"The platform profile {path} is not valid: " + "; ".join(parts[:10])
                      + ("" if len(parts) <= 10 else f" (and {len(parts) - 10} more)")
                      + ". Fix it and run again (docs/spec.md, \"Platform profiles\").")


def parse(path: Path) -> Profile:
    """One profile file, checked (an ``InputError`` naming the file and the key)."""
    try:
        doc = yaml.load(path.read_text(encoding="utf-8"), Loader=_SAFE_LOADER)
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise InputError(f"The platform profile {path} cannot be read: "
                         f"{str(exc).splitlines()[0]}.") from None
    try:
        model = ProfileModel.model_validate(doc)
    except ValidationError as exc:
        raise _problem(path, exc) from None
    versions = []
    for v in model.versions:
        versions.append(Version(
            version=v.version,
            effective_from=pd.Timestamp(v.effective_from).tz_convert("UTC"),
            settings=v.settings.model_dump(exclude_unset=True),
            thresholds=v.thresholds.model_dump(exclude_unset=True),
        ))
    versions.sort(key=lambda v: v.effective_from)
    return Profile(platform=model.platform, name=model.name or model.platform,
                   timezone=model.timezone, business_calendar=model.business_calendar,
                   versions=tuple(versions), path=str(path))
