"""The one measure every labelled tone set is held to: PC002's verdicts (phrases and wording
model together) against the labels, overall and per family. The sets differ only in the
floors they are held at (see the tests that call this)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from checks import tone


def assert_on_target(path: Path, *, precision: float, recall: float, family: float) -> None:
    """Precision and recall of PC002 on the labelled set at ``path`` at or above the given
    floors, and the recall within every hostile family at or above ``family``."""
    data = pd.read_csv(path, dtype=str, keep_default_na=False)
    assert data["text"].is_unique
    flagged = tone.hostile_mask(data["text"]).to_numpy()
    hostile = (data["label"] == "hostile").to_numpy()
    hits = (flagged & hostile).sum()
    assert hits / flagged.sum() >= precision, f"precision {hits / flagged.sum():.3f}"
    assert hits / hostile.sum() >= recall, f"recall {hits / hostile.sum():.3f}"
    for name, rows in data[hostile].groupby("family"):
        assert flagged[rows.index].mean() >= family, f"{name} {flagged[rows.index].mean():.3f}"
