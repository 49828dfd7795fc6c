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
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
from markupsafe import Markup, escape

from checks.result import FINDING_COLUMNS
from reports.format import fmt_local, fmt_time, fmt_value, missing, text
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
        text_ = np.datetime_as_string(local, unit="m")  # "2026-11-20T14:00", fixed width
        # "T" to " " on the code points in place: np.char.replace would import numpy's
        # string ufuncs (~35 ms of every small run) for the one character a time has.
        codes = text_.view(np.uint32)
        codes[codes == ord("T")] = ord(" ")
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


#: Value types whose shown text depends on the value alone (kept per key and value).
_SCALARS = frozenset({str, int, float, bool, np.bool_, np.int64, np.float64})


def evidence_text(shared: Shared, evidence: pd.Series, zones: pd.Series) -> pd.Series:
    """``Key: value · Key: value`` per row: fields named in the team's words, personal
    data masked, times local with their offset, long texts cut. One tight loop over the
    shown rows (names, masking kinds looked up once per key, each distinct text masked
    once); the times are collected and formatted together afterwards (``local_times``)."""
    tr = shared.tr
    yes, no = tr("yes"), tr("no")
    labels: dict[Any, str | None] = {}
    kinds: dict[str, str] = {}
    #: (key, value) -> "Label: shown value", for values that are text or lists of text
    pieces: dict[tuple[Any, Any], str] = {}
    rows: list[list[Any] | None] = []
    has_time: list[bool] = []
    times: list[Any] = []  # time values, formatted together at the end
    time_zones: list[Any] = []
    for ev, zone in zip(evidence.tolist(), zones.tolist(), strict=True):
        if not isinstance(ev, Mapping) or not ev:
            rows.append(None)
            has_time.append(False)
            continue
        parts: list[Any] = []
        timed = False
        for key, value in ev.items():
            kind = type(value)
            if kind in _SCALARS:
                piece = pieces.get((key, kind, value))
                if piece is not None:
                    parts.append(piece)
                    continue
            elif kind is list:
                try:
                    piece = pieces.get((key, list, *value))
                except TypeError:  # an unhashable item
                    piece = None
                if piece is not None:
                    parts.append(piece)
                    continue
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
            raw = value
            if kinds[name]:
                if isinstance(value, list | tuple):
                    value = [mask_field(name, x) for x in value]
                else:
                    value = mask_field(name, value)
            if type(value) is str:
                piece = f"{label}: {value if len(value) <= 200 else value[:199] + '…'}"
            elif isinstance(value, datetime) and not missing(value):
                parts.append((label, len(times)))  # a time: formatted below
                times.append(value)
                time_zones.append(zone)
                timed = True
                continue
            else:
                piece = f"{label}: {fmt_value(value, zone, yes, no)}"
            if kind in _SCALARS:
                pieces[(key, kind, raw)] = piece
            elif kind is list and all(type(x) is str for x in raw):
                pieces[(key, list, *raw)] = piece
            parts.append(piece)
        rows.append(parts)
        has_time.append(timed)
    local = (local_times(pd.Series(times, dtype=object), pd.Series(time_zones, dtype=object)
                         ).tolist() if times else [])
    out = []
    for parts, timed in zip(rows, has_time, strict=True):
        if not parts:
            out.append("")
        elif not timed:
            out.append(" · ".join(parts))
        else:
            out.append(" · ".join(p if type(p) is str else f"{p[0]}: {local[p[1]] or '—'}"
                                  for p in parts))
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
    columns = format_columns(shared, f, zone, evidence=evidence)
    return rows_of(shared, columns, layout, detail_len, with_shop=bool(zone), links=links)


