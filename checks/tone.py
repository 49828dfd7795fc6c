"""Is a seller message hostile or a flat refusal? The building block of rule PC002.

Sellers write the way people type in a chat window: traditional characters, full-width
letters, "滚 滚 滚", "不.退", "NOT MY PROBLEM😡", a rude word quoted back in an apology. A
phrase list matched on the raw text misses most of that and flags the apology. So a message
goes through three steps (docs/tone.md explains the design):

1. **Normalise** (`normalize`): NFKC (full-width to half-width, compatibility ideographs to
   the unified ones), traditional to simplified with OpenCC, lower case. Only rows holding a
   character that NFKC or OpenCC would change are converted, once per distinct text, so the
   cost stays with the rare rows that need it.
2. **Match** (`_Lexicon.pattern`): one regex over the normalised column, run by pyarrow's RE2
   kernel. The pattern itself absorbs what RE2 cannot rewrite away cheaply (it has no
   back-references): a repeated character ("滚滚滚", "nooo"), spaces and filler punctuation
   between the characters of a Chinese phrase ("不 退", "滚.蛋"), an extra or missing 的/你
   inside a phrase; emoji, brackets and Chinese characters end an English clause.
3. **Explain** (`judge`), only on the rows step 2 found: quoted speech attributed to someone
   else is set aside, a refusal that gives a reason or a way forward is excused, and the
   first remaining phrase is reported with its family.

The lexicon lives in ``data/hostile_phrases.yaml``: families with their meaning and an
example, phrases in a small syntax described there.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import re
import sys
import unicodedata
import warnings
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

import numpy as np
import opencc
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from checks import disk_cache, tone_model
from checks.lazy_re import LazyPattern as _LazyPattern

__all__ = [
    "LEXICON_PATH",
    "Lexicon",
    "hostile_mask",
    "judge",
    "load_lexicon",
    "matched_phrase",
    "normalize",
    "normalize_text",
]

LEXICON_PATH = Path(__file__).parent / "data" / "hostile_phrases.yaml"

# Character classes, written as literal characters: RE2 and Python's re both read them.
# CJK unified ideographs: basic block, extension A, compatibility block, extensions B-F.
# (The supplementary-plane extensions are left out: they cost RE2 four-byte states on every
# pattern and are next to never typed in a chat.)
HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
# Emoji and pictographs (with the variation selector and joiner that glue them together).
EMOJI = "\u2600-\u27bf\u2b00-\u2bff\u2300-\u23ff\ufe0f\u200d\U0001f000-\U0001faff"
# What a spaced-out Chinese phrase is spaced with: whitespace, zero-width characters and
# filler punctuation ("不 退", "滚.蛋", "爱·买·不·买"). Not the clause marks (，。！？): those
# separate clauses, and "不，退款已到账" is not "不退".
SEP = " \t\u00a0\u200b\u200c\u2060\ufeff.·•・‧∙*_~～\\-/|\\\\"
# Where an English clause may start or end: punctuation (after NFKC, so ASCII plus the
# Chinese marks NFKC keeps), quotes, brackets (Taobao's [微笑] emoticons), line breaks, emoji.
CLAUSE = ".!?;:,~～（）。！？；：，…、\r\n\"'“”‘’「」『』()\\[\\]【】<>《》" + EMOJI
# Where a sentence ends (an English `sentence` phrase): not at a comma.
SENTENCE_END = ".!?。！？（）…\r\n\"'“”‘’「」『』()\\[\\]【】" + EMOJI
# What a `*` inside a Chinese phrase does not run across: the end of a sentence.
SENTENCE_STOP = "。.!！\r\n"
# Particles a bare Chinese reply may end or open with (不行啊, 不同意哈, 嗯，然后呢).
PARTICLES = "啊哦呢吧呀哈嘛啦的了噢喔哟嗯"
# Chinese words that open a clause of their own after a spaced English one ("go away 别再发",
# "clown 一个", "whatever 随你"): 你/我 (not the polite 您: "whatever 您选" offers a
# choice), don't/not, questions, 一个, 随/滚/好.
OPENERS = "吗么你我别不没随滚好一就还真"
# Two-character openers whose first character alone would open too much: 连个/连这 ("so dumb
# 连个 app 都不会下", not even) but not 连续 or 连衣裙 ("stop 连续付款", "whatever 连衣裙").
OPENER_WORDS = "连个|连这|连那|连一"
WORD = "a-z0-9_"
SPACE = " \t\r\n\u00a0"
# Inside a Chinese phrase, this may be missing: 不关我事 is 不关我的事.
DROPPABLE = "的"


def _read_yaml(text: str):
    """A phrase file's YAML. The parser is imported here, not with the module: a process
    that finds the compiled lexicon in the per-machine cache never parses one (~10 ms)."""
    import yaml

    # libyaml's safe loader when the wheel has it (5-10x faster), else the pure-Python one.
    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


# --------------------------------------------------------------------------- normalisation


@lru_cache(maxsize=1)
def _converter() -> opencc.OpenCC:
    return opencc.OpenCC("t2s")


# Full-width punctuation that NFKC would rewrite but the matcher reads in either form. Nearly
# every Chinese row holds some; leaving it alone spares rewriting them all (2 s per million).
FULL_WIDTH_KEPT = "，！？：；（）～"


# The two character classes below are pure functions of the Unicode database (Python's
# unicodedata) and of OpenCC's tables. Building them scans ~200k code points (~0.1 s of every
# process that judges a message), so they ship in data/normalise_classes.json, built by
# `python -m checks.tone --write-classes`; a file built with other versions is ignored.
CLASSES_PATH = Path(__file__).parent / "data" / "normalise_classes.json"


def _class_versions() -> dict[str, str]:
    return {"unicodedata": unicodedata.unidata_version,
            "opencc": getattr(opencc, "__version__", "unknown")}


@lru_cache(maxsize=1)
def _shipped_classes() -> dict[str, str]:
    """The shipped classes, or {} when missing or built for another Unicode/OpenCC."""
    try:
        data = json.loads(CLASSES_PATH.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data["classes"] if data.get("versions") == _class_versions() else {}


@lru_cache(maxsize=1)
def _nfkc_class() -> str:
    """A character class of every character NFKC rewrites (full-width forms, compatibility
    ideographs, ligatures, circled numbers …) and the combining marks it may compose, but
    `FULL_WIDTH_KEPT`."""
    return _shipped_classes().get("nfkc") or _build_nfkc_class()


def _build_nfkc_class() -> str:
    changing = list(range(0x300, 0x370))
    changing += [cp for cp in range(0xA0, 0x30000) if not 0xD800 <= cp <= 0xDFFF
                 and chr(cp) not in FULL_WIDTH_KEPT
                 and unicodedata.normalize("NFKC", chr(cp)) != chr(cp)]
    return "[" + _ranges(sorted(set(changing))) + "]"


@lru_cache(maxsize=1)
def _traditional_class() -> str:
    """A character class of every character OpenCC's t2s rewrites on its own.

    OpenCC converts whole phrases, but a phrase it rewrites always holds at least one
    character it also rewrites alone, so a row without any of these is already simplified.
    """
    return _shipped_classes().get("traditional") or _build_traditional_class()


def _build_traditional_class() -> str:
    han = [cp for lo, hi in ((0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF),
                             (0x20000, 0x2FA1F)) for cp in range(lo, hi + 1)]
    # One character per line, so no phrase rule joins neighbours.
    converted = _converter().convert("\n".join(chr(cp) for cp in han)).split("\n")
    if len(converted) != len(han):
        raise RuntimeError("OpenCC changed the number of lines; cannot build its table")
    changing = [cp for cp, new in zip(han, converted, strict=True) if new != chr(cp)]
    return "[" + _ranges(changing) + "]"


def write_classes(path: Path = CLASSES_PATH) -> None:
    """Build the two classes with this interpreter's Unicode and OpenCC and write them."""
    data = {"versions": _class_versions(),
            "classes": {"nfkc": _build_nfkc_class(), "traditional": _build_traditional_class()}}
    path.write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


def _ranges(cps: list[int]) -> str:
    parts, start, prev = [], cps[0], cps[0]
    for cp in [*cps[1:], -1]:
        if cp == prev + 1:
            prev = cp
            continue
        parts.append(_class_char(start) if start == prev
                     else f"{_class_char(start)}-{_class_char(prev)}")
        start = prev = cp
    return "".join(parts)


def _class_char(cp: int) -> str:
    ch = chr(cp)
    return "\\" + ch if ch in "\\]^-[" else ch


_SPACED = _LazyPattern(f"(?<=[{HAN}])[{SEP}]+(?=[{HAN}])")
# The same, for RE2 (no lookarounds): does the text hold a spaced-out Chinese run at all?
_SPACED_RE2 = f"[{HAN}][{SEP}]+[{HAN}]"
_SPACED_PAIR = f"([{HAN}])[{SEP}]+([{HAN}])"


