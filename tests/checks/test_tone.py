"""PC002's judgement: normalisation, phrases by family, excused refusals, quoted speech, and
the labelled evaluation set (tests/data/tone_eval.csv)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest
import yaml

from checks import tone
from tests.checks.labelled_sets import assert_on_target

EVAL_SET = Path(__file__).resolve().parents[1] / "data" / "tone_eval.csv"

# --------------------------------------------------------------------------- normalisation

NORMALISED = [
    # (mechanism, text, normalised text) — worked out by hand
    ("NFKC full-width letters", "ＮＯＴ ＭＹ ＰＲＯＢＬＥＭ", "not my problem"),
    ("NFKC full-width punctuation", "不退！", "不退!"),
    ("NFKC ideographic space", "亲\u3000您好", "亲您好"),
    ("traditional to simplified", "關我什麼事", "关我什么事"),
    ("traditional to simplified", "滾筒洗衣機已經發貨", "滚筒洗衣机已经发货"),
    ("case folding", "Go Away", "go away"),
    ("spaces inside a Chinese run", "不 退 就 是 不 退", "不退就是不退"),
    ("filler punctuation inside a Chinese run", "滚.蛋 爱·买·不·买", "滚蛋爱买不买"),
    ("clause punctuation kept", "不，退款已到账", "不,退款已到账"),
    ("spaces between Chinese and English kept", "亲 ok 吗", "亲 ok 吗"),
    ("repeated Chinese character", "滚滚滚", "滚"),
    ("repeated Chinese character", "呵呵呵，好的", "呵,好的"),
    ("letter typed three times or more", "nooo waaay", "no way"),
    ("double letters kept", "too bad, sorry", "too bad, sorry"),
    ("emoji kept (a clause boundary for the matcher)", "滚😡", "滚😡"),
    ("Cantonese grammar words", "唔關我事", "不关我事"),
    ("Cantonese grammar words", "你係咪傻㗎", "你是不是傻的"),
    ("Cantonese grammar words", "講咗幾多次", "讲了几多次"),
    ("Cantonese politeness stays polite", "唔好意思，唔該", "不好意思,谢"),  # 谢谢 collapses
    ("Mandarin 系 untouched", "關係", "关系"),
    ("Mandarin 系 untouched", "這就係統問題", "这就系统问题"),
]


@pytest.mark.parametrize(("mechanism", "text", "expected"), NORMALISED,
                         ids=[f"{m}: {t}" for m, t, _ in NORMALISED])
def test_normalize_text(mechanism: str, text: str, expected: str) -> None:
    assert tone.normalize_text(text) == expected


def test_normalize_column_agrees_and_keeps_missing_and_index() -> None:
    texts = pd.Series(["ＮＯＴ ＭＹ ＰＲＯＢＬＥＭ", None, "關我什麼事", "不 退", "滚滚滚", "plain"],
                      index=[7, 3, 3, 1, 0, 9])
    out = tone.normalize(texts)
    assert list(out.index) == [7, 3, 3, 1, 0, 9]
    assert out.isna().tolist() == [False, True, False, False, False, False]
    assert out.dropna().tolist() == ["not my problem", "关我什么事", "不退", "滚", "plain"]


def test_shipped_character_classes_are_what_unicode_and_opencc_give(tmp_path) -> None:
    """The classes that pick the rows needing NFKC or OpenCC ship prebuilt (a per-process
    scan of Unicode otherwise): they must equal a fresh build, and hold what they should."""
    assert tone._shipped_classes(), "data/normalise_classes.json is missing or stale: " \
        "python -m checks.tone --write-classes"
    assert tone._nfkc_class() == tone._build_nfkc_class()
    assert tone._traditional_class() == tone._build_traditional_class()
    nfkc = re.compile(tone._nfkc_class())
    trad = re.compile(tone._traditional_class())
    # by hand: a full-width letter and a compatibility ideograph change under NFKC; the
    # full-width comma is kept on purpose; plain ASCII and a simplified character do not
    assert nfkc.fullmatch("Ａ") and nfkc.fullmatch("\uf900")
    assert not nfkc.fullmatch("，") and not nfkc.fullmatch("a") and not nfkc.fullmatch("说")
    # 說/關/麼 are traditional; 说/关/么 and the shared 我 are not
    assert all(trad.fullmatch(c) for c in "說關麼")
    assert not any(trad.fullmatch(c) for c in "说关么我")
    # a file built for another Unicode version is ignored (the classes are built instead)
    stale = tmp_path / "classes.json"
    stale.write_text('{"versions": {"unicodedata": "1.0"}, "classes": {"nfkc": "[x]"}}')
    tone._shipped_classes.cache_clear()
    try:
        tone.CLASSES_PATH, saved = stale, tone.CLASSES_PATH
        assert tone._shipped_classes() == {}
    finally:
        tone.CLASSES_PATH = saved
        tone._shipped_classes.cache_clear()


# --------------------------------------------------------------------------- judgement

CASES = [
    # (text, family or None, words reported)
    ("滚", "dismissal", "滚"),
    ("滚！", "dismissal", "滚"),
    ("你给我滚", "dismissal", "滚"),
    ("快滚", "dismissal", "滚"),
    ("滾開，別煩我", "dismissal", "滚开"),
    ("滚 滚 滚", "dismissal", "滚"),
    ("滚😡", "dismissal", "滚"),
    ("Go away🙄", "dismissal", "go away"),
    ("go away啊", "dismissal", "go away"),
    ("gooo awayyy", "dismissal", "go away"),
    ("Just go away, please.", "dismissal", "go away"),
    ("你烦不烦", "dismissal", "烦不烦"),
    ("Stop messaging me.", "dismissal", "stop messaging me"),
    ("你有病吧", "insult", "你有病"),
    ("你是豬嗎", "insult", "你是猪"),
    ("Are you blind?", "insult", "are you blind"),
    ("关我什么事", "indifference", "关我什么事"),
    ("不关我的事", "indifference", "不关我的事"),
    ("不关我事", "indifference", "不关我事"),
    ("關我屁事", "indifference", "关我屁事"),
    ("ＮＯＴ ＭＹ ＰＲＯＢＬＥＭ", "indifference", "not my problem"),
    ("您好，not my problem啊", "indifference", "not my problem"),
    ("Thats your problem", "indifference", "thats your problem"),
    ("隨便你投訴", "taunt", "随便你投诉"),
    ("投 诉 也 没 用", "taunt", "投诉也没用"),
    ("Go ahead and leave a bad review.", "taunt", "go ahead and leave a bad"),
    ("不退", "flat_refusal", "不退"),
    ("不.退", "flat_refusal", "不退"),
    ("这个不能退", "flat_refusal", "不能退"),
    ("爱买不买", "flat_refusal", "爱买不买"),
    ("No refunds.", "flat_refusal", "no refunds"),
    ("We won’t refund.", "flat_refusal", "we won’t refund"),
    ("Nope.", "flat_refusal", "nope"),
    ("呵呵", "sarcasm_blame", "呵"),
    ("自己不看详情怪谁？", "sarcasm_blame", "自己不看"),
    ("Did you even read the description?", "sarcasm_blame", "did you even read"),
    # near pairs: a target and an attitude in one sentence, either order, the words
    # between them reported too; a question mark does not split the pair
    ("Open an A-to-z claim, good luck.", "taunt", "a-to-z claim, good luck"),
    ("差评随你给", "taunt", "差评随你"),
    ("投诉我？你随意", "taunt", "投诉我？你随意"),
    ("申请了也没用，不会通过的", "taunt", "申请了也没用"),
    ("Refund? No.", "flat_refusal", "refund? no"),
    ("退款？免谈", "flat_refusal", "退款？免谈"),
    ("You're such a clown.", "insult", "you're such a clown"),
    # English inside Chinese, spaced as typed
    ("别 bb 了", "dismissal", "别 bb"),
    ("关我 P 事", "indifference", "关我 p 事"),
    # innocent words that hold a trigger
    ("滚筒洗衣机已发货", None, None),
    ("请滚动页面查看详情", None, None),
    ("财源滚滚", None, None),
    ("麻烦您提供一下照片", None, None),
    ("不好意思说晚了", None, None),
    ("这款面料不退色", None, None),
    ("收到衣服了吗", None, None),
    ("这款面霜主打呵护敏感肌", None, None),
    ("能不能退？可以的亲", None, None),
    ("The crease will go away after washing.", None, None),
    ("Your parcel may get lost in transit, we will track it.", None, None),
    ("We're rolling out the fix next week.", None, None),
    ("This idiot-proof design needs no tools.", None, None),
    ("That's not my problem-solving approach", None, None),
    ("Nope, no extra charges!", None, None),
    ("No problem at all, happy to help!", None, None),
    ("Whatever size you choose, we'll exchange it.", None, None),
    # the pairs' innocent neighbours
    ("You can file an A-to-z claim if it does not arrive.", None, None),
    ("Feel free to leave feedback.", None, None),
    ("Go ahead and send it back.", None, None),
    ("Good luck with your new phone!", None, None),
    ("Refund? No problem.", None, None),
    ("You are not dumb, the app is confusing.", None, None),
    ("我们会自己解决物流的问题，您不用操心", None, None),
    # a refusal denied, not made
    ("亲，不是不给您退，是系统还在处理", None, None),
    # a jab followed by the remedy (the family's remedies)
    ("You broke it? No worries, we'll send a new one.", None, None),
    ("别催了亲，已经在加急了，马上发", None, None),
    ("你烦不烦，说了在处理了", "dismissal", "烦不烦"),
    # rhetorical questions at the buyer's competence, with no blame word; a polite
    # question, or one followed by help, is not one
    ("你不会 check 一下 size 吗？", "sarcasm_blame", "你不会 check 一下 size 吗"),
    ("Do you know how to use a ruler?", "sarcasm_blame", "do you know how to use a ruler"),
    ("您是不会用优惠券吗？我教您", None, None),
    ("Could you check the tracking number again, please?", None, None),
    ("Do you know the model number? It helps us find the part.", None, None),
    # mock praise around a breakage; praise alone is praise
    ("厉害了，一天就摔坏", "sarcasm_blame", "厉害了，一天就摔坏"),
    ("厉害了，这么快就装好了！", None, None),
    # dares with no complaint word; an offer of a choice is no dare
    ("你能把我怎么着？", "taunt", "把我怎么着"),
    ("See where that gets you.", "taunt", "see where that gets you"),
    ("随您方便，退款或换货都可以", None, None),
    # English indifference without a subject, and the shop owning the problem
    ("Don't care.", "indifference", "don't care"),
    ("That's on us — we'll send a new one today.", None, None),
    # an English word inside a Chinese sentence is not a clause of its own; one touching
    # the Chinese, or followed by a word that opens a clause, is
    ("亲，stop 加热吧，我们给您换新的", None, None),
    ("Whatever 尺码都有货", None, None),
    ("whatever 您选哪个都行", None, None),
    ("whatever 你自己看着办", "indifference", "whatever"),
    ("Whatever吧", "indifference", "whatever"),
    # code-switched refusals and insults
    ("return 不支持", "flat_refusal", "return 不支持"),
    ("Are you 瞎?", "insult", "are you 瞎"),
    ("不受理 returns", "flat_refusal", "不受理 returns"),
    ("不支持 return，因为是定制商品", None, None),
    # mock agreement and a scare-quoted excuse
    ("行行行，您说的全对", "sarcasm_blame", "您说的全对"),
    ("Sure, it just cracked on its own.", "sarcasm_blame", "cracked on its own"),
    # mock agreement taking the blame, the fault handed over; the sincere ones are not
    ("嗯嗯，全是我们的锅", "sarcasm_blame", "嗯，全是我们的锅"),
    ("非常抱歉，都是我们的错", None, None),
    ("So the weather is our fault now?", "sarcasm_blame", "is our fault now"),
    ("We love how you styled it!", None, None),
    ("Honestly, instructions are overrated, right?", "sarcasm_blame", "instructions are overrated"),
    # code-switched dares and dismissals
    ("Go ahead, 投诉 us", "taunt", "go ahead, 投诉"),
    ("别再 ping 我了", "dismissal", "别再 ping 我"),
    ("想换货？下辈子吧", "flat_refusal", "换货？下辈子"),
    # mock wishes and mock concern; the sincere ones are not
    ("您高兴就好", "sarcasm_blame", "您高兴就好"),
    ("您高兴就好，有问题随时找我们", None, None),
    ("Must be nice to have all that free time.", "sarcasm_blame", "must be nice to have all that free time"),
    pytest.param("It must be nice to have it back", None, None, marks=pytest.mark.xfail(
        strict=True, reason="known false positive of the wording model (0.8): sincere and "
        "mocking 'must be nice to have' share every n-gram; the phrases get it right")),
    ("Take it up with somebody who cares.", "indifference", "take it up with somebody who cares"),
    # 没有 denies the refusal that follows
    ("我们从来没有不退的说法，寄回即可", None, None),
    # written Cantonese, through its Mandarin spelling
    ("冇得退", "flat_refusal", "没得退"),
    ("唔該晒，我哋聽日寄出", None, None),
    # a particle may open a bare reply
    ("嗯，然后呢？", "indifference", "然后呢"),
    ("嗯嗯，好的", None, None),
    ("嗯嗯", None, None),
    # blocking; the buyer's blocking is not the seller's
    ("拉黑了，拜拜", "dismissal", "拉黑了"),
    ("您是不是把我们拉黑了？消息发不出去", None, None),
    # a request stamped refused; a denied one is not
    ("退货申请已驳回。", "flat_refusal", "退货申请已驳回"),
    ("您的退款不是被拒，是还在审核", None, None),
    # scare quotes round a courtesy word; a quoted instruction is not
    ("我们一定“认真”考虑", "sarcasm_blame", "“认真”"),
    ("请在备注里写“加急”", None, None),
    ("我们有“专业”和“标准”两个版本", None, None),
    # the blame stretched to absurdity; owning a fault with an apology is not
    ("那下雨要不要也怪我们", "sarcasm_blame", "要不要也怪我们"),
    ("这也怪我们没提前说明，抱歉", None, None),
    ("那算我们的，运费不用您出", None, None),
    ("打印机的 head 坏了可以寄回维修", None, None),
    # a dare ends at "claim 我"; "claim 我们已经回复了" goes on
    ("您的 A-to-z claim 我们已经回复了，请耐心等待", None, None),
]


@pytest.mark.parametrize(("text", "family", "words"), CASES,
                         ids=[(c.values if hasattr(c, "values") else c)[0] for c in CASES])
def test_judgement(text: str, family: str | None, words: str | None) -> None:
    got = tone.judge(pd.Series([text])).iloc[0]
    assert bool(got["hostile"]) is (family is not None)
    if family is None:
        assert pd.isna(got["family"]) and pd.isna(got["phrase"])
    else:
        assert (got["family"], got["phrase"]) == (family, words)


REFUSALS = [
    # a refusal with a reason or a way forward is excused; a bare one, or one whose only
    # "way forward" is negated, is not
    ("定制商品不支持七天无理由，如有质量问题可申请售后", False),
    ("定制商品不退，如有质量问题可申请售后", False),
    ("已经超过七天，不能退了，但可以申请保修", False),
    ("亲，这个不能退哦", True),
    ("不退，没有售后", True),
    ("We can't refund until the item is returned.", False),
    ("We can't refund.", True),
    ("Custom items are not refundable, but we can send a replacement.", False),
    ("Not refundable.", True),
    # pointing at the policy gives no reason; a reason next to it still does
    ("No refunds, read the policy.", True),
    ("不退，自己看详情页", True),
    ("No refunds on custom items, read the policy.", False),
    # not every family is excusable: 爱买不买 stays hostile whatever follows
    ("爱买不买，如有质量问题可申请售后", True),
    # the refused thing is not the way forward: 换货 in 换货？不可能 offers nothing
    ("换货？不可能", True),
    ("换货？可以的，马上安排", False),
    ("不退差价", True),
    ("不退差价，但可以送您一张优惠券", False),
]


@pytest.mark.parametrize(("text", "hostile"), REFUSALS, ids=[r[0] for r in REFUSALS])
def test_excused_refusals(text: str, hostile: bool) -> None:
    assert tone.hostile_mask(pd.Series([text])).tolist() == [hostile]


QUOTES = [
    ("您说客服回复“滚”，我们非常抱歉", False),
    ("客服说「爱买不买」，这是我们的错", False),
    ("您转述的“爱买不买”确实是我们同事说的，向您道歉", False),
    ("同事之前回了句『爱买不买』，向您道歉", False),
    ("「滚」这个字是我们同事打错了", False),
    ("您截图里那句“随便投诉”不是我们说的", False),
    # "that line is the courier's wording": the quote is pointed at as someone's words
    ("「我们不负责」这句是快递公司的说法，包裹丢了我们先赔给您", False),
    ('You said "not my problem" was the reply you got, sorry.', False),
    ("The previous rep told you 'no refunds' — that was wrong.", False),
    # the seller quoting themself is the seller's own hostility
    ("我说了“不退”就是不退", True),
    ('I said "no refunds".', True),
    # outside the quote still counts
    ("您说“滚”？滚", True),
]


@pytest.mark.parametrize(("text", "hostile"), QUOTES, ids=[q[0] for q in QUOTES])
def test_quoted_speech(text: str, hostile: bool) -> None:
    assert tone.hostile_mask(pd.Series([text])).tolist() == [hostile]


@pytest.mark.parametrize("dtype", ["str", "object", "string"])
def test_missing_text_and_index(dtype: str) -> None:
    texts = pd.Series(["滚", None, "滚筒", "go away"], index=[5, 5, 2, 9], dtype=dtype)
    got = tone.judge(texts)
    assert list(got.index) == [5, 5, 2, 9]
    assert got["hostile"].dtype == bool
    assert got["hostile"].tolist() == [True, False, False, True]
    assert got["phrase"].iloc[0] == "滚" and got["phrase"].iloc[3] == "go away"
    assert got["family"].iloc[[1, 2]].isna().all()


def test_empty_input() -> None:
    assert tone.judge(pd.Series([], dtype="str")).empty
    assert tone.hostile_mask(pd.Series([], dtype="str")).empty


# --------------------------------------------------------------------------- the lexicon


def test_every_family_has_meaning_and_a_flagged_example() -> None:
    spec = yaml.safe_load(tone.LEXICON_PATH.read_text(encoding="utf-8"))
    names = [f["name"] for f in spec["families"]]
    assert names == ["dismissal", "insult", "indifference", "taunt", "flat_refusal",
                     "sarcasm_blame"]
    for family in spec["families"]:
        assert len(family["meaning"]) > 40
        # "中文 / English": both halves are hostile, in this family
        for example in family["example"].split(" / "):
            got = tone.judge(pd.Series([example])).iloc[0]
            assert got["hostile"], example
            assert got["family"] == family["name"], example


def test_lexicon_rejects_misplaced_options(tmp_path) -> None:
    head = "families: [{name: x, meaning: m, example: e, phrases: "
    bad = tmp_path / "bad.yaml"
    bad.write_text(head + "[{phrase: go, standalone: true}]}]")
    with pytest.raises(ValueError, match="standalone"):
        tone.load_lexicon(bad)
    bad.write_text(head + "[{phrase: 滚, clause: true}]}]")
    with pytest.raises(ValueError, match="clause"):
        tone.load_lexicon(bad)
    bad.write_text(head + "[滚, 滚]}]")
    with pytest.raises(ValueError, match="twice"):
        tone.load_lexicon(bad)
    bad.write_text("families: [{name: x, example: e, phrases: [滚]}]")
    with pytest.raises(ValueError, match="meaning"):
        tone.load_lexicon(bad)
    bad.write_text(head + "[{near: [投诉]}]}]")
    with pytest.raises(ValueError, match="two lists"):
        tone.load_lexicon(bad)
    bad.write_text(head + "[{near: [投诉, 随便], span: paragraph}]}]")
    with pytest.raises(ValueError, match="span"):
        tone.load_lexicon(bad)


def test_near_pairs_in_either_order_within_their_distance(tmp_path) -> None:
    path = tmp_path / "pairs.yaml"
    path.write_text(
        "families: [{name: taunt, meaning: m, example: e, phrases: ["
        "{near: [(投诉|claim), (随便|good luck)], within: 4}]}]", encoding="utf-8")
    lexicon = tone.load_lexicon(path)
    texts = pd.Series([
        "投诉随便",          # target, attitude
        "随便投诉",          # attitude, target
        "投诉吧，随便",      # two characters apart, a comma between (one sentence)
        "投诉我们一定认真处理，随便您",  # 10 characters apart
        "claim, good luck",
        "claims good luck",  # claims is another word
        "投诉。随便",        # another sentence
    ])
    # The phrase file's mechanics alone (the wording model has its own tests).
    assert tone.hostile_mask(texts, lexicon, model=False).tolist() == [
        True, True, True, False, True, False, False]


def test_patterns_run_on_pyarrow_re2() -> None:
    """pyarrow's RE2 rejects lookarounds, \\Z and back-references: every pattern must pass."""
    lexicon = tone.load_lexicon()
    probe = pa.array(["滚", "not my problem", None], type=pa.large_string())
    for pattern in (*lexicon.prefilter, lexicon.repeats, *lexicon.patterns,
                    *lexicon.near_prefilter, *lexicon.near_patterns):
        pc.match_substring_regex(probe, pattern)


