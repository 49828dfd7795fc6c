"""The rows of the findings tables: what to do, by when, on which record, and why.

Only the rows that are shown get here (the callers cap first), and each column is
formatted in one pass, so a page costs what it shows, not what was found.

Every row carries its next action (from the rule's metadata), its due time in the shop's
zone with the UTC offset and, for a deadline, the hours left or late counted from the
audit's "as of" (written beside it, so a reader at 9 a.m. can judge what is left now), and a
``mark`` when the finding is new or changed since the last run.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import pandas as pd

from checks.result import FINDING_COLUMNS
from reports.format import fmt_hours, fmt_local, fmt_value, is_number, text, truncate
from reports.i18n import N_
from reports.mask import mask_field, mask_kind
from reports.shared import FINDING_KEY, SEV_RANK, Shared

#: Finding columns already shown in their own cells; not repeated from ``evidence``.
_SHOWN_KEYS = frozenset(FINDING_COLUMNS) | {"title", "evidence"}
_UTC_STAMP = re.compile(r"(\d{4}-\d{2}-\d{2} \d{2}:\d{2}) UTC")

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
}
ID_NAMES = (("order_id", N_("Order")), ("refund_id", N_("Refund")),
            ("message_id", N_("Message")))


def column(frame: pd.DataFrame, name: str) -> list[Any]:
    return frame[name].tolist() if name in frame.columns else [None] * len(frame)


def sort_frame(frame: pd.DataFrame, columns: list[str], ascending: list[bool] | None = None):
    cols = [c for c in columns if c in frame.columns]
    if not cols or not len(frame):
        return frame
    asc = [True] * len(cols)
    for i, a in enumerate((ascending or [])[: len(cols)]):
        asc[i] = a
    return frame.sort_values(cols, ascending=asc, na_position="last", kind="stable")


def finding_rows(
    shared: Shared,
    frame: pd.DataFrame,
    zone: str,
    *,
    evidence: bool = True,
    detail_len: int = 200,
) -> list[dict[str, Any]]:
    """The shown rows of one table, formatted column by column."""
    tr = shared.tr
    id_labels = {col: tr(name) for col, name in ID_NAMES}
    ids_by_col = {col: column(frame, col) for col, _ in ID_NAMES}
    keys = list(zip(*(column(frame, c) for c in FINDING_KEY), strict=True))
    as_of = fmt_local(shared.as_of, zone, "%m-%d %H:%M") if shared.as_of is not None else ""
    as_of_label, left_label = tr("As of"), tr("Time left")
    overdue_label, late_label = tr("Overdue by"), tr("Answered late by")
    actions: dict[str, str] = {}
    rows = []
    for i, (rule_id, status, due, responded, overdue, detail, ev) in enumerate(
        zip(
            column(frame, "rule_id"),
            column(frame, "status"),
            column(frame, "due_at"),
            column(frame, "responded_at"),
            column(frame, "overdue_hours"),
            column(frame, "detail"),
            column(frame, "evidence") if evidence else [None] * len(frame),
            strict=True,
        )
    ):
        rule_id = text(rule_id)
        if rule_id not in actions:
            actions[rule_id] = shared.rule_action(rule_id)
        ids = [
            {"label": id_labels[col], "value": text(ids_by_col[col][i])}
            for col, _ in ID_NAMES
            if text(ids_by_col[col][i])
        ]
        due_text = fmt_local(due, zone)
        when = ""
        if due_text and is_number(overdue):
            if overdue < 0:
                when = f"{as_of_label} {as_of} · {left_label} {fmt_hours(-overdue)}"
            elif text(responded):
                when = f"{late_label} {fmt_hours(overdue)}"
            else:
                when = f"{as_of_label} {as_of} · {overdue_label} {fmt_hours(overdue)}"
        # a deadline's sentence is the due time and the hours above; any other rule's
        # detail is the rule's own sentence with its UTC times shown in the shop's zone
        shown_detail = "" if due_text else local_detail(text(detail), zone)
        rows.append(
            {
                "mark": shared.mark(tuple(text(v) for v in keys[i])),
                "platform": text(keys[i][1]),
                "shop_id": text(keys[i][2]),
                "rule_id": rule_id,
                "status": text(status),
                "action": actions[rule_id],
                "ids": ids,
                "due": due_text,
                "responded": fmt_local(responded, zone),
                "when": when,
                "detail": truncate(mask_field("text", shown_detail), detail_len),
                "evidence": evidence_items(shared, ev, zone) if evidence else [],
            }
        )
    return rows


def local_detail(detail: str, zone: str) -> str:
    if " UTC" not in detail:
        return detail
    return _UTC_STAMP.sub(lambda m: fmt_local(pd.Timestamp(m.group(1), tz="UTC"), zone), detail)


def evidence_items(shared: Shared, evidence: Any, zone: str) -> list[dict[str, str]]:
    """``[{key, value}]``: named in the team's words, personal data masked, times local."""
    if not isinstance(evidence, Mapping):
        return []
    tr = shared.tr
    yes, no = tr("yes"), tr("no")
    out = []
    for key, value in evidence.items():
        key = key if type(key) is str else text(key)
        if key in _SHOWN_KEYS:
            continue
        if mask_kind(key):
            if isinstance(value, list | tuple):
                value = [mask_field(key, v) for v in value]
            else:
                value = mask_field(key, value)
        shown = truncate(value) if type(value) is str else fmt_value(value, zone, yes, no)
        name = EVIDENCE_NAMES.get(key)
        out.append({"key": tr(name) if name else key, "value": shown})
    return out


def due_soon(shared: Shared, frame: pd.DataFrame, zone: str, cap: int, **kw) -> dict[str, Any]:
    """Items due soon, earliest due first, at most ``cap``; the rest counted."""
    ordered = sort_frame(frame, ["due_at", "rule_id", "refund_id", "message_id", "order_id"])
    shown = ordered.head(cap)
    return {"rows": finding_rows(shared, shown, zone, **kw), "total": len(frame),
            "more": len(frame) - len(shown)}


def rule_groups(
    shared: Shared, frame: pd.DataFrame, zone: str, *, cap: int, sort: str, **kw
) -> list[dict[str, Any]]:
    """One group per rule (most severe first, then by id), ``cap`` rows each."""
    if not len(frame):
        return []
    if sort == "overdue":
        frame = sort_frame(frame, ["overdue_hours", "due_at", "refund_id", "message_id",
                                   "order_id"], [False])
    else:
        frame = sort_frame(frame, ["refund_id", "message_id", "order_id"])
    counts = frame["rule_id"].value_counts(sort=False)
    groups = []
    shown_all = frame.groupby("rule_id", sort=False).head(cap) if cap > 0 else frame.iloc[0:0]
    shown_by_rule = dict(tuple(shown_all.groupby("rule_id", sort=False))) if cap > 0 else {}
    for rule_id_raw, total in counts.items():
        rule_id = text(rule_id_raw)
        shown = shown_by_rule.get(rule_id_raw, frame.iloc[0:0])
        fallback = shown["severity"].iloc[0] if len(shown) and "severity" in shown else ""
        severity = shared.rule_severity(rule_id, fallback)
        groups.append(
            {
                "rule_id": rule_id,
                "title": shared.rule_title(rule_id),
                "action": shared.rule_action(rule_id),
                "severity": severity,
                "severity_label": shared.severity_label(severity),
                "count": int(total),
                "rows": finding_rows(shared, shown, zone, **kw),
                "more": int(total) - len(shown),
            }
        )
    groups.sort(key=lambda g: (SEV_RANK.get(g["severity"], len(SEV_RANK)), g["rule_id"]))
    return groups
