"""The point-in-time view the rules read (docs/spec.md, "The audit").

An audit is point-in-time: every timestamp later than ``as_of`` is treated as empty, and
what hangs on it goes with it (a later decision counts as pending with no return address
sent; a later ruling as none; a later refund as not refunded). In scope: refunds with
``as_of − window ≤ requested_at < as_of``; buyer messages sent in that span; orders paid in
that span (KPI denominators). No clock reads and no I/O here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from checks.profiles import Profile
from schemas.tables import columns
from schemas.validate import positions

ORDER_COLUMNS = {
    "platform": "platform", "shop_id": "shop_id", "buyer_region": "buyer_region",
    "paid_at": "paid_at", "shipped_at": "shipped_at", "delivered_at": "delivered_at",
    "amount": "order_amount", "currency": "currency", "free_shipping": "free_shipping",
    "no_reason_return": "no_reason_return",
}


@dataclass
class AuditData:
    """Valid, point-in-time masked frames plus the audit's parameters."""

    as_of: pd.Timestamp
    start: pd.Timestamp
    window_days: int
    at_risk_hours: float
    profiles: dict[str, Profile]
    orders: pd.DataFrame          # all valid orders, masked
    refunds: pd.DataFrame         # in-scope refunds joined with their order (ORDER_COLUMNS)
    addresses: pd.DataFrame       # valid address book, indexed by address_id
    messages: pd.DataFrame | None  # valid messages sent ≤ as_of, with platform/shop_id
    cache: dict[str, Any] = field(default_factory=dict)

    def version_groups(self, df: pd.DataFrame, at: str):
        """Yield (platform, Profile, Version, row mask) for the version in force at ``at``."""
        platforms, times = df["platform"], df[at]
        for platform, prof in self.profiles.items():
            on = (platforms == platform).to_numpy()
            if not on.any():
                continue
            # the one column masked (df.loc[on, at] took the rows of every column first)
            idx = prof.version_index(times[on])
            for vi in np.unique(idx):
                mask = on.copy()
                mask[on] = idx == vi
                yield platform, prof, prof.versions[int(vi)], mask


def _mask_after(df: pd.DataFrame, table: str, as_of: pd.Timestamp) -> pd.DataFrame:
    # A shallow copy: only the masked columns are replaced (copy-on-write keeps the
    # caller's frame as it was), and a column with nothing after as_of is kept as is.
    df = df.copy(deep=False)
    for c, meta in columns(table).items():
        if meta["kind"] == "timestamp" and c in df.columns:
            later = (df[c] > as_of).fillna(False).to_numpy(dtype=bool)
            if later.any():
                df[c] = df[c].where(~later)
    return df


def _join_orders(df: pd.DataFrame, orders: pd.DataFrame, cols: dict[str, str],
                 pos: np.ndarray, unique: bool) -> pd.DataFrame:
    """``df.join(orders.set_index("order_id")[cols], on="order_id")`` renamed, index reset.

    By position (``pos``: each row's order in ``orders``, from Arrow's hash kernel) when every
    order_id has its one order (always, for validated tables: ~0.1 s instead of ~0.5 s per
    join at a million orders); otherwise pandas' join, whose NaN filling and row repeating
    that case needs.
    """
    if not unique or (pos < 0).any():
        o = orders.set_index("order_id")[list(cols)].rename(columns=cols)
        return df.join(o, on="order_id").reset_index(drop=True)
    out = df.reset_index(drop=True)
    for c, name in cols.items():
        out[name] = orders[c].array.take(pos)
    return out


def prepare(tables: dict[str, pd.DataFrame], profiles: dict[str, Profile],
            as_of: pd.Timestamp, window_days: int, at_risk_hours: float = 24) -> AuditData:
    """Build the point-in-time view of validated tables for one audit."""
    as_of = pd.Timestamp(as_of).tz_convert("UTC")
    start = as_of - pd.Timedelta(days=window_days)

    orders = _mask_after(tables["orders"], "orders", as_of)

    refunds_raw = tables["refunds"]
    in_scope = (refunds_raw["requested_at"] >= start) & (refunds_raw["requested_at"] < as_of)
    r = refunds_raw[in_scope]
    # Point-in-time: what hangs on a masked timestamp goes with it.
    later_decision = (r["decided_at"] > as_of).fillna(False)
    later_ruling = (r["ruled_at"] > as_of).fillna(False)
    later_refund = (r["refunded_at"] > as_of).fillna(False)
    r = _mask_after(r, "refunds", as_of)
    r.loc[later_decision, "decision"] = "pending"
    r.loc[later_decision, "return_address_id"] = None
    r.loc[later_ruling, "ruling"] = "none"
    r.loc[later_refund, "refunded_amount"] = np.nan
    messages = tables.get("messages")
    if messages is not None:
        messages = messages[~(messages["sent_at"] > as_of).fillna(False)]
    # Refunds' and messages' orders in one lookup: hashing the order ids is the cost.
    unique = bool(orders["order_id"].is_unique)
    kids = [r["order_id"]] + ([messages["order_id"]] if messages is not None else [])
    pos = positions(kids, orders["order_id"])
    r = _join_orders(r, orders, ORDER_COLUMNS, pos[: len(r)], unique)

    addresses = tables["return_addresses"].set_index("address_id", drop=False)

    if messages is not None:
        messages = _join_orders(messages, orders, {"platform": "platform",
                                                   "shop_id": "shop_id"}, pos[len(r):], unique)

    return AuditData(as_of=as_of, start=start, window_days=window_days,
                     at_risk_hours=at_risk_hours, profiles=profiles, orders=orders,
                     refunds=r, addresses=addresses, messages=messages)
