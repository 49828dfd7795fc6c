"""What every page and mail of one audit shares, computed once per write.

The shop keys and page file names, the run header, the rule metadata (titles and next
actions), the findings grouped per shop, the quarantine rows per shop, the findings that are
new since the last run. Building these once is what keeps 500 shop pages cheap: each shop
then only formats the few rows it shows.
"""

from __future__ import annotations

import hashlib
import re
import weakref
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import pandas as pd

from checks.result import SEVERITY_ORDER, AuditResult
from reports.format import fmt_local, fmt_number, fmt_time, is_number, text, to_utc, valid_zone
from reports.i18n import N_, Tr
from reports.mask import masking_enabled

DEFAULT_REPORT_TZ = "Asia/Shanghai"
SEV_RANK = {s: i for i, s in enumerate(SEVERITY_ORDER)}
DIFF_KINDS = ("appeared", "disappeared", "changed")
#: how a finding is identified across runs (as in the history store)
FINDING_KEY = ("rule_id", "platform", "shop_id", "order_id", "refund_id", "message_id")

#: ``diff`` not given at all: the page has no "changed since the last run" section. ``None``
#: means "given, and there is no earlier run" (the first run): the section says so.
NOT_GIVEN: Any = object()

SEVERITY_NAMES = {
    "critical": N_("Critical"),
    "major": N_("Major"),
    "minor": N_("Minor"),
    "info": N_("Info"),
}
STATUS_NAMES = {
    "at_risk": N_("Due soon"),
    "violation": N_("Violation"),
    "contestable": N_("Contestable"),
}
OVERALL_NAMES = {
    "action": N_("Action needed"),
    "attention": N_("Needs attention"),
    "ok": N_("All clear"),
}


def shop_keys(result: AuditResult) -> list[tuple[str, str]]:
    """Every shop of the audit, sorted: ``result.shops`` plus any shop that only appears in
    the findings or KPIs (so nothing found is ever left without a page)."""
    keys: set[tuple[str, str]] = set()
    for frame in (result.shops, result.findings, result.kpis):
        if len(frame) and {"platform", "shop_id"} <= set(frame.columns):
            pairs = frame[["platform", "shop_id"]].drop_duplicates()
            keys.update(
                zip(pairs["platform"].astype(str), pairs["shop_id"].astype(str), strict=True)
            )
    return sorted(keys)


def redact_source(source: str) -> str:
    """A source URI without its password (``postgresql://u:secret@h/db`` → ``u:***@h/db``)."""
    scheme, sep, rest = source.partition("://")
    if not sep:
        return source
    authority, slash, path = rest.partition("/")
    if "@" not in authority:
        return source
    userinfo, host = authority.rsplit("@", 1)
    user, colon, _ = userinfo.partition(":")
    return f"{scheme}://{user}{':***' if colon else ''}@{host}{slash}{path}"


_PLAIN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def _digest(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode("utf-8")).hexdigest()[:8]


def _file_stem(value: str) -> str:
    if _PLAIN_NAME.fullmatch(value) and not value.endswith("."):
        return value
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", value).strip(".-")[:40] or "shop"
    return f"{slug}-{_digest(value)}"


def shop_page_names(keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], str]:
    """File stem of each shop page, deterministic and collision-free.

    1. A shop id that is a plain ASCII file name (letters, digits, ``._-``, ≤ 64 chars) is
       used as is; anything else becomes a slug plus 8 hex digits of its SHA-256.
    2. A shop id found on more than one platform gets ``--<platform>`` on every platform.
    3. Names that still differ only by case (case-insensitive file systems) all get
       ``-<hash of platform and shop id>``.
    """
    keys = sorted(set(keys))
    platforms_of: dict[str, int] = {}
    for _, shop_id in keys:
        platforms_of[shop_id] = platforms_of.get(shop_id, 0) + 1
    names = {}
    for platform, shop_id in keys:
        stem = _file_stem(shop_id)
        if platforms_of[shop_id] > 1:
            stem = f"{stem}--{_file_stem(platform)}"
        names[(platform, shop_id)] = stem
    folded: dict[str, list[tuple[str, str]]] = {}
    for key, stem in names.items():
        folded.setdefault(stem.casefold(), []).append(key)
    for group in folded.values():
        if len(group) > 1:
            for platform, shop_id in group:
                names[(platform, shop_id)] += f"-{_digest(platform, shop_id)}"
    return names