def test_every_phrase_anchor_is_in_what_it_matches() -> None:
    """The prefilter keeps every row a phrase matches, and the pairs' own prefilter every row
    a pair matches: spot-check on the labelled sets (most of whose hostile messages the full
    patterns find)."""
    data = pd.concat([pd.read_csv(path, dtype=str, keep_default_na=False)
                      for path in sorted(EVAL_SET.parent.glob("tone_*.csv"))])
    norm = tone.normalize(data["text"])
    arr = pa.array(norm.tolist(), type=pa.large_string())
    lexicon = tone.load_lexicon()

    def any_match(patterns: tuple[str, ...]) -> np.ndarray:
        out = np.zeros(len(arr), dtype=bool)
        for pattern in patterns:
            out |= pc.match_substring_regex(arr, pattern).to_numpy(zero_copy_only=False)
        return out

    full, pairs = any_match(lexicon.patterns), any_match(lexicon.near_patterns)
    kept, near_kept = any_match(lexicon.prefilter), any_match(lexicon.near_prefilter)
    assert full.sum() > 1000 and pairs.sum() > 200
    assert not (full & ~kept).any()
    assert not (pairs & ~(kept & near_kept)).any()
    # and a pair's cheap test before its Python regex lets every match through
    texts = [tone._collapse(t) for t in norm.tolist()]
    for i, phrase in enumerate(lexicon.phrases):
        if not phrase.any_of:
            continue
        for text in texts:
            if lexicon.python[i].search(text):
                assert all(any(piece in text for piece in side)
                           for side in phrase.any_of if side), (phrase.phrase, text)


