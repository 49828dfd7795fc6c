"""Platform profiles: versioned data files with a source for every number (CONTRACT §3).

One YAML file per platform in ``checks/profiles/``; each holds a list of versions with
``effective_from``. The version in force at an event applies: a refund's ``requested_at``,
a message's ``sent_at`` (RT004), the audit's ``as_of`` for KPI thresholds. An event before
the first version uses the first version (documented in docs/decisions.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

PROFILE_DIR = Path(__file__).parent / "profiles"


@dataclass(frozen=True)
class Duration:
    """An SLA: an amount in ``hours`` or ``days`` on a ``calendar`` or ``business`` clock."""

    amount: float
    unit: str
    clock: str
    source: str

    @property
    def label(self) -> str:
        n = int(self.amount) if float(self.amount).is_integer() else self.amount
        unit = self.unit if n != 1 else self.unit.rstrip("s")
        return f"{n} {'business ' if self.clock == 'business' else ''}{unit}"


@dataclass(frozen=True)
class Version:
    version: str
    effective_from: pd.Timestamp
    settings: dict[str, Any]
    thresholds: dict[str, dict[str, Any]]

    def duration(self, key: str) -> Duration | None:
        s = self.settings.get(key)
        if not s:
            return None
        for unit in ("hours", "days"):
            if s.get(unit) is not None:
                return Duration(float(s[unit]), unit, s.get("clock", "calendar"),
                                s.get("source", ""))
        return None

    def value(self, key: str) -> Any:
        return (self.settings.get(key) or {}).get("value")

    def source(self, key: str) -> str:
        return (self.settings.get(key) or {}).get("source", "")


@dataclass(frozen=True)
class Profile:
    platform: str
    name: str
    timezone: str
    business_calendar: str | None
    versions: tuple[Version, ...]
    path: str

    def version_index(self, ts: pd.Series) -> np.ndarray:
        """Index into ``versions`` of the version in force at each timestamp."""
        starts = np.array([v.effective_from.value for v in self.versions], dtype="int64")
        t = ts.astype("datetime64[ns, UTC]").astype("int64").to_numpy()
        idx = np.searchsorted(starts, t, side="right") - 1
        return np.clip(idx, 0, len(self.versions) - 1)

    def at(self, ts: pd.Timestamp) -> Version:
        idx = self.version_index(pd.Series([ts]))[0]
        return self.versions[int(idx)]


def _load(path: Path) -> Profile:
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    versions = []
    for v in doc["versions"]:
        versions.append(Version(
            version=str(v["version"]),
            effective_from=pd.Timestamp(v["effective_from"]).tz_convert("UTC"),
            settings=v.get("settings", {}),
            thresholds=v.get("thresholds", {}),
        ))
    versions.sort(key=lambda v: v.effective_from)
    return Profile(platform=doc["platform"], name=doc.get("name", doc["platform"]),
                   timezone=doc["timezone"], business_calendar=doc.get("business_calendar"),
                   versions=tuple(versions), path=str(path))


@lru_cache(maxsize=8)
def load_profiles(directory: str | None = None) -> dict[str, Profile]:
    """All profiles in ``directory`` (default: the shipped ones), keyed by platform."""
    d = Path(directory) if directory else PROFILE_DIR
    profiles = {}
    for path in sorted(d.glob("*.yaml")):
        p = _load(path)
        profiles[p.platform] = p
    return profiles


def timezones(profiles: dict[str, Profile]) -> dict[str, str]:
    return {k: p.timezone for k, p in profiles.items()}


def versions_in_force(profiles: dict[str, Profile], as_of: pd.Timestamp) -> dict[str, str]:
    """Platform → version id in force at ``as_of`` (for run.json)."""
    return {k: p.at(as_of).version for k, p in profiles.items()}
