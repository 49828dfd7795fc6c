"""Is a seller message hostile or a flat refusal? The building block of rule PC002.

The rule judges a message "by phrase, not by a single character inside an innocent word":
滚 is hostile, 滚筒洗衣机 is a washing machine. The phrases and the rules for matching them live
in ``data/hostile_phrases.yaml`` (with a comment on each group); this module compiles them into
one regex and applies it column-wise.

The regex is written for RE2 as well as Python's ``re``: pandas 3 hands a pyarrow-backed string
column to pyarrow's RE2 kernel unless the pattern needs Python (lookarounds, ``\\b``, ``\\w``,
``\\s``, ``$``), and the Python path is ~20x slower on 700k messages. So word boundaries are
spelled as explicit character classes that consume the neighbour instead of looking at it,
which is all a yes/no match needs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

__all__ = ["HostileLexicon", "hostile_mask", "load_lexicon", "matched_phrase"]

LEXICON_PATH = Path(__file__).parent / "data" / "hostile_phrases.yaml"

# CJK unified ideographs: basic block, extension A, compatibility block, extensions B-F.
# Literal characters rather than \u escapes: pandas sends \u patterns to Python's re.
HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002fa1f"
WORD = "A-Za-z0-9_"
SPACE = r" \t\r\n"
# Where a clause may start or end: sentence and clause punctuation, ASCII and full-width.
CLAUSE_MARK = r".!?;:,~。！？；：，…～、\r\n"


@dataclass(frozen=True)
class HostileLexicon:
    """The phrases, in match order, and their regex.

    ``pattern`` finds any phrase; ``alternatives[i]`` finds ``phrases[i]`` alone.
    """

    phrases: tuple[str, ...]
    alternatives: tuple[str, ...]
    pattern: str


def load_lexicon(path: Path | str = LEXICON_PATH) -> HostileLexicon:
    """Read and compile a phrase file (the shipped one by default)."""
    return _compile(Path(path).read_text(encoding="utf-8"))


@lru_cache(maxsize=1)
def _shipped() -> HostileLexicon:
    return load_lexicon()


def _compile(text: str) -> HostileLexicon:
    spec = yaml.safe_load(text)
    softeners = [s.lower() for s in spec.get("softeners", [])]
    entries = [entry for group in spec["groups"] for entry in group["phrases"]]
    # Longer phrases first, so that where two match at the same place (滚蛋, 滚) the more
    # telling one is reported.
    entries.sort(key=lambda entry: -len(entry["phrase"]))
    phrases = tuple(str(entry["phrase"]).strip() for entry in entries)
    alternatives = tuple(_alternative(entry, softeners) for entry in entries)
    return HostileLexicon(phrases, alternatives, "(?i)" + "|".join(alternatives))


def _alternative(entry: dict, softeners: list[str]) -> str:
    """One phrase's regex, neighbour conditions included; no capturing groups."""
    phrase = str(entry["phrase"]).strip()
    if not phrase:
        raise ValueError("empty phrase in the hostile phrase lexicon")
    if phrase.isascii():
        if entry.get("standalone"):
            raise ValueError(f"standalone is for single Chinese characters: {phrase!r}")
        core = f"(?:{_english(phrase)})"
        if entry.get("clause"):
            soft = "|".join(re.escape(s) for s in softeners)
            lead = f"(?:(?:{soft})[{SPACE},]+)*" if soft else ""
            tail = f"(?:[{SPACE},]+(?:{soft}))*" if soft else ""
            return (
                f"(?:\\A|[{CLAUSE_MARK}])[{SPACE}]*{lead}{core}{tail}"
                f"[{SPACE}]*(?:[{CLAUSE_MARK}]|\\Z)"
            )
        return f"(?:\\A|[^{WORD}]){core}(?:[^{WORD}-]|\\Z)"
    if entry.get("clause"):
        raise ValueError(f"clause is for English phrases: {phrase!r}")
    core = re.escape(phrase)
    if not entry.get("standalone"):
        return core
    before = _chars(entry.get("before", ""))
    after = _chars(entry.get("after", ""))
    return f"(?:\\A|[^{HAN}]{before}){core}(?:[^{HAN}]{after}|\\Z)"


def _english(phrase: str) -> str:
    """Words joined by any whitespace; ' matches ' ’ or nothing; a trailing comma optional."""
    words = []
    for word in phrase.split():
        comma = word.endswith(",")
        body = re.escape(word.rstrip(",")).replace("'", "['’]?")
        words.append((body + "[,，]?" if comma else body, comma))
    pattern = words[0][0]
    for (_, comma_before), (body, _) in zip(words, words[1:], strict=False):
        pattern += (f"[{SPACE}]*" if comma_before else f"[{SPACE}]+") + body
    return pattern


def _chars(characters: str) -> str:
    return f"|[{re.escape(characters)}]" if characters else ""


def _as_arrow_strings(texts: pd.Series) -> pd.Series:
    # The RE2 kernel needs pyarrow-backed strings; object columns would take Python's re.
    dtype = texts.dtype
    if isinstance(dtype, pd.StringDtype) and dtype.storage == "pyarrow":
        return texts
    return texts.astype(pd.StringDtype("pyarrow"))


def hostile_mask(texts: pd.Series, lexicon: HostileLexicon | None = None) -> pd.Series:
    """True where a message contains a hostile or flat-refusal phrase; missing text is False."""
    lexicon = lexicon or _shipped()
    hits = _as_arrow_strings(texts).str.contains(lexicon.pattern, regex=True)
    return hits.fillna(False).astype(bool).rename(texts.name)


def matched_phrase(texts: pd.Series, lexicon: HostileLexicon | None = None) -> pd.Series:
    """The lexicon phrase found in each message, else NA; the longest when several match.

    For the finding's detail: the phrase as written in the lexicon, not as the seller typed
    it ("not my problem" for "Not my problem."). Only the matching rows are searched again,
    phrase by phrase (pandas' extract would take Python's re for these strings).
    """
    lexicon = lexicon or _shipped()
    mask = hostile_mask(texts, lexicon)
    result = pd.Series(pd.NA, index=texts.index, dtype="string", name=texts.name)
    if not mask.any():
        return result
    hits = _as_arrow_strings(texts[mask]).reset_index(drop=True)
    found = np.full(len(hits), None, dtype=object)
    for phrase, pattern in zip(lexicon.phrases, lexicon.alternatives, strict=True):
        # Phrases are ordered longest first, so a phrase already found is never replaced.
        todo = np.flatnonzero(pd.isna(found))
        if todo.size == 0:
            break
        hit = hits.iloc[todo].str.contains("(?i)" + pattern, regex=True).fillna(False)
        found[todo[hit.to_numpy(dtype=bool)]] = phrase
    result[mask.to_numpy()] = found
    return result