# --------------------------------------------------------------------------- the eval set


def test_eval_set_is_large_and_covers_every_family_and_language() -> None:
    data = pd.read_csv(EVAL_SET, dtype=str, keep_default_na=False)
    assert len(data) >= 600
    assert data["text"].is_unique
    assert set(data["label"]) == {"hostile", "innocent"}
    hostile = data[data["label"] == "hostile"]
    innocent = data[data["label"] == "innocent"]
    assert len(innocent) >= 250
    for family in ["dismissal", "insult", "indifference", "taunt", "flat_refusal",
                   "sarcasm_blame"]:
        langs = hostile.loc[hostile["family"] == family, "language"].value_counts()
        assert langs.get("zh", 0) >= 25 and langs.get("en", 0) >= 15, family
        assert langs.get("mixed", 0) >= 4, family
    assert (innocent["family"] == "").all()


def test_precision_and_recall_on_the_eval_set() -> None:
    data = pd.read_csv(EVAL_SET, dtype=str, keep_default_na=False)
    flagged = tone.hostile_mask(data["text"]).to_numpy()
    hostile = (data["label"] == "hostile").to_numpy()
    precision = (flagged & hostile).sum() / flagged.sum()
    recall = (flagged & hostile).sum() / hostile.sum()
    assert precision >= 0.97, precision
    assert recall >= 0.90, recall