def group_by_shop(frame: pd.DataFrame | None) -> dict[tuple[str, str], pd.DataFrame]:
    """One frame per (platform, shop_id): a single groupby, not a filter per shop."""
    if frame is None or not len(frame) or not {"platform", "shop_id"} <= set(frame.columns):
        return {}
    return {
        (str(p), str(s)): g
        for (p, s), g in frame.groupby(["platform", "shop_id"], sort=False, dropna=True)
    }


def group_findings(findings: pd.DataFrame) -> dict[tuple[str, str], pd.DataFrame]:
    return group_by_shop(findings)


def group_history(history: pd.DataFrame | None) -> dict[tuple[str, str], pd.DataFrame]:
    return group_by_shop(history)


@dataclass
class Shared:
    """What every page and mail of one write has in common."""

    result: AuditResult
    lang: str
    tr: Tr
    caps: int
    report_tz: str
    run: dict[str, Any]
    as_of: pd.Timestamp | None
    window_days: float | None
    rule_meta: dict[str, dict[str, Any]]
    shop_keys: list[tuple[str, str]]
    page_names: dict[tuple[str, str], str]
    warnings: list[str] = field(default_factory=list)
    failures: list[Mapping[str, Any]] = field(default_factory=list)
    diff_given: bool = False
    diff: dict[str, Any] | None = None
    #: the diff's rows per (platform, shop_id) and kind, in the diff's order
    diff_by_shop: dict[tuple[str, str], dict[str, list[dict]]] = field(default_factory=dict)
    #: finding keys (FINDING_KEY as strings) new since the last run, and status changes
    appeared: set[tuple[str, ...]] = field(default_factory=set)
    changed: set[tuple[str, ...]] = field(default_factory=set)
    _by_shop: dict | None = None
    _quarantine_by_shop: dict | None = None
    _history_by_shop: dict | None = None
    history: pd.DataFrame | None = None
    #: per-audit results computed once for every page and mail (selections, KPI cards…)
    cache: dict[Any, Any] = field(default_factory=dict)
    _done: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def of(
        cls,
        result: AuditResult,
        *,
        lang: str = "zh",
        caps: int = 30,
        diff: Any = NOT_GIVEN,
        report_tz: str | None = None,
        history: pd.DataFrame | None = None,
    ) -> Shared:
        tr = Tr(lang)
        as_of = to_utc(result.run.get("as_of"))
        window = result.run.get("window_days", result.run.get("window"))
        window_days = float(window) if is_number(window) else None
        zone = report_tz if valid_zone(report_tz) else DEFAULT_REPORT_TZ
        keys = shop_keys(result)
        shared = cls(
            result=result,
            lang=lang,
            tr=tr,
            caps=caps,
            report_tz=zone,
            run={
                "run_id": text(result.run.get("run_id")),
                "source": redact_source(text(result.run.get("source"))),
                "window_days": fmt_number(window_days) if window_days is not None else "—",
                "as_of": fmt_local(as_of, zone),
                "as_of_utc": as_of.strftime("%Y-%m-%d %H:%M") if as_of is not None else "",
                "as_of_date": fmt_time(as_of, zone, "%Y-%m-%d") if as_of is not None else "",
                "period": period(as_of, window_days, zone),
                "timezone": zone,
            },
            as_of=as_of,
            window_days=window_days,
            rule_meta={str(r["id"]): r for r in result.catalog},
            shop_keys=keys,
            page_names=shop_page_names(keys),
            warnings=[text(w) for w in result.run.get("warnings") or []],
            failures=[f for f in result.run.get("failures") or [] if isinstance(f, Mapping)],
            diff_given=diff is not NOT_GIVEN,
            diff=diff if isinstance(diff, Mapping) else None,
            history=history,
        )
        if isinstance(diff, Mapping):
            shared.diff_by_shop = _diff_by_shop(diff)
            shared.appeared = {_key(item) for item in diff.get("appeared") or []}
            shared.changed = {_key(item) for item in diff.get("changed") or []}
        shared._adopt(_work_done(result, (lang, caps, zone, diff, history)))
        return shared

    def _adopt(self, done: dict[str, Any]) -> None:
        """Share the per-audit work (chosen rows, KPI cards, groupings) with every other
        ``Shared`` of the same audit and parameters: the pages and then the mail bodies of
        one run format their rows once. The header fields (run, warnings) stay this
        object's own, read afresh."""
        self.cache = done.setdefault("cache", {})
        self._by_shop = done.get("by_shop")
        self._quarantine_by_shop = done.get("quarantine_by_shop")
        self._history_by_shop = done.get("history_by_shop")
        self._done = done

    # ---- compatibility with callers that read labels by key
    @property
    def L(self) -> dict[str, str]:  # the delivery code's historical name
        tr = self.tr
        return {"report_title": tr("Refund audit"), "overview_title": tr("All shops overview")}

    # ---- per-shop data, grouped once
    def findings_of(self, key: tuple[str, str]) -> pd.DataFrame:
        if self._by_shop is None:
            self._by_shop = self._done["by_shop"] = group_by_shop(self.result.findings)
        return self._by_shop.get(key, self.result.findings.iloc[0:0])

    def quarantine_of(self, key: tuple[str, str]) -> pd.DataFrame:
        if self._quarantine_by_shop is None:
            self._quarantine_by_shop = self._done["quarantine_by_shop"] = group_by_shop(
                self.result.quarantine)
        return self._quarantine_by_shop.get(key, self.result.quarantine.iloc[0:0])

    def history_of(self, key: tuple[str, str]) -> pd.DataFrame | None:
        if self._history_by_shop is None:
            self._history_by_shop = self._done["history_by_shop"] = group_by_shop(
                self.history)
        return self._history_by_shop.get(key)

    def quarantine_has_owners(self) -> bool:
        owners = self.cache.get("quarantine_has_owners")
        if owners is None:
            owners = self.cache["quarantine_has_owners"] = {"platform", "shop_id"} <= set(
                self.result.quarantine.columns.tolist())
        return owners

    # ---- zones and rule texts
    def zone(self, platform: str) -> str:
        zone = self.result.timezones.get(platform, "UTC")
        return zone if valid_zone(zone) else "UTC"

    def rule_title(self, rule_id: str, fallback: Any = "") -> str:
        meta = self.rule_meta.get(rule_id)
        title = text(meta.get("title")) if meta and meta.get("title") else text(fallback)
        return self.tr(title) if title else rule_id

    def rule_action(self, rule_id: str) -> str:
        meta = self.rule_meta.get(rule_id)
        action = text(meta.get("action")) if meta else ""
        if not action:  # a result written before rules carried their action
            rule = registry_rule(rule_id)
            action = rule.action if rule is not None else ""
        return self.tr(action) if action else self.tr("Check the record and fix it")

    def rule_severity(self, rule_id: str, fallback: Any = "") -> str:
        meta = self.rule_meta.get(rule_id)
        return text(meta["severity"]) if meta and meta.get("severity") else text(fallback)

    def severity_label(self, severity: str) -> str:
        name = SEVERITY_NAMES.get(severity)
        return self.tr(name) if name else severity

    def status_label(self, status: Any) -> str:
        status = text(status)
        if not status:
            return "—"
        name = STATUS_NAMES.get(status)
        return self.tr(name) if name else status

    def overall_label(self, overall: str) -> str:
        return self.tr(OVERALL_NAMES[overall])

    def mark(self, key: tuple[str, ...]) -> str:
        """``new`` / ``changed`` / ``""`` for a finding's key against the last run."""
        if key in self.appeared:
            return "new"
        if key in self.changed:
            return "changed"
        return ""