# Written Cantonese (Hong Kong and Guangdong sellers) spells its grammar words with characters
# Mandarin does not use: 唔 for 不, 冇 for 没, 咗 for 了, 係 for 是, 睇 for 看 ("唔關我事",
# "你係咪傻㗎"). OpenCC converts the script, not the dialect, and no maintained package maps
# Cantonese words to Mandarin ones; these few grammar words (not vocabulary) are mapped
# here after OpenCC, so one phrase list covers both: 唔退钱 is 不退钱. Longer forms first
# (唔好意思 is 不好意思, 唔好 alone is "don't"). 係/系 is mapped only in the forms that are
# Cantonese (系咪, 系唔系, 真系); 关系 stays 关系.
CANTONESE = {
    "唔好意思": "不好意思", "唔该": "谢谢", "唔使": "不用", "唔系": "不是", "唔好": "不要", "唔明": "不懂",
    "系唔系": "是不是", "系咪": "是不是", "真系": "真是", "就系": "就是", "都系": "都是",
    "唔": "不", "冇": "没", "咗": "了", "嚟": "来", "嘅": "的", "睇": "看", "佢哋": "他们", "哋": "们",
    "佢": "他", "喺": "在", "啲": "些", "乜嘢": "什么", "咩": "吗", "咁样": "这样", "咁": "这么",
    "畀": "给", "谂": "想", "搞掂": "搞定", "㗎": "的", "喎": "啊", "㖞": "啊",
}
# RE2: a row that holds any of them (係 is traditional, so such rows are picked anyway).
_CANTONESE_RE2 = "[唔冇咗嚟嘅睇佢哋喺啲咩咁畀谂掂㗎喎㖞]|系[咪唔]"
# A 系 that starts 系统 / 系列 / 系数 (就系统问题) is Mandarin.
_CANTONESE = _LazyPattern("|".join(
    k + "(?![统列数谱])" if k.endswith("系") else k
    for k in sorted(CANTONESE, key=len, reverse=True)))


def _cantonese(text: str) -> str:
    """Cantonese grammar words in their Mandarin spelling (唔关我事 → 不关我事)."""
    return _CANTONESE.sub(lambda m: CANTONESE[m.group(0)], text)


def _fold(text: str) -> str:
    """NFKC, then traditional → simplified (OpenCC's tables are for NFKC text), then
    Cantonese grammar words in Mandarin."""
    return _cantonese(_converter().convert(unicodedata.normalize("NFKC", text)))


def _unspace(text: str) -> str:
    """Spacing and filler punctuation between two Chinese characters removed: 不 退 → 不退."""
    return _SPACED.sub("", text)


_REPEAT = _LazyPattern(f"([{HAN}])\\1+|([a-zA-Z])\\2{{2,}}")
# English words double a letter (too, off, sorry) but never triple one; RE2 finds a triple
# without back-references by listing them.
_TRIPLES = "|".join(c * 3 for c in "abcdefghijklmnopqrstuvwxyz")


def _collapse(text: str) -> str:
    """A repeat written once: a Chinese character repeated (滚滚滚 → 滚, 呵呵 → 呵), a letter
    typed three times or more (nooo → no, stooop → stop)."""
    return _REPEAT.sub(lambda m: m.group(1) or m.group(2), text)


def normalize_text(text: str) -> str:
    """One message, normalised: NFKC, traditional → simplified, Cantonese grammar words in
    Mandarin (唔 → 不), Chinese runs closed up
    (不 . 退 → 不退) and repeats collapsed (滚滚滚 → 滚), lower case."""
    return _collapse(_unspace(_fold(text))).lower()


def normalize(texts: pd.Series, lexicon: Lexicon | None = None) -> pd.Series:
    """The column, normalised as `normalize_text` does, vectorised; missing stays missing.

    Each step runs in Python only on the rows it would change (found by one RE2 pass), and
    once per distinct text among them. RE2 cannot find a repeated character in general (no
    back-references), so repeats are looked for among the lexicon's characters only: a
    repeat of any other character (谢谢) may stay, which no phrase can notice.
    """
    lexicon = lexicon or _shipped()
    arr = _rewrite(_prepare(_arrow(texts)), lexicon.repeats, _collapse)
    return pd.Series(pd.arrays.ArrowExtensionArray(arr), index=texts.index,
                     name=texts.name).astype(pd.StringDtype("pyarrow"))


def _prepare(arr: pa.Array) -> pa.Array:
    """Every step of `normalize` but the collapsing of repeats (left to the rows that
    matter, see `judge`).

    One RE2 pass finds the rows that need more than lower-casing: a character NFKC would
    rewrite (bar `FULL_WIDTH_KEPT`), a traditional character, a Cantonese grammar word, a
    spaced-out Chinese run. They are usually few; only they are rewritten.
    """
    arr = pc.utf8_lower(arr)
    rare = pc.fill_null(pc.match_substring_regex(
        arr, f"{_nfkc_class()}|{_traditional_class()}|{_SPACED_RE2}|{_CANTONESE_RE2}"),
        False)
    if not pc.any(rare).as_py():
        return arr
    picked = pc.utf8_lower(pc.utf8_normalize(arr.filter(rare), "NFKC"))
    picked = _rewrite(picked, _traditional_class(), _converter().convert)
    picked = _rewrite(picked, _CANTONESE_RE2, _cantonese)
    # Vectorised: each pass closes every other gap of a run (the match consumes the
    # character after the gap), so a run of n gaps needs about log2(n) passes.
    while pc.any(pc.match_substring_regex(picked, _SPACED_RE2)).as_py():
        picked = pc.replace_substring_regex(picked, _SPACED_PAIR, r"\1\2")
    return pc.replace_with_mask(arr, rare, picked)


def _rewrite(arr: pa.Array, pattern: str, fn) -> pa.Array:
    """``fn`` applied to the rows where ``pattern`` (RE2) matches, once per distinct text."""
    needs = pc.fill_null(pc.match_substring_regex(arr, pattern), False)
    if not pc.any(needs).as_py():
        return arr
    picked = arr.filter(needs)
    distinct = pc.unique(picked)
    done = pa.array([fn(t) for t in distinct.to_pylist()], type=arr.type)
    return pc.replace_with_mask(arr, needs, pc.take(done, pc.index_in(picked, distinct)))


def _arrow(texts: pd.Series) -> pa.Array:
    """The column as one pyarrow large_string array (RE2 kernels need arrow strings)."""
    values = texts.array
    if hasattr(values, "_pa_array"):
        arr = values._pa_array
        arr = arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr
    else:
        arr = pa.array(texts.astype(object).where(texts.notna(), None).to_numpy(),
                       type=pa.large_string(), from_pandas=True)
    if arr.type != pa.large_string():
        arr = arr.cast(pa.large_string())
    return arr


# --------------------------------------------------------------------------- the lexicon


@dataclass(frozen=True)
class Phrase:
    family: str
    phrase: str
    parts: tuple[str, str, str]
    excusable: bool
    required: tuple[str, ...]
    # The prefilter's anchor when the phrase's own text cannot give one (a `near` pair).
    anchor: str | None = None
    # Not counted when the message also holds this (Python regex): a `near` pair's `unless`.
    unless: str | None = None
    # Not counted when the words that fired hold this: a `near` pair's `unless_inside`
    # ("you're not stupid").
    unless_inside: str | None = None
    # Not counted when the text right after the words starts with this (the family's
    # `not_followed_by`: 退不了的话 is a condition).
    not_followed_by: str | None = None
    # A `near` pair's cheap test before its regex (which is costly to compile): per side,
    # pieces of which every match holds one (empty: no test for that side).
    any_of: tuple[tuple[str, ...], ...] = ()
    # Not counted when the message also offers one of the family's `remedies` (Python
    # regex): "You broke it? No worries, we'll send a new one." mocks no one.
    remedy: str | None = None
    # The prefilter's anchor given in the phrase file (`anchor:` on a phrase), compiled like
    # the phrase: for a phrase whose every character and word is common, whose own pattern
    # would otherwise be its anchor and swell the prefilter.
    hint: str | None = None

    @property
    def regex(self) -> str:
        return "".join(self.parts)


class _PhrasePatterns:
    """Each phrase's Python regex, compiled the first time a text needs it: compiling all
    of them costs about a second, and a small audit's few candidate texts need a handful.

    ``may_match`` says whether a text can match at all before anything is compiled: each
    pattern's gates are sets of literal strings such that every match holds one string of
    each set (`_gates`), read off the parsed pattern (so they hold for any phrase syntax).
    A phrase whose required words a text lacks is not compiled for it either.
    """

    def __init__(self, sources: tuple[str, ...]) -> None:
        self.sources = sources
        self.gates = tuple(_gates(src) for src in sources)
        self._compiled: dict[int, re.Pattern] = {}

    def __len__(self) -> int:
        return len(self.sources)

    def __getitem__(self, i: int) -> re.Pattern:
        pattern = self._compiled.get(i)
        if pattern is None:
            pattern = self._compiled[i] = re.compile(self.sources[i])
        return pattern

    def __getstate__(self) -> dict:  # cached on disk without what a run compiled
        return {"sources": self.sources, "gates": self.gates}

    def __setstate__(self, state: dict) -> None:
        self.sources, self.gates, self._compiled = state["sources"], state["gates"], {}

    def may_match(self, i: int, text: str) -> bool:
        return _passes(self.gates[i], text)


# A regex's gates: sets of literal strings such that every match holds one string of each
# set (a conjunction of alternatives); () when nothing is known.
Gates = tuple[tuple[str, ...], ...]
# At most this many gates per regex, the most selective first: testing more costs more
# than the few compiles it would still spare.
MAX_GATES = 6


def _passes(gates: Gates, text: str) -> bool:
    """May a regex with these gates match in ``text``? (False: it cannot.)"""
    return all(any(piece in text for piece in gate) for gate in gates)


def _gate(source: str) -> tuple[str, ...] | None:
    """Literal strings one of which every match of the regex ``source`` contains; None
    when there are none (or the regex ignores case). The most selective of `_gates`."""
    gates = _gates(source)
    return gates[0] if gates else None


def _gates(source: str) -> Gates:
    """Sets of literal strings such that every match of the regex ``source`` holds one
    string of each set, the most selective first; () when there are none (or the regex
    ignores case).

    The gates read the regex's parse tree from ``re._parser``, a private module of the
    standard library: on a Python where it is missing or different, there are no gates
    (every text is tried by the regex itself), which changes the time, never the verdict."""
    try:
        return _gates_from_tree(source)
    except Exception:  # an optimisation: no gate is always correct
        return ()


