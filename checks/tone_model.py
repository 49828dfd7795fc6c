"""PC002's second opinion: a linear model over character n-grams of the normalised message.

The phrase list (`checks.tone`) names exactly what it catches, but every new writer finds
wording it has never seen: sarcasm carried by a construction, a dismissal made of ordinary
words, a dialect spelling. Measured on labelled sets written by authors who never saw the
list, the list alone caught 68-82 % of the hostile messages; a model trained on the other
sets caught most of the rest at the same precision (docs/tone.md, "The learned model").
So a message is hostile when the list finds a phrase that counts **or** the model's
probability reaches the threshold stored with it.

Why this shape:

- **Character n-grams (1-3) of the normalised text**, hashed into 2**20 buckets, digits
  folded to 0: no word segmentation (Chinese has no spaces), robust to typos and to the
  mixed Chinese-English of cross-border chat, and computable for a million messages at once
  with numpy (one array of code points, one hash per position and length).
- **Logistic regression** (trained by ``scripts/train_tone_model.py`` with scikit-learn,
  shipped as weights in ``data/tone_model.npz``): scoring is a sum of weights, so it is
  vectorised, fast and needs no library at run time, and each clause's share of the score
  says which words made the message read as hostile.
- **A second model picks the family** (the six families of the phrase file) for the
  messages only the model flags, and the clause that scores highest is shown as the words
  that fired, so a finding made by the model is explained like one made by a phrase.
- Quoted speech attributed to someone else is blanked out first, as for the phrases.

Each message's features are its n-gram counts divided by the square root of its n-gram
total (a long friendly message is not hostile because it is long); training builds exactly
these features with `ngrams` and `scale`, so scoring here and training there cannot disagree.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

MODEL_PATH = Path(__file__).with_name("data") / "tone_model.npz"
BITS = 20
NGRAMS = (1, 2, 3)
# Per-position multipliers of the n-gram hash (odd 32-bit constants; any would do, but
# training and scoring must use the same ones). 32-bit arithmetic: half the memory traffic
# of 64-bit, and a code point needs 21 bits.
_MULT = np.array([0x9E3779B1, 0x85EBCA77, 0xC2B2AE3D], dtype=np.uint32)
_SALT = np.array([0, 0x27D4EB2F, 0x165667B1, 0xD3A2646C], dtype=np.uint32)
# The model judges a message of at least this many units (a Chinese character or a Latin
# word). Below it a reply is a stock word or two ("OK", "明白了", "Perfect."), whose few
# n-grams carry too much weight: on 103 everyday replies the model never saw, it flagged 24
# without this floor and none with it, at a cost of 1-3 points of recall on the held-out
# sets. Short hostile replies are the phrase list's (its bare replies: 不行, "No.", 滚).
MIN_UNITS = 5
UNITS_RE2 = "[\u3400-\u9fff]|[a-z]+"
# Clauses for the explanation: sentence and clause punctuation, and emoji.
_CLAUSE = re.compile(r"[，,。.！!？?；;：:\n…~～、\u2600-\u27bf\U0001f000-\U0001faff]+")


def _codepoints(texts: list[str]) -> np.ndarray:
    """All texts as one array of code points, each text between 0 sentinels; ASCII digits
    folded to "0" (an order number or a price says nothing about tone)."""
    joined = "\x00" + "\x00".join(texts) + "\x00"
    c = np.frombuffer(joined.encode("utf-32-le"), dtype=np.uint32).copy()
    c[(c >= 49) & (c <= 57)] = 48
    return c


def ngrams(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(row, bucket) of every n-gram occurrence, row = position in ``texts``.

    The sentinels mark a text's start and end (an n-gram may begin or end on one, so "不退"
    at the very start is a feature of its own), never its middle.
    """
    c = _codepoints(texts)
    sentinel = c == 0
    row_of = np.cumsum(sentinel, dtype=np.int64) - 1
    size = len(c)
    rows, buckets = [], []
    shift = np.uint32(32 - BITS)
    for n in NGRAMS:
        m = size - n + 1
        if m <= 0:
            continue
        h = c[:m] * _MULT[0]
        for j in range(1, n):
            h ^= c[j:j + m] * _MULT[j]
        h ^= _SALT[n]
        if n == 1:
            ok = ~sentinel[:m]
        else:
            ok = ~(sentinel[:m] & sentinel[n - 1:n - 1 + m])
            for j in range(1, n - 1):
                ok &= ~sentinel[j:j + m]
        rows.append(row_of[:m][ok])
        buckets.append((h[ok] >> shift).astype(np.int64))
    row = np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64)
    bucket = np.concatenate(buckets) if buckets else np.zeros(0, dtype=np.int64)
    return row, bucket


