"""The audit report: ``AuditResult`` → plain context dicts → HTML files.

All grouping, sorting, capping, masking and formatting happens here, in Python, so the
templates only lay out what they are given (and are autoescaped with ``StrictUndefined``).
The CSS is written as a normal stylesheet (``templates/report.css``) and inlined with
``css_inline`` so the page survives mail clients that drop ``<style>``; only the ``@media``
rules stay in a ``<style>`` block. No scripts, no remote assets: trends are inline SVG whose
geometry is computed here.

Scale: the findings frame is grouped once per write, and only the rows that are shown
(``caps`` per rule) are formatted, so 50 shops × 100,000 findings render in seconds.
"""

from __future__ import annotations

import hashlib
import math
import numbers
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import css_inline
import jinja2
import numpy as np
import pandas as pd

from checks.result import FINDING_COLUMNS, SEVERITY_ORDER, AuditResult
from reports.labels import has_label, labels
from reports.mask import mask_field, mask_kind

TEMPLATES = Path(__file__).parent / "templates"

#: KPI display order (docs/spec.md); metrics not listed follow alphabetically.
KPI_ORDER = [
    "dispute_refund_rate",
    "intervention_rate",
    "late_response_rate",
    "invalid_rejection_rate",
    "self_completion_rate",
    "seven_day_refusals",
    "return_address_defect_rate",
    "message_late_rate",
]
TABLE_ORDER = ["orders", "refunds", "return_addresses", "messages"]
#: Finding columns already shown in their own table cells; not repeated from ``evidence``.
_SHOWN_KEYS = frozenset(FINDING_COLUMNS) | {"title", "evidence"}
_MAX_TEXT = 200  # characters of one evidence value shown; the rest is in the CSV/source
_QUARANTINE_EXAMPLES = 3
_HISTORY_POINTS = 30  # trend points per KPI (the last 29 runs + this one)
_TIME_FMT = "%Y-%m-%d %H:%M"

_SEV_RANK = {s: i for i, s in enumerate(SEVERITY_ORDER)}
_OVERALL_RANK = {"action": 0, "attention": 1, "ok": 2}
_DIFF_KINDS = ("appeared", "disappeared", "changed")
_ID_COLUMNS = (("order", "order_id"), ("refund", "refund_id"), ("message", "message_id"))

#: ``diff`` not given at all (the mail): the page has no re-audit section. ``None`` means
#: "given, and there is no earlier run" (the first run): the section says so.
NOT_GIVEN: Any = object()


# --------------------------------------------------------------------------- public API


