"""The tables as the audit reads them: every column as strings, rows laid out as an export
would have them (by time, with duplicates), the dirty values written in."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from sources.generate.arrays import _cat, _take
from sources.generate.ids import _message_ids, _order_ids, _refund_ids
from sources.generate.messages import _TEXT_POOL
from sources.generate.strings import (
    _bools,
    _fmt_ts,
    _frame,
    _layout,
    _money,
    _null_where,
    _pick,
    _replace,
)
from sources.generate.vocabulary import (
    AMAZON,
    COLUMNS,
    DECISIONS,
    KINDS,
    PLATFORMS,
    REASONS,
    REGIONS,
    RULINGS,
    SENDERS,
)


class FramesMixin:
    """The four string frames."""

    @staticmethod
    def apply(cols: dict[str, pa.Array], over, rows_at: np.ndarray) -> dict[str, pa.Array]:
        """Write the string-level faults ``over`` = [(row, column, value)] into ``cols``."""
        by_col: dict[str, tuple[list[int], list[str | None]]] = {}
        for at, col, value in over:
            rows, values = by_col.setdefault(col, ([], []))
            rows.append(int(rows_at[at]))
            values.append(value)
        for col, (rows, values) in by_col.items():
            cols[col] = _replace(cols[col], rows, values)
        return cols

    def order_ids_of(self, oi: np.ndarray) -> pa.Array:
        at = np.maximum(oi, 0)
        ids = _order_ids(self.od_all["num"][at], self.od_all["plat"][at])
        return _null_where(ids, oi < 0)

    def format_orders(self, extra: dict[str, np.ndarray], over) -> pd.DataFrame:
        self.od_all = _cat(self.od, extra) if extra else self.od
        n_all = len(self.od_all["paid"])
        n = self.n
        dups = np.sort(self.rng.choice(n, size=min(n, max(2, round(0.001 * n))), replace=False))
        order, pos = _layout(self.od_all["paid"], n_all, dups)
        od = _take(self.od_all, order)
        zone = (od["plat"] == AMAZON).astype(np.int8)
        never = np.zeros(len(order), dtype=bool)
        cols = {
            "order_id": _order_ids(od["num"], od["plat"]),
            "platform": _pick(list(PLATFORMS), od["plat"]),
            "shop_id": _pick(self.shop_ids, od["shop"]),
            "buyer_region": _pick(list(REGIONS), od["region"]),
            "paid_at": _fmt_ts(od["paid"], zone, od["style"]),
            "shipped_at": _fmt_ts(od["shipped"], zone, od["style"]),
            "delivered_at": _fmt_ts(od["delivered"], zone, od["style"]),
            "amount": _money(od["cents"]),
            "currency": _pick(["CNY", "USD"], zone),
            "free_shipping": _bools(od["fs"], never, od["spell"]),
            "no_reason_return": _bools(od["nrr"], never, od["spell"]),
        }
        return _frame(self.apply(cols, over, pos[n:]), COLUMNS["orders"])

    def format_refunds(self, extra: dict[str, np.ndarray], over) -> pd.DataFrame:
        keys = list(self.R_versions)
        R = _cat(*({k: p[k] for k in keys} for p in (self.R_final, self.R_versions)))
        n_base = len(R["req"])
        if extra:
            R = _cat(R, {k: extra[k] for k in keys})
        key = np.where(np.isnan(R["upd"]), R["req"], R["upd"])
        order, pos = _layout(np.nan_to_num(key), len(key), self.R_dups)
        R = _take(R, order)
        zone = (R["plat"] == AMAZON).astype(np.int8)
        ts = {c: _fmt_ts(R[f], zone, R["style"]) for c, f in (
            ("requested_at", "req"), ("first_response_at", "resp"), ("decided_at", "dec"),
            ("buyer_shipped_at", "bship"), ("seller_received_at", "srecv"),
            ("refunded_at", "refd"), ("escalated_at", "esc"), ("escalation_response_at", "escr"),
            ("ruled_at", "ruled"), ("updated_at", "upd"),
        )}  # fmt: skip
        ts["updated_at"] = _null_where(ts["updated_at"], R["upd_empty"])
        addr = np.where(R["addr"] < 0, len(self.addr_pool), R["addr"])
        cols = {
            "refund_id": _refund_ids(R["num"], R["plat"]),
            "order_id": self.order_ids_of(R["oi"]),
            "kind": _pick(list(KINDS), R["kind"]),
            "reason": _pick(list(REASONS), R["reason"]),
            "amount": _money(R["cents"]),
            "decision": _pick(list(DECISIONS), R["decision"]),
            "return_address_id": _pick([*self.addr_pool, None], addr),
            "refunded_amount": _money(R["rcents"]),
            "evidence_provided": _bools(R["evidence"] == 1, R["evidence"] == 2, R["spell"]),
            "ruling": _pick(list(RULINGS), R["ruling"]),
            **ts,
        }
        return _frame(self.apply(cols, over, pos[n_base:]), COLUMNS["refunds"])

    def format_addresses(self, extra: list[dict]) -> pd.DataFrame:
        rows = self.book + extra + [self.book[self.role["e2"][1]]]  # one exact copy
        shop = np.array([row["shop"] for row in rows])
        zone = (self.shop_plat[shop] == AMAZON).astype(np.int8)
        style = np.zeros(len(rows), dtype=np.int8)
        style[1::4] = 2  # some naive local times, in the shop's platform zone
        cols: dict[str, pa.Array] = {
            "valid_from": _fmt_ts(np.array([row["valid_from"] for row in rows]), zone, style),
            "valid_to": _fmt_ts(np.array([row["valid_to"] for row in rows]), zone, style),
            "shop_id": pa.array([self.shop_ids[s] for s in shop], type=pa.large_string()),
        }
        for c in ("address_id", "recipient", "phone", "country", "province", "city",
                  "district", "street", "postcode"):  # fmt: skip
            cols[c] = pa.array([row[c] for row in rows], type=pa.large_string())
        over = [
            (i, col, value)
            for i, row in enumerate(rows)
            for col, value in row.get("override", {}).items()
        ]
        cols = self.apply(cols, over, np.arange(len(rows)))
        return _frame(cols, COLUMNS["return_addresses"])

    def format_messages(self, extra: dict[str, np.ndarray], over) -> pd.DataFrame:
        keys = ["oi", "ri", "sender", "t", "text", "num", "style"]
        M = {k: self.M[k] for k in keys}
        n_base = len(M["t"])
        if extra:
            M = _cat(M, {k: extra[k] for k in keys})
        order, pos = _layout(np.nan_to_num(M["t"]), len(M["t"]), self.M_dups)
        M = _take(M, order)
        oi, ri = M["oi"], M["ri"]
        zone = (self.od_all["plat"][np.maximum(oi, 0)] == AMAZON).astype(np.int8)
        at = np.maximum(ri, 0)
        refund_ids = _refund_ids(self.R_final["num"][at], self.R_final["plat"][at])
        cols = {
            "message_id": _message_ids(M["num"]),
            "order_id": self.order_ids_of(oi),
            "refund_id": _null_where(refund_ids, ri < 0),
            "sender": _pick(list(SENDERS), M["sender"]),
            "sent_at": _fmt_ts(M["t"], zone, M["style"]),
            "text": _pick(_TEXT_POOL, M["text"]),
        }
        return _frame(self.apply(cols, over, pos[n_base:]), COLUMNS["messages"])