@pytest.mark.parametrize("name", ["tone_blind.csv", "tone_blind2.csv", "tone_blind3.csv",
                                  "tone_blind4.csv", "tone_blind5.csv", "tone_blind6.csv",
                                  "tone_blind7.csv", "tone_blind8.csv", "tone_blind10.csv",
                                  "tone_probes.csv", "tone_probes2.csv", "tone_probes3.csv",
                                  "tone_probes4.csv"])
def test_the_blind_batches_stay_above_target(name: str) -> None:
    """The batches written without (then with) the phrase file, each run once before it was
    tuned on: a change that costs them precision or recall shows here, each family included."""
    assert_on_target(EVAL_SET.parent / name, precision=0.95, recall=0.90, family=0.80)


# --------------------------------------------------------------------------- speed


def test_everyday_replies_do_not_reach_the_pairs() -> None:
    """The pairs' prefilter looks for the rarer list of each pair: an everyday reply holds
    none of it (a common word there, such as 没有 in 没有问题, sends most rows to the pairs
    and costs the check a fifth of its time)."""
    everyday = pd.Series([
        "亲，您好，退款已经为您处理，请注意查收，有问题随时联系我们哦",
        "滚筒洗衣机的滚动轴承没有问题，麻烦您再检查一下电源",
        "定制商品不支持七天无理由，如有质量问题可申请售后",
        "好的亲😊马上发货",
        "Hi, your refund has been processed and should arrive in 3-5 days. Thanks!",
        "The crease will go away after washing; please check and let us know.",
    ])
    norm = pa.array(tone.normalize(everyday).tolist(), type=pa.large_string())
    lexicon = tone.load_lexicon()
    for pattern in lexicon.near_prefilter:
        assert not pc.match_substring_regex(norm, pattern).to_numpy(
            zero_copy_only=False).any(), pattern[:80]


