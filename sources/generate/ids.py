"""Order, refund and message ids in each platform's own format."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from sources.generate.strings import _digits, _ids
from sources.generate.vocabulary import AMAZON

# --------------------------------------------------------------------------- ids


def _scramble(i: np.ndarray, mult: int, add: int) -> np.ndarray:
    """A bijection of [0, 10**12): unique, random-looking id digits for a running number."""
    return (i.astype(np.int64) * mult + add) % 10**12


def _order_ids(num: np.ndarray, plat: np.ndarray) -> pa.Array:
    """Taobao-like 19 digits, JD-like 13 digits, Amazon ``113-1234567-1234567``."""
    x = _scramble(num, 738_219_983, 113_592_337)
    tail = (x % 1_000_003) * 7919 % 1_000_000
    groups = []
    for mask, kind in (
        (plat == AMAZON, "amz"),
        (plat == 2, "jd"),
        ((plat != AMAZON) & (plat != 2), "tb"),
    ):
        xs, ts = _digits(x[mask], 12), tail[mask]
        if kind == "tb":
            parts: list[np.ndarray | str] = ["2", xs, _digits(ts, 6)]
        elif kind == "jd":
            parts = ["3", xs]
        else:
            parts = [
                "11",
                _digits(ts % 5 + 1, 1),
                "-",
                xs[:, :7],
                "-",
                xs[:, 7:],
                _digits(ts % 100, 2),
            ]
        groups.append((mask, parts))
    return _ids(groups, len(num))


def _refund_ids(num: np.ndarray, plat: np.ndarray) -> pa.Array:
    y = _scramble(num, 531_372_911, 402_553_781)
    amz = plat == AMAZON
    return _ids(
        [
            (amz, ["D", _digits(y[amz], 12)]),
            (~amz, ["1", _digits(y[~amz], 12), _digits(y[~amz] * 40_503 % 100_000, 5)]),
        ],
        len(num),
    )


def _message_ids(num: np.ndarray) -> pa.Array:
    every = np.ones(len(num), dtype=bool)
    return _ids([(every, ["msg-", _digits(_scramble(num, 914_616_497, 77_003_119), 12)])], len(num))


