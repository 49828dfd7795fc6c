"""Orders: who paid when, shipping and delivery times, amounts, flags."""

from __future__ import annotations

import numpy as np

from sources.generate.vocabulary import AMAZON, D, H


def _every_shop_sells(shop: np.ndarray, n_shops: int) -> None:
    """Give each shop without an order one order of the shop with the most (in place), so
    that exactly ``n_shops`` shops appear; the draw is left as it was when none is missing."""
    count = np.bincount(shop, minlength=n_shops)
    for missing in np.flatnonzero(count == 0):
        donor = int(np.argmax(count))
        shop[np.flatnonzero(shop == donor)[0]] = missing
        count[donor] -= 1
        count[missing] += 1



class OrdersMixin:
    """Orders paid over the window, numbered as paid."""

    def build_orders(self) -> None:
        n, A, r = self.n, self.A, self.rng
        shop = r.choice(len(self.shop_ids), size=n, p=self.shop_p)
        if self.n_shops:
            _every_shop_sells(shop, self.n_shops)
        plat = self.shop_plat[shop].astype(np.int8)
        std_off = np.where(plat == AMAZON, -8 * H, 8 * H)
        span = max(2 * D, 1.5 * self.W)
        t = A - span + r.uniform(0, span, n) + std_off
        hour_w = [3, 2, 1, 1, 1, 1, 1, 2, 3, 4, 6, 6, 5, 5, 6, 6, 5, 5, 5, 6, 8, 9, 9, 6]
        paid = np.floor(t / D) * D + self.choice(hour_w, n) * H + r.uniform(0, H, n) - std_off
        paid = np.where(paid >= A - 60, paid - D, paid)
        shipped = paid + np.clip(self.logn(20 * H, 0.7, n), 0.3 * H, 10 * D)
        shipped[r.random(n) < 0.05] = np.nan
        transit = np.array([4.5, 2.0, 3.5, 3.0])[plat] * D * np.exp(r.normal(0, 0.4, n))
        delivered = shipped + transit
        delivered[r.random(n) < 0.03] = np.nan
        cutoff = np.full(n, A)
        # a few orders paid after as_of: the pull ran later than the audit's as_of
        future = r.choice(n, size=min(n, max(2, round(0.003 * n))), replace=False)
        shift = A + r.uniform(10 * 60, 30 * H, len(future)) - paid[future]
        paid[future] += shift
        shipped[future] += shift
        delivered[future] += shift
        cutoff[future] = A + 2 * D
        shipped[shipped > cutoff] = np.nan
        delivered[np.isnan(shipped) | (delivered > cutoff)] = np.nan
        us = plat == AMAZON
        cents = np.where(
            us,
            np.floor(self.logn(29.0, 0.8, n)) * 100 + np.where(r.random(n) < 0.7, 99, 0),
            np.round(self.logn(159.0, 0.9, n), 1) * 100,
        ).astype(np.int64)
        cents = np.clip(cents, 199, 5_000_000)
        region = np.where(
            us,
            np.where(r.random(n) < 0.97, 2, 3),
            self.choice([0.91, 0.04, 0.05], n, [0, 1, 3]),
        ).astype(np.int8)
        by_paid = np.argsort(paid, kind="stable")  # orders are numbered as they were paid
        shop, plat, region, paid = shop[by_paid], plat[by_paid], region[by_paid], paid[by_paid]
        shipped, delivered, cents = shipped[by_paid], delivered[by_paid], cents[by_paid]
        us = plat == AMAZON
        self.od = {
            "num": np.arange(n, dtype=np.int64), "plat": plat, "shop": shop.astype(np.int32),
            "region": region, "paid": paid, "shipped": shipped, "delivered": delivered,
            "cents": cents, "fs": r.random(n) < np.where(us, 0.55, 0.88),
            "nrr": r.random(n) < np.array([0.85, 0.95, 0.9, 0.97])[plat],
            "style": self.styles(n), "spell": self.spellings(n),
        }  # fmt: skip