@pytest.mark.slow
def test_one_million_messages_judged_row_by_row_right() -> None:
    """Seller talk as the demo generator writes it, 0.2 % hostile, one text in ten unique:
    exactly the planted rows are flagged. (Its time is measured by bench/rules_speed.py.)"""
    rng = np.random.default_rng(5)
    innocent = [
        "亲，您好，退款已经为您处理，请注意查收，有问题随时联系我们哦",
        "Hi, your refund has been processed and should arrive in 3-5 days. Thanks!",
        "滚筒洗衣机的滚动轴承没有问题，麻烦您再检查一下电源",
        "The crease will go away after washing; please check and let us know.",
        "定制商品不支持七天无理由，如有质量问题可申请售后",
        "親，已經為您辦理退款，請注意查收",
        "好的亲😊马上发货",
    ]
    hostile = ["爱买不买", "Not my problem.", "滚！别烦我", "不 退"]
    n = 1_000_000
    texts = rng.choice(np.array(innocent, dtype=object), n)
    bad = rng.random(n) < 0.002
    texts[bad] = rng.choice(np.array(hostile, dtype=object), int(bad.sum()))
    unique = rng.random(n) < 0.1
    texts[unique & ~bad] = [f"{t} 订单号{i}" for i, t in zip(
        np.flatnonzero(unique & ~bad), texts[unique & ~bad], strict=True)]
    series = pd.Series(texts, dtype="str")
    got = tone.judge(series)
    assert (got["hostile"].to_numpy() == bad).all()
    assert got.loc[bad, "family"].notna().all()