def scale(row: np.ndarray, count: int) -> np.ndarray:
    """Per text: 1 / sqrt(its n-gram total), 0 for a text with none. A feature's value is
    its count times this (a long friendly message is not hostile because it is long)."""
    total = np.bincount(row, minlength=count).astype(np.float64)
    return np.where(total > 0, 1.0 / np.sqrt(np.maximum(total, 1.0)), 0.0)


@dataclass(frozen=True)
class Model:
    """The shipped weights: hostile-or-not, and the family of a hostile message."""

    weights: np.ndarray            # (2**BITS,) float32
    bias: float
    threshold: float               # probability at or above which a message is hostile
    families: tuple[str, ...]
    # The family model, kept sparse: the buckets any hostile training text reached (sorted)
    # and their weight per family. Only the few messages the model flags need it; a dense
    # (families x 2**20) matrix cost more to build at start-up than a small audit's judging.
    family_index: np.ndarray       # (n,) int64, sorted
    family_values: np.ndarray      # (n, len(families)) float32
    family_bias: np.ndarray        # (len(families),)
    trained_on: str                # digest of the labelled sets it was trained on

    def logits(self, texts: list[str]) -> np.ndarray:
        """The hostile-or-not log-odds of each text."""
        row, bucket = ngrams(texts)
        per_text = scale(row, len(texts))
        score = np.bincount(row, weights=self.weights[bucket], minlength=len(texts))
        # A text with no characters (or only blanks left by quoting) says nothing.
        return np.where(per_text > 0, score * per_text + self.bias, -np.inf)

    def probability(self, texts: list[str]) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-self.logits(texts)))

    def family_scores(self, text: str) -> np.ndarray:
        """Per family, the family model's log-odds for one text."""
        row, bucket = ngrams([text])
        at = np.minimum(np.searchsorted(self.family_index, bucket), len(self.family_index) - 1)
        known = self.family_index[at] == bucket
        summed = self.family_values[at[known]].sum(axis=0, dtype=np.float64)
        return summed * scale(row, 1)[0] + self.family_bias

    def family(self, text: str) -> str:
        return self.families[int(np.argmax(self.family_scores(text)))]

    def words(self, text: str) -> str:
        """The clause that reads most hostile: the words a reviewer is shown."""
        clauses = [c.strip() for c in _CLAUSE.split(text) if c.strip()]
        if len(clauses) <= 1:
            return text.strip()
        row, bucket = ngrams(clauses)
        # Raw sums (not divided by length): the clause carrying the most hostile weight.
        score = np.bincount(row, weights=self.weights[bucket], minlength=len(clauses))
        return clauses[int(np.argmax(score))]


def load(path: Path = MODEL_PATH) -> Model:
    with np.load(path) as z:
        size = 1 << int(z["bits"])
        if size != 1 << BITS or tuple(int(n) for n in z["ngrams"]) != NGRAMS:
            raise ValueError(f"{path} was trained with other features; retrain it "
                             "(scripts/train_tone_model.py)")
        weights = np.zeros(size, dtype=np.float32)
        weights[z["index"]] = z["value"]
        return Model(weights=weights, bias=float(z["bias"]), threshold=float(z["threshold"]),
                     families=tuple(str(f) for f in z["families"]),
                     family_index=z["family_index"].astype(np.int64),
                     family_values=z["family_values"],
                     family_bias=z["family_bias"].astype(np.float64),
                     trained_on=str(z["trained_on"]))


@lru_cache(maxsize=1)
def shipped() -> Model:
    return load()


def sparse_families(family_coef: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(sorted buckets, (buckets x families) weights) of a dense family coefficient matrix."""
    index = np.flatnonzero((family_coef != 0).any(axis=0))
    return index.astype(np.int64), np.ascontiguousarray(family_coef[:, index].T,
                                                         dtype=np.float32)


def save(path: Path, model: Model) -> None:
    """Write the weights sparsely (only the buckets the training text reached), without
    compression: reading it is on every audit's path, and it is ~1 MB either way."""
    index = np.flatnonzero(model.weights).astype(np.int32)
    np.savez(path, bits=np.array(BITS), ngrams=np.array(NGRAMS), bias=np.array(model.bias),
             threshold=np.array(model.threshold), index=index,
             value=model.weights[index].astype(np.float32),
             families=np.array(model.families),
             family_index=model.family_index.astype(np.int32),
             family_values=model.family_values.astype(np.float32),
             family_bias=np.asarray(model.family_bias, dtype=np.float64),
             trained_on=np.array(model.trained_on))


def digest(paths: list[Path]) -> str:
    """What the model was trained on: the labelled files' names and bytes."""
    h = hashlib.sha256()
    for p in sorted(paths, key=lambda p: p.name):
        h.update(p.name.encode())
        h.update(p.read_bytes())
    return h.hexdigest()[:16]
