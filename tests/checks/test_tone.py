"""PC002's phrase judgement: hostile phrases found, innocent words containing them not."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest
import yaml

from checks import tone

CASES = [
    # (text, phrase reported, or None when not hostile)
    ("滚", "滚"),
    ("滚！", "滚"),
    ("你给我滚", "滚"),
    ("滚吧，别烦我", "滚"),
    ("快滚", "滚"),
    ("滚蛋吧你", "滚蛋"),
    ("滚筒洗衣机已发货", None),
    ("请滚动页面查看详情", None),
    ("你滚动一下就能看到", None),
    ("翻滚吧少年", None),
    ("财源滚滚", None),
    ("爱买不买", "爱买不买"),
    ("亲，爱买不买哦", "爱买不买"),
    ("我们这边不退就是不退", "不退就是不退"),
    ("本店商品概不退换", "概不退换"),
    ("关我什么事", "关我什么事"),
    ("你投诉也没用", "投诉也没用"),
    ("你有病吧", "有病吧"),
    ("亲，已经为您办理退款，请注意查收", None),
    ("Not my problem.", "not my problem"),
    ("NOT MY PROBLEM", "not my problem"),
    ("That's not my problem-solving approach", None),
    ("rolling out the refund tomorrow", None),
    ("Go away!", "go away"),
    ("Just go away, please.", "go away"),
    ("The crease will go away after washing.", None),
    ("Go away with the discount code and buy again", None),
    ("Your parcel may get lost in transit, we will track it.", None),
    ("Get lost.", "get lost"),
    ("shut up", "shut up"),
    ("shutup!!", "shutup"),
    ("We won’t refund.", "we won't refund"),
    ("We won't refund until the return arrives.", None),
    ("No refunds, period.", "no refunds, period"),
    ("that is an idiot-proof design", None),
    ("Thats your problem", "that's your problem"),
    ("您好，not my problem啊", "not my problem"),
]


@pytest.mark.parametrize(("text", "phrase"), CASES, ids=[c[0] for c in CASES])
def test_phrase_judgement(text: str, phrase: str | None) -> None:
    texts = pd.Series([text])
    assert tone.hostile_mask(texts).tolist() == [phrase is not None]
    found = tone.matched_phrase(texts).iloc[0]
    if phrase is None:
        assert pd.isna(found)
    else:
        assert found == phrase


@pytest.mark.parametrize("dtype", ["str", "object", "string"])
def test_missing_text_and_index(dtype: str) -> None:
    texts = pd.Series(["滚", None, "滚筒", "go away"], index=[5, 5, 2, 9], dtype=dtype)
    mask = tone.hostile_mask(texts)
    assert mask.dtype == bool
    assert list(mask.index) == [5, 5, 2, 9]
    assert mask.tolist() == [True, False, False, True]
    phrases = tone.matched_phrase(texts)
    assert list(phrases.index) == [5, 5, 2, 9]
    assert phrases.iloc[0] == "滚" and phrases.iloc[3] == "go away"
    assert phrases.iloc[[1, 2]].isna().all()


def test_empty_input() -> None:
    empty = pd.Series([], dtype="str")
    assert tone.hostile_mask(empty).empty
    assert tone.matched_phrase(empty).empty


def test_lexicon_file() -> None:
    spec = yaml.safe_load(tone.LEXICON_PATH.read_text(encoding="utf-8"))
    phrases = [entry["phrase"] for group in spec["groups"] for entry in group["phrases"]]
    assert 20 <= len(phrases) <= 40
    assert len(set(phrases)) == len(phrases)
    assert all(group.get("comment") for group in spec["groups"])
    assert sorted(tone.load_lexicon().phrases) == sorted(phrases)
    # Every phrase written on its own is found, as written.
    texts = pd.Series(phrases)
    assert tone.matched_phrase(texts).tolist() == phrases


def test_lexicon_rejects_misplaced_options(tmp_path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("groups: [{name: x, comment: y, phrases: [{phrase: go, standalone: true}]}]")
    with pytest.raises(ValueError, match="standalone"):
        tone.load_lexicon(bad)
    bad.write_text("groups: [{name: x, comment: y, phrases: [{phrase: 滚, clause: true}]}]")
    with pytest.raises(ValueError, match="clause"):
        tone.load_lexicon(bad)


def test_pattern_stays_on_the_pyarrow_regex_engine() -> None:
    """A lookaround, \\b, \\s or $ would send pandas to Python's re, ~20x slower."""
    texts = pd.Series(["滚\n翻滚 not my problem"], dtype="str")
    needs_python = getattr(texts.array, "_needs_python_regex", None)
    if needs_python is None:
        pytest.skip("this pandas version has no RE2 dispatch check")
    assert needs_python(tone.load_lexicon().pattern) is False


@pytest.mark.slow
def test_seven_hundred_thousand_messages_in_under_two_seconds() -> None:
    rng = np.random.default_rng(5)
    innocent = [
        "亲，您好，退款已经为您处理，请注意查收，有问题随时联系我们哦" * 2,
        "Hi, your refund has been processed and should arrive in 3-5 days. Thanks!" * 2,
        "滚筒洗衣机的滚动轴承没有问题，麻烦您再检查一下电源",
        "The crease will go away after washing; please check and let us know.",
    ]
    pool = np.array([*innocent * 50, "爱买不买", "Not my problem."], dtype=object)
    texts = pd.Series(rng.choice(pool, 700_000), dtype="str")
    start = time.perf_counter()
    mask = tone.hostile_mask(texts)
    elapsed = time.perf_counter() - start
    assert mask.sum() == texts.isin(["爱买不买", "Not my problem."]).sum()
    assert elapsed < 2