def _gates_from_tree(source: str) -> Gates:
    global _sre
    import re._parser as _sre

    with warnings.catch_warnings():  # ("possible nested set" and the like: not ours)
        warnings.simplefilter("ignore")
        parsed = _sre.parse(source)
    if parsed.state.flags & re.IGNORECASE:
        return ()
    # Ties keep the order of the pattern (a stable sort, duplicates dropped).
    found = sorted(dict.fromkeys(_needed_all(list(parsed))), key=_selectivity, reverse=True)
    return tuple(tuple(sorted(gate)) for gate in found[:MAX_GATES])


_sre = None  # re._parser, imported by the first _gates


def _selectivity(gate: frozenset[str]) -> tuple[int, int]:
    """Longer pieces, then fewer of them, rule out more texts."""
    return min(map(len, gate)), -len(gate)


def _needed(items: list) -> frozenset[str] | None:
    """The most selective gate of a parsed sequence, or None."""
    return max(_needed_all(items), key=_selectivity, default=None)


def _needed_all(items: list) -> list[frozenset[str]]:
    """The gates of a parsed sequence: each mandatory item's gates are gates of the whole
    sequence (a run of literal characters is one string)."""
    found: list[frozenset[str]] = []
    run: list[str] = []
    for op, av in items:
        if op is _sre.LITERAL:
            run.append(chr(av))
            continue
        if run:
            found.append(frozenset({"".join(run)}))
        run = []
        if op is _sre.SUBPATTERN:
            if not av[1] & re.IGNORECASE:
                found += _needed_all(list(av[3]))
        elif op is _sre.ATOMIC_GROUP:
            found += _needed_all(list(av))
        elif op is _sre.BRANCH:
            # One of the alternatives matches: the union of their best gates.
            alternatives = [_needed(list(alt)) for alt in av[1]]
            if all(alternatives):
                found.append(frozenset().union(*alternatives))
        elif op in (_sre.MAX_REPEAT, _sre.MIN_REPEAT, _sre.POSSESSIVE_REPEAT):
            if av[0] >= 1:
                found += _needed_all(list(av[2]))
        elif op is _sre.IN and len(av) <= 4 and all(o is _sre.LITERAL for o, _ in av):
            found.append(frozenset(chr(c) for _, c in av))  # a small class such as [,，]
        # anything else (positions, lookarounds, classes, any character) holds no literal
    if run:
        found.append(frozenset({"".join(run)}))
    return found


@dataclass(frozen=True)
class Lexicon:
    """The compiled phrase file.

    RE2 (pyarrow's regex engine) gives up its fast automaton when one pattern holds a few
    hundred phrases with their neighbour conditions, and becomes 100x slower. So a match
    takes two passes: ``prefilter``, one character or word each phrase cannot do without
    (its anchor), finds the few rows worth a closer look; on those, ``patterns``, the
    phrases in a few groups small enough for the automaton. ``python`` has each phrase
    for Python's re, to tell which one fired and where.

    The `near` pairs are costlier per pattern and fire on few rows, so they have a third
    step of their own: ``near_prefilter`` (their anchors) picks, among the rows the
    prefilter kept, the ones that ``near_patterns`` look at.
    """

    families: dict[str, dict]
    phrases: tuple[Phrase, ...]
    prefilter: tuple[str, ...]
    patterns: tuple[str, ...]
    python: _PhrasePatterns
    excuses: re.Pattern
    repeats: str
    hollow: re.Pattern = re.compile("(?!)")
    negated: re.Pattern = re.compile("(?!)")
    near_prefilter: tuple[str, ...] = ()
    near_patterns: tuple[str, ...] = ()
    # The RE2 patterns above cut into gated alternatives, for small batches (`_Narrowing`).
    narrowing: _Narrowing = dataclasses.field(default_factory=lambda: _Narrowing(),
                                              compare=False, repr=False)


def load_lexicon(path: Path | str = LEXICON_PATH) -> Lexicon:
    """Read and compile a phrase file (the shipped one by default)."""
    return _compile(_read_yaml(Path(path).read_text(encoding="utf-8")))


@lru_cache(maxsize=1)
def _shipped() -> Lexicon:
    """The shipped lexicon. Compiling it costs ~0.1 s of every process, so the result is
    kept in the per-machine cache (checks.disk_cache), keyed by the phrase file, this
    module's code and the normalisers' versions: any change of them compiles afresh."""
    text = LEXICON_PATH.read_bytes()
    key = disk_cache.key_of(text, Path(__file__).read_bytes(), *_class_versions().values())
    lexicon = disk_cache.load("lexicon", key)
    if not isinstance(lexicon, Lexicon):
        lexicon = _compile(_read_yaml(text.decode("utf-8")))
        lexicon.narrowing.build(lexicon)  # (~0.2 s, kept in the cache with the rest)
        # Its whole-lexicon regexes (the excuses …) are kept as text, compiled when a run
        # first needs one: most small audits never do, and compiling them costs ~15 ms.
        disk_cache.store("lexicon", key, dataclasses.replace(lexicon, **{
            f.name: _LazyPattern(value.pattern, value.flags)
            for f in dataclasses.fields(lexicon)
            if isinstance(value := getattr(lexicon, f.name), re.Pattern)}))
    return lexicon


def warm() -> None:
    """Load now what judging any batch of messages needs and no text changes: the shipped
    lexicon (from the per-machine cache) with its whole-lexicon regexes compiled, the
    normalisers and the wording model. A process about to fork workers that will judge
    messages calls this first (``flows.partitioned``): the workers then share this one copy
    instead of each loading its own on its first batch. What depends on the texts (which
    phrases' Python regexes a batch needs) is left to the batch."""
    lexicon = _shipped()
    for f in dataclasses.fields(lexicon):
        value = getattr(lexicon, f.name)
        if isinstance(value, _LazyPattern):
            value.compiled()
    _converter()
    _nfkc_class()
    _traditional_class()
    # this module's own lazy patterns (single-text normalisers, quoted speech): every one,
    # so that a pattern added later is warmed too
    for value in list(globals().values()):
        if isinstance(value, _LazyPattern):
            value.compiled()
    tone_model.shipped()


class _Narrowing:
    """Each RE2 pattern of a lexicon as its top-level alternatives with their gates.

    pyarrow compiles an RE2 pattern on every call, ~2-5 ms for one of the lexicon's
    slices: on a batch of a few dozen texts, compiling the 50-odd patterns is most of the
    judge's time. Few of the thousands of alternatives can match so few texts, and an
    alternative whose gates (`_gates`: literal strings every match holds) fail on every
    text of the batch cannot match any of them; so a small batch runs each pattern cut down
    to the alternatives that may match, and skips a pattern where none may. The rows that
    match are the same (an alternation matches where one of its alternatives does).
    Built on first use; the shipped lexicon keeps it in the per-machine cache.
    """

    def __init__(self) -> None:
        # Per tuple of patterns, a `_Cut` of them.
        self.parts: dict[tuple[str, ...], _Cut] = {}

    def build(self, lexicon: Lexicon) -> None:
        for patterns in (lexicon.prefilter, lexicon.patterns, lexicon.near_prefilter,
                         lexicon.near_patterns):
            self._cut(patterns)

    def _cut(self, patterns: tuple[str, ...]) -> _Cut:
        got = self.parts.get(patterns)
        if got is None:
            got = self.parts[patterns] = _Cut(patterns)
        return got

    def of(self, patterns: tuple[str, ...]) -> list[list[tuple[str, Gates]]]:
        """Per pattern, its alternatives with their gates."""
        return self._cut(patterns).alternatives(patterns)

    def narrow(self, patterns: tuple[str, ...], batch: str | None) -> tuple[str, ...]:
        """``patterns`` as a batch whose texts, joined, are ``batch`` needs them (None: a
        large batch, all of them as they are)."""
        if batch is None:
            return patterns
        cut = self._cut(patterns)
        ok = cut.passing(batch)
        out = []
        for pattern, ends, first in zip(patterns, cut.ends, cut.first, strict=True):
            kept = np.flatnonzero(ok[first:first + len(ends)])
            if len(kept) == len(ends):
                out.append(pattern)
            elif len(kept):
                out.append("|".join(pattern[ends[k - 1] + 1 if k else 0:ends[k]]
                                    for k in kept.tolist()))
        return tuple(out)


class _Cut:
    """Some RE2 patterns as their alternatives (where each ends in its pattern) and the
    alternatives' gates as arrays, so that a batch tests each distinct literal once and
    the rest is vectorised (a loop over the ~3,000 alternatives costs ~10 ms)."""

    def __init__(self, patterns: tuple[str, ...]) -> None:
        self.ends: list[tuple[int, ...]] = []
        self.first: list[int] = []  # each pattern's first alternative, counted over all
        pieces: dict[str, int] = {}
        piece_ids: list[int] = []
        gate_starts: list[int] = []  # per gate, where its pieces start in piece_ids
        alt_gates: list[int] = [0]  # per alternative, where its gates start
        for pattern in patterns:
            alts = _top_alternatives(pattern)
            self.first.append(len(alt_gates) - 1)
            self.ends.append(tuple(e - 1 for e in itertools.accumulate(len(a) + 1 for a in alts)))
            for alt in alts:
                for gate in _gates(_re2_for_python(alt)):
                    gate_starts.append(len(piece_ids))
                    piece_ids += [pieces.setdefault(piece, len(pieces)) for piece in gate]
                alt_gates.append(len(gate_starts))
        self.pieces = tuple(pieces)
        self.piece_ids = np.array(piece_ids, dtype=np.int32)
        self.gate_starts = np.array(gate_starts, dtype=np.int64)
        self.alt_gates = np.array(alt_gates, dtype=np.int64)

    def passing(self, batch: str) -> np.ndarray:
        """Per alternative: may it match in the batch (do all its gates pass)?"""
        found = np.fromiter((piece in batch for piece in self.pieces), dtype=bool,
                            count=len(self.pieces))
        if not len(self.gate_starts):
            return np.ones(len(self.alt_gates) - 1, dtype=bool)
        gate_ok = np.logical_or.reduceat(found[self.piece_ids], self.gate_starts)
        failed = np.concatenate(([0], np.cumsum(~gate_ok)))
        return failed[self.alt_gates[1:]] == failed[self.alt_gates[:-1]]

    def alternatives(self, patterns: tuple[str, ...]) -> list[list[tuple[str, Gates]]]:
        out = []
        for pattern, ends, first in zip(patterns, self.ends, self.first, strict=True):
            alts = []
            for k, end in enumerate(ends):
                a, b = self.alt_gates[first + k], self.alt_gates[first + k + 1]
                gates = tuple(tuple(self.pieces[i] for i in self.piece_ids[
                    self.gate_starts[g]:self.gate_starts[g + 1] if g + 1 < len(
                        self.gate_starts) else len(self.piece_ids)]) for g in range(a, b))
                alts.append((pattern[ends[k - 1] + 1 if k else 0:end], gates))
            out.append(alts)
        return out