def build_context(
    result: AuditResult,
    *,
    shop: tuple[str, str] | None,
    history: pd.DataFrame | None,
    lang: str = "zh",
    caps: int = 200,
    diff: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The template context for one page: ``shop=None`` → all-shops overview,
    ``(platform, shop_id)`` → that shop's page. ``diff``: ``reports.diff.report_diff``'s
    dict for the re-audit section (None: no earlier run to compare with)."""
    shared = Shared.of(result, lang=lang, caps=caps, diff=diff)
    if shop is None:
        return overview_context(shared, links=True)
    platform, shop_id = shop
    findings = result.findings
    if len(findings):
        findings = findings[(findings["platform"] == platform) & (findings["shop_id"] == shop_id)]
    hist = _shop_history(history, platform, shop_id)
    return shop_context(shared, platform, shop_id, findings, hist, links=True)


def write_reports(
    result: AuditResult,
    out_dir: Path,
    *,
    history: pd.DataFrame | None = None,
    lang: str = "zh",
    caps: int = 200,
    diff: dict[str, Any] | None = None,
) -> list[Path]:
    """Write ``report.html`` and ``shops/<name>.html`` for every shop; return the paths.

    ``<name>`` is given by :func:`shop_page_names` (the shop id when it is a plain file
    name and unique; see ``docs/decisions-report.md``). ``diff``: the re-audit diff
    (``reports.diff.report_diff``; give it ``limit=None`` so every shop page gets its own
    rows and counts), None when there is no earlier run.
    """
    out_dir = Path(out_dir)
    (out_dir / "shops").mkdir(parents=True, exist_ok=True)
    shared = Shared.of(result, lang=lang, caps=caps, diff=diff)
    renderer = Renderer()

    paths = [out_dir / "report.html"]
    paths[0].write_text(renderer.page(overview_context(shared, links=True)), encoding="utf-8")
    by_shop = group_findings(result.findings)
    hist_by_shop = group_history(history)
    empty = result.findings.iloc[0:0]
    for platform, shop_id in shared.shop_keys:
        ctx = shop_context(
            shared,
            platform,
            shop_id,
            by_shop.get((platform, shop_id), empty),
            hist_by_shop.get((platform, shop_id)),
            links=True,
        )
        path = out_dir / "shops" / f"{shared.page_names[(platform, shop_id)]}.html"
        path.write_text(renderer.page(ctx), encoding="utf-8")
        paths.append(path)
    return paths


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


def _file_stem(text: str) -> str:
    if _PLAIN_NAME.fullmatch(text) and not text.endswith("."):
        return text
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip(".-")[:40] or "shop"
    return f"{slug}-{_digest(text)}"


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


class Renderer:
    """The jinja2 environment and the CSS inliner, built once per write."""

    def __init__(self) -> None:
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(TEMPLATES),
            autoescape=jinja2.select_autoescape(["html"]),
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
        )
        self.css = (TEMPLATES / "report.css").read_text(encoding="utf-8")
        # keep_at_rules: @media rules cannot be inlined; they stay in a <style> block that
        # clients which support it use, and the inline styles carry the page without it.
        self.inliner = css_inline.CSSInliner(
            keep_at_rules=True, load_remote_stylesheets=False, minify_css=True
        )

    def page(self, ctx: Mapping[str, Any]) -> str:
        template = "shop.html" if ctx["page"] == "shop" else "overview.html"
        html = self.env.get_template(template).render(**ctx, css=self.css)
        return self.inliner.inline(html)

    def text(self, ctx: Mapping[str, Any]) -> str:
        template = "shop.txt" if ctx["page"] == "shop" else "overview.txt"
        return self.env.get_template(template).render(**ctx)


# --------------------------------------------------------------------------- shared parts


def shared_for(
    result: AuditResult, *, lang: str = "zh", caps: int = 200, diff: Any = NOT_GIVEN
) -> Shared:
    """The parts every page of one audit shares (labels, catalog, data quality, names).
    Without ``diff`` the pages have no re-audit section (the mail is not given one)."""
    return Shared.of(result, lang=lang, caps=caps, diff=diff)


@dataclass
class Shared:
    """What every page of one write has in common, computed once."""

    result: AuditResult
    lang: str
    caps: int
    L: dict[str, str]
    run: dict[str, Any]
    as_of: pd.Timestamp | None
    window_days: float | None
    catalog: list[dict[str, Any]]
    rule_meta: dict[str, dict[str, Any]]
    data_quality: dict[str, Any]
    shop_keys: list[tuple[str, str]]
    page_names: dict[tuple[str, str], str]
    warnings: list[str] = field(default_factory=list)
    failures: list[Mapping[str, Any]] = field(default_factory=list)
    diff_given: bool = False
    diff: dict[str, Any] | None = None
    #: the diff's rows per (platform, shop_id) and kind, in the diff's order
    diff_by_shop: dict[tuple[str, str], dict[str, list[dict]]] = field(default_factory=dict)

    @classmethod
    def of(cls, result: AuditResult, *, lang: str, caps: int, diff: Any = NOT_GIVEN) -> Shared:
        L = labels(lang)
        as_of = _to_utc(result.run.get("as_of"))
        window = result.run.get("window_days", result.run.get("window"))
        window_days = float(window) if _is_number(window) else None
        rule_meta = {str(r["id"]): r for r in result.catalog}
        keys = shop_keys(result)
        return cls(
            result=result,
            lang=lang,
            caps=caps,
            L=L,
            run={
                "run_id": _text(result.run.get("run_id")),
                "source": redact_source(_text(result.run.get("source"))),
                "window_days": _fmt_number(window_days) if window_days is not None else "—",
                "as_of_utc": _fmt_time(as_of, "UTC"),
                "period_utc": _period(as_of, window_days, "UTC"),
            },
            as_of=as_of,
            window_days=window_days,
            catalog=_catalog_context(result, L),
            rule_meta=rule_meta,
            data_quality=_data_quality_context(result, L, caps),
            shop_keys=keys,
            page_names=shop_page_names(keys),
            warnings=[_text(w) for w in result.run.get("warnings") or []],
            failures=[f for f in result.run.get("failures") or [] if isinstance(f, Mapping)],
            diff_given=diff is not NOT_GIVEN,
            diff=diff if isinstance(diff, Mapping) else None,
            diff_by_shop=_diff_by_shop(diff) if isinstance(diff, Mapping) else {},
        )

    def zone(self, platform: str) -> str:
        zone = self.result.timezones.get(platform, "UTC")
        return zone if _valid_zone(zone) else "UTC"

    def rule_title(self, rule_id: str, fallback: Any) -> str:
        meta = self.rule_meta.get(rule_id)
        if meta and meta.get("title"):
            return _text(meta["title"])
        return _text(fallback) or rule_id

    def rule_severity(self, rule_id: str, fallback: Any) -> str:
        meta = self.rule_meta.get(rule_id)
        return _text(meta["severity"]) if meta and meta.get("severity") else _text(fallback)


# --------------------------------------------------------------------------- shop page


def shop_context(
    shared: Shared,
    platform: str,
    shop_id: str,
    findings: pd.DataFrame,
    history: pd.DataFrame | None,
    *,
    links: bool,
) -> dict[str, Any]:
    L, zone = shared.L, shared.zone(platform)
    kpis = _kpi_context(shared, platform, shop_id, history)
    status = findings["status"] if len(findings) else pd.Series([], dtype=object)
    at_risk = findings[status == "at_risk"]
    violations = findings[status == "violation"]
    contestable = findings[status == "contestable"]
    overall = _overall(
        critical=int((violations["severity"] == "critical").sum()) if len(violations) else 0,
        violations=len(violations),
        at_risk=len(at_risk),
        kpi_statuses=[k["status"] for k in kpis],
    )
    return {
        "page": "shop",
        "lang": shared.lang,
        "L": L,
        "title": f"{L['report_title']} · {shop_id} · {platform}",
        "run": shared.run,
        "links": {"overview": "../report.html"} if links else None,
        "head": {
            "shop_id": shop_id,
            "platform": platform,
            "timezone": zone,
            "as_of": _fmt_time(shared.as_of, zone),
            "period": _period(shared.as_of, shared.window_days, zone),
            "overall": {"key": overall, "label": L[f"overall_{overall}"]},
            "as_of_date": _fmt_time(shared.as_of, zone, "%Y-%m-%d"),
            "counts": {
                "at_risk": len(at_risk),
                "violation": len(violations),
                "contestable": len(contestable),
            },
        },
        "kpis": kpis,
        "at_risk": _at_risk_context(shared, at_risk, zone),
        "violations": _rule_groups(shared, violations, zone, sort="overdue"),
        "contestable": _rule_groups(shared, contestable, zone, sort="ids"),
        "diff": _diff_context(shared, (platform, shop_id), zone),
        "warnings": _shop_warnings(shared, platform, shop_id),
        "data_quality": shared.data_quality,
        "catalog": shared.catalog,
        "not_evaluated": [_text(r) for r in shared.result.not_evaluated],
    }


def _overall(*, critical: int, violations: int, at_risk: int, kpi_statuses: list[str]) -> str:
    """``action``: a critical violation or a KPI in breach; ``attention``: any other
    violation, an at-risk item or a KPI warning; ``ok`` otherwise (contestable disputes are
    the seller's opportunity, not a problem)."""
    if critical or "breach" in kpi_statuses:
        return "action"
    if violations or at_risk or "warn" in kpi_statuses:
        return "attention"
    return "ok"


def _at_risk_context(shared: Shared, frame: pd.DataFrame, zone: str) -> dict[str, Any]:
    L = shared.L
    ordered = _sort(frame, ["due_at", "rule_id", "refund_id", "message_id", "order_id"])
    shown = ordered.head(shared.caps)
    rows = _finding_rows(shared, shown, zone)
    titles = _column(shown, "title")
    for row, title in zip(rows, titles, strict=True):
        key = f"act_{row['rule_id']}"
        row["action"] = L[key] if has_label(key) else shared.rule_title(row["rule_id"], title)
    more = len(frame) - len(shown)
    return {
        "rows": rows,
        "total": len(frame),
        "more": L["more_in_csv"].format(n=more) if more > 0 else None,
    }


def _rule_groups(shared: Shared, frame: pd.DataFrame, zone: str, *, sort: str) -> list[dict]:
    """One group per rule (most severe first, then by id), ``caps`` rows each."""
    if not len(frame):
        return []
    L, caps = shared.L, shared.caps
    groups = []
    # one sort per table; groupby keeps that order inside each rule
    if sort == "overdue":
        keys = ["overdue_hours", "due_at", "refund_id", "message_id", "order_id"]
        frame = _sort(frame, keys, [False])
    else:
        frame = _sort(frame, ["refund_id", "message_id", "order_id"])
    counts = frame["rule_id"].value_counts(sort=False)
    for rule_id, shown in (
        frame.groupby("rule_id", sort=False).head(caps).groupby("rule_id", sort=False)
    ):
        total = int(counts[rule_id])
        rule_id = _text(rule_id)
        first = shown.iloc[0]
        severity = shared.rule_severity(rule_id, first.get("severity"))
        more = total - len(shown)
        groups.append(
            {
                "rule_id": rule_id,
                "title": shared.rule_title(rule_id, first.get("title")),
                "severity": severity,
                "severity_label": _severity_label(L, severity),
                "count": total,
                "rows": _finding_rows(shared, shown, zone),
                "more": L["more_in_csv"].format(n=more) if more > 0 else None,
            }
        )
    groups.sort(key=lambda g: (_SEV_RANK.get(g["severity"], len(_SEV_RANK)), g["rule_id"]))
    return groups


def _finding_rows(shared: Shared, frame: pd.DataFrame, zone: str) -> list[dict[str, Any]]:
    """The shown rows of one table, formatted column-wise (only capped rows get here)."""
    L = shared.L
    id_columns = [
        (L["order"], _column(frame, "order_id")),
        (L["refund"], _column(frame, "refund_id")),
        (L["message"], _column(frame, "message_id")),
    ]
    due = _fmt_times(frame, "due_at", zone)
    responded = _fmt_times(frame, "responded_at", zone)
    rows = []
    for i, (rule_id, overdue, detail, evidence) in enumerate(
        zip(
            _column(frame, "rule_id"),
            _column(frame, "overdue_hours"),
            _column(frame, "detail"),
            _column(frame, "evidence"),
            strict=True,
        )
    ):
        ids = []
        for label, values in id_columns:
            value = _text(values[i])
            if value:
                ids.append({"label": label, "value": value})
        has_overdue = _is_number(overdue)
        rows.append(
            {
                "rule_id": _text(rule_id),
                "ids": ids,
                "due": due[i],
                "responded": responded[i],
                "overdue": f"{overdue:.1f}" if has_overdue else "",
                "hours_left": f"{-overdue:.1f}" if has_overdue else "",
                "detail": _text(detail),
                "evidence": _evidence(evidence, zone, L),
            }
        )
    return rows


def _evidence(evidence: Any, zone: str, L: Mapping[str, str]) -> list[dict[str, str]]:
    if not isinstance(evidence, Mapping):
        return []
    out = []
    for key, value in evidence.items():
        if type(key) is not str:
            key = _text(key)
        if key in _SHOWN_KEYS:
            continue
        if mask_kind(key):
            if isinstance(value, list | tuple):
                value = [mask_field(key, v) for v in value]
            else:
                value = mask_field(key, value)
        if type(value) is str:  # the common case, kept off the generic path
            text = value if len(value) <= _MAX_TEXT else _truncate(value)
        else:
            text = _fmt_value(value, zone, L)
        out.append({"key": key, "value": text})
    return out


# --------------------------------------------------------------------------- KPIs + trend


def _kpi_context(
    shared: Shared, platform: str, shop_id: str, history: pd.DataFrame | None
) -> list[dict[str, Any]]:
    L = shared.L
    kpis = shared.result.kpis
    if not len(kpis):
        return []
    mine = kpis[(kpis["platform"] == platform) & (kpis["shop_id"] == shop_id)]
    order = {m: i for i, m in enumerate(KPI_ORDER)}
    records = sorted(
        _records(mine), key=lambda r: (order.get(r["metric"], len(order)), str(r["metric"]))
    )
    past = _past_values(history, shared.run["run_id"])
    cards = []
    for rec in records:
        metric = _text(rec["metric"])
        value, threshold = _float(rec.get("value")), _float(rec.get("threshold"))
        status = _text(rec.get("status"))
        if value is None or status not in ("ok", "warn", "breach"):
            status = "empty"
        better = _text(rec.get("better")) or "lower"
        is_rate = metric.endswith("_rate")
        series = past.get(metric, []) + [value]
        cards.append(
            {
                "metric": metric,
                "name": L[f"kpi_{metric}"] if has_label(f"kpi_{metric}") else metric,
                "value": _fmt_kpi(value, is_rate),
                "threshold": (("≥ " if better == "higher" else "≤ ") + _fmt_kpi(threshold, is_rate))
                if threshold is not None
                else "—",
                "better": L["better_higher"] if better == "higher" else L["better_lower"],
                "status": status,
                "status_label": L[f"status_{status}"],
                "spark": sparkline(series, threshold=threshold),
            }
        )
    return cards


def _past_values(history: pd.DataFrame | None, run_id: str) -> dict[str, list[float | None]]:
    """Earlier runs' values per metric, oldest first, this run excluded, last N runs."""
    if history is None or not len(history):
        return {}
    hist = history[history["run_id"].astype(str) != run_id]
    hist = hist.assign(_t=pd.to_datetime(hist["as_of"], utc=True)).sort_values(
        ["_t", "run_id"], kind="stable"
    )
    out = {}
    for metric, rows in hist.groupby("metric", sort=False):
        out[_text(metric)] = [_float(v) for v in rows["value"].tail(_HISTORY_POINTS - 1)]
    return out


def sparkline(
    values: list[float | None],
    *,
    threshold: float | None = None,
    width: int = 200,
    height: int = 34,
    pad: float = 4.0,
) -> dict[str, Any] | None:
    """Geometry of a trend line: numbers only, the template draws the SVG.

    The last value (this run) sits at the right edge; empty values break the line; the
    threshold is a dashed line when it falls inside the drawn range.
    """
    if not values or all(v is None for v in values):
        return None
    known = [v for v in values if v is not None]
    lo, hi = min(known), max(known)
    if threshold is not None:
        lo, hi = min(lo, threshold), max(hi, threshold)
    n = len(values)
    step = (width - 2 * pad) / (n - 1) if n > 1 else 0.0

    def y(v: float) -> float:
        if hi == lo:
            return height / 2
        return round(height - pad - (v - lo) / (hi - lo) * (height - 2 * pad), 1)

    segments, dots, current = [], [], []
    for i, v in enumerate(values):
        x = round(pad + i * step if n > 1 else width - pad, 1)
        if v is None:
            if current:
                segments.append(current)
            current = []
            continue
        current.append((x, y(v)))
    if current:
        segments.append(current)
    lines = []
    for seg in segments:
        if len(seg) == 1:
            dots.append({"x": seg[0][0], "y": seg[0][1]})
        else:
            lines.append(" ".join(f"{x},{yy}" for x, yy in seg))
    last = values[-1]
    return {
        "width": width,
        "height": height,
        "lines": lines,
        "dots": dots,
        "last": {"x": round(width - pad, 1), "y": y(last)} if last is not None else None,
        "threshold_y": y(threshold) if threshold is not None else None,
        "points": n,
    }


# --------------------------------------------------------------------------- overview


def overview_context(shared: Shared, *, links: bool) -> dict[str, Any]:
    L, result = shared.L, shared.result
    f = result.findings
    counts: dict[tuple[str, str], dict[str, int]] = {}
    if len(f):
        grouped = f.groupby(["platform", "shop_id", "status", "severity"], sort=False).size()
        for (platform, shop_id, status, severity), n in grouped.items():
            c = counts.setdefault((str(platform), str(shop_id)), {})
            c[f"{status}:{severity}"] = c.get(f"{status}:{severity}", 0) + int(n)
            c[str(status)] = c.get(str(status), 0) + int(n)
    kpi_status: dict[tuple[str, str], list[str]] = {}
    if len(result.kpis):
        for platform, shop_id, status in result.kpis[["platform", "shop_id", "status"]].itertuples(
            index=False
        ):
            kpi_status.setdefault((str(platform), str(shop_id)), []).append(_text(status))
    rows = []
    for key in shared.shop_keys:
        c = counts.get(key, {})
        statuses = kpi_status.get(key, [])
        row = {
            "platform": key[0],
            "shop_id": key[1],
            "href": f"shops/{shared.page_names[key]}.html" if links else None,
            "critical": c.get("violation:critical", 0),
            "major": c.get("violation:major", 0),
            "minor": c.get("violation:minor", 0),
            "at_risk": c.get("at_risk", 0),
            "contestable": c.get("contestable", 0),
            "kpi_breaches": statuses.count("breach"),
            "kpi_warns": statuses.count("warn"),
            "total": sum(v for k, v in c.items() if ":" not in k),
        }
        overall = _overall(
            critical=row["critical"],
            violations=c.get("violation", 0),
            at_risk=row["at_risk"],
            kpi_statuses=statuses,
        )
        row["overall"] = {"key": overall, "label": L[f"overall_{overall}"]}
        rows.append(row)
    rows.sort(
        key=lambda r: (
            _OVERALL_RANK[r["overall"]["key"]],
            -r["critical"],
            -r["kpi_breaches"],
            -r["major"],
            -r["minor"],
            -r["at_risk"],
            -r["kpi_warns"],
            r["platform"],
            r["shop_id"],
        )
    )
    for i, row in enumerate(rows, 1):
        row["rank"] = i
    by_rule = _rule_totals(shared)
    totals = {s: sum(r[s] for r in rows) for s in ("at_risk", "contestable", "total")}
    totals["violation"] = sum(c.get("violation", 0) for c in counts.values())
    return {
        "page": "overview",
        "lang": shared.lang,
        "L": L,
        "title": f"{L['report_title']} · {L['overview_title']}",
        "run": shared.run,
        "links": None,
        "ranking": rows,
        "totals": totals,
        "rule_totals": by_rule,
        "timezones": [
            {"platform": p, "zone": shared.zone(p)}
            for p in sorted({k[0] for k in shared.shop_keys})
        ],
        "diff": _diff_context(shared, None, "UTC"),
        "warnings": list(shared.warnings),
        "data_quality": shared.data_quality,
        "catalog": shared.catalog,
        "not_evaluated": [_text(r) for r in result.not_evaluated],
    }


def _rule_totals(shared: Shared) -> list[dict[str, Any]]:
    f = shared.result.findings
    if not len(f):
        return []
    table = f.groupby(["rule_id", "status"], sort=False).size()
    per_rule: dict[str, dict[str, int]] = {}
    for (rule_id, status), n in table.items():
        per_rule.setdefault(_text(rule_id), {})[_text(status)] = int(n)
    first = f.drop_duplicates("rule_id").set_index("rule_id")
    rows = []
    for rule_id, c in per_rule.items():
        sev = shared.rule_severity(rule_id, first.at[rule_id, "severity"])
        rows.append(
            {
                "rule_id": rule_id,
                "title": shared.rule_title(
                    rule_id, first.at[rule_id, "title"] if "title" in first.columns else ""
                ),
                "severity": sev,
                "severity_label": _severity_label(shared.L, sev),
                "at_risk": c.get("at_risk", 0),
                "violation": c.get("violation", 0),
                "contestable": c.get("contestable", 0),
                "total": sum(c.values()),
            }
        )
    rows.sort(key=lambda r: (_SEV_RANK.get(r["severity"], len(_SEV_RANK)), r["rule_id"]))
    return rows


# --------------------------------------------------------------------------- re-audit diff


def _diff_by_shop(diff: Mapping[str, Any]) -> dict[tuple[str, str], dict[str, list[dict]]]:
    out: dict[tuple[str, str], dict[str, list[dict]]] = {}
    for kind in _DIFF_KINDS:
        for item in diff.get(kind) or []:
            key = (_text(item.get("platform")), _text(item.get("shop_id")))
            out.setdefault(key, {k: [] for k in _DIFF_KINDS})[kind].append(item)
    return out


def _diff_context(
    shared: Shared, shop: tuple[str, str] | None, zone: str
) -> dict[str, Any] | None:
    """The re-audit section: this run against the earlier one (``reports.diff``), for the
    whole audit (``shop=None``) or one shop. None: no section (no diff was given)."""
    if not shared.diff_given:
        return None
    L, d = shared.L, shared.diff
    if d is None:
        return {"baseline": None, "note": L["diff_none"]}
    truncated = bool(d.get("truncated"))
    if shop is None:
        lists = {k: list(d.get(k) or []) for k in _DIFF_KINDS}
        given = d.get("counts") or {}
        counts = {k: _count(given.get(k), len(lists[k])) for k in _DIFF_KINDS}
        unchanged = _count(given.get("unchanged"), None)
    else:  # per shop from the rows: complete unless the diff itself was cut
        lists = shared.diff_by_shop.get(shop) or {k: [] for k in _DIFF_KINDS}
        counts = {k: len(lists[k]) for k in _DIFF_KINDS}
        unchanged = None
    rows = []
    shares = _fair_shares([len(lists[k]) for k in _DIFF_KINDS], shared.caps)
    for kind, n in zip(_DIFF_KINDS, shares, strict=True):
        rows.extend(_diff_row(shared, kind, item) for item in lists[kind][:n])
    before, after = d.get("before") or {}, d.get("after") or {}
    kind = "re-audit" if d.get("kind") == "re-audit" else "previous"
    when = before.get("recorded_at") if kind == "re-audit" else before.get("as_of")
    when = _fmt_time(_to_utc(when), zone)
    more = sum(counts.values()) - len(rows)
    if more > 0:
        more_text = L["diff_more"].format(n=more)
    else:
        more_text = L["diff_full"] if truncated and shop is not None else None
    return {
        "baseline": {
            "kind_label": L[f"diff_kind_{kind}"],
            "run_id": _text(before.get("run_id")),
            "when_label": L["recorded_at"] if kind == "re-audit" else L["as_of"],
            "when": f"{when} UTC" if when and shop is None else when,
        },
        "counts": [{"key": k, "label": L[f"diff_{k}"], "n": counts[k]} for k in _DIFF_KINDS],
        "total": sum(counts.values()),
        "unchanged": unchanged,
        "with_shop": shop is None,
        "rows": rows,
        "more": more_text,
        "command": f"refund-audit diff {_text(before.get('run_id'))} {_text(after.get('run_id'))}",
    }


def _count(value: Any, fallback: int | None) -> int | None:
    return int(value) if _is_number(value) else fallback


def _fair_shares(sizes: list[int], cap: int) -> list[int]:
    """How many rows of each list to show so that at most ``cap`` are shown in all and a
    long list does not crowd out the short ones (each gets an equal share, unused shares
    go to the others)."""
    shares = [0] * len(sizes)
    left = max(cap, 0)
    open_ = [i for i, n in enumerate(sizes) if n > 0]
    while left > 0 and open_:
        each = max(left // len(open_), 1)
        for i in list(open_):
            take = min(each, sizes[i] - shares[i], left)
            shares[i] += take
            left -= take
            if shares[i] == sizes[i]:
                open_.remove(i)
            if left == 0:
                break
    return shares


def _diff_row(shared: Shared, kind: str, item: Mapping[str, Any]) -> dict[str, Any]:
    L = shared.L
    if kind == "changed":
        before, after = item.get("status_before"), item.get("status_after")
    elif kind == "appeared":
        before, after = None, item.get("status")
    else:
        before, after = item.get("status"), None
    rule_id = _text(item.get("rule_id"))
    meta = shared.rule_meta.get(rule_id)
    return {
        "kind": kind,  # one of _DIFF_KINDS: safe in a class name
        "kind_label": L[f"diff_{kind}"],
        "platform": _text(item.get("platform")),
        "shop_id": _text(item.get("shop_id")),
        "rule_id": rule_id,
        "title": _text(meta.get("title")) if meta else "",
        "ids": [
            {"label": L[label], "value": _text(item.get(col))}
            for label, col in _ID_COLUMNS
            if _text(item.get(col))
        ],
        "before": _status_label(L, before),
        "after": _status_label(L, after),
        "detail": _truncate(_text(item.get("detail"))),
    }


def _status_label(L: Mapping[str, str], status: Any) -> str:
    status = _text(status)
    if not status:
        return "—"
    return L[f"st_{status}"] if has_label(f"st_{status}") else status


# --------------------------------------------------------------------------- run warnings


def _names(text: str) -> re.Pattern[str]:
    """``text`` as a whole name in a sentence: ``tmall/s1`` matches in "shop tmall/s1: …"
    but not inside ``tmall/s10`` or ``tmall/s1-b``."""
    return re.compile(r"(?<![\w./-])" + re.escape(text) + r"(?![\w-]|[./]\w)")


def _shop_warnings(shared: Shared, platform: str, shop_id: str) -> list[str]:
    """The run's warnings that concern one shop: those naming ``platform/shop_id``, those
    about its whole platform when ``run["failures"]`` has a platform-wide entry for it, and
    a line for each structured failure of the shop that no warning already tells."""
    if not shared.warnings and not shared.failures:
        return []
    mine = [
        f
        for f in shared.failures
        if _text(f.get("platform")) == platform and _text(f.get("shop_id")) in ("", shop_id)
    ]
    shop_name = _names(f"{platform}/{shop_id}")
    platform_name = _names(f"platform {platform}")
    platform_wide = any(not _text(f.get("shop_id")) for f in mine)
    out = [
        w
        for w in shared.warnings
        if shop_name.search(w) or (platform_wide and platform_name.search(w))
    ]
    for f in mine:
        error = _text(f.get("error"))
        if not any(error and error in w for w in out):
            out.append(f"{_text(f.get('stage'))}: {error}")
    return out


# --------------------------------------------------------------------------- data quality


def _data_quality_context(result: AuditResult, L: Mapping[str, str], caps: int) -> dict[str, Any]:
    order = {t: i for i, t in enumerate(TABLE_ORDER)}
    tables = []
    for table in sorted(result.counts, key=lambda t: (order.get(t, len(order)), t)):
        c = result.counts[table]
        read, valid = int(c.get("read", 0)), int(c.get("valid", 0))
        quarantined, superseded = int(c.get("quarantined", 0)), int(c.get("superseded", 0))
        tables.append(
            {
                "table": _text(table),
                "read": read,
                "valid": valid,
                "quarantined": quarantined,
                "superseded": superseded,
                "balanced": read == valid + quarantined + superseded,
            }
        )
    q = result.quarantine
    reasons = []
    more = 0
    if len(q):
        keys = ["table", "column", "check"]
        q = q.fillna({k: "" for k in keys})
        sizes = q.groupby(keys, sort=False).size().reset_index(name="n")
        sizes = sizes.sort_values(["n", *keys], ascending=[False, True, True, True], kind="stable")
        more = max(len(sizes) - caps, 0)
        top = sizes.head(caps)
        # the first few rows per reason, in file order, without scanning a group per reason
        examples = q.assign(_i=q.groupby(keys, sort=False).cumcount())
        examples = examples[examples["_i"] < _QUARANTINE_EXAMPLES]
        ex_by_key: dict[tuple, list[dict[str, str]]] = {}
        for rec in _records(examples):
            ex_by_key.setdefault(tuple(rec[k] for k in keys), []).append(
                {
                    "row_key": _text(rec.get("row_key")),
                    "value": _truncate(
                        _text(mask_field(_text(rec.get("column")), rec.get("value")))
                    ),
                    "message": _truncate(_text(rec.get("message"))),
                }
            )
        for rec in _records(top):
            k = tuple(rec[c] for c in keys)
            reasons.append(
                {
                    "table": _text(k[0]),
                    "column": _text(k[1]),
                    "check": _text(k[2]),
                    "count": int(rec["n"]),
                    "examples": ex_by_key.get(k, []),
                }
            )
    return {
        "tables": tables,
        "reasons": reasons,
        "more": L["more_quarantine"].format(n=more) if more else None,
    }


# --------------------------------------------------------------------------- rule catalog


def _catalog_context(result: AuditResult, L: Mapping[str, str]) -> list[dict[str, Any]]:
    skipped = set(map(str, result.not_evaluated))
    rows = []
    for rule in result.catalog:
        rule_id = _text(rule.get("id"))
        sev = _text(rule.get("severity"))
        rows.append(
            {
                "rule_id": rule_id,
                "family": _text(rule.get("family")),
                "severity": sev,
                "severity_label": _severity_label(L, sev),
                "title": _text(rule.get("title")),
                "policy": _text(rule.get("policy")),
                "source": _text(rule.get("source")),
                "not_evaluated": rule_id in skipped,
            }
        )
    return rows  # the registry's order (docs/spec.md lists the rules by family)


# --------------------------------------------------------------------------- helpers


def group_findings(findings: pd.DataFrame) -> dict[tuple[str, str], pd.DataFrame]:
    if not len(findings):
        return {}
    return {
        (str(p), str(s)): g for (p, s), g in findings.groupby(["platform", "shop_id"], sort=False)
    }


def group_history(history: pd.DataFrame | None) -> dict[tuple[str, str], pd.DataFrame]:
    if history is None or not len(history):
        return {}
    return {
        (str(p), str(s)): g for (p, s), g in history.groupby(["platform", "shop_id"], sort=False)
    }


def _shop_history(history: pd.DataFrame | None, platform: str, shop_id: str):
    if history is None or not len(history):
        return None
    return history[(history["platform"] == platform) & (history["shop_id"] == shop_id)]


def _sort(frame: pd.DataFrame, columns: list[str], ascending: list[bool] | None = None):
    cols = [c for c in columns if c in frame.columns]
    if not cols or not len(frame):
        return frame
    asc = [True] * len(cols)
    if ascending:
        for i, a in enumerate(ascending[: len(cols)]):
            asc[i] = a
    return frame.sort_values(cols, ascending=asc, na_position="last", kind="stable")


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return frame.to_dict("records")


def _severity_label(L: Mapping[str, str], severity: str) -> str:
    key = f"sev_{severity}"
    return L.get(key, severity)


def _missing(value: Any) -> bool:
    if value is None or value is pd.NaT or value is pd.NA:
        return True
    return isinstance(value, float) and math.isnan(value)


def _is_bool(value: Any) -> bool:
    return isinstance(value, bool | np.bool_)


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not _is_bool(value) and not _missing(value)


def _float(value: Any) -> float | None:
    if _missing(value):
        return None
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(out) else out


def _text(value: Any) -> str:
    return "" if _missing(value) else str(value)


def _truncate(text: str) -> str:
    return text if len(text) <= _MAX_TEXT else text[: _MAX_TEXT - 1] + "…"


@lru_cache(maxsize=64)
def _zoneinfo(name: str) -> ZoneInfo | None:
    try:
        return ZoneInfo(name)
    except (ValueError, KeyError, OSError):
        return None


def _valid_zone(name: str) -> bool:
    return isinstance(name, str) and _zoneinfo(name) is not None


def _to_utc(value: Any) -> pd.Timestamp | None:
    """A UTC timestamp from a Timestamp/datetime/ISO string; naive values are taken as UTC
    (the AuditResult keeps everything tz-aware UTC; this only guards the edge)."""
    if _missing(value) or value == "":
        return None
    try:
        ts = pd.Timestamp(value)
    except (TypeError, ValueError):
        return None
    if ts is pd.NaT:
        return None
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def _fmt_time(ts: Any, zone: str, fmt: str = _TIME_FMT) -> str:
    """Local wall time of an instant (a naive value is UTC). Goes through the epoch and
    ``zoneinfo``: ten times faster than ``Timestamp.tz_convert`` per value."""
    if ts is None or _missing(ts):
        return ""
    if isinstance(ts, pd.Timestamp):
        seconds = ts.value / 1e9 if ts.tzinfo is None else ts.timestamp()
    elif isinstance(ts, datetime):
        seconds = (ts if ts.tzinfo else ts.replace(tzinfo=UTC)).timestamp()
    else:
        return _text(ts)
    return datetime.fromtimestamp(seconds, _zoneinfo(zone) or UTC).strftime(fmt)


def _fmt_times(frame: pd.DataFrame, column: str, zone: str) -> list[str]:
    if column not in frame.columns:
        return [""] * len(frame)
    return [_fmt_time(ts, zone) for ts in frame[column].tolist()]


def _column(frame: pd.DataFrame, column: str) -> list[Any]:
    return frame[column].tolist() if column in frame.columns else [None] * len(frame)


def _period(as_of: pd.Timestamp | None, window_days: float | None, zone: str) -> str:
    if as_of is None:
        return ""
    if window_days is None:
        return f"… – {_fmt_time(as_of, zone)}"
    start = as_of - pd.Timedelta(days=window_days)
    return f"{_fmt_time(start, zone)} – {_fmt_time(as_of, zone)}"


def _fmt_number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.2f}"


def _fmt_kpi(value: float | None, is_rate: bool) -> str:
    if value is None:
        return "—"
    return f"{value * 100:.2f}%" if is_rate else _fmt_number(value)


def _fmt_value(value: Any, zone: str, L: Mapping[str, str]) -> str:
    if isinstance(value, str):
        return _truncate(value)
    if isinstance(value, list | tuple | set | frozenset):
        items = sorted(value, key=str) if isinstance(value, set | frozenset) else value
        return _truncate(", ".join(_fmt_value(v, zone, L) for v in items))
    if isinstance(value, Mapping):
        return _truncate(", ".join(f"{k}={_fmt_value(v, zone, L)}" for k, v in value.items()))
    if _missing(value):
        return "—"
    if isinstance(value, datetime):  # pd.Timestamp included
        return _fmt_time(value, zone) or "—"
    if _is_bool(value):
        return L["yes"] if value else L["no"]
    if _is_number(value):
        return _fmt_number(float(value))
    return _truncate(str(value))
