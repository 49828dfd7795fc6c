"""Platform profiles: versioned data files with a source for every number.

One YAML file per platform in ``checks/profiles/``; each holds a list of versions with
``effective_from``. The version in force at an event applies: a refund's ``requested_at``,
a message's ``sent_at`` (RT004), the audit's ``as_of`` for KPI thresholds. An event before
the first version uses the first version (documented in docs/decisions.md).

A profile is read through pydantic models that forbid unknown keys (checks.profile_file):
a typo such as ``hour: 48`` for ``hours: 48`` would otherwise leave the setting empty and
silently switch its rule off. Any problem is an ``InputError`` naming the file and the key
(exit status 2).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from checks import disk_cache
from schemas.errors import InputError

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

    def _in_force(self, ns):
        """Index into ``versions`` of the version in force at each instant (UTC nanoseconds
        since the epoch, one or an array); before the first version, the first."""
        starts = np.array([v.effective_from.value for v in self.versions], dtype="int64")
        idx = np.searchsorted(starts, ns, side="right") - 1
        return np.clip(idx, 0, len(self.versions) - 1)

    def version_index(self, ts: pd.Series) -> np.ndarray:
        """Index into ``versions`` of the version in force at each timestamp."""
        return self._in_force(ts.astype("datetime64[ns, UTC]").astype("int64").to_numpy())

    def at(self, ts: pd.Timestamp) -> Version:
        """The version in force at one instant (its nanoseconds looked up directly: a
        one-row Series and two casts per call cost ~0.25 ms)."""
        return self.versions[int(self._in_force(pd.Timestamp(ts).value))]


@lru_cache(maxsize=8)
def load_profiles(directory: str | None = None) -> dict[str, Profile]:
    """All profiles in ``directory`` (default: the shipped ones), keyed by platform.

    Profiles that were read and checked before, byte for byte the same files under the same
    names, come from the per-machine cache (checks.disk_cache): the YAML parser, the file
    format's models and the checks cost ~25 ms of every process. A file that is edited,
    added or removed, or a new version of this code, of the file format's or of pydantic or
    pandas, reads afresh; a file that does not pass is never kept.
    """
    d = Path(directory) if directory else PROFILE_DIR
    paths = sorted(d.glob("*.yaml"))
    key = _cache_key(paths)
    cached = disk_cache.load("profiles", key) if key else None
    if isinstance(cached, dict) and cached:
        return cached
    from checks.profile_file import parse

    profiles: dict[str, Profile] = {}
    for path in paths:
        p = parse(path)
        if p.platform in profiles:
            raise InputError(f"The platform profiles {profiles[p.platform].path} and {path} "
                             f"are both for the platform {p.platform!r}; keep one.")
        profiles[p.platform] = p
    if not profiles:
        raise InputError(f"No platform profile (*.yaml) in {d}: nothing can be audited.")
    if key:
        disk_cache.store("profiles", key, profiles)
    return profiles


def _cache_key(paths: list[Path]) -> str | None:
    """What a set of profiles is read from: each file's name (as the profile records it)
    and bytes, and the code and library versions that read it. None when a file cannot be
    read (the read without the cache then says why)."""
    import pydantic

    here = Path(__file__).parent
    parts: list[bytes | str] = [pydantic.VERSION, pd.__version__,
                                (here / "profiles.py").read_bytes(),
                                (here / "profile_file.py").read_bytes()]
    try:
        for path in paths:
            parts += [str(path), path.read_bytes()]
    except OSError:
        return None
    return disk_cache.key_of(*parts)


def timezones(profiles: dict[str, Profile]) -> dict[str, str]:
    return {k: p.timezone for k, p in profiles.items()}


def return_windows(profiles: dict[str, Profile], as_of: pd.Timestamp) -> dict[str, int]:
    """Platform → the no-reason return window in days of the version in force at ``as_of``
    (what the refusal KPI's name says: 7 days on the Chinese platforms, 30 on Amazon US)."""
    out = {}
    for k, p in profiles.items():
        days = (p.at(as_of).settings.get("no_reason_return_window") or {}).get("days")
        if days:
            out[k] = int(days)
    return out


def versions_in_force(profiles: dict[str, Profile], as_of: pd.Timestamp) -> dict[str, str]:
    """Platform → version id in force at ``as_of`` (for run.json)."""
    return {k: p.at(as_of).version for k, p in profiles.items()}
