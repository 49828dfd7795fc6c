"""PC002's wording model (checks/tone_model.py): its features worked by hand, the floor below
which it does not judge, how its findings read, what it was trained on, and the held-out
labelled sets it never saw."""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from factories import message, tables

from checks import tone, tone_model
from checks.audit import run_rules
from checks.profiles import load_profiles, timezones
from schemas.validate import validate_tables
from tests.checks.labelled_sets import assert_on_target

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data"
PROFILES = load_profiles()


def _train_script():
    spec = importlib.util.spec_from_file_location("train_tone_model",
                                                  ROOT / "scripts" / "train_tone_model.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


# --------------------------------------------------------------------------- features


def test_ngrams_counted_by_hand() -> None:
    """"ab" between its start and end marks (^ab$): unigrams a, b; bigrams ^a, ab, b$;
    trigrams ^ab, ab$: 7 n-grams. Two texts side by side keep their own 7 each (no n-gram
    runs from one into the next: b$c would be one)."""
    row, bucket = tone_model.ngrams(["ab"])
    assert len(row) == 7 and set(row) == {0}
    row2, bucket2 = tone_model.ngrams(["ab", "cd"])
    assert np.bincount(row2).tolist() == [7, 7]
    assert sorted(bucket2[row2 == 0]) == sorted(bucket)
    assert sorted(bucket2[row2 == 1]) == sorted(tone_model.ngrams(["cd"])[1])
    # a single character: x, ^x, x$ -> 3 (an n-gram never starts and ends on a mark, so
    # ^x$ is not one: the bigram ^$ of an empty text would be the same rule); "" has none.
    assert len(tone_model.ngrams(["x"])[0]) == 3
    assert len(tone_model.ngrams([""])[0]) == 0


def test_digits_are_folded_and_letters_are_not() -> None:
    """An order number says nothing about tone: 订单123 and 订单987 are the same features."""
    def bag(text: str) -> list[int]:
        return sorted(tone_model.ngrams([text])[1])

    assert bag("订单123已退款") == bag("订单987已退款")
    assert bag("订单abc已退款") != bag("订单123已退款")


def test_scale_is_one_over_the_root_of_the_ngram_total() -> None:
    row, _ = tone_model.ngrams(["ab", "", "x"])
    assert tone_model.scale(row, 3) == pytest.approx([1 / 7 ** 0.5, 0.0, 1 / 3 ** 0.5])


def test_logits_are_weights_summed_and_scaled() -> None:
    """A model whose every bucket weighs 1 and bias is -1: "ab" scores 7 / sqrt(7) - 1
    (seven n-grams of weight 1, scaled by 1/sqrt(7)); an empty text cannot be judged."""
    size = 1 << tone_model.BITS
    model = tone_model.Model(
        weights=np.ones(size, dtype=np.float32), bias=-1.0, threshold=0.5,
        families=("insult",), family_index=np.zeros(0, dtype=np.int64),
        family_values=np.zeros((0, 1), dtype=np.float32), family_bias=np.zeros(1),
        trained_on="test")
    logits = model.logits(["ab", ""])
    assert logits[0] == pytest.approx(7 / 7 ** 0.5 - 1)
    assert logits[1] == -np.inf
    assert model.probability(["ab"])[0] == pytest.approx(1 / (1 + np.exp(-(7 ** 0.5 - 1))))


def test_family_scores_sum_the_known_buckets() -> None:
    """Two families; every bucket "ab" reaches weighs (1, 0) for them, one bucket it does not
    reach weighs (0, 9): "ab" scores 7 / sqrt(7) for the first, 0 for the second, plus the
    biases (0, 2) -> the first family wins with sqrt(7) ~ 2.65 against 2."""
    _, bucket = tone_model.ngrams(["ab"])
    reached = np.unique(bucket)
    other = next(b for b in range(1 << tone_model.BITS) if b not in set(reached))
    index = np.sort(np.append(reached, other))
    values = np.array([[0.0, 9.0] if b == other else [1.0, 0.0] for b in index],
                      dtype=np.float32)
    size = 1 << tone_model.BITS
    model = tone_model.Model(
        weights=np.zeros(size, dtype=np.float32), bias=0.0, threshold=0.5,
        families=("insult", "taunt"), family_index=index, family_values=values,
        family_bias=np.array([0.0, 2.0]), trained_on="test")
    # "ab" reaches 7 n-gram occurrences; if two hash to one bucket it still counts twice.
    occurrences = np.bincount(np.searchsorted(index, bucket), minlength=len(index))
    assert occurrences.sum() == 7
    assert model.family_scores("ab") == pytest.approx([7 / 7 ** 0.5, 2.0])
    assert model.family("ab") == "insult"


def test_saved_and_loaded_alike(tmp_path) -> None:
    rng = np.random.default_rng(3)
    size = 1 << tone_model.BITS
    coef = np.zeros(size, dtype=np.float32)
    coef[rng.integers(0, size, 50)] = rng.normal(size=50)
    fam = np.zeros((2, size))
    fam[:, :10] = rng.normal(size=(2, 10))
    family_index, family_values = tone_model.sparse_families(fam)
    path = tmp_path / "m.npz"
    tone_model.save(path, tone_model.Model(
        weights=coef, bias=0.25, threshold=0.7, families=("insult", "taunt"),
        family_index=family_index, family_values=family_values,
        family_bias=np.array([0.1, -0.1]), trained_on="x"))
    got = tone_model.load(path)
    assert np.array_equal(got.weights, coef)
    # Buckets 0-9 carry the family weights, in bucket order, one column per family.
    assert got.family_index.tolist() == list(range(10))
    assert np.array_equal(got.family_values, fam[:, :10].T.astype(np.float32))
    assert (got.bias, got.threshold, got.families, got.trained_on) == (
        0.25, 0.7, ("insult", "taunt"), "x")


# --------------------------------------------------------------------------- judging


# Hostile replies written for this test, in none of the labelled sets, with no phrase of the
# phrase file in them (checked below): only the model can find them.
UNLISTED_HOSTILE = [
    "您这么懂，怎么还会买错尺码呢？真是长见识了",
    # (was "reading the size chart must have been really hard for you": a phrase has it now)
    "Wow, measuring twice must have been asking too much, huh?",
]
# Ordinary replies of five units or more, also in none of the sets.
EVERYDAY = [
    "亲，您的包裹已经到达转运中心了，预计后天送达",
    "Thanks for waiting, the replacement left our warehouse this morning.",
    "好的亲，这边已经给您登记了换货，新的明天发出",
    "No problem, we will send the missing screws today.",
    "亲，这款是现货，今天下午四点前付款当天发",
]


def test_the_unlisted_hostile_replies_hold_no_phrase() -> None:
    assert not tone.hostile_mask(pd.Series(UNLISTED_HOSTILE), model=False).any()


def test_the_model_finds_what_the_phrases_miss_and_says_so() -> None:
    got = tone.judge(pd.Series(UNLISTED_HOSTILE + EVERYDAY))
    assert got["hostile"].tolist() == [True] * len(UNLISTED_HOSTILE) + [False] * len(EVERYDAY)
    hits = got[got["hostile"]]
    assert hits["score"].between(tone_model.shipped().threshold, 1).all()
    assert hits["family"].isin(tone_model.shipped().families).all()
    for text, words in zip(UNLISTED_HOSTILE, hits["phrase"], strict=True):
        # The words shown are one clause of the message (as normalised: lower case).
        assert words and words in text.lower()


def test_a_phrase_finding_has_no_model_score() -> None:
    got = tone.judge(pd.Series(["爱买不买", "滚筒洗衣机已发货"]))
    assert got["hostile"].tolist() == [True, False]
    assert got["score"].isna().all()


@pytest.mark.parametrize("text", ["OK", "明白了", "Perfect.", "Noted, thanks.", "发出去了"])
def test_stock_replies_below_the_floor_are_left_to_the_phrases(text: str) -> None:
    """A model that calls everything hostile still cannot flag a reply under five units."""
    size = 1 << tone_model.BITS
    eager = replace(tone_model.shipped(), weights=np.ones(size, dtype=np.float32), bias=5.0)
    assert not tone.judge(pd.Series([text]), model=eager)["hostile"].iloc[0]
    assert tone.judge(pd.Series([text + "，好的好的好的好的"]), model=eager)["hostile"].iloc[0]


def test_the_phrases_exceptions_stand() -> None:
    """Where a phrase matched and the message was excused (a reason and a way forward, a
    quote, a denial), the model does not overrule the phrase file, however eager."""
    size = 1 << tone_model.BITS
    eager = replace(tone_model.shipped(), weights=np.ones(size, dtype=np.float32), bias=5.0)
    excused = pd.Series(["定制商品不退，如有质量问题可申请售后",
                         "您说客服回复“滚”，我们非常抱歉", "亲，不是不给您退，是系统还在处理"])
    assert not tone.judge(excused, model=eager)["hostile"].any()


def test_pc002_detail_names_the_model() -> None:
    """Through the whole audit: a model finding says so, with its score and the clause; a
    phrase finding reads as before."""
    raw = tables(messages=[
        message(message_id="S1", sender="seller", text=UNLISTED_HOSTILE[0]),
        message(message_id="S2", sender="seller", text="爱买不买")])
    valid = validate_tables(raw, timezones(PROFILES))
    findings = run_rules(valid.tables, PROFILES, pd.Timestamp("2026-11-20T02:00:00+08:00"),
                         30).findings
    pc = findings[findings["rule_id"] == "PC002"].set_index("message_id")["detail"]
    assert sorted(pc.index) == ["S1", "S2"]
    assert pc["S1"].startswith("Seller message at 2026-11-05 02:00 UTC reads as ")
    assert "(wording model, 0." in pc["S1"] and "\u201c" in pc["S1"]
    assert pc["S2"] == ("Seller message at 2026-11-05 02:00 UTC contains \u201c爱买不买\u201d "
                        "(flat refusal).")


# --------------------------------------------------------------------------- training data


def test_the_shipped_model_was_trained_on_the_labelled_sets_as_they_are() -> None:
    """Editing a labelled set without retraining (scripts/train_tone_model.py) fails here;
    so does training on a held-out set."""
    train = _train_script()
    files = train.training_files()
    assert not {p.name for p in files} & set(train.HELD_OUT)
    assert tone_model.shipped().trained_on == tone_model.digest(files)


@pytest.mark.parametrize("name", ["tone_blind12.csv", "tone_blind13.csv",
                                  "tone_blind14.csv"])
def test_held_out_sets_meet_the_targets(name: str) -> None:
    """Batches written by authors who never saw the phrase file, kept out of the model's
    training: precision >= 0.95, recall >= 0.85, every family >= 0.7."""
    assert_on_target(DATA / name, precision=0.95, recall=0.85, family=0.7)


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_training_again_gives_the_shipped_model_and_sklearn_agrees() -> None:
    """Retrained from the labelled sets, the weights are the shipped ones; and the numpy
    scoring PC002 runs gives scikit-learn's own probabilities on a held-out set."""
    train = _train_script()
    data = train.read(train.training_files())
    hostile, family = train.fit(data, train.view(data["text"]))
    fresh, shipped = train.to_model(hostile, family, "again"), tone_model.shipped()
    assert np.allclose(fresh.weights, shipped.weights, atol=1e-4)
    assert np.array_equal(fresh.family_index, shipped.family_index)
    assert np.allclose(fresh.family_values, shipped.family_values, atol=1e-4)
    held = pd.read_csv(DATA / "tone_blind13.csv", dtype=str, keep_default_na=False)
    texts = train.view(held["text"])
    expected = hostile.predict_proba(train.design(texts))[:, 1]
    assert np.allclose(fresh.probability(texts), expected, atol=1e-4)
