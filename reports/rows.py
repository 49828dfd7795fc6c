"""The rows of the findings tables: what to do, by when, on which record, and why.

Every row carries its next action (from the rule's metadata), its due time in the shop's
zone with the UTC offset and, for a deadline, the hours left or late counted from the
audit's "as of" (written beside it, so a reader at 9 a.m. can judge what is left now), and a
``mark`` when the finding is new or changed since the last run.

Speed: the rows every page and mail shows are chosen for all shops at once
(:class:`Selection`: one sort of the findings by integer codes, then a cut per shop and
rule) and formatted column by column with pandas string operations (:func:`format_rows`),
never one finding at a time. So 500 shops cost what their pages show, not what was found.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from markupsafe import Markup, escape

from checks.result import FINDING_COLUMNS
from reports.format import fmt_local, fmt_time, fmt_value, text
from reports.i18n import N_
from reports.mask import mask_field, mask_kind, mask_series
from reports.shared import FINDING_KEY, SEV_RANK, Shared

#: Finding columns already shown in their own cells; not repeated from ``evidence``.
_SHOWN_KEYS = frozenset(FINDING_COLUMNS) | {"title", "evidence"}
_UTC_STAMP = re.compile(r"(\d{4}-\d{2}-\d{2} \d{2}:\d{2}) UTC")
_SEP = "\x1f"

#: The names of the evidence fields the rules give, in the team's words.
EVIDENCE_NAMES = {
    "amount": N_("Order amount"),
    "buyer_region": N_("Buyer region"),
    "city": N_("City"),
    "country": N_("Country"),
    "currency": N_("Currency"),
    "decided_at": N_("Decided at"),
    "decision": N_("Decision"),
    "defects": N_("What is wrong"),
    "delivered_at": N_("Delivered at"),
    "dispute_window": N_("Dispute window"),
    "district": N_("District"),
    "entry_shop_id": N_("Address belongs to shop"),
    "escalated_at": N_("Escalated at"),
    "evidence_provided": N_("Buyer gave evidence"),
    "message_id": N_("Message"),
    "phrase": N_("Wording found"),
    "province": N_("Province"),
    "reason": N_("Reason"),
    "refunded_amount": N_("Refunded amount"),
    "refunded_at": N_("Refunded at"),
    "requested_at": N_("Requested at"),
    "required_country": N_("Required country"),
    "return_address_id": N_("Return address"),
    "ruled_at": N_("Platform ruled at"),
    "ruling": N_("Platform ruling"),
    "sent_at": N_("Sent at"),
    "sla": N_("Time allowed"),
    "text": N_("Message text"),
    "valid_from": N_("Valid from"),
    "valid_to": N_("Valid until"),
    "violation": N_("Violation"),
    "window_closes_at": N_("Return window closes"),
    "window_ended_at": N_("Window ended"),
    "recipient": N_("Recipient"),
    "phone": N_("Phone"),
    "shipped_at": N_("Shipped at"),
    "first_response_at": N_("First response at"),
    "seller_received_at": N_("Return received at"),
    "escalation_response_at": N_("Answered the platform at"),
    "order_state": N_("Order state"),
    "quality_dispute_needs_evidence": N_("Platform requires evidence"),
}
ID_NAMES = (("order_id", N_("Order")), ("refund_id", N_("Refund")),
            ("message_id", N_("Message")))


# --------------------------------------------------------------------------- formatting


def _str(frame: pd.DataFrame, name: str) -> pd.Series:
    """A column as text, "" where empty (or absent)."""
    if name not in frame.columns:
        return pd.Series("", index=frame.index, dtype=object)
    col = frame[name]
    return col.astype(object).where(col.notna(), "").astype(str).astype(object)


def local_times(values: pd.Series, zones: pd.Series, fmt: str = "%Y-%m-%d %H:%M",
                offset: bool = True) -> pd.Series:
    """``2026-11-20 14:00 (UTC+08:00)`` per row, each in its row's zone; "" where empty.

    Vectorised without ``strftime`` (slow in pandas): local wall times as ``datetime64``
    printed by numpy, offsets from the difference to UTC (a handful of distinct values)."""
    out = pd.Series("", index=values.index, dtype=object)
    ts = pd.to_datetime(values, utc=True, errors="coerce")
    present = ts.notna().to_numpy()
    if not present.any():
        return out
    utc = ts.dt.tz_localize(None).to_numpy(dtype="datetime64[m]")
    width = {"%Y-%m-%d %H:%M": 16, "%m-%d %H:%M": 16, "%m-%d": 10, "%Y-%m-%d": 10}[fmt]
    start = 5 if fmt.startswith("%m") else 0
    zone_arr = zones.to_numpy()
    for zone in pd.unique(zones):
        m = (zone_arr == zone) & present
        if not m.any():
            continue
        local = ts[m].dt.tz_convert(zone).dt.tz_localize(None).to_numpy(dtype="datetime64[m]")
        text_ = np.char.replace(np.datetime_as_string(local, unit="m").astype(str), "T", " ")
        shown = pd.Series(text_, dtype=object).str.slice(start, width)
        if offset:
            minutes = (local - utc[m]).astype("int64")
            labels = {int(v): _offset_label(int(v)) for v in np.unique(minutes)}
            shown = shown + pd.Series(minutes).map(labels).to_numpy()
        out[m] = shown.to_numpy()
    return out


def _offset_label(minutes: int) -> str:
    sign = "+" if minutes >= 0 else "-"
    minutes = abs(minutes)
    return f" (UTC{sign}{minutes // 60:02d}:{minutes % 60:02d})"


def hours_text(hours: pd.Series) -> pd.Series:
    """``2.5 h`` / ``18 h`` / ``2 d`` / ``3 d 4 h`` per row (absolute value)."""
    h = hours.abs().fillna(0.0)
    short = h.round(1).map("{:.1f}".format).str.replace(r"\.0$", "", regex=True) + " h"
    whole = h.round().astype("int64")
    days, rest = whole // 24, whole % 24
    long_ = days.astype(str) + " d" + np.where(rest > 0, " " + rest.astype(str) + " h", "")
    return pd.Series(np.where(h >= 48, long_, short), index=hours.index, dtype=object)


def _truncate(s: pd.Series, limit: int) -> pd.Series:
    long_ = s.str.len() > limit
    if not long_.any():
        return s
    return s.where(~long_, s.str.slice(0, limit - 1) + "…")


def _join(parts: list[pd.Series], sep: str) -> pd.Series:
    """Row-wise join of the non-empty parts."""
    out = parts[0].copy()
    for p in parts[1:]:
        both = (out != "") & (p != "")
        out = (out + np.where(both, sep, "") + p).astype(object)
    return out


def _mask_unique(values: list[Any], fn) -> list[Any]:
    cache: dict[Any, Any] = {}
    out = []
    for v in values:
        try:
            hit = cache.get(v, cache)
        except TypeError:  # unhashable (a list)
            out.append(fn(v))
            continue
        if hit is cache:
            hit = cache[v] = fn(v)
        out.append(hit)
    return out


def evidence_text(shared: Shared, evidence: pd.Series, zones: pd.Series) -> pd.Series:
    """``Key: value · Key: value`` per row: fields named in the team's words, personal
    data masked, times local with their offset, long texts cut. One tight loop over the
    shown rows (names, masking kinds and zones looked up once per key)."""
    tr = shared.tr
    yes, no = tr("yes"), tr("no")
    labels: dict[Any, str | None] = {}
    kinds: dict[str, str] = {}
    masked: dict[tuple[str, str], str] = {}
    out = []
    for ev, zone in zip(evidence.tolist(), zones.tolist(), strict=True):
        if not isinstance(ev, Mapping) or not ev:
            out.append("")
            continue
        parts = []
        for key, value in ev.items():
            label = labels.get(key, "?")
            if label == "?":
                name = key if type(key) is str else text(key)
                if name in _SHOWN_KEYS:
                    label = None
                else:
                    known = EVIDENCE_NAMES.get(name)
                    label = tr(known) if known else name
                    kinds[name] = mask_kind(name)
                labels[key] = label
            if label is None:
                continue
            name = key if type(key) is str else text(key)
            if kinds[name]:
                if type(value) is str:
                    hit = masked.get((name, value))
                    if hit is None:
                        hit = masked[(name, value)] = mask_field(name, value)
                    value = hit
                elif isinstance(value, list | tuple):
                    value = [mask_field(name, x) for x in value]
                else:
                    value = mask_field(name, value)
            if type(value) is str:
                shown = value if len(value) <= 200 else value[:199] + "…"
            else:
                shown = fmt_value(value, zone, yes, no)
            parts.append(f"{label}: {shown}")
        out.append(" · ".join(parts))
    return pd.Series(out, index=evidence.index, dtype=object)


def format_rows(shared: Shared, f: pd.DataFrame, zone: str | None = None, *,
                evidence: bool = True, detail_len: int = 200, layout: str | None = None,
                links: bool = False) -> list[dict[str, Any]]:
    """The shown rows, formatted column-wise: ``zone`` for all rows (the overview) or each
    row's platform zone (``None``). ``layout`` ``page``/``mail`` adds each row's HTML
    (``html``, escaped here, column-wise) so the templates do not lay out row by row;
    ``zone`` given means rows of several shops, which then name their shop (a link to its
    page when ``links``)."""
    if not len(f):
        return []
    tr = shared.tr
    f = f.reset_index(drop=True)
    platform = _str(f, "platform")
    zones = (pd.Series(zone, index=f.index, dtype=object) if zone
             else platform.map(shared.zone).astype(object))
    due = local_times(f["due_at"], zones) if "due_at" in f else _str(f, "")
    responded = local_times(f["responded_at"], zones) if "responded_at" in f else _str(f, "")
    as_of = zones.map({z: fmt_local(shared.as_of, z, "%m-%d %H:%M")
                       for z in pd.unique(zones)}).astype(object)
    overdue = (pd.to_numeric(f["overdue_hours"], errors="coerce") if "overdue_hours" in f
               else pd.Series(np.nan, index=f.index))
    hours = hours_text(overdue)
    has = (due != "") & overdue.notna()
    answered = responded != ""
    when = np.select(
        [has & (overdue < 0), has & (overdue >= 0) & answered, has & (overdue >= 0)],
        [tr("As of") + " " + as_of + " · " + tr("Time left") + " " + hours,
         tr("Answered late by") + " " + hours,
         tr("As of") + " " + as_of + " · " + tr("Overdue by") + " " + hours],
        "",
    )
    detail = _str(f, "detail")
    # a deadline's sentence is the due time and the hours above; any other rule's detail is
    # the rule's own sentence with its UTC times shown in the shop's zone
    detail = detail.where(due == "", "")
    utc = detail.str.contains(" UTC", regex=False)
    if utc.any():
        detail[utc] = [local_detail(d, z) for d, z in zip(detail[utc], zones[utc], strict=True)]
    detail = mask_series(detail)  # personal data in the sentence (a no-op when masked)
    detail = _truncate(detail, detail_len)
    rule = _str(f, "rule_id")
    actions = {r: shared.rule_action(r) for r in pd.unique(rule)}
    ids = _join([pd.Series(np.where(v != "", tr(name) + " " + v, ""), index=f.index,
                           dtype=object)
                 for col, name in ID_NAMES for v in [_str(f, col)]], ", ")
    mark = pd.Series("", index=f.index, dtype=object)
    if shared.appeared or shared.changed:
        keys = _join_all([_str(f, c) for c in FINDING_KEY])
        mark[keys.isin({_SEP.join(k) for k in shared.appeared})] = "new"
        changed = keys.isin({_SEP.join(k) for k in shared.changed})
        mark[changed & (mark == "")] = "changed"
    columns = {
        "mark": mark,
        "platform": platform,
        "shop_id": _str(f, "shop_id"),
        "rule_id": rule,
        "status": _str(f, "status"),
        "action": rule.map(actions),
        "ids": ids,
        "due": due,
        "responded": responded,
        "when": when,
        "detail": detail,
        "evidence": evidence_text(shared, f["evidence"], zones) if evidence and
        "evidence" in f else pd.Series("", index=f.index, dtype=object),
    }
    if layout:
        columns["html"] = _row_html(shared, columns, layout, with_shop=bool(zone), links=links)
    names = list(columns)
    lists = [list(np.asarray(c, dtype=object)) for c in columns.values()]
    return [dict(zip(names, vals, strict=True)) for vals in zip(*lists, strict=True)]


_TD = "padding:3px 6px;border-bottom:1px solid #eee;vertical-align:top"
_MU = "color:#57606a;font-size:12px"


def _esc(values: Any) -> pd.Series:
    return pd.Series([html.escape(str(v)) for v in np.asarray(values, dtype=object)],
                     dtype=object)


def _row_html(shared: Shared, c: dict[str, Any], layout: str, *, with_shop: bool,
              links: bool) -> pd.Series:
    """Each row's HTML, built with column-wise string operations (every value escaped)."""
    tr = shared.tr
    e = {k: _esc(c[k]) for k in ("due", "when", "action", "rule_id", "ids", "detail",
                                 "evidence", "shop_id", "platform")}
    mark = np.asarray(c["mark"], dtype=object)
    is_at = np.asarray(c["status"], dtype=object) == "at_risk"
    new, changed = str(escape(tr("New"))), str(escape(tr("Status changed")))
    if layout == "page":
        mark_h = np.where(mark == "new", f' <span class="new">{new}</span>',
                          np.where(mark == "changed", f' <span class="changed">{changed}</span>',
                                   ""))
        shop = ""
        if with_shop:
            if links:
                pages = pd.Series([shared.page_names.get((p, s_)) for p, s_ in
                                   zip(c["platform"], c["shop_id"], strict=True)], dtype=object)
                href = _esc(pages.fillna(""))
                name = pd.Series(np.where(href != "", '<a href="shops/' + href + '.html">'
                                          + e["shop_id"] + "</a>", e["shop_id"]), dtype=object)
            else:
                name = e["shop_id"]
            shop = '<td class="id">' + name + ' <span class="muted">' + e["platform"] + \
                "</span></td>"
        at = ("<tr><td><b>" + e["due"] + '</b><div class="when small">' + e["when"]
              + "</div></td>" + shop + "<td><b>" + e["action"] + "</b>" + mark_h
              + '<div class="small muted"><span class="rid">' + e["rule_id"]
              + "</span></div></td><td>" + e["ids"] + '</td><td class="small">'
              + e["evidence"] + "</td></tr>")
        group = ("<tr><td>" + e["ids"] + mark_h + "</td><td>" + e["due"]
                 + '<div class="when small">' + e["when"] + "</div></td><td>" + e["detail"]
                 + '</td><td class="small">' + e["evidence"] + "</td></tr>")
    else:
        mark_h = np.where(mark == "new", f' <b style="color:#0550ae">[{new}]</b>',
                          np.where(mark == "changed",
                                   f' <b style="color:#7d4e00">[{changed}]</b>', ""))
        shop = ("<b>" + e["shop_id"] + '</b> <span style="' + _MU + '">' + e["platform"]
                + "</span><br>") if with_shop else ""
        at = ('<tr><td style="' + _TD + '" width="38%"><b>' + e["due"]
              + '</b><br><span style="color:#9a6700;font-size:12px">' + e["when"]
              + '</span></td><td style="' + _TD + '">' + shop + e["action"] + mark_h
              + '<br><span style="' + _MU + '">' + e["rule_id"] + " · " + e["ids"]
              + "</span></td></tr>")
        tail = np.where(e["when"] != "", " — " + e["when"],
                        np.where(e["detail"] != "", " — " + e["detail"], ""))
        group = '<br><span style="font-size:12px">· ' + e["ids"] + mark_h + tail + "</span>"
    return pd.Series([Markup(h) for h in np.where(is_at, at, group)], dtype=object)