#: id(findings) -> (a weak reference to the frame, {parameters: the work done for them})
_WORK: dict[int, tuple[weakref.ref, dict[tuple, dict[str, Any]]]] = {}


def _work_done(result: AuditResult, params: tuple) -> dict[str, Any]:
    """The work store of ``result`` for these parameters, kept as long as its findings frame
    lives (two results holding the same frames share it: the mail step's copy of the result).

    Keyed by the identity of the objects it was computed from (the result's frames, the diff
    and history given), so a result whose findings were replaced starts afresh. The objects
    are held in the key, so their ids are not reused while it lives. A frame changed in
    place after a page was written is not noticed: the flow never does that."""
    findings = result.findings
    rid = id(findings)
    entry = _WORK.get(rid)
    if entry is None or entry[0]() is not findings:
        entry = _WORK[rid] = (weakref.ref(findings, lambda _ref, rid=rid: _WORK.pop(rid, None)),
                              {})
    lang, caps, zone, diff, history = params
    frames = (result.kpis, result.quarantine, result.shops, result.address_notes)
    key = (lang, caps, zone, _Ident(diff), _Ident(history), *map(_Ident, frames),
           _Ident(result.timezones), _Ident(result.catalog), _Ident(result.return_windows),
           text(result.run.get("as_of")), masking_enabled())
    return entry[1].setdefault(key, {})


