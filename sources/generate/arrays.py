"""Small helpers over the column dicts (``{field: numpy array}``) the builder works on."""

from __future__ import annotations

import numpy as np

# --------------------------------------------------------------------------- array helpers


def _take(t: dict[str, np.ndarray], idx: np.ndarray) -> dict[str, np.ndarray]:
    return {k: v[idx] for k, v in t.items()}


def _cat(*parts: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def _fmax(*arrays: np.ndarray) -> np.ndarray:
    out = arrays[0]
    for a in arrays[1:]:
        out = np.fmax(out, a)
    return out