# --------------------------------------------------------------------------- gates


@pytest.mark.parametrize("source, gate", [
    # (regex, literal strings one of which every match holds) — worked out by hand
    (r"(?:\A|[^a-z])(no|nah)(?:\Z|[^a-z])", ("n",)),  # re folds the common prefix
    ("不(?:能|可以)退", ("不",)),
    ("ab?c", ("a",)),  # "ac" matches: b is optional, a and c are not adjacent
    ("abc|d", ("abc", "d")),
    ("(?:x|y)?z[,，]?", ("z",)),
    ("[,，]", (",", "，")),
    ("x*", None),
    ("ab|.", None),  # one alternative needs no literal
    ("(?i)abc", None),  # ignoring case, a literal proves nothing
])
def test_gate_is_what_every_match_holds(source: str, gate: tuple[str, ...] | None) -> None:
    assert tone._gate(source) == gate


def test_no_phrase_is_gated_out_of_a_text_it_matches() -> None:
    """Every shipped phrase, on every text of the eval set (normalised as the judge does):
    where the phrase's regex finds a match, its gate lets the text through."""
    lexicon = tone._shipped()
    texts = pd.read_csv(EVAL_SET, dtype=str, keep_default_na=False)["text"]
    seen = [tone._strip_quoted_speech(tone._collapse(t)) for t in tone.normalize(texts)]
    matched = 0
    for i, source in enumerate(lexicon.python.sources):
        pattern = re.compile(source)
        for text in seen:
            if pattern.search(text):
                matched += 1
                assert lexicon.python.may_match(i, text), (lexicon.phrases[i].phrase, text)
    assert matched > 100  # the check saw real matches


