"""Synthetic input tables for the demo, the tests and the benchmark.

``generate_tables`` builds the four input tables (orders, refunds, return_addresses,
messages) exactly as they would sit in CSV files: every value a string, ``NA`` for empty, the
columns as ``schemas.tables`` defines them. The bulk follows a realistic after-sales
lifecycle; a small, size-proportional share of rows is then shaped so that every rule fires
(violations, ``at_risk`` and ``contestable`` cases); ``dirty=True`` adds a few rows of every
quarantine kind.

Everything is drawn with numpy and formatted with pyarrow compute, never per row in Python, so
1M orders take seconds and 10M fit in memory.  Times are float64 seconds since the epoch (UTC)
inside the package, NaN for "not happened"; they become ISO 8601 strings only at the end.
How each rule is planted, and the points of the specification the generator had to interpret,
are written down in ``docs/decisions-generator.md``.

One module per part of the data: ``vocabulary`` (platforms, enums, columns, deadlines),
``shops`` (shops and address books), ``orders``, ``refunds`` (the bulk lifecycle),
``planted`` (each rule's cases), ``messages``, ``dirt`` (quarantine cases), ``frames`` (the
string tables), with ``strings``, ``ids`` and ``arrays`` as helpers and ``builder`` running
the steps in order.
"""

from __future__ import annotations

import pandas as pd

from sources.generate.builder import Builder
from sources.generate.vocabulary import COLUMNS, DIRTY_KINDS, D

__all__ = ["COLUMNS", "DIRTY_KINDS", "generate_tables"]


def generate_tables(
    n_orders: int,
    *,
    seed: int = 7,
    as_of: str = "2026-11-20T02:00:00+08:00",
    window_days: int = 30,
    dirty: bool = True,
    shops: int | None = None,
) -> dict[str, pd.DataFrame]:
    """Generate ``orders``, ``refunds``, ``return_addresses`` and ``messages`` as string frames.

    Deterministic for (n_orders, seed, as_of, window_days, dirty, shops).  Columns are exactly
    the contract's, every value a string or NA.  ``as_of`` must carry an offset.  ``shops``:
    how many shops, spread over the four platforms in turn, each with at least one order
    (default: one per 20,000 orders, at least 4).
    """
    if n_orders < 1:
        raise ValueError("n_orders must be at least 1")
    if shops is not None and not 1 <= shops <= n_orders:
        raise ValueError(f"shops must be between 1 and the number of orders ({n_orders})")
    if window_days < 1:
        raise ValueError("window_days must be at least 1")
    stamp = pd.Timestamp(as_of)
    if stamp.tzinfo is None:
        raise ValueError(f"as_of must carry a UTC offset, got {as_of!r}")
    return Builder(n_orders, seed, float(stamp.timestamp()), window_days * D, dirty,
                    shops).run()


