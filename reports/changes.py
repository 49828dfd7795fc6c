"""What changed since the last run: the display side of ``reports.diff``.

A shop sees its own appeared / gone / changed findings (the diff's rows filtered to it); the
overview sees the counts for all shops and a capped list. Rows are shared fairly between the
three kinds so a long list of new findings does not hide the few that went away.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reports.format import fmt_local, is_number, text, to_utc, truncate
from reports.i18n import N_
from reports.mask import mask_field
from reports.rows import ID_NAMES, local_detail
from reports.shared import DIFF_KINDS, Shared

KIND_NAMES = {
    "appeared": N_("New"),
    "disappeared": N_("Resolved"),
    "changed": N_("Status changed"),
}


def changes(shared: Shared, shop: tuple[str, str] | None, zone: str, cap: int
            ) -> dict[str, Any] | None:
    """The section's context, or None when no diff was given (no section)."""
    if not shared.diff_given:
        return None
    tr, d = shared.tr, shared.diff
    if d is None:
        return {"baseline": None, "note": tr("No earlier run to compare with")}
    if shop is None:
        lists = {k: list(d.get(k) or []) for k in DIFF_KINDS}
        given = d.get("counts") or {}
        counts = {k: _count(given.get(k), len(lists[k])) for k in DIFF_KINDS}
    else:
        lists = shared.diff_by_shop.get(shop) or {k: [] for k in DIFF_KINDS}
        counts = {k: len(lists[k]) for k in DIFF_KINDS}
    rows = []
    for kind, n in zip(DIFF_KINDS, fair_shares([len(lists[k]) for k in DIFF_KINDS], cap),
                       strict=True):
        rows.extend(_row(shared, kind, item, zone) for item in lists[kind][:n])
    unchanged = (d.get("counts") or {}).get("unchanged") if shop is None else None
    before = d.get("before") or {}
    kind = "re-audit" if d.get("kind") == "re-audit" else "previous"
    when = before.get("recorded_at") if kind == "re-audit" else before.get("as_of")
    total = sum(counts.values())
    return {
        "baseline": {
            "label": tr("A re-run of the same audit (e.g. late data), compared with its earlier "
                        "version")
            if kind == "re-audit" else tr("Compared with the previous audit"),
            "run_id": text(before.get("run_id")),
            "when": fmt_local(to_utc(when), zone),
        },
        "counts": [{"key": k, "label": tr(KIND_NAMES[k]), "n": counts[k]} for k in DIFF_KINDS],
        "total": total,
        "unchanged": {"label": tr("Unchanged"), "n": int(unchanged)}
        if is_number(unchanged) else None,
        "with_shop": shop is None,
        "rows": rows,
        "more": max(total - len(rows), 0),
    }


def _count(value: Any, fallback: int) -> int:
    return int(value) if is_number(value) else fallback


def fair_shares(sizes: list[int], cap: int) -> list[int]:
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


def _row(shared: Shared, kind: str, item: Mapping[str, Any], zone: str) -> dict[str, Any]:
    tr = shared.tr
    if kind == "changed":
        before, after = item.get("status_before"), item.get("status_after")
    elif kind == "appeared":
        before, after = None, item.get("status")
    else:
        before, after = item.get("status"), None
    rule_id = text(item.get("rule_id"))
    return {
        "kind": kind,  # one of DIFF_KINDS: safe in a class name
        "kind_label": tr(KIND_NAMES[kind]),
        "platform": text(item.get("platform")),
        "shop_id": text(item.get("shop_id")),
        "rule_id": rule_id,
        "title": shared.rule_title(rule_id),
        "ids": ", ".join(f"{tr(name)} {text(item.get(col))}"
                         for col, name in ID_NAMES if text(item.get(col))),
        "before": shared.status_label(before),
        "after": shared.status_label(after),
        "detail": truncate(mask_field("text", local_detail(text(item.get("detail")), zone)), 160),
    }