@pytest.mark.parametrize("source, gates", [
    # (regex, sets such that every match holds one string of each) — worked out by hand,
    # the most selective first (longer pieces, then fewer), ties in the pattern's order
    ("不(?:能|可以)退", (("不",), ("退",), ("可以", "能"))),
    ("ab?c", (("a",), ("c",))),
    ("(?:x|y)?z[,，]?", (("z",),)),
    ("refund( )?no", (("refund",), ("no",))),
    ("x*", ()),
    ("(?i)abc", ()),
])
def test_gates_are_what_every_match_holds(source: str, gates: tuple) -> None:
    assert tone._gates(source) == gates


@pytest.mark.parametrize("pattern, alternatives", [
    ("a|b(c|d)|[|]x|\\|y", ["a", "b(c|d)", "[|]x", "\\|y"]),
    ("[]|]|z", ["[]|]", "z"]),       # a ] first in a class is a character
    ("[^]|]|z", ["[^]|]", "z"]),
    ("(?s)a|b", ["(?s)a|b"]),        # flags for every alternative: not cut
    ("abc", ["abc"]),
])
def test_top_alternatives(pattern: str, alternatives: list[str]) -> None:
    assert tone._top_alternatives(pattern) == alternatives


def test_a_small_batch_runs_only_the_alternatives_its_texts_may_match() -> None:
    patterns = ("abc|xyz|q+r", "(?:no|nah)!", "[ab]+")
    narrowing = tone._Narrowing()
    # By hand: "abc" and "q+r" (needs q) cannot match these texts, the rest may.
    assert narrowing.narrow(patterns, "xyz\x00nah!") == ("xyz", "(?:no|nah)!", "[ab]+")
    # Neither n nor a or b: the second and third patterns are not run at all.
    assert narrowing.narrow(patterns, "xyz") == ("xyz",)
    assert narrowing.narrow(patterns, None) == patterns  # a large batch: all, as they are