# A batch is small when its texts hold at most this many characters: testing every gate
# against them costs far less than compiling the patterns (above, it would not).
SMALL_BATCH_CHARS = 20_000


def _small_batch(arr: pa.Array) -> str | None:
    """A small batch's texts joined into one string (a gate piece found across the joint
    only keeps an alternative needlessly), or None for a large batch."""
    if len(arr) > SMALL_BATCH_CHARS or (
            pc.sum(pc.utf8_length(arr)).as_py() or 0) > SMALL_BATCH_CHARS:
        return None
    return "\x00".join(arr.drop_null().to_pylist())


_FLAG_GROUP = re.compile(r"\(\?[a-zA-Z]*-?[a-zA-Z]*\)")


def _top_alternatives(pattern: str) -> list[str]:
    """The top-level alternatives of a regex (the pattern itself when it has one, or flags
    that apply to all of them)."""
    if _FLAG_GROUP.search(pattern):
        return [pattern]
    out, depth, start, i, n = [], 0, 0, 0, len(pattern)
    while i < n:
        ch = pattern[i]
        if ch == "\\":
            i += 2
            continue
        if ch == "[":  # a class: up to its closing ], which may come first ([]…], [^]…])
            i += 1
            if i < n and pattern[i] == "^":
                i += 1
            if i < n and pattern[i] == "]":
                i += 1
            while i < n and pattern[i] != "]":
                i += 2 if pattern[i] == "\\" else 1
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "|" and depth == 0:
            out.append(pattern[start:i])
            start = i + 1
        i += 1
    out.append(pattern[start:])
    return out if "|".join(out) == pattern and depth == 0 else [pattern]


_RE2_ONLY = re.compile(r"\\[pPQEC]|\[\[:|\\x\{")
_END_OF_TEXT = re.compile(r"(?<!\\)((?:\\\\)*)\\z")


def _re2_for_python(pattern: str) -> str:
    """An RE2 pattern as Python's re reads it alike (\\z is \\Z), for its gates; RE2-only
    syntax (Unicode classes, POSIX classes, \\Q…\\E) becomes a pattern with no gates."""
    if _RE2_ONLY.search(pattern):
        return ""
    return _END_OF_TEXT.sub(r"\1\\Z", pattern)


def _compile(spec: dict) -> Lexicon:
    fillers = normalize_text(spec.get("fillers", ""))
    softeners = [normalize_text(s) for s in spec.get("softeners", [])]
    families: dict[str, dict] = {}
    phrases: list[Phrase] = []
    for family in spec["families"]:
        name = family["name"]
        for key in ("meaning", "example"):
            if not family.get(key):
                raise ValueError(f"family {name!r} has no {key}")
        families[name] = {k: family[k] for k in ("meaning", "example")}
        followed = family.get("not_followed_by")
        followed = "|".join(map(re.escape, followed)) if followed else None
        remedy = family.get("remedies")
        remedy = _excuse_pattern({"zh": [r for r in remedy if not r.isascii()],
                                  "en": [r for r in remedy if r.isascii()]}) if remedy else None
        start = len(phrases)
        for entry in family["phrases"]:
            entry = entry if isinstance(entry, dict) else {"phrase": entry}
            if "near" in entry:
                phrases.append(_near(name, entry, family, fillers))
                continue
            text = _phrase_text(str(entry["phrase"]).strip())
            if not text:
                raise ValueError(f"empty phrase in family {name!r}")
            excusable = bool(entry.get("excusable", family.get("excusable", False)))
            hint = entry.get("anchor")
            hint = _core(_phrase_text(str(hint)), "" if text.isascii() else fillers) if hint \
                else None
            inside = entry.get("unless_inside")
            inside = _py(_near_side(_phrase_text(_joined(inside)), fillers)) if inside else None
            phrases.append(Phrase(name, text, _alternative(text, entry, fillers, softeners),
                                  excusable, _required(text), unless_inside=inside, hint=hint))
        if followed:
            phrases[start:] = [replace(p, not_followed_by=f"[{SPACE}]*(?:{followed})")
                               for p in phrases[start:]]
        if remedy:
            phrases[start:] = [replace(p, remedy=remedy) for p in phrases[start:]]
    seen: set[str] = set()
    for p in phrases:
        if p.phrase in seen:
            raise ValueError(f"phrase listed twice: {p.phrase!r}")
        seen.add(p.phrase)
    # Lookarounds for the neighbours here, so that matches next to each other all count.
    python = _PhrasePatterns(tuple(
        f"{_py(p.parts[0])}({_py(p.parts[1])}){_py(p.parts[2])}" for p in phrases))
    excuses = re.compile(_excuse_pattern(spec.get("excuses", {})))
    hollow = re.compile("|".join(_hollow_pattern(h) for h in spec.get("hollow_excuses", []))
                        or "(?!)")
    # RE2 has no back-references: which rows repeat a Chinese character of the lexicon?
    chars = sorted({ch for p in phrases for ch in p.phrase if re.match(f"[{HAN}]", ch)})
    repeats = "|".join([*(ch + ch for ch in chars), _TRIPLES])
    # A phrase right after one of these is denied, not said: 不是不给您退.
    negations = [re.escape(normalize_text(n)) for n in spec.get("negations", [])]
    # (是不是 asks a question: 你是不是脑子坏掉了 denies nothing.)
    negated = re.compile(f"(?<!是)(?:{'|'.join(negations)})[{SPACE}]*$" if negations
                         else "(?!)")
    near = [p for p in phrases if p.anchor is not None]
    return Lexicon(families, tuple(phrases), _prefilter(phrases),
                   _chunks([p for p in phrases if p.anchor is None]), python, excuses, repeats,
                   hollow, negated, _prefilter(near) if near else (), _chunks(near))


def _phrase_text(phrase: str) -> str:
    """A lexicon phrase normalised like the text (its syntax characters kept)."""
    return _collapse(_fold(phrase)).lower()




# Characters and words too common in customer-service chat to single out a row: a phrase is
# anchored on one of its other characters or words, or on its whole pattern.
COMMON_HAN = set(
    "的一是不了人我在有他这为之大来以个中上们到说和地也子时道出而要于就下得可你年生自会那后能"
    "对着事其里所去行过家十用发天如然作方成者多日都三小二无同么经法当起与好看学进种将还分此心前"
    "面又定见只主没公从已知全开意把外间题问样回给想已经您亲请货快递退款换收件商品图片照质量处理"
    "申请售后联系客服谢抱歉耐等待订单地址物流信息小时内尽正保证支持七无理由寄运费钱买卖店家东西"
    "吗吧啊呀呢哦哈嗯噢喔好的行呗啦嘛咯喽哟再别怎很真太最更非常特别所以因但如果虽然只要还是或者"
    "已就才刚马立即现今明昨周月号点分秒元块包邮顺丰中通圆韵申极兔京东淘宝天猫拼多平台官方旗舰"
    "自己看找没去来想人事问也一到能要会说让叫被把将向跟同和与及并且而再次又重新什坏烦随办便时候查收注"
)
COMMON_EN = {
    "the", "you", "your", "not", "with", "back", "help", "how", "good", "leave", "last",
    "even", "else", "done", "answer", "lost", "nice", "are", "and", "for", "this", "that",
    "can", "will", "have", "has", "get", "got", "our", "one", "all", "any", "now", "out",
    "just", "what", "time", "again", "more", "some", "them", "they", "there", "here",
    "item", "order", "refund", "refunds", "return", "returns", "please", "thank", "thanks",
    "sorry", "would", "could", "should", "about", "from", "into", "need", "want", "like",
    "know", "see", "let", "make", "take", "give", "said", "say", "send", "sent", "ship",
    "shipping", "tracking", "package", "day", "days", "week", "claim", "money", "product",
    "problem", "issue", "why", "who", "which", "when", "where", "well", "much", "many",
    "really", "very", "also", "only", "still", "already", "anymore", "because", "been",
}