def html_of(rows: list[dict[str, Any]]) -> Markup:
    """The rows' HTML, joined (for a template's ``{{ ... }}``)."""
    return Markup("".join(r["html"] for r in rows))


def _join_all(parts: list[pd.Series]) -> pd.Series:
    out = parts[0]
    for p in parts[1:]:
        out = out + _SEP + p
    return out


def local_detail(detail: str, zone: str) -> str:
    if " UTC" not in detail:
        return detail
    return _UTC_STAMP.sub(lambda m: fmt_local(pd.Timestamp(m.group(1), tz="UTC"), zone), detail)


# --------------------------------------------------------------------------- selection


class Selection:
    """The rows each shop shows, chosen for all shops in one pass over the findings.

    ``at_risk`` earliest due first; violations per rule, most overdue first; contestable
    disputes per rule by ids. Ties keep the findings' own (deterministic) order. Caps are the
    page's; the mail shows the first rows of the same lists."""

    def __init__(self, shared: Shared, *, at_risk: int, per_rule: int, contestable: int,
                 evidence: bool = True, detail_len: int = 200, layout: str | None = None
                 ) -> None:
        self.shared = shared
        f = shared.result.findings
        self.shops: dict[tuple[str, str], dict[str, Any]] = {}
        if not len(f):
            return
        p_code, p_names = pd.factorize(f["platform"].astype(str).to_numpy(dtype=object))
        s_code, s_names = pd.factorize(f["shop_id"].astype(str).to_numpy(dtype=object))
        shop_code, pairs = pd.factorize(p_code.astype("int64") * len(s_names) + s_code)
        shop_keys = [(p_names[c // len(s_names)], s_names[c % len(s_names)]) for c in pairs]
        status = f["status"].astype(str).to_numpy()
        rule = f["rule_id"].astype(str).to_numpy()
        rule_code, rule_names = pd.factorize(rule)
        severity = f["severity"].astype(str).to_numpy()
        n_shops = len(shop_keys)
        counts = {s: np.bincount(shop_code[status == s], minlength=n_shops)
                  for s in ("at_risk", "violation", "contestable")}
        critical = np.bincount(shop_code[(status == "violation") & (severity == "critical")],
                               minlength=n_shops)
        due = pd.to_datetime(f["due_at"], utc=True).to_numpy(dtype="datetime64[ns]"
                                                             ).astype("int64")
        due = np.where(pd.isna(f["due_at"]).to_numpy(), np.iinfo("int64").max, due)
        overdue = pd.to_numeric(f["overdue_hours"], errors="coerce").to_numpy(dtype=float)
        chosen: list[np.ndarray] = []
        # items due soon: per shop, earliest due first
        idx = np.flatnonzero(status == "at_risk")
        order = idx[np.lexsort((due[idx], shop_code[idx]))]
        chosen.append(_head(order, shop_code[order], at_risk))
        # violations: per shop and rule, most overdue first (empty last), then due
        idx = np.flatnonzero(status == "violation")
        neg = np.where(np.isnan(overdue[idx]), np.inf, -overdue[idx])
        order = idx[np.lexsort((due[idx], neg, rule_code[idx], shop_code[idx]))]
        group = shop_code[order].astype("int64") * len(rule_names) + rule_code[order]
        chosen.append(_head(order, group, per_rule))
        idx = np.flatnonzero(status == "contestable")
        order = idx[np.lexsort((rule_code[idx], shop_code[idx]))]
        group = shop_code[order].astype("int64") * len(rule_names) + rule_code[order]
        chosen.append(_head(order, group, contestable))
        take = np.concatenate(chosen)
        rows = format_rows(shared, f.iloc[take], evidence=evidence, detail_len=detail_len,
                           layout=layout)
        rule_total = pd.Series(1, index=pd.MultiIndex.from_arrays(
            [shop_code, status, rule_code])).groupby(level=[0, 1, 2]).size()
        by_shop: dict[int, dict[str, list]] = {}
        for pos, row in zip(take.tolist(), rows, strict=True):
            by_shop.setdefault(int(shop_code[pos]), {"at_risk": [], "violation": [],
                                                     "contestable": []})[row["status"]].append(
                row)
        totals = {(int(a), str(b), int(c)): int(n) for (a, b, c), n in rule_total.items()}
        for code, key in enumerate(shop_keys):
            lists = by_shop.get(code, {"at_risk": [], "violation": [], "contestable": []})
            self.shops[(str(key[0]), str(key[1]))] = {
                "counts": {"at_risk": int(counts["at_risk"][code]),
                           "violation": int(counts["violation"][code]),
                           "contestable": int(counts["contestable"][code]),
                           "critical": int(critical[code])},
                "at_risk": lists["at_risk"],
                "violation": self._groups(lists["violation"], code, "violation", totals,
                                          rule_names),
                "contestable": self._groups(lists["contestable"], code, "contestable",
                                            totals, rule_names),
            }

    def _groups(self, rows: list[dict], code: int, status: str, totals: dict,
                rule_names) -> list[dict[str, Any]]:
        shared = self.shared
        by_rule: dict[str, list[dict]] = {}
        for row in rows:
            by_rule.setdefault(row["rule_id"], []).append(row)
        groups = []
        for rcode, rule_id in enumerate(rule_names):
            total = totals.get((code, status, rcode))
            if not total:
                continue
            rule_id = str(rule_id)
            severity = shared.rule_severity(rule_id)
            groups.append({
                "rule_id": rule_id,
                "title": shared.rule_title(rule_id),
                "action": shared.rule_action(rule_id),
                "severity": severity,
                "severity_label": shared.severity_label(severity),
                "count": total,
                "rows": by_rule.get(rule_id, []),
            })
        groups.sort(key=lambda g: (SEV_RANK.get(g["severity"], len(SEV_RANK)), g["rule_id"]))
        return groups

    def of(self, key: tuple[str, str]) -> dict[str, Any]:
        return self.shops.get(key) or {
            "counts": {"at_risk": 0, "violation": 0, "contestable": 0, "critical": 0},
            "at_risk": [], "violation": [], "contestable": []}


def _head(order: np.ndarray, group: np.ndarray, cap: int) -> np.ndarray:
    """The first ``cap`` positions of each run of equal ``group`` values in ``order``."""
    if not len(order) or cap <= 0:
        return order[:0]
    start = np.r_[True, group[1:] != group[:-1]]
    first = np.maximum.accumulate(np.where(start, np.arange(len(group)), 0))
    return order[(np.arange(len(group)) - first) < cap]


def cut(rows: list[dict], total: int, cap: int) -> dict[str, Any]:
    shown = rows[:cap]
    return {"rows": shown, "total": total, "more": max(total - len(shown), 0),
            "html": html_of(shown) if shown and "html" in shown[0] else Markup("")}


def cut_groups(groups: list[dict], cap: int) -> list[dict[str, Any]]:
    out = []
    for g in groups:
        shown = g["rows"][:cap]
        out.append({**g, "rows": shown, "more": max(g["count"] - len(shown), 0),
                    "html": html_of(shown) if shown and "html" in shown[0] else Markup("")})
    return out


def overview_due_soon(shared: Shared, cap: int, detail_len: int, *, layout: str | None = None,
                      links: bool = False) -> dict[str, Any]:
    """Items due soon across shops, earliest first, in the report zone."""
    f = shared.result.findings
    if not len(f):
        return {"rows": [], "total": 0, "more": 0, "html": Markup("")}
    at = f[f["status"] == "at_risk"]
    if not len(at):
        return {"rows": [], "total": 0, "more": 0, "html": Markup("")}
    due = pd.to_datetime(at["due_at"], utc=True)
    order = np.argsort(due.to_numpy(dtype="datetime64[ns]").astype("int64"), kind="stable")
    shown = at.iloc[order[:cap]]
    rows = format_rows(shared, shown, shared.report_tz, evidence=layout == "page",
                       detail_len=detail_len, layout=layout, links=links)
    return {"rows": rows, "total": len(at), "more": max(len(at) - len(rows), 0),
            "html": html_of(rows) if layout else Markup("")}


__all__ = ["EVIDENCE_NAMES", "ID_NAMES", "Selection", "cut", "cut_groups", "fmt_time",
           "format_rows", "local_detail", "overview_due_soon"]