class _Ident:
    """A dictionary key by object identity (frames are not hashable), holding the object."""

    __slots__ = ("obj",)

    def __init__(self, obj: Any) -> None:
        self.obj = obj

    def __hash__(self) -> int:
        return id(self.obj)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Ident) and other.obj is self.obj


def registry_rule(rule_id: str):
    """The rule of this id in the current registry, or None."""
    from checks.registry import BY_ID

    return BY_ID.get(rule_id)


def overall_status(*, critical: int, violations: int, at_risk: int,
                   kpi_statuses: Iterable[str]) -> str:
    """``action``: a critical violation or a KPI in breach; ``attention``: any other
    violation, an item due soon or a KPI warning; ``ok`` otherwise (contestable disputes are
    the seller's opportunity, not a problem)."""
    statuses = list(kpi_statuses)
    if critical or "breach" in statuses:
        return "action"
    if violations or at_risk or "warn" in statuses:
        return "attention"
    return "ok"


@lru_cache(maxsize=256)
def period(as_of: pd.Timestamp | None, window_days: float | None, zone: str) -> str:
    """``start – as_of`` in ``zone`` (the same few values for every shop of a run: cached)."""
    if as_of is None:
        return ""
    if window_days is None:
        return f"… – {fmt_local(as_of, zone)}"
    start = as_of - pd.Timedelta(days=window_days)
    return f"{fmt_local(start, zone)} – {fmt_local(as_of, zone)}"


def _key(item: Mapping[str, Any]) -> tuple[str, ...]:
    return tuple(text(item.get(c)) for c in FINDING_KEY)


def _diff_by_shop(diff: Mapping[str, Any]) -> dict[tuple[str, str], dict[str, list[dict]]]:
    out: dict[tuple[str, str], dict[str, list[dict]]] = {}
    for kind in DIFF_KINDS:
        for item in diff.get(kind) or []:
            key = (text(item.get("platform")), text(item.get("shop_id")))
            out.setdefault(key, {k: [] for k in DIFF_KINDS})[kind].append(item)
    return out