def _anchor(phrase: Phrase) -> str:
    """A piece of text every match of the phrase contains (after normalisation).

    A required character or word outside any group, the rarest-looking one; failing that,
    the phrase file's `anchor`, else the phrase's whole pattern.
    """
    if phrase.hint:
        return phrase.hint
    text = phrase.phrase
    top = _top_level(text)
    if text.isascii():
        whole = [w for w in _whole_words(text, top) if len(w) >= 3 and w not in COMMON_EN]
        if whole:
            return re.escape(max(whole, key=len))
    else:
        han = [ch for _, ch in top if re.match(f"[{HAN}]", ch) and ch not in DROPPABLE]
        rare = [ch for ch in han if ch not in COMMON_HAN]
        if rare:
            return re.escape(rare[0])
    # No anchor outside the groups: one per alternative of a required group (土包子|乡巴佬
    # gives 包 or 巴), a short alternation that keeps the prefilter small, where the whole
    # pattern would cost RE2 its automaton.
    pieces = _group_anchors(text)
    if pieces:
        single = sorted({p for p in pieces if len(p) == 1})
        multi = sorted({re.escape(p) for p in pieces if len(p) > 1})
        return "|".join(([f"[{re.escape(''.join(single))}]"] if single else []) + multi)
    if not text.isascii():
        if "*" in text and han:
            # A wildcard in the prefilter costs RE2 its automaton: a common character is
            # the lesser evil.
            return re.escape(han[0])
        if "*" in text:
            # Or the longest piece of the pattern between wildcards: every match holds it.
            return max(phrase.parts[1].split(f"[^{SENTENCE_STOP}]{{0,6}}"), key=len)
    return phrase.parts[1]


def _split(text: str) -> tuple[list[tuple[str, bool]], list[str]]:
    """(top-level items as (text, optional), top-level alternatives) of a phrase or group."""
    items: list[tuple[str, bool]] = []
    alts, depth, start, i = [], 0, 0, 0
    while i < len(text):
        ch = text[i]
        if ch == "(":
            depth += 1
            if depth == 1:
                open_at = i
        elif ch == ")":
            depth -= 1
            if depth == 0:
                optional = i + 1 < len(text) and text[i + 1] == "?"
                items.append((text[open_at:i + 1], optional))
        elif ch == "|" and depth == 0:
            alts.append(text[start:i])
            start = i + 1
        elif depth == 0:
            items.append((ch, i + 1 < len(text) and text[i + 1] == "?"))
        i += 1
    alts.append(text[start:])
    return items, alts


def _literal_anchors(text: str) -> list[str]:
    """Required pieces outside any group: rare Chinese characters, uncommon whole words."""
    items, _ = _split(text)
    found, word = [], ""
    for piece, optional in [*items, (" ", False)]:
        if len(piece) == 1 and piece.isascii() and piece.isalpha() and not optional:
            word += piece
            continue
        if len(word) >= 3 and word not in COMMON_EN and not piece.startswith("("):
            found.append(word)
        word = "" if not (len(piece) == 1 and piece.isalpha() and piece.isascii()) else ""
        if (len(piece) == 1 and not optional and re.match(f"[{HAN}]", piece)
                and piece not in DROPPABLE and piece not in COMMON_HAN):
            found.append(piece)
    return found


def _group_anchors(text: str, depth: int = 0) -> list[str] | None:
    """Anchors such that every match of ``text`` holds one of them, or None."""
    if depth > 3:
        return None
    _, alts = _split(text)
    if len(alts) > 1:
        out = []
        for alt in alts:
            got = _group_anchors(alt, depth + 1)
            if not got:
                return None
            out.extend(got)
        return out if len(set(out)) <= 16 else None
    literal = _literal_anchors(text)
    if literal:
        return [max(literal, key=len)]
    best = None
    for piece, optional in _split(text)[0]:
        if piece.startswith("(") and not optional:
            got = _group_anchors(piece[1:-1], depth + 1)
            if got and (best is None or len(set(got)) < len(set(best))):
                best = got
    return best


PREFILTER_BUDGET = 5000


def _prefilter(phrases: list[Phrase]) -> tuple[str, ...]:
    """The anchors as a few RE2 patterns, each small enough to keep the fast automaton.

    Past roughly 10,000 characters of anchors one pattern falls back to the slow engine and
    a million messages take half a minute instead of a fraction of a second (measured), so
    the anchors are cut into slices of ``PREFILTER_BUDGET`` characters.
    """
    anchors = sorted({p.anchor or _anchor(p) for p in phrases})
    single = [a for a in anchors if len(a) == 1]
    rest = [a for a in anchors if len(a) > 1]
    slices: list[list[str]] = [[f"[{''.join(single)}]"]] if single else [[]]
    sizes = [sum(map(len, slices[0]))]
    # First fit, longest first: each slice pass costs the same whatever it holds, so the
    # anchors are packed into as few slices as the budget allows.
    for anchor in sorted(rest, key=len, reverse=True):
        for i, size in enumerate(sizes):
            if size + len(anchor) + 1 <= PREFILTER_BUDGET or not slices[i]:
                break
        else:
            slices.append([])
            sizes.append(0)
            i = len(slices) - 1
        slices[i].append(anchor)
        sizes[i] += len(anchor) + 1
    return tuple("|".join(s) for s in slices if s)


CHUNK = 64
# A `near` pair is two alternations with a bounded gap: RE2's automaton for it is far larger
# than a phrase's, so only a few share a pattern, and a long one stays alone (eight pairs in
# one pattern fell off the automaton: 5x slower on the whole check, measured).
NEAR_CHUNK = 4
# And by size: past roughly 11,000 characters a pattern of phrases or pairs can fall off the
# automaton too (a chunk of 60 phrases at 13,000 characters took 9 s per 100,000 rows
# instead of 0.02 s, measured), so a chunk is also closed when it would grow past these.
NEAR_BUDGET = 9000
CHUNK_BUDGET = 10000


def _chunks(phrases: list[Phrase]) -> tuple[str, ...]:
    """The phrases as a few RE2 patterns, grouped so that each keeps RE2's fast automaton."""
    groups: dict[tuple[str, str, str], list[Phrase]] = {}
    for p in phrases:
        if p.anchor is not None:
            # A pair with a gap between its sides: few per pattern (see `NEAR_CHUNK`).
            key = ("near", "", "")
        elif p.parts[0].startswith("(?:\\A|[" + CLAUSE[:3]):
            key = ("en-clause", p.parts[0], p.parts[2])
        else:
            # Wildcards (`*`) blow up an automaton shared with many phrases: apart.
            key = ("en" if p.phrase.isascii() else "zh-wild" if "*" in p.phrase
                   else "zh-context" if p.parts[0] or p.parts[2] else "zh", "", "")
        groups.setdefault(key, []).append(p)
    out = []
    for (kind, before, after), group in groups.items():
        if kind == "en-clause":
            # Same surroundings for all: write them once.
            out.append(f"{before}(?:{'|'.join(p.parts[1] for p in group)}){after}")
            continue
        # RE2's automaton has a fixed memory budget: past ~150 Chinese phrases it falls back
        # to the 500x slower NFA, so groups are cut into slices well below that.
        if kind == "near":
            out.extend(_packed([p.regex for p in group], NEAR_CHUNK, NEAR_BUDGET))
        else:
            out.extend(_packed([p.regex for p in group], CHUNK, CHUNK_BUDGET))
    return tuple(out)


def _packed(regexes: list[str], most: int, budget: int) -> list[str]:
    """The regexes joined into alternations, in order, each of at most ``most`` regexes and
    (unless one alone is longer) ``budget`` characters."""
    out: list[str] = []
    batch: list[str] = []
    for regex in regexes:
        if batch and (len(batch) == most or sum(map(len, batch)) + len(regex) > budget):
            out.append("|".join(batch))
            batch = []
        batch.append(regex)
    out.append("|".join(batch))
    return out


# The end of an English word in a `near` pair. RE2 has no lookahead, so it accepts a hyphen
# after the word (problem-solving); Python, which explains every match, does not.
WORD_END = "\\b(?:)"


def _py(regex: str) -> str:
    # RE2's \b is ASCII (差评\bwhatever has one); Python's, Unicode, unless told.
    regex = regex.replace(WORD_END, "\x00").replace("\\z", "\\Z")
    return regex.replace("\\b", "(?a:\\b)").replace("\x00", "(?a:\\b)(?!-)")


def _alternative(text: str, entry: dict, fillers: str,
                 softeners: list[str]) -> tuple[str, str, str]:
    """One phrase's regex as (before, phrase, after); no capturing groups.

    The neighbour conditions consume the neighbour rather than look at it (RE2 has no
    lookarounds), which a yes/no match allows.
    """
    ascii_ = text.isascii()
    if ascii_ and entry.get("standalone"):
        raise ValueError(f"standalone is for Chinese phrases: {text!r}")
    if not ascii_ and (entry.get("clause") or entry.get("sentence")):
        raise ValueError(f"clause is for English phrases: {text!r}")
    core = _core(text, fillers if not ascii_ else "")
    if entry.get("whole"):
        # The whole message, bar punctuation, emoji, softeners and particles: a bare "No."
        pad = f"[{SPACE}{CLAUSE}]*"
        if not ascii_:
            # A particle may open the reply too: 嗯，然后呢？ / 哦，随便.
            edge = f"[{SPACE}{CLAUSE}{PARTICLES}]*"
            return f"\\A{edge}", core, f"{edge}\\z"
        soft = "|".join(_core(s, "") for s in softeners)
        return (f"\\A{pad}(?:(?:{soft}){pad})*", core, f"(?:{pad}(?:{soft}))*{pad}\\z")
    if ascii_:
        if entry.get("clause") or entry.get("sentence"):
            soft = "|".join(_core(s, "") for s in softeners)
            lead = f"(?:(?:{soft})[{SPACE},]+)*" if soft else ""
            tail = f"(?:[{SPACE},]+(?:{soft}))*" if soft else ""
            edge = f"[{CLAUSE}{HAN}]"
            # On the right, a Chinese character ends the clause when it touches the phrase
            # (go away啊); after a space, only a particle or a word that opens a clause
            # (你, 别, 好吗, 一个) does: otherwise the English word is part of a Chinese
            # sentence ("stop 使用吧" is "stop using it", "whatever 颜色" "whichever colour").
            end = SENTENCE_END if entry.get("sentence") else CLAUSE
            return (f"(?:\\A|{edge})[{SPACE}]*{lead}", core,
                    f"{tail}(?:[{SPACE}]*(?:[{end}{PARTICLES}{OPENERS}]|{OPENER_WORDS}|\\z)|[{HAN}])")
        return f"(?:\\A|[^{WORD}])", core, f"(?:[^{WORD}\\-]|\\z)"
    before, after = "", ""
    if entry.get("standalone"):
        # `standalone: after` holds the phrase to the right only (不退 is a refusal after
        # almost anything, but 不退色 is a colour that does not fade).
        if entry["standalone"] != "after":
            allowed = _chars(normalize_text(entry.get("before", "")))
            before = f"(?:\\A|[^{HAN}]{allowed})"
        allowed = _chars(normalize_text(entry.get("after", "")))
        after = f"(?:\\z|[^{HAN}]{allowed})"
    if entry.get("not_before"):
        before = f"(?:\\A|[^{re.escape(normalize_text(entry['not_before']))}])" + before
    if entry.get("not_after"):
        after += f"(?:\\z|[^{re.escape(normalize_text(entry['not_after']))}])"
    return before, core, after


