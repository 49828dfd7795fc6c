"""Dirty rows: a few rows of every quarantine kind, per table."""

from __future__ import annotations

import numpy as np

from sources.generate.arrays import _cat, _take
from sources.generate.ids import _order_ids
from sources.generate.messages import _TEXT_POOL
from sources.generate.vocabulary import _LATER, D, H


class DirtMixin:
    """Rows that the validation must quarantine, with the reason each plants."""

    def add_dirty(
        self,
    ) -> dict[str, tuple[dict[str, np.ndarray], list[tuple[int, str, str | None]]]]:
        """A few rows of every quarantine kind, as new rows next to good ones."""
        return {
            "orders": self.dirty_orders(),
            "refunds": self.dirty_refunds(),
            "return_addresses": ({}, self.dirty_addresses()),
            "messages": self.dirty_messages(),
        }

    def per_variant(self, rows: int) -> int:
        return max(1, round(rows * 0.0001))

    def dirty_orders(self) -> tuple[dict[str, np.ndarray], list[tuple[int, str, str | None]]]:
        od, r, n = self.od, self.rng, self.n
        # templates: shipped orders nothing references, so no good row is dragged along
        lonely = np.flatnonzero(~self.has_ref & ~self.has_msg & ~np.isnan(od["shipped"]))
        if len(lonely) < 2:
            lonely = np.arange(n)
        k = self.per_variant(n)
        variants: list[tuple[str, str, str | None]] = [
            *[("missing", c, None) for c in ("paid_at", "shop_id", "amount", "currency",
                                            "free_shipping", "platform")],
            ("wrong_type", "amount", "abc"), ("wrong_type", "paid_at", "yesterday"),
            ("wrong_type", "no_reason_return", "maybe"),
            ("wrong_type", "delivered_at", "2026-13-45 25:61:00"),
            ("platform", "", None), ("platform", "", None), ("negative", "", None),
            ("negative", "", None), ("shipped_before_paid", "", None),
            ("shipped_before_paid", "", None), ("delivered_before_shipped", "", None),
            ("delivered_before_shipped", "", None),
        ]  # fmt: skip
        plan = [v for v in variants for _ in range(k)]
        rows = _take(od, r.choice(lonely, size=len(plan)))
        rows["num"] = n + np.arange(len(plan))
        over: list[tuple[int, str, str | None]] = []
        for i, (what, col, value) in enumerate(plan):
            if what == "shipped_before_paid":
                rows["shipped"][i] = rows["paid"][i] - r.uniform(H, 2 * D)
                rows["delivered"][i] = np.nan
            elif what == "delivered_before_shipped":
                rows["delivered"][i] = rows["shipped"][i] - r.uniform(H, D)
            elif what == "negative":
                c = int(rows["cents"][i])
                over.append((i, "amount", f"-{c // 100}.{c % 100:02d}"))
            elif what == "platform":
                over += [(i, "platform", "shopee_sg"), (i, "shop_id", "shp-shop-01"),
                         (i, "currency", "SGD"), (i, "buyer_region", "SG")]  # fmt: skip
            else:
                over.append((i, col, value))
        self.dirty_O = rows
        # orders whose only fault is their own: what "references a quarantined order" points at
        self.quarantined_orders = n + np.flatnonzero(
            [p[0] in ("negative", "platform") for p in plan]
        )
        # two different orders with one order_id (of an order nothing else references)
        twins = _take(od, r.choice(lonely, size=min(len(lonely), 2 * k), replace=False))
        twins["cents"] = twins["cents"] + 1000
        return _cat(rows, twins), over

    def dirty_refunds(self) -> tuple[dict[str, np.ndarray], list[tuple[int, str, str | None]]]:
        R, od, r = self.R_final, self.od, self.rng
        n = len(R["req"])
        fine = ~self.claimed & ~np.isnan(R["upd"]) & ~R["upd_empty"]
        base = np.flatnonzero(fine) if fine.any() else np.arange(n)

        def pool(mask: np.ndarray) -> np.ndarray:
            p = np.flatnonzero(fine & mask)
            return p if len(p) else base

        agreed = pool(R["decision"] == 1)
        resent = pool((R["decision"] == 1) & (R["dec"] - R["req"] > 600))
        returned = pool(~np.isnan(R["bship"]))
        refunded = pool(R["rcents"] > 0)
        rows: list[dict[str, np.ndarray]] = []
        over: list[tuple[int, str, str | int | None]] = []
        next_num = n + len(self.R_versions["req"])

        def new(src: np.ndarray, same_num: int | None = None) -> dict[str, np.ndarray]:
            nonlocal next_num
            row = _take(R, r.choice(src, size=1))
            if same_num is None:
                row["num"] = np.array([next_num])
                next_num += 1
            else:
                row["num"] = np.array([same_num])
            return row

        def push(row: dict[str, np.ndarray], *overrides: tuple[str, str | int | None]) -> None:
            at = sum(len(x["req"]) for x in rows)
            rows.append(row)
            over.extend((at, c, v) for c, v in overrides)

        def copy(row: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
            return {f: v.copy() for f, v in row.items()}

        for _ in range(self.per_variant(n)):
            for col in ("requested_at", "kind", "reason", "decision", "ruling", "amount",
                        "order_id", "refund_id"):  # fmt: skip
                push(new(base), (col, None))
            for col, value in (("amount", "abc"), ("requested_at", "yesterday"),
                               ("evidence_provided", "maybe"), ("refunded_amount", "12,50"),
                               ("first_response_at", "2026-02-30T10:00:00+08:00")):  # fmt: skip
                push(new(base), (col, value))
            push(new(base), ("kind", "exchange"))
            push(new(agreed), ("decision", "Agreed "))
            push(new(base), ("reason", "Quality"))
            push(new(base), ("ruling", "pending"))
            push(new(agreed), ("decision", "approved"))
            # one refund_id, one updated_at (or none at all), different content
            for empty_upd in (False, True):
                a = new(base)
                if empty_upd:
                    a["upd_empty"][:] = True
                b = copy(a)
                b["cents"] = np.maximum(1, b["cents"] // 2)
                b["reason"] = (b["reason"] + 1) % 7
                push(a)
                push(b)
            # references: an order that does not exist, an order that is quarantined
            row = new(base)
            row["oi"][:] = -1
            push(row, ("order_id", self.n + 10**6 + next_num))
            q = int(r.choice(self.quarantined_orders))
            qo = _take(self.dirty_O, np.array([q - self.n]))
            row = new(base)
            for f in _LATER:
                row[f][:] = np.nan
            row["oi"][:], row["plat"][:] = q, qo["plat"]
            row["req"][:] = qo["paid"] + 2 * D
            row["upd"][:] = row["req"] + 60
            row["cents"][:] = np.minimum(row["cents"], qo["cents"])
            row["decision"][:], row["ruling"][:], row["addr"][:], row["rcents"][:] = 0, 0, -1, -1
            push(row)
            # amounts
            push(new(base), ("amount", "-12.00"))
            push(new(refunded), ("refunded_amount", "-3.50"))
            row = new(base)
            row["cents"] = od["cents"][row["oi"]] + 1000
            push(row)
            # impossible timestamps, one fault per row
            for src, field, moved in (
                (base, "req", lambda x: od["paid"][x["oi"]] - D),
                (base, "resp", lambda x: x["req"] - H),
                (agreed, "dec", lambda x: x["req"] - 2 * H),
                (base, "esc", lambda x: x["req"] - 3 * H),
                (base, "escr", lambda x: x["req"] - H),
                (base, "refd", lambda x: x["req"] - 1800),
                (returned, "srecv", lambda x: x["bship"] - D),
            ):
                row = new(src)
                row[field] = np.floor(moved(row))
                if field == "refd":
                    row["rcents"] = row["cents"].copy()
                push(row)
            row = new(agreed)  # decided_at with decision pending
            row["decision"][:] = 0
            push(row)
            row = new(agreed)  # agreed without decided_at
            row["dec"][:] = np.nan
            push(row)
            row = new(base)  # ruled_at with ruling none
            row["ruling"][:], row["ruled"] = 0, row["req"] + 3 * D
            push(row)
            row = new(base)  # a ruling without escalated_at
            row["ruling"][:], row["esc"][:], row["escr"][:] = 1, np.nan, np.nan
            row["ruled"] = row["req"] + 3 * D
            push(row)
            row = new(base)  # ruled before escalated
            row["esc"], row["escr"] = row["req"] + 2 * D, row["req"] + 2 * D + 2 * H
            row["ruling"][:], row["ruled"] = 2, row["req"] + D
            push(row)
            # a resend whose newest version is itself bad: the older one stays superseded
            newest = new(resent)
            old = self.censor(
                newest, np.floor(newest["req"] + 0.5 * (newest["dec"] - newest["req"]))
            )
            push(newest, ("decision", "Agreed "))
            push(old)
        out = _cat(*rows)
        fixed: list[tuple[int, str, str | None]] = []
        for at, col, value in over:
            if isinstance(value, int):  # a made-up order id, shaped like the platform's
                value = _order_ids(np.array([value]), out["plat"][at : at + 1])[0].as_py()
            fixed.append((at, col, value))
        return out, fixed

    def dirty_addresses(self) -> list[dict]:
        extra: list[dict] = []
        for i, (col, value) in enumerate(
            (("valid_from", None), ("shop_id", None), ("valid_from", "soon"), ("address_id", None))
        ):
            shop = i % len(self.shop_ids)
            row = dict(self.book[self.role["e2"][shop]])
            row["address_id"] = f"{self.shop_ids[shop]}-ra8{i}"
            row["override"] = {col: value}
            extra.append(row)
        for street in ("仓储路1号", "仓储路2号"):  # two entries, one address_id
            row = dict(self.book[self.role["e1"][0]])
            row["address_id"] = f"{self.shop_ids[0]}-ra90"
            row["street"] = street
            extra.append(row)
        return extra

    def dirty_messages(self) -> tuple[dict[str, np.ndarray], list[tuple[int, str, str | None]]]:
        M, r = self.M, self.rng
        n = len(M["t"])
        k = self.per_variant(n)
        plan = [v for v in (("order_id", "ghost"), ("order_id", "quarantined"),
                            ("sender", "Seller"), ("sender", "bot"), ("sent_at", None),
                            ("sender", None), ("order_id", None), ("message_id", None),
                            ("sent_at", "yesterday"), ("dup", "a"), ("dup", "b"))
                for _ in range(k)]  # fmt: skip
        rows = _take(M, r.choice(n, size=len(plan)))
        rows["num"] = n + np.arange(len(plan))
        over: list[tuple[int, str, str | None]] = []
        first_a = plan.index(("dup", "a"))
        for i, (col, value) in enumerate(plan):
            if value == "ghost":
                ghost = _order_ids(
                    np.array([self.n + 2 * 10**6 + i]), self.od["plat"][rows["oi"][i : i + 1]]
                )
                rows["oi"][i], rows["ri"][i] = -1, -1
                over.append((i, "order_id", ghost[0].as_py()))
            elif value == "quarantined":
                q = int(r.choice(self.quarantined_orders))
                rows["oi"][i], rows["ri"][i] = q, -1
                rows["t"][i] = self.dirty_O["paid"][q - self.n] + D
            elif value == "b":  # same message_id as its "a", other text
                a = first_a + (i - first_a - k)
                for f in rows:
                    rows[f][i] = rows[f][a]
                rows["text"][i] = (rows["text"][a] + 1) % (len(_TEXT_POOL) - 1)
            elif value != "a":
                over.append((i, col, value))
        return rows, over

