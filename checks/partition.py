"""Splitting the check step by shop, for running it in parallel, and merging the parts.

Every rule and KPI is about one shop's records, so the validated tables can be
cut into groups of shops and the check run on each group on its own: orders by ``shop_id``;
refunds and messages go with their order (an RT004 thread or a PC001 conversation is one
order's, so it never straddles two groups). The one rule that looks past a shop is RA002: an
address id "owned by another shop" must be told from one "not in the book", so each group's
address book holds its shops' entries *and* every other entry its refunds name. The merged
findings are sorted like ``run_rules`` sorts them and the KPIs stacked metric by metric, then
by shop, so the union equals one run over everything, row for row.

Groups are few and coarse (a handful per worker): the per-task overhead of a distributed
scheduler is paid per group, not per shop. Shops are dealt largest first to the lightest group
so that groups carry similar numbers of orders. Plain pandas and pure functions: the Prefect/
Dask wiring is in ``flows/scale.py``.
"""

from __future__ import annotations

import heapq
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from checks.audit import SORT, AuditOutcome, run_rules
from checks.context import prepare
from checks.findings import OUT_COLUMNS, empty_findings
from checks.kpis import METRICS
from checks.profiles import Profile
from schemas.validate import positions

KPI_ORDER = ["_metric", "platform", "shop_id"]


@dataclass
class PartResult:
    """What one group's check sends back: findings, KPIs, the rules it could not evaluate and
    its timings (the point-in-time frames stay where they were built)."""

    findings: pd.DataFrame
    kpis: pd.DataFrame
    not_evaluated: list[str]
    timings: dict[str, float] = field(default_factory=dict)
    shops: int = 0
    orders: int = 0


def shop_groups(orders: pd.DataFrame, k: int) -> dict[str, int]:
    """``shop_id`` → group number in ``0..k-1`` (fewer groups when there are fewer shops).

    Largest shops first, each to the group with the fewest orders so far (ties: the lowest
    group number); deterministic for the same orders.
    """
    sizes = orders["shop_id"].value_counts(dropna=True)
    if not len(sizes):
        return {}
    k = max(1, min(int(k), len(sizes)))
    ranked = sorted(zip(sizes.index.astype("str"), sizes.to_numpy().tolist(), strict=True),
                    key=lambda s: (-s[1], s[0]))
    heap = [(0, g) for g in range(k)]
    out: dict[str, int] = {}
    for shop, n in ranked:
        load, g = heapq.heappop(heap)
        out[shop] = g
        heapq.heappush(heap, (load + n, g))
    return out


def partition_tables(tables: dict[str, pd.DataFrame | None], k: int
                     ) -> list[dict[str, pd.DataFrame | None]]:
    """The validated ``tables`` cut into at most ``k`` co-partitioned groups of shops.

    Rows keep their order within a group. A refund or message whose order is not among the
    valid orders (validation quarantines those, so only hand-made tables have them) goes to
    group 0, where one run over everything would have seen it too.
    """
    orders = tables["orders"]
    groups = shop_groups(orders, k)
    n = max(groups.values(), default=0) + 1
    shops = pd.Series(list(groups), dtype="str")
    shop_group = np.asarray(list(groups.values()), dtype=np.int64)
    pos = positions(orders["shop_id"], shops)
    order_group = np.where(pos >= 0, shop_group[np.maximum(pos, 0)], 0)

    def by_order(df: pd.DataFrame) -> np.ndarray:
        p = positions(df["order_id"], orders["order_id"])
        return np.where(p >= 0, order_group[np.maximum(p, 0)], 0)

    refunds, messages = tables["refunds"], tables.get("messages")
    book = tables["return_addresses"]
    refund_group = by_order(refunds)
    message_group = by_order(messages) if messages is not None else None
    p = positions(book["shop_id"], shops)
    book_group = np.where(p >= 0, shop_group[np.maximum(p, 0)], -1)
    parts: list[dict[str, pd.DataFrame | None]] = []
    for g in range(n):
        part: dict[str, pd.DataFrame | None] = dict(tables)
        part["orders"] = orders[order_group == g].reset_index(drop=True)
        part["refunds"] = refunds[refund_group == g].reset_index(drop=True)
        if messages is not None:
            part["messages"] = messages[message_group == g].reset_index(drop=True)
        # RA002: an entry of another shop that this group's refunds name must be seen as
        # that shop's, not as missing from the book.
        named = pd.Series(part["refunds"]["return_address_id"].dropna().unique(), dtype="str")
        foreign = positions(book["address_id"], named) >= 0
        part["return_addresses"] = book[(book_group == g) | foreign].reset_index(drop=True)
        parts.append(part)
    return parts