def _latin(ch: str) -> bool:
    return ch.isascii() and ch.isalnum()


# What the gap of a `near` pair does not run across, by its `span`.
NEAR_STOPS = {
    # A question mark ends neither: a question and its retort are one move (投诉我？你随意,
    # "Refund? No.").
    "clause": ".!;:,~～。！；：，…、\r\n" + EMOJI,
    "sentence": ".!。！…\r\n" + EMOJI,
    "message": "\r\n",
}


def _near(family: str, entry: dict, spec: dict, fillers: str) -> Phrase:
    """A `near` entry: a term from each of two lists in the same sentence (or clause), at
    most `within` characters apart, in either order unless `order: ab`.

    Sellers word a taunt a hundred ways, but nearly always with a complaint word and a
    dare (差评 + 随便, "claim" + "good luck"): the pair generalises where a sentence cannot.
    """
    sides = entry["near"]
    if len(sides) != 2:
        raise ValueError(f"near takes two lists: {sides!r}")
    texts = [_phrase_text(_joined(s)) for s in sides]
    within = int(entry.get("within", 10))
    span = entry.get("span", "sentence")
    if span not in NEAR_STOPS:
        raise ValueError(f"near span is one of {sorted(NEAR_STOPS)}: {span!r}")
    gap = f"[^{NEAR_STOPS[span]}]{{0,{within}}}"
    a, b = (_near_side(t, fillers) for t in texts)
    core = f"(?:{a}){gap}(?:{b})"
    order = entry.get("order", "either")
    if order == "either":
        core += f"|(?:{b}){gap}(?:{a})"
    elif order != "ab":
        raise ValueError(f"near order is either or ab: {order!r}")
    # The prefilter looks for the side named by `anchor` (the rarer one in seller chat).
    side = entry.get("anchor", 1)
    if side not in (1, 2):
        raise ValueError(f"near anchor is 1 or 2: {side!r}")
    anchor = _side_anchor(texts[side - 1], (a, b)[side - 1], fillers)
    excusable = bool(entry.get("excusable", spec.get("excusable", False)))
    unless, inside = (_py(_near_side(_phrase_text(_joined(entry[key])), fillers))
                      if entry.get(key) else None for key in ("unless", "unless_inside"))
    return Phrase(family, f"near({texts[0]} ~ {texts[1]} /{within}{order}{span})",
                  ("", core, ""), excusable, (), anchor, unless, inside,
                  any_of=tuple(_side_pieces(t) for t in texts))


def _side_pieces(text: str) -> tuple[str, ...]:
    """Pieces of which every match of one side holds one: per alternative, a rare character
    or word, or the first character of a plain Chinese one; empty if some alternative has
    neither."""
    pieces: set[str] = set()
    for alt in _alternatives(text):
        alt = alt.rstrip("$")
        got = _group_anchors(alt)
        if got:
            pieces.update(got)
            continue
        # Else any character or word outside the groups (common ones included).
        top = _top_level(alt)
        if alt.isascii():
            words = _whole_words(alt, top)
            found = [max(words, key=len)] if words else []
        else:
            found = [ch for _, ch in top if re.match(f"[{HAN}]", ch) and ch not in DROPPABLE]
        if not found:
            return ()
        pieces.add(found[0])
    return tuple(sorted(pieces))


def _joined(side: str | list) -> str:
    return "|".join(side) if isinstance(side, list) else str(side)


def _near_side(text: str, fillers: str) -> str:
    """One side of a `near` pair: its alternatives, English ones on word boundaries; an
    alternative ending in `$` only where a sentence ends ("refund? no." but not "no problem")."""
    out = []
    for alt in _alternatives(text):
        end = alt.endswith("$")
        alt = alt.rstrip("$")
        core = _core(alt, "" if alt.isascii() else fillers)
        # English words on word boundaries (the letters inside the syntax decide).
        letters = alt.strip("()?|")
        if _latin(letters[:1]):
            core = "\\b" + core
        if _latin(letters[-1:]) and not alt.endswith("?"):
            core += WORD_END
        if end:
            core += f"[{SPACE}]*(?:[{SENTENCE_END}]|\\z)"
        out.append(core)
    return "|".join(out)


def _side_anchor(text: str, pattern: str, fillers: str) -> str:
    """What every match of one side of a pair holds, kept small and specific for the
    prefilter: a Chinese alternative as the words it can spell (不(负责|承担) → 不负责,
    不承担: a single rare character like 承 would keep every 轴承 row; a filler inside
    such words is not worth the prefilter's size), an English one by an uncommon word,
    else the alternative's own pattern; the whole side's pattern if that is shorter."""
    words: set[str] = set()
    for alt in _alternatives(text):
        alt = alt.rstrip("$")
        spelled = None if _latin_in(alt) else _spell(alt)
        if spelled:
            words.update(_spelled_anchor(w, fillers) for w in spelled)
            continue
        got = _group_anchors(alt)
        if got and alt.isascii():
            # Whole words: "no" is not in "know".
            words.update(f"\\b{re.escape(g)}\\b" for g in got)
        else:
            words.add(_near_side(alt, fillers))
    anchor = "|".join(sorted(words))
    return anchor if len(anchor) < len(pattern) else pattern


def _spelled_anchor(word: str, fillers: str) -> str:
    """A spelled Chinese word as the prefilter looks for it: a filler may stand between two
    of its characters and a droppable one may be missing, as in the pair itself (别说您了
    reaches the pair 别 ~ 说了 that the full pattern matches)."""
    if len(word) < 2 or not fillers:
        return re.escape(word)
    gap = f"[{re.escape(fillers)}]?"
    out = [re.escape(word[0])]
    for ch in word[1:]:
        out.append(gap + (f"{re.escape(ch)}?" if ch in DROPPABLE else re.escape(ch)))
    return "".join(out)


def _latin_in(text: str) -> bool:
    return any(_latin(ch) for ch in text)


def _spell(text: str, limit: int = 24) -> list[str] | None:
    """The literal strings a Chinese phrase can be (optional groups both ways), or None
    when it has a wildcard or more than ``limit`` of them."""
    if "*" in text:
        return None
    out = [""]
    for piece, optional in _split(text)[0]:
        if piece == "?":
            continue  # made the item before it optional
        if piece.startswith("("):
            options: list[str] = []
            for alt in _split(piece[1:-1])[1]:
                got = _spell(alt, limit)
                if got is None:
                    return None
                options += got
        else:
            options = [piece]
        if optional:
            options = ["", *options]
        out = [a + b for a in out for b in options]
        if len(out) > limit:
            return None
    return out


def _unwrap(text: str) -> str:
    """``(a|b)`` → ``a|b``: a side written as one group."""
    while text.startswith("(") and text.endswith(")") and _closing(text, 0) == len(text) - 1:
        text = text[1:-1]
    return text


_SYNTAX = re.compile(r"[()|]")


def _closing(text: str, start: int) -> int:
    """Where the group opened at ``start`` closes."""
    depth = 0
    for m in _SYNTAX.finditer(text, start):
        if m.group() == "(":
            depth += 1
        elif m.group() == ")":
            depth -= 1
            if depth == 0:
                return m.start()
    raise ValueError(f"unbalanced parentheses: {text!r}")


def _alternatives(text: str) -> list[str]:
    """The top-level alternatives of a side, its outer group taken off (only the syntax
    characters are looked at: the sides are long)."""
    text = _unwrap(text)
    out, depth, start = [], 0, 0
    for m in _SYNTAX.finditer(text):
        ch = m.group()
        depth += (ch == "(") - (ch == ")")
        if ch == "|" and depth == 0:
            out.append(text[start:m.start()])
            start = m.end()
    out.append(text[start:])
    return out


def _hollow_pattern(text: str) -> str:
    """A brush-off that names a rule but gives none ("read the policy", 自己看详情页)."""
    text = _phrase_text(text)
    core = _core(text, "")
    return f"\\b{core}\\b" if text.isascii() else core


def _chars(characters: str) -> str:
    return f"|[{re.escape(characters)}]" if characters else ""