def test_small_batches_judge_like_one_large_batch(monkeypatch) -> None:
    """The eval set judged 17 texts at a time (the small-batch path: narrowed patterns,
    the RE2 screen before the Python regexes) gives every row the verdict, family and
    words of the same texts judged with that path off."""
    texts = pd.read_csv(EVAL_SET, dtype=str, keep_default_na=False)["text"]
    screened = []
    real_screen = tone._screen
    monkeypatch.setattr(tone, "_screen", lambda t, lex: screened.append(len(t))
                        or real_screen(t, lex))
    small = pd.concat([tone.judge(texts.iloc[i:i + 17]) for i in range(0, len(texts), 17)])
    assert sum(screened) > 100  # the small path ran, on the hostile rows
    monkeypatch.setattr(tone, "SMALL_BATCH_CHARS", -1)
    screened.clear()
    whole = tone.judge(texts)
    assert not screened
    assert small["hostile"].sum() > 300  # (about half the eval set is hostile)
    pd.testing.assert_frame_equal(small, whole)


def test_every_re2_alternative_that_matches_passes_its_gates() -> None:
    """Every alternative of every shipped RE2 pattern, on every text of the eval set
    (normalised as the judge does): where RE2 finds a match, the gates let the text
    through; and where a phrase's Python regex finds a match, so does its RE2 regex
    (what lets `_screen` skip compiling the others)."""
    lexicon = tone._shipped()
    texts = pd.read_csv(EVAL_SET, dtype=str, keep_default_na=False)["text"]
    norm = tone.normalize(texts).tolist()
    arr = pa.array(norm, pa.large_string())
    matched = 0
    for patterns in (lexicon.prefilter, lexicon.patterns, lexicon.near_prefilter,
                     lexicon.near_patterns):
        for alts in lexicon.narrowing.of(patterns):
            for alt, gates in alts:
                hit = pc.match_substring_regex(arr, alt).to_pylist()
                for text in (t for t, h in zip(norm, hit, strict=True) if h):
                    matched += 1
                    assert tone._passes(gates, text), (alt[:80], text)
    assert matched > 1000
    seen = [tone._strip_quoted_speech(t) for t in norm]
    arr = pa.array(seen, pa.large_string())
    matched = 0
    for i, phrase in enumerate(lexicon.phrases):
        pattern = re.compile(lexicon.python.sources[i])
        re2 = pc.match_substring_regex(arr, phrase.regex).to_pylist()
        for text, h in zip(seen, re2, strict=True):
            if pattern.search(text):
                matched += 1
                assert h, (phrase.phrase, text)
    assert matched > 100


def test_the_lexicon_read_back_from_the_cache_judges_alike(tmp_path, monkeypatch) -> None:
    """Compiled once, then read from the per-machine cache by a later process (simulated by
    clearing the in-process one): same phrases, and the excuse that only the read-back
    lexicon compiles lazily still excuses (by hand: 申请售后 is a way forward)."""
    monkeypatch.setenv("REFUND_AUDIT_CACHE_DIR", str(tmp_path))
    texts = pd.Series(["定制商品不退，如有质量问题可申请售后", "亲，这个不能退哦", "好的"])
    tone._shipped.cache_clear()
    try:
        fresh = tone._shipped()
        assert list(tmp_path.glob("lexicon-*.pickle"))
        first = tone.judge(texts)["hostile"].tolist()
        tone._shipped.cache_clear()
        cached = tone._shipped()
        assert cached is not fresh and isinstance(cached.excuses, tone._LazyPattern)
        assert [p.phrase for p in cached.phrases] == [p.phrase for p in fresh.phrases]
        assert first == tone.judge(texts)["hostile"].tolist() == [False, True, False]
    finally:
        tone._shipped.cache_clear()