def format_columns(shared: Shared, f: pd.DataFrame, zone: str | None = None, *,
                   evidence: bool = True) -> dict[str, pd.Series]:
    """The rows' shown values, column by column, before any layout: what a page and a mail
    body of the same rows share (the detail masked but not yet cut to a length)."""
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
    return {
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


def rows_of(shared: Shared, columns: dict[str, Any], layout: str | None, detail_len: int, *,
            with_shop: bool = False, links: bool = False,
            escaped: dict[str, list[str]] | None = None) -> list[dict[str, Any]]:
    """Row dicts of formatted columns for one layout: the detail cut to ``detail_len`` and,
    with a ``layout``, each row's HTML. ``escaped``: the columns already escaped (shared
    between layouts)."""
    columns = {**columns, "detail": _truncate(columns["detail"], detail_len)}
    if layout:
        columns["html"] = _row_html(shared, columns, layout, with_shop=with_shop, links=links,
                                    escaped=escaped)
    names = list(columns)
    lists = [list(np.asarray(c, dtype=object)) for c in columns.values()]
    return [dict(zip(names, vals, strict=True)) for vals in zip(*lists, strict=True)]


_TD = "padding:3px 6px;border-bottom:1px solid #eee;vertical-align:top"
_MU = "color:#57606a;font-size:12px"


def _esc(values: Any) -> list[str]:
    """HTML-escaped text of each value: the column joined, escaped in one call, split again
    (a value holding the separator is escaped on its own)."""
    items = [str(v) for v in (values.tolist() if hasattr(values, "tolist") else values)]
    joined = _SEP.join(items)
    if joined.count(_SEP) != max(len(items) - 1, 0):
        return [html.escape(v) for v in items]
    return html.escape(joined).split(_SEP) if items else []


_ESCAPED = ("due", "when", "action", "rule_id", "ids", "evidence", "shop_id", "platform")


def escape_columns(c: dict[str, Any]) -> dict[str, list[str]]:
    """The columns every layout writes into HTML, escaped once."""
    return {k: _esc(c[k]) for k in _ESCAPED}


def _row_html(shared: Shared, c: dict[str, Any], layout: str, *, with_shop: bool,
              links: bool, escaped: dict[str, list[str]] | None = None) -> list[Markup]:
    """Each row's HTML from the escaped columns: one string template per row (every value
    escaped before; nothing else from the data goes in)."""
    tr = shared.tr
    e = dict(escaped) if escaped is not None else escape_columns(c)
    e["detail"] = _esc(c["detail"])
    new, changed = str(escape(tr("New"))), str(escape(tr("Status changed")))
    n = len(e["ids"])
    if layout == "page":
        marks = {"new": f' <span class="new">{new}</span>',
                 "changed": f' <span class="changed">{changed}</span>'}
    else:
        marks = {"new": f' <b style="color:#0550ae">[{new}]</b>',
                 "changed": f' <b style="color:#7d4e00">[{changed}]</b>'}
    mark_h = [marks.get(m, "") for m in np.asarray(c["mark"], dtype=object).tolist()]
    is_at = (np.asarray(c["status"], dtype=object) == "at_risk").tolist()
    shop = [""] * n
    if with_shop and layout == "page":
        names = e["shop_id"]
        if links:
            pages = _esc([shared.page_names.get((p, s_)) or "" for p, s_ in
                          zip(c["platform"], c["shop_id"], strict=True)])
            names = [f'<a href="shops/{h}.html">{name}</a>' if h else name
                     for h, name in zip(pages, e["shop_id"], strict=True)]
        shop = [f'<td class="id">{name} <span class="muted">{p}</span></td>'
                for name, p in zip(names, e["platform"], strict=True)]
    elif with_shop:
        shop = [f'<b>{name}</b> <span style="{_MU}">{p}</span><br>'
                for name, p in zip(e["shop_id"], e["platform"], strict=True)]
    cols = zip(is_at, e["due"], e["when"], shop, e["action"], mark_h, e["rule_id"], e["ids"],
               e["detail"], e["evidence"], strict=True)
    if layout == "page":
        out = [
            f'<tr><td><b>{due}</b><div class="when small">{when}</div></td>{sh}<td><b>{act}'
            f'</b>{mk}<div class="small muted"><span class="rid">{rid}</span></div></td>'
            f'<td>{ids}</td><td class="small">{ev}</td></tr>' if at else
            f'<tr><td>{ids}{mk}</td><td>{due}<div class="when small">{when}</div></td>'
            f'<td>{det}</td><td class="small">{ev}</td></tr>'
            for at, due, when, sh, act, mk, rid, ids, det, ev in cols]
    else:
        out = [
            f'<tr><td style="{_TD}" width="38%"><b>{due}</b><br><span style="color:#9a6700;'
            f'font-size:12px">{when}</span></td><td style="{_TD}">{sh}{act}{mk}<br><span '
            f'style="{_MU}">{rid} · {ids}</span></td></tr>' if at else
            f'<br><span style="font-size:12px">· {ids}{mk}'
            f'{" — " + when if when else (" — " + det if det else "")}</span>'
            for at, due, when, sh, act, mk, rid, ids, det, _ev in cols]
    return [Markup(h) for h in out]


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
    disputes per rule by ids. Ties keep the findings' own (deterministic) order. The caps
    are the largest any view asks for (the page's): a mail body shows the first rows of the
    same lists. The rows' values are formatted once; each layout (``page``: with evidence
    and a longer detail, ``mail``) gets its own row dicts and HTML from them, on first use."""

    def __init__(self, shared: Shared, *, at_risk: int, per_rule: int, contestable: int,
                 evidence: bool = True) -> None:
        self.shared = shared
        f = shared.result.findings
        self.counts: dict[tuple[str, str], dict[str, int]] = {}
        self._views: dict[tuple[str, int], dict[tuple[str, str], dict[str, Any]]] = {}
        self._columns: dict[str, Any] | None = None
        self._escaped: dict[str, list[str]] | None = None
        if not len(f):
            return
        p_code, p_names = _codes(f["platform"])
        s_code, s_names = _codes(f["shop_id"])
        shop_code, pairs = pd.factorize(p_code.astype("int64") * len(s_names) + s_code)
        self._keys = [(p_names[c // len(s_names)], s_names[c % len(s_names)]) for c in pairs]
        status_code, status_names = _codes(f["status"])
        code_of = {name: i for i, name in enumerate(status_names)}
        rule_code, self._rule_names = _codes(f["rule_id"])
        rule_names = self._rule_names
        critical_sev = (f["severity"] == "critical").to_numpy(dtype=bool, na_value=False)
        n_shops, n_rules = len(self._keys), len(rule_names)

        def is_(name: str) -> np.ndarray:
            c = code_of.get(name)
            return status_code == c if c is not None else np.zeros(len(f), dtype=bool)

        counts = {s: np.bincount(shop_code[is_(s)], minlength=n_shops)
                  for s in ("at_risk", "violation", "contestable")}
        critical = np.bincount(shop_code[is_("violation") & critical_sev], minlength=n_shops)
        for code, key in enumerate(self._keys):
            self.counts[key] = {"at_risk": int(counts["at_risk"][code]),
                                "violation": int(counts["violation"][code]),
                                "contestable": int(counts["contestable"][code]),
                                "critical": int(critical[code])}
        due = pd.to_datetime(f["due_at"], utc=True).to_numpy(dtype="datetime64[ns]"
                                                             ).astype("int64")
        due = np.where(pd.isna(f["due_at"]).to_numpy(), np.iinfo("int64").max, due)
        overdue = pd.to_numeric(f["overdue_hours"], errors="coerce").to_numpy(dtype=float)
        chosen: list[np.ndarray] = []
        # items due soon: per shop, earliest due first
        idx = np.flatnonzero(is_("at_risk"))
        order = idx[np.lexsort((due[idx], shop_code[idx]))]
        chosen.append(_head(order, shop_code[order], at_risk))
        # violations: per shop and rule, most overdue first (empty last), then due
        idx = np.flatnonzero(is_("violation"))
        neg = np.where(np.isnan(overdue[idx]), np.inf, -overdue[idx])
        order = idx[np.lexsort((due[idx], neg, rule_code[idx], shop_code[idx]))]
        group = shop_code[order].astype("int64") * n_rules + rule_code[order]
        chosen.append(_head(order, group, per_rule))
        idx = np.flatnonzero(is_("contestable"))
        order = idx[np.lexsort((rule_code[idx], shop_code[idx]))]
        group = shop_code[order].astype("int64") * n_rules + rule_code[order]
        chosen.append(_head(order, group, contestable))
        self._take = np.concatenate(chosen)
        self._take_shop = shop_code[self._take]
        self._f = f.iloc[self._take]
        self._evidence = evidence
        # findings per (shop, status, rule): one count over integer codes
        combined = (shop_code.astype("int64") * len(status_names) + status_code
                    ) * n_rules + rule_code
        values, n = np.unique(combined, return_counts=True)
        #: (shop code, status) -> [(rule id, findings)] in rule-code order
        self._totals: dict[tuple[int, str], list[tuple[str, int]]] = {}
        for v, c in zip(values.tolist(), n.tolist(), strict=True):
            self._totals.setdefault((v // n_rules // len(status_names),
                                     status_names[v // n_rules % len(status_names)]), []
                                    ).append((self._rule_names[v % n_rules], c))
        self._meta: dict[str, dict[str, Any]] = {}

    def _shops_for(self, layout: str | None, detail_len: int
                   ) -> dict[tuple[str, str], dict[str, Any]]:
        view = self._views.get((layout or "", detail_len))
        if view is not None:
            return view
        view = self._views[(layout or "", detail_len)] = {}
        if self._columns is None:
            if not len(self.shared.result.findings):
                return view
            self._columns = format_columns(self.shared, self._f, evidence=self._evidence)
            self._escaped = escape_columns(self._columns)
        rows = rows_of(self.shared, self._columns, layout, detail_len, escaped=self._escaped)
        by_shop: dict[int, dict[str, list]] = {}
        for code, row in zip(self._take_shop.tolist(), rows, strict=True):
            by_shop.setdefault(code, {"at_risk": [], "violation": [], "contestable": []}
                               )[row["status"]].append(row)
        for code, key in enumerate(self._keys):
            lists = by_shop.get(code, {"at_risk": [], "violation": [], "contestable": []})
            view[key] = {
                "counts": self.counts[key],
                "at_risk": lists["at_risk"],
                "violation": self._groups(lists["violation"], code, "violation"),
                "contestable": self._groups(lists["contestable"], code, "contestable"),
            }
        return view

    def _groups(self, rows: list[dict], code: int, status: str) -> list[dict[str, Any]]:
        by_rule: dict[str, list[dict]] = {}
        for row in rows:
            by_rule.setdefault(row["rule_id"], []).append(row)
        groups = []
        for rule_id, total in self._totals.get((code, status), []):
            meta = self._meta.get(rule_id)
            if meta is None:
                meta = self._meta[rule_id] = self._rule_meta(rule_id)
            groups.append({**meta, "count": total, "rows": by_rule.get(rule_id, [])})
        groups.sort(key=lambda g: (SEV_RANK.get(g["severity"], len(SEV_RANK)), g["rule_id"]))
        return groups

    def _rule_meta(self, rule_id: str) -> dict[str, Any]:
        shared = self.shared
        severity = shared.rule_severity(rule_id)
        return {"rule_id": rule_id, "title": shared.rule_title(rule_id),
                "action": shared.rule_action(rule_id), "severity": severity,
                "severity_label": shared.severity_label(severity)}

    def of(self, key: tuple[str, str], layout: str | None = "page",
           detail_len: int = 200) -> dict[str, Any]:
        """One shop's lists for a layout (``page`` / ``mail`` / None: no HTML)."""
        if key not in self.counts:
            return {"counts": {"at_risk": 0, "violation": 0, "contestable": 0, "critical": 0},
                    "at_risk": [], "violation": [], "contestable": []}
        return self._shops_for(layout, detail_len)[key]


def _codes(column: pd.Series) -> tuple[np.ndarray, list[str]]:
    """Integer codes of a column's values and the values as text (one hash pass, no
    conversion of every value to a Python string; a missing value is a value of its own,
    written as ``str`` writes it)."""
    codes, uniques = pd.factorize(column, use_na_sentinel=False)
    return np.asarray(codes, dtype="int64"), [str(u) for u in uniques]


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
    order = shared.cache.get("due_soon_order")
    if order is None:  # positions of the items due soon, earliest first (once per audit)
        at = np.flatnonzero((f["status"] == "at_risk").to_numpy(dtype=bool, na_value=False)) \
            if len(f) \
            else np.array([], dtype="int64")
        due = pd.to_datetime(f["due_at"].iloc[at], utc=True)
        order = shared.cache["due_soon_order"] = at[np.argsort(
            due.to_numpy(dtype="datetime64[ns]").astype("int64"), kind="stable")]
    if not len(order):
        return {"rows": [], "total": 0, "more": 0, "html": Markup("")}
    shown = f.iloc[order[:cap]]
    at = order
    rows = format_rows(shared, shown, shared.report_tz, evidence=layout == "page",
                       detail_len=detail_len, layout=layout, links=links)
    return {"rows": rows, "total": len(at), "more": max(len(at) - len(rows), 0),
            "html": html_of(rows) if layout else Markup("")}


__all__ = ["EVIDENCE_NAMES", "ID_NAMES", "Selection", "cut", "cut_groups", "fmt_time",
           "format_rows", "local_detail", "overview_due_soon"]