def _core(text: str, fillers: str) -> str:
    """The phrase's own characters as a pattern.

    Syntax: ``(a|b)`` alternatives, ``(...)?`` optional, ``*`` (Chinese) up to six characters
    of the same sentence; everything else is literal. Every
    literal may repeat (滚滚滚, nooo). Chinese: spacing (`SEP`) and one filler (的, 你) may
    come between two characters, and a 的 inside the phrase may be missing. English:
    any whitespace between words, ' matches ' ’ or nothing, a comma is optional.
    (Which fillers may be *missing* is `DROPPABLE`: 你 may not, 你有病 is not 有病.)
    """
    out: list[str] = []
    gap = f"[{re.escape(fillers)}]?" if fillers else ""
    first = True
    depth = 0
    mixed = bool(fillers) and any(_latin(c) for c in text)
    for i, ch in enumerate(text):
        if ch == "(":
            depth += 1
            out.append("(?:")
        elif ch == ")":
            depth -= 1
            out.append(")")
        elif ch == "|":
            out.append(ch)
        elif ch == "?":
            # After a group it makes the group optional; after a literal, the literal.
            out[-1] = out[-1] + "?" if out[-1] == ")" else f"(?:{out[-1]})?"
        elif ch == "*" and fillers:
            # A few words in between, within the sentence: 告到天王老子那也没用.
            out.append(f"[^{SENTENCE_STOP}]{{0,6}}")
        elif ch == " ":
            out.append(f"[{SPACE}]+")
        elif ch == "'":
            out.append("['’]?")
        elif ch == ",":
            out.append("[,，]?")
        else:
            lit = re.escape(ch)
            if fillers and not first:
                lit = gap + lit
                # English inside Chinese is spaced as people type it (别 bb 了, 关我 p 事):
                # in a phrase that mixes scripts, spacing may come between any two of its
                # characters (where the script changes depends on the alternative taken).
                if mixed:
                    lit = f"[{SPACE}]*" + lit
            if ch in DROPPABLE and fillers and not first and i < len(text) - 1:
                lit = f"(?:{lit})?"
            out.append(lit)
            first = False
    if depth:
        raise ValueError(f"unbalanced parentheses in phrase {text!r}")
    return "".join(out)


def _excuse_pattern(excuses: dict) -> str:
    """A refusal that gives a reason or a way forward: any of these in the message."""
    parts = []
    # A negated marker is no excuse: 没有售后 (no after-sales), "we can't"; nor one refused
    # right after it: 售后不处理 (after-sales won't handle it) names no way forward.
    for marker in excuses.get("zh", []):
        parts.append("(?<!没有)(?<!没)(?<!无)(?<!不)" + re.escape(normalize_text(marker))
                     + "(?![不没无免])")
    for marker in excuses.get("en", []):
        body = re.escape(normalize_text(marker)).replace("\\ ", r"\s+")
        parts.append(rf"(?<!\bno )(?<!\bnot )(?<!\bwithout )\b{body}\b(?!['’]?t\b|\s*not\b|n['’]t\b)")
    return "|".join(parts) or "(?!)"


# --------------------------------------------------------------------------- quoted speech

# The quote marks that open quoted speech, with their closers. Straight single quotes are
# apostrophes inside words ("don't"), so they only count with no letter or digit outside.
_QUOTE_PAIRS = {"“": "”", "「": "」", "『": "』", "‘": "’", '"': '"'}
_QUOTE = re.compile("|".join(
    [f"{re.escape(a)}[^{re.escape(b)}]{{0,200}}{re.escape(b)}" for a, b in _QUOTE_PAIRS.items()]
    + [r"(?<![a-z0-9])'[^']{1,200}'(?![a-z0-9])"]))
# A speech verb shortly before the quote ("您说“滚”", "the agent wrote 'not my problem'");
# 问 but not 问题 (a problem: 您的问题我们会“重视”的 quotes no one).
_VERB = _LazyPattern(
    r"(说|讲|称|问(?!题)|写|转述|转达|回复|回了|回您|回你|答复|骂|留言|反映|反馈|提到|表示|喊|叫我|评价|发来|发了|原话|"
    r"\b(?:said|says|say|saying|wrote|write|writes|written|told|tell|asked|called|calling|"
    r"replied|reply|mentioned|typed|claimed|claims|messaged|texted|quote|quoted)\b)")
# After the quote: "“爱买不买”这种话", "\"not my problem\" was what …".
_AFTER = _LazyPattern(
    r"\s*(?:这|那)?(?:句|种|样的|个|几个|两个|三个|四个)?(?:话|字|词|回复|说法|按钮|选项)|\s*(?:不|并不|确实|的确|就|都)?是[^，。！？]{0,8}(?:说|回复|写|讲|发)"
    r"|\s*(?:这|那)(?:句|种)(?:话)?(?:是|为)[^，。！？]{0,12}(?:说法|原话|回复|用语|话)"
    # "『退不了』这句是系统翻译错误", "“不退”那条是自动回复": a mistake or a machine's words.
    r"|\s*(?:这|那)(?:句|条|个字|几个字)(?:话|回复|消息)?(?:是|为|属于)?[^，。！？]{0,12}"
    r"(?:错误|误会|误发|发错|打错|翻译|自动|机器|模板|系统|笔误|失误|bug)"
    r"|\s*(?:was|were|is|are)\s+(?:what|said|written|not|never|wrong|rude|unacceptable)"
    r"|\s*(?:was|were|is|are)\s+(?:a|an|the)\s+(?:[a-z-]+\s+){0,2}(?:typo|mistake|error|"
    r"mistranslation|translation|auto-reply|autoreply|template|glitch|bug)"
    r"|\s*,?\s*(?:he|she|they|the|your|our|my|a|an)\s+[a-z ]{0,20}(?:said|wrote|replied)")
# Before the quote: words pointing at the quote as words ("那句“…”", "the phrase '…'").
# Or at a label to type or pick: 备注写上“加急”, select "Urgent".
_POINTER = _LazyPattern(
    r"(?:这|那|一)句(?:话)?[:：]?\s*$|\b(?:the|that|this) (?:phrase|word|words|line|reply|message)[: ]*$"
    r"|(?:写上|备注|选择|选|点击|点|输入|勾选|搜索|填写|填上|标注)[:：]?\s*$"
    r"|\b(?:select|choose|click|tap|type|enter|tick|pick|press|search for|mark it as|marked as|"
    r"labell?ed)(?: on)?[: ]*$")
_CLAUSE_END = _LazyPattern(r"[。！？!?；;\n]")
_OTHER = _LazyPattern(
    r"您|你|客服|同事|他|她|对方|有人|别人|小二|买家|快递|店员|售后|系统|"
    r"\b(?:you|your|he|she|they|someone|somebody|agent|colleague|staff|rep|courier|driver|"
    r"support|buyer|customer|seller|team|review)\b")
_SELF = _LazyPattern(r"我|\b(?:i|we|i've|we've|i'd|we'd)\b")


def _strip_quoted_speech(text: str) -> str:
    """The text with quotes attributed to someone other than the writer blanked out."""
    def repl(m: re.Match) -> str:
        before = text[max(0, m.start() - 20):m.start()]
        cut = list(_CLAUSE_END.finditer(before))
        if cut:
            before = before[cut[-1].end():]
        verbs = list(_VERB.finditer(before))
        if verbs:
            verb = verbs[-1]
            speaker = before[:verb.start()]
            if _OTHER.search(speaker) or not _SELF.search(speaker):
                return "“”"
        if _POINTER.search(before) or _AFTER.match(text, m.end()):
            return "“”"
        return m.group(0)

    return _QUOTE.sub(repl, text)


# Any text that could hold a quote (an opening mark of _QUOTE): only these are stripped.
_QUOTE_CHARS_RE2 = "[" + re.escape("".join(_QUOTE_PAIRS) + "'") + "]"


def model_view(norm: pa.Array) -> list[str]:
    """The normalised texts as the wording model reads them (`checks.tone_model`): quoted
    speech attributed to someone else blanked out, as for the phrases; missing text is "".

    Training (scripts/train_tone_model.py) reads the labelled sets through this same
    function, so the model scores what it was trained on.
    """
    texts = norm.to_pylist()
    quoted = pc.fill_null(pc.match_substring_regex(norm, _QUOTE_CHARS_RE2), False)
    for i in np.flatnonzero(quoted.to_numpy(zero_copy_only=False)):
        texts[i] = _strip_quoted_speech(texts[i])
    return [t or "" for t in texts]


def prepared(texts: pd.Series) -> pa.Array:
    """The column normalised as matching starts (`_prepare`): what `model_view` takes."""
    return _prepare(_arrow(texts))


# --------------------------------------------------------------------------- judging


def _required(phrase: str) -> tuple[str, ...]:
    """Pieces of text every match of the phrase contains: its characters (Chinese) or words
    (English) outside any group and not optional. A cheap test before the regex."""
    top = _top_level(phrase)
    if not phrase.isascii():
        return tuple(ch for _, ch in top if re.match(f"[{HAN}]", ch) and ch not in DROPPABLE)
    return tuple(_whole_words(phrase, top))


def _top_level(phrase: str) -> list[tuple[int, str]]:
    """(position, character) of the phrase's characters outside any group and not made
    optional by a following ``?``: what every match must contain."""
    depth, top = 0, []
    for i, ch in enumerate(phrase):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif depth == 0 and not (i + 1 < len(phrase) and phrase[i + 1] == "?"):
            top.append((i, ch))
    return top


def _whole_words(phrase: str, top: list[tuple[int, str]]) -> list[str]:
    """The English words made of consecutive top-level letters that stand whole in the
    phrase: a word touching a group or an optional letter is cut short, so it does not count."""
    words, word, last = [], "", -2
    for i, ch in top:
        if ch.isalpha() and i == last + 1:
            word += ch
        else:
            words.append(word)
            word = ch if ch.isalpha() else ""
        last = i
    words.append(word)
    return [w for w in words if w and re.search(rf"(?:^|[ ,]){w}(?:$|[ ,])", phrase)]


def _candidates(text: str, lexicon: Lexicon) -> list[int]:
    """The phrases that may match in ``text`` (quoted speech set aside), by cheap tests."""
    return [i for i, phrase in enumerate(lexicon.phrases)
            if all(piece in text for piece in phrase.required) and all(
                any(piece in text for piece in side) for side in phrase.any_of if side
            ) and lexicon.python.may_match(i, text)]