def check_part(part: dict[str, pd.DataFrame | None], profiles: dict[str, Profile],
               as_of: pd.Timestamp, window_days: int = 30, at_risk_hours: float = 24
               ) -> PartResult:
    """``run_rules`` on one group: what a worker runs."""
    out = run_rules(part, profiles, as_of, window_days, at_risk_hours)
    orders = part["orders"]
    return PartResult(findings=out.findings, kpis=out.kpis, not_evaluated=out.not_evaluated,
                      timings=out.timings, shops=int(orders["shop_id"].nunique()),
                      orders=len(orders))


def merge_parts(parts: list[PartResult], tables: dict[str, pd.DataFrame | None],
                profiles: dict[str, Profile], as_of: pd.Timestamp, window_days: int = 30,
                at_risk_hours: float = 24) -> AuditOutcome:
    """One outcome, equal to ``run_rules`` over all the groups' tables at once.

    Findings: concatenated and sorted by ``checks.audit.SORT`` (stable; a finding's key is
    unique, so the order is the single run's). KPIs: metric by metric in ``METRICS`` order,
    shops sorted by platform and shop id within a metric, as ``compute_kpis`` lays them out.
    ``data`` carries the audit's parameters (as_of, window start); its frames are empty.
    Timings are summed over the groups (CPU seconds spent, not wall time).
    """
    found = [p.findings for p in parts if len(p.findings)]
    if found:
        findings = pd.concat(found, ignore_index=True)[OUT_COLUMNS]
        findings = findings.sort_values(SORT, kind="stable", na_position="first") \
            .reset_index(drop=True)
    else:
        findings = empty_findings()[OUT_COLUMNS]
    kpis = pd.concat([p.kpis for p in parts], ignore_index=True)
    rank = {m: i for i, m in enumerate(METRICS)}
    kpis = kpis.assign(_metric=kpis["metric"].map(rank)) \
        .sort_values(KPI_ORDER, kind="stable").drop(columns="_metric").reset_index(drop=True)
    timings: dict[str, float] = {}
    for p in parts:
        for key, v in p.timings.items():
            timings[key] = timings.get(key, 0.0) + v
    empty = {t: (df.iloc[:0] if df is not None else None) for t, df in tables.items()}
    data = prepare(empty, profiles, as_of, window_days, at_risk_hours)
    not_evaluated = parts[0].not_evaluated if parts else []
    return AuditOutcome(findings=findings, kpis=kpis, data=data, not_evaluated=not_evaluated,
                        timings=timings)


def run_partitioned(tables: dict[str, pd.DataFrame | None], profiles: dict[str, Profile],
                    as_of: pd.Timestamp, window_days: int = 30, at_risk_hours: float = 24,
                    k: int = 4) -> AuditOutcome:
    """The partitioned check in this process, one group after another (tests, debugging;
    ``flows/scale.py`` runs the groups on Dask workers)."""
    t = time.perf_counter()
    groups = partition_tables(tables, k)
    split = time.perf_counter() - t
    parts = [check_part(g, profiles, as_of, window_days, at_risk_hours) for g in groups]
    t = time.perf_counter()
    out = merge_parts(parts, tables, profiles, as_of, window_days, at_risk_hours)
    out.timings["partition"] = split
    out.timings["merge"] = time.perf_counter() - t
    return out
