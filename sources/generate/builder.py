"""One generation run: the random stream, ``as_of`` and the order of the steps; the steps
themselves live in the mixins, one module per part of the data."""

from __future__ import annotations

import numpy as np
import pandas as pd

from sources.generate.dirt import DirtMixin
from sources.generate.frames import FramesMixin
from sources.generate.messages import MessagesMixin
from sources.generate.orders import OrdersMixin
from sources.generate.planted import PlantedMixin
from sources.generate.refunds import RefundsMixin
from sources.generate.shops import ShopsMixin
from sources.generate.strings import _BOOL_STYLE_P
from sources.generate.vocabulary import COLUMNS


class Builder(ShopsMixin, OrdersMixin, RefundsMixin, PlantedMixin, MessagesMixin,
              DirtMixin, FramesMixin):
    """One generation run: the random stream, as_of and the tables being built."""

    def __init__(self, n: int, seed: int, as_of: float, window: float, dirty: bool,
                 shops: int | None = None) -> None:
        self.n = n
        self.n_shops = shops
        self.rng = np.random.default_rng(seed)
        self.A = as_of
        self.W = window
        self.dirty = dirty

    # ------------------------------------------------------------------ helpers
    def logn(self, median: float, sigma: float, size: int) -> np.ndarray:
        return median * np.exp(self.rng.normal(0.0, sigma, size))

    def choice(self, p: list[float], size: int, values: list[int] | None = None) -> np.ndarray:
        p_arr = np.asarray(p, dtype=float)
        idx = self.rng.choice(len(p_arr), size=size, p=p_arr / p_arr.sum())
        return idx if values is None else np.asarray(values)[idx]

    def styles(self, size: int) -> np.ndarray:
        return self.choice([0.55, 0.2, 0.15, 0.1], size).astype(np.int8)

    def spellings(self, size: int) -> np.ndarray:
        return self.rng.choice(len(_BOOL_STYLE_P), size=size, p=_BOOL_STYLE_P)

    def plant(self, cand: np.ndarray, frac: float, k_min: int = 2) -> np.ndarray:
        """Pick a rule's share of unclaimed candidate refunds (at least k_min when possible)."""
        idx = np.flatnonzero(cand & ~self.claimed)
        k = min(len(idx), max(k_min, round(frac * self.n_scope)))
        chosen = np.sort(self.rng.choice(idx, size=k, replace=False)) if k else idx[:0]
        self.claimed[chosen] = True
        return chosen

    # ------------------------------------------------------------------ run
    def run(self) -> dict[str, pd.DataFrame]:
        self.build_shops()
        self.build_address_book()
        self.build_orders()
        self.build_refunds()
        self.plant_refunds()
        self.finish_refunds()
        self.build_messages()
        self.plant_messages()
        extra = self.add_dirty() if self.dirty else {t: ({}, []) for t in COLUMNS}
        return {
            "orders": self.format_orders(*extra["orders"]),
            "refunds": self.format_refunds(*extra["refunds"]),
            "return_addresses": self.format_addresses(extra["return_addresses"][1]),
            "messages": self.format_messages(*extra["messages"]),
        }