def _screen(texts: list[str], lexicon: Lexicon) -> list[list[int]]:
    """Per text, the candidate phrases whose RE2 regex finds a match in it (quoted speech
    set aside): of a small batch's texts, the only phrases worth a Python regex.

    Compiling a phrase's Python regex costs 1-10 ms (its character classes), RE2's a
    fraction of that, and a phrase's Python regex matches only where its RE2 regex does
    (the same pattern; where they differ, at the end of an English word, Python's is the
    stricter). So the phrases RE2 rules out would have found nothing: same verdicts.
    """
    stripped = [_strip_quoted_speech(t) for t in texts]
    by_phrase: dict[int, list[int]] = {}
    for k, text in enumerate(stripped):
        for i in _candidates(text, lexicon):
            by_phrase.setdefault(i, []).append(k)
    out: list[list[int]] = [[] for _ in texts]
    for i, ks in sorted(by_phrase.items()):
        try:
            hit = pc.match_substring_regex(pa.array([stripped[k] for k in ks], pa.large_string()),
                                           lexicon.phrases[i].regex).to_pylist()
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):  # keep it, Python decides
            hit = [True] * len(ks)
        for k, h in zip(ks, hit, strict=True):
            if h:
                out[k].append(i)
    return out


def _explain(text: str, lexicon: Lexicon,
             screened: list[int] | None = None) -> tuple[str, str] | None:
    """(family, words) of the first phrase that counts in one normalised text, or None.

    The words are the normalised text the phrase matched ("不能退" for the entry
    不(能|可以|…)退…), which is what a reviewer wants to see. ``screened``: the text's
    phrases from `_screen`, for a small batch (else every candidate is tried).
    """
    text = _strip_quoted_speech(text)
    found = []
    for i in _candidates(text, lexicon) if screened is None else screened:
        found.extend((m.start(1), -len(m.group(1)), i, m.group(1))
                     for m in lexicon.python[i].finditer(text))
    for start, _, i, words in sorted(found):
        phrase = lexicon.phrases[i]
        if phrase.unless is not None and re.search(phrase.unless, text):
            continue
        if phrase.remedy is not None and re.search(phrase.remedy, text):
            continue
        if phrase.unless_inside is not None and re.search(phrase.unless_inside, words):
            continue
        if phrase.not_followed_by is not None and re.match(
                phrase.not_followed_by, text[start + len(words):]):
            continue
        if lexicon.negated.search(text, 0, start):
            # 不是不给您退 / 不是退不了: the refusal (or insult) is denied, not made.
            continue
        if phrase.excusable:
            # The refused thing is no way forward: in 换货？不可能 or "replacement? no" the
            # words that fired are set aside before looking for a reason or an offer, and
            # "read the policy" names a rule but gives none.
            rest = lexicon.hollow.sub("。", f"{text[:start]}。{text[start + len(words):]}")
            if lexicon.excuses.search(rest) is not None:
                continue
        # A sentence end a pair needs (refund? no.) is not part of the words.
        return phrase.family, words.strip().rstrip(".!?。！？… ")
    return None


def judge(texts: pd.Series, lexicon: Lexicon | None = None,
          model: tone_model.Model | None | bool = None) -> pd.DataFrame:
    """Per message: ``hostile`` (bool), ``family``, ``phrase`` (the words that fired, as
    normalised) and ``score`` (the wording model's probability when the model, not a
    phrase, found it; else missing). Missing text is not hostile; the message itself is the
    evidence.

    ``model``: the wording model (`checks.tone_model`); None is the shipped one, False
    judges by the phrases alone. Each distinct text is judged once: seller chat is full of
    templates.
    """
    lexicon = lexicon or _shipped()
    if model is None:
        model = tone_model.shipped()
    arr = _arrow(texts)
    # Hashing a million distinct strings costs more than it saves: look at a sample first.
    sample = arr.slice(0, 20_000)
    if len(sample) and pc.count_distinct(sample).as_py() > 0.5 * len(sample):
        distinct, codes = arr, pa.array(np.arange(len(arr)))
        codes = pc.if_else(pc.is_valid(arr), codes, pa.scalar(None, codes.type))
    else:
        encoded = pc.dictionary_encode(arr)
        distinct, codes = encoded.dictionary, encoded.indices
    found = _judge_distinct(distinct, lexicon, model or None) if len(distinct) else {}
    family = [None] * len(distinct)
    phrase = [None] * len(distinct)
    score = [None] * len(distinct)
    for i, (f, w, p) in found.items():
        family[i], phrase[i], score[i] = f, w, p
    family = pa.array(family, type=pa.string()).take(codes)
    phrase = pa.array(phrase, type=pa.string()).take(codes)
    score = pa.array(score, type=pa.float64()).take(codes)
    return pd.DataFrame({
        "hostile": pc.is_valid(family).to_numpy(zero_copy_only=False),
        "family": _string_series(family),
        "phrase": _string_series(phrase),
        "score": score.to_numpy(zero_copy_only=False),
    }, index=texts.index)


def _string_series(arr: pa.Array) -> pd.Series:
    return pd.Series(pd.arrays.ArrowStringArray(arr)).astype("string").array


def _judge_distinct(texts: pa.Array, lexicon: Lexicon, model: tone_model.Model | None,
                    ) -> dict[int, tuple[str, str, float | None]]:
    """{position: (family, words, model probability or None)} of the hostile texts among
    distinct ones: the phrases first, then the wording model on the rest."""
    norm = _prepare(texts)
    found, matched = _judge_phrases(norm, lexicon)
    if model is None:
        return found
    # The model reads only what no phrase matched: where a phrase matched and the message
    # was then excused (a reason, a remedy, a denial, quoted speech, 财源滚滚), the list has
    # judged wording it knows, and its exceptions stand.
    long_enough = pc.fill_null(pc.greater_equal(pc.count_substring_regex(
        norm, tone_model.UNITS_RE2), tone_model.MIN_UNITS), False)
    unmatched = np.array(long_enough.to_numpy(zero_copy_only=False), dtype=bool)
    unmatched[matched] = False
    idx = np.flatnonzero(unmatched)
    if idx.size == 0:
        return found
    left = norm.take(pa.array(idx)) if idx.size < len(norm) else norm
    # Templates that differ only by an order number or an amount read the same to the model
    # (it folds digits): each shape is scored once.
    shapes = pc.dictionary_encode(pc.replace_substring_regex(left, "[1-9]", "0"))
    probability = model.probability(model_view(shapes.dictionary))[
        shapes.indices.to_numpy(zero_copy_only=False)]
    hits = np.flatnonzero(probability >= model.threshold)
    # The hits again, digits as written: the words shown are the seller's.
    for k, text in zip(hits, model_view(left.take(pa.array(hits))), strict=True):
        found[int(idx[k])] = (model.family(text), model.words(text), float(probability[k]))
    return found


def _judge_phrases(norm: pa.Array, lexicon: Lexicon,
                   ) -> tuple[dict[int, tuple[str, str, None]], np.ndarray]:
    """{position: (family, words, None)} of the texts a phrase of the lexicon finds, and
    the positions where any phrase matched (found, or excused)."""
    # The anchors survive a repeat (滚滚 holds 滚), so repeats are collapsed only on the rows
    # the prefilter keeps.
    narrow = lexicon.narrowing.narrow
    maybe = np.zeros(len(norm), dtype=bool)
    for pattern in narrow(lexicon.prefilter, _small_batch(norm)):
        maybe |= pc.fill_null(pc.match_substring_regex(norm, pattern), False).to_numpy(
            zero_copy_only=False)
    idx = np.flatnonzero(maybe)
    if idx.size == 0:
        return {}, idx
    seen = _rewrite(norm.take(pa.array(idx)), lexicon.repeats, _collapse)
    batch = _small_batch(seen)
    hits = _any_match(seen, narrow(lexicon.patterns, batch))
    near = np.flatnonzero(_any_match(seen, narrow(lexicon.near_prefilter, batch)))
    if near.size:
        hits[near] |= _any_match(seen.take(pa.array(near)),
                                 narrow(lexicon.near_patterns, batch))
    found = {}
    texts = seen.filter(pa.array(hits)).to_pylist()
    screens = _screen(texts, lexicon) if batch is not None else [None] * len(texts)
    for i, text, screened in zip(idx[hits], texts, screens, strict=True):
        verdict = _explain(text, lexicon, screened)
        if verdict is not None:
            found[int(i)] = (*verdict, None)
    return found, idx[hits]


def _any_match(arr: pa.Array, patterns: tuple[str, ...]) -> np.ndarray:
    """Per row: does any of the RE2 patterns match?"""
    out = np.zeros(len(arr), dtype=bool)
    for pattern in patterns:
        out |= pc.fill_null(pc.match_substring_regex(arr, pattern), False).to_numpy(
            zero_copy_only=False)
    return out


def hostile_mask(texts: pd.Series, lexicon: Lexicon | None = None,
                 model: tone_model.Model | None | bool = None) -> pd.Series:
    """True where a message is hostile or a flat refusal; missing text is False."""
    return judge(texts, lexicon, model)["hostile"].rename(texts.name)


def matched_phrase(texts: pd.Series, lexicon: Lexicon | None = None,
                   model: tone_model.Model | None | bool = None) -> pd.Series:
    """The words that made each message hostile, else NA."""
    return judge(texts, lexicon, model)["phrase"].rename(texts.name)


if __name__ == "__main__":  # pragma: no cover - a quick look from the shell
    if sys.argv[1:] == ["--write-classes"]:
        write_classes()
        sys.exit(0)
    for line in sys.stdin:
        print(judge(pd.Series([line.rstrip("\n")])).iloc[0].to_dict())
