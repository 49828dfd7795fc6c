"""Masking of personal data before it reaches anything a person reads.

Buyers write phone numbers, e-mail addresses, ID-card numbers, bank-card numbers and street
addresses into their messages; those messages are shown as evidence, mailed, and attached.
Structured fields (a phone column, a recipient name) are masked by what they are
(``138****5678``, ``张*``); free text is searched:

- phone numbers of any country: ``phonenumbers.PhoneNumberMatcher`` (libphonenumber's
  metadata), strictly valid numbers for a set of regions, then merely possible numbers that
  look like a phone (7-12 digits), so ``(415) 555-0123`` and ``555-0123`` are both caught;
- e-mail addresses (a plain pattern: the shape is all there is to find);
- Chinese resident ID numbers (18 characters whose date and check digit are valid:
  ``stdnum.cn.ric``) and bank-card numbers (13-19 digits starting 2-6 with a valid Luhn
  digit: ``stdnum.luhn``), so an order id that merely has 18 digits stays readable;
- addresses only where the shape is unambiguous: a Chinese division (区/县/旗) followed by a
  street and a house number (…路100号), a US street line (123 Main St), and a name after a
  label (收件人：张三, Name: …). Names elsewhere in free text are not found: that needs a
  language model, which we do not ship.

Presidio was considered: its pattern recognisers do the same with the same libraries
underneath, but the analyzer package pulls in spaCy; these few patterns are cheaper to keep.

Ids stay readable: the team needs them to find the record. It is fast because almost no
text needs the expensive part: ``mask_text`` first looks for something a finding could be
(seven digits in a row, an ``@``, 号, a house number) and returns the text untouched
otherwise; ``mask_series`` does the same per distinct value of a column.

Masking is on unless turned off (``set_masking(False)``; the flow does that from the setting
``REFUND_AUDIT_MASK_PERSONAL_DATA=false``, meant for internal use on trusted machines).
"""

from __future__ import annotations

import contextlib
import math
import re
from collections.abc import Iterator
from functools import lru_cache
from typing import Any

import pandas as pd
from phonenumbers import Leniency, PhoneNumberMatcher
from stdnum import luhn
from stdnum.cn import ric

from checks.lazy_re import LazyPattern

#: Evidence keys whose value is a person's name (compared lower-cased).
NAME_KEYS = frozenset(
    {"recipient", "name", "buyer_name", "buyer", "buyer_nick", "receiver", "consignee", "contact"}
)
#: Evidence keys whose value is a phone number (also any key ending in ``_phone``/``_mobile``).
PHONE_KEYS = frozenset({"phone", "mobile", "tel", "telephone"})
#: Evidence keys holding free text someone wrote; personal data inside is masked.
TEXT_KEYS = frozenset({"text", "message", "body", "content"})

#: Regions whose national number formats are looked for (international +… numbers are found
#: whatever the region). The platforms' markets first, then common buyer origins.
PHONE_REGIONS = ("CN", "HK", "MO", "TW", "US", "GB", "JP", "KR", "DE", "FR", "SG", "AU")
#: Regions for the second, "possible number" pass (only phone-shaped matches are kept).
LOOSE_REGIONS = ("CN", "US", "HK", "GB", "JP", "DE")

_enabled = True


def set_masking(enabled: bool) -> None:
    """Turn masking on or off for this process (off: for internal use only)."""
    global _enabled
    _enabled = bool(enabled)


def masking_enabled() -> bool:
    return _enabled


@contextlib.contextmanager
def masking(enabled: bool) -> Iterator[None]:
    before = _enabled
    set_masking(enabled)
    try:
        yield
    finally:
        set_masking(before)


def _is_missing(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return value is pd.NaT or value is pd.NA


def mask_phone(value: Any) -> str:
    """``13812345678`` → ``138****5678``.

    Keeps the first 3 and last 4 digits of numbers with 11 or more digits; shorter numbers
    keep less (9–10 digits: 2 + 2, 7–8: 1 + 2, 5–6: 1 + 1, up to 4: nothing) so that at
    least half of the digits are always hidden. Separators are dropped; a leading ``+`` is
    kept. A value without digits is replaced by stars of the same length (at most 8).
    """
    if _is_missing(value):
        return ""
    text = str(value).strip()
    if not _enabled:
        return text
    digits = re.sub(r"[^0-9]", "", _ascii_digits(text))
    if not digits:
        return "*" * min(len(text), 8)
    n = len(digits)
    if n >= 11:
        head, tail = 3, 4
    elif n >= 9:
        head, tail = 2, 2
    elif n >= 7:
        head, tail = 1, 2
    elif n >= 5:
        head, tail = 1, 1
    else:
        head, tail = 0, 0
    masked = digits[:head] + "*" * (n - head - tail) + (digits[n - tail :] if tail else "")
    return ("+" if text.startswith(("+", "＋")) else "") + masked


def mask_name(value: Any) -> str:
    """``张三`` → ``张*``, ``John Smith`` → ``J*** S****``.

    Each whitespace-separated word keeps its first character and every other character
    becomes ``*``; a one-character name becomes ``*`` (keeping it would show it whole).
    """
    if _is_missing(value):
        return ""
    text = str(value).strip()
    if not _enabled:
        return text
    words = text.split()
    if len(words) == 1 and len(text) == 1:
        return "*"
    return " ".join(w[0] + "*" * (len(w) - 1) for w in words)


# --------------------------------------------------------------------------- free text

_FULLWIDTH = str.maketrans("０１２３４５６７８９＋（）－", "0123456789+()-")
_DIGIT = "[0-9０-９]"
# Something worth the expensive search: 7 digits with at most one separator between
# neighbours, an @, a house number (号 or "12 Main"), a label before a name.
_CANDIDATE = re.compile(
    rf"{_DIGIT}(?:[ \-–.()/\u00a0]?{_DIGIT}){{6,}}|[@＠]|{_DIGIT}+ *号"
    r"|(?<![0-9A-Za-z])[0-9]{1,6} [A-Z][a-z]+|(?:收件人|收货人|联系人|姓名|(?i:name))\s*[:：]"
)
# Our own timestamps ("2026-11-20 02:00 UTC", ISO 8601) are not phone numbers; they are
# removed before deciding whether a text needs the search (phonenumbers skips them too).
_TIMESTAMP = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}(?:[ T][0-9]{2}:[0-9]{2}(?::[0-9]{2})?)?")

_EMAIL = LazyPattern(
    r"(?<![A-Za-z0-9._%+-])([A-Za-z0-9][A-Za-z0-9._%+-]*)[@＠]"
    r"((?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)+[A-Za-z]{2,})(?![A-Za-z0-9-])"
)
_RIC = LazyPattern(r"(?<![0-9A-Za-z])[1-9][0-9]{16}[0-9Xx](?![0-9A-Za-z])")
# 13-19 digits, optionally in groups separated by one space or dash; IINs start with 2-6.
_CARD = LazyPattern(r"(?<![0-9])[2-6][0-9](?:[ -]?[0-9]){11,17}(?![0-9])")
_CN_ADDRESS = LazyPattern(
    r"((?:[\u4e00-\u9fff]{2,8}?(?:省|自治区|市))?(?:[\u4e00-\u9fff]{1,8}?(?:市|州|盟|地区))?"
    r"[\u4e00-\u9fff]{1,8}?(?:区|县|旗))"
    r"([\u4e00-\u9fff0-9A-Za-z]{1,20}?(?:路|街|大道|道|巷|弄|胡同|里)"
    r"[0-9一二三四五六七八九十百零-]+号(?:[0-9A-Za-z一二三四五六七八九十-]+(?:栋|幢|楼|单元|室))*)"
)
_US_STREET = LazyPattern(
    r"(?<![0-9A-Za-z])[0-9]{1,6}(?: [A-Z][A-Za-z]*\.?){1,3} "
    r"(?:St|Street|Ave|Avenue|Rd|Road|Blvd|Boulevard|Dr|Drive|Ln|Lane|Way|Ct|Court|Pl|Place"
    r"|Ter|Terrace|Pkwy|Parkway|Hwy|Highway|Sq|Square)\b\.?"
    r"(?:,? (?:Apt|Apartment|Suite|Ste|Unit|#) ?[0-9A-Za-z-]+)?"
)
_LABELLED_NAME = LazyPattern(
    r"((?:收件人|收货人|联系人|姓名)\s*[:：]\s*)([\u4e00-\u9fff·]{1,5})"
    r"|((?<![A-Za-z])name\s*[:：]\s*)([A-Z][a-z]+(?: [A-Z][a-z]+){0,2})",
    re.IGNORECASE,
)


def _ascii_digits(text: str) -> str:
    return text.translate(_FULLWIDTH)


def needs_masking(text: str) -> bool:
    """Whether ``text`` could hold anything ``mask_text`` masks (the cheap prefilter)."""
    return _CANDIDATE.search(_TIMESTAMP.sub(" ", text)) is not None


def _mask_email(m: re.Match) -> str:
    local, domain = m.group(1), m.group(2)
    tld = domain.rsplit(".", 1)[1]
    return f"{local[0]}***@***.{tld}"


def _mask_ric(m: re.Match) -> str:
    raw = m.group(0)
    return raw[:3] + "*" * 11 + raw[-4:] if ric.is_valid(raw) else raw


def _mask_card(m: re.Match) -> str:
    raw = m.group(0)
    digits = re.sub(r"[^0-9]", "", raw)
    if not 13 <= len(digits) <= 19 or not luhn.is_valid(digits):
        return raw
    return "*" * (len(digits) - 4) + digits[-4:]


# A plain group of 7-12 ASCII digits with no other digit, plus sign or bracket joined to it
# by phone punctuation, and no digit in the 20 characters after it: the search below always
# finds exactly this group (a "possible number" of that length standing alone) and masks it
# whole, so it is masked directly. That is the common case in rule sentences and messages,
# and it costs microseconds instead of 18 matcher passes (~0.8 ms). Anything less plain
# (separators inside, a country code, an extension, digits close by) is left to the search;
# ``tests/reports/test_report_mask.py`` compares both ways on random texts.
_PLAIN_RUN = re.compile(r"(?<![0-9０-９])[0-9]{7,12}(?![0-9０-９])(?![^0-9０-９]{0,20}[0-9０-９])")
_PHONE_PUNCT = frozenset(" \u00a0-–‐‑‒—.()/[]（）［］\t")
_JOINS = frozenset("0123456789０１２３４５６７８９+＋")


# What the search could still find once the plain groups are masked: 4 or more digits with
# at most 3 other characters between neighbours (the shortest valid national numbers, in
# Germany, have 4 digits), or a plus sign before a digit. Where any is left, the whole text
# goes to the search as before.
_LEFT_FOR_SEARCH = re.compile(r"[+＋][^0-9０-９]{0,3}[0-9０-９]|[0-9０-９](?:[^0-9０-９*]{0,3}[0-9０-９]){3,}")


def _mask_plain_run(m: re.Match) -> str:
    text, i = m.string, m.start() - 1
    while i >= 0 and text[i] in _PHONE_PUNCT:
        i -= 1
    if i >= 0 and text[i] in _JOINS:
        return m.group(0)  # part of a longer number: the search decides
    if m.start() and text[m.start() - 1] in "([（［":
        return m.group(0)
    end = m.end()
    if end < len(text) and text[end] in ")]）］":
        return m.group(0)
    return mask_phone(m.group(0))


def _phone_spans(text: str) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    for region in PHONE_REGIONS:
        spans += [(m.start, m.end) for m in PhoneNumberMatcher(text, region, Leniency.VALID)]
    for region in LOOSE_REGIONS:
        for m in PhoneNumberMatcher(text, region, Leniency.POSSIBLE):
            digits = sum(c.isdigit() for c in m.raw_string)
            # A possible number is kept only when it has a phone's length and stands alone:
            # long digit runs (order ids) and short ones (amounts, years) stay.
            before = text[m.start - 1] if m.start else ""
            after = text[m.end] if m.end < len(text) else ""
            if 7 <= digits <= 12 and not before.isdigit() and not after.isdigit():
                spans.append((m.start, m.end))
    return _merge(spans)


def _merge(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if out and start < out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


def _mask_phones(text: str, shortcut: bool = True) -> str:
    if shortcut:
        plain = _PLAIN_RUN.sub(_mask_plain_run, text)
        if _LEFT_FOR_SEARCH.search(plain) is None:  # only plain groups were there
            return plain
    spans = _phone_spans(text)
    for start, end in reversed(spans):
        text = text[:start] + mask_phone(text[start:end]) + text[end:]
    return text


def _mask_street_words(m: re.Match) -> str:
    # every word hidden, the spaces kept: the reader still sees that an address was there
    return " ".join("*" * len(w) for w in m.group(0).split(" "))


def _mask_labelled_name(m: re.Match) -> str:
    if m.group(1) is not None:
        return m.group(1) + mask_name(m.group(2))
    return m.group(3) + mask_name(m.group(4))


def _mask_text_reference(text: str) -> str:
    """``_mask_text`` without the plain-group shortcut (every phone found by the search);
    kept for the test that compares both."""
    return _mask_text(text, shortcut=False)


@lru_cache(maxsize=65536)
def _mask_text(text: str, shortcut: bool = True) -> str:
    if not needs_masking(text):
        return text
    text = _RIC.sub(_mask_ric, text)
    text = _CARD.sub(_mask_card, text)
    # each pattern below needs a character the text may not have: checked first (cheap)
    if "@" in text or "＠" in text:
        text = _EMAIL.sub(_mask_email, text)
    if "号" in text:
        text = _CN_ADDRESS.sub(lambda m: m.group(1) + "*" * len(m.group(2)), text)
    text = _US_STREET.sub(_mask_street_words, text)
    if ":" in text or "：" in text:
        text = _LABELLED_NAME.sub(_mask_labelled_name, text)
    return _mask_phones(text, shortcut)


def mask_text(value: Any) -> Any:
    """Mask the personal data inside free text (see the module docstring); anything that is
    not a string is returned as is."""
    if not _enabled or not isinstance(value, str) or not value:
        return value
    return _mask_text(value)


# The same prefilter in the syntax pyarrow's RE2 engine runs (no look-behind), for columns.
_CANDIDATE_RE2 = (
    rf"{_DIGIT}(?:[ \-–.()/\x{{a0}}]?{_DIGIT}){{6,}}|[@＠]|{_DIGIT}+ *号|[0-9]{{1,6}} [A-Z][a-z]+"
    r"|(?:收件人|收货人|联系人|姓名|[Nn][Aa][Mm][Ee])[ \t]*[:：]"
)


def mask_series(values: pd.Series) -> pd.Series:
    """``mask_text`` over a column: the prefilter runs vectorised (pyarrow), the search once
    per distinct value it lets through (a findings detail column is nearly all skipped)."""
    if not _enabled or values.empty:
        return values
    text = values.astype("string[pyarrow]")
    hits = (
        text.str.replace(_TIMESTAMP.pattern, " ", regex=True)
        .str.contains(_CANDIDATE_RE2, regex=True)
        .fillna(False)
        .to_numpy(dtype=bool)
    )
    if not hits.any():
        return values
    changed = {}
    for v in pd.unique(values[hits].to_numpy(dtype=object)):
        if isinstance(v, str):
            masked = _mask_text(v)
            if masked != v:
                changed[v] = masked
    if not changed:
        return values
    out = values.copy()
    out[hits] = values[hits].map(lambda v: changed.get(v, v))
    return out


def mask_phones_in_text(value: str) -> str:
    """Kept for callers of the first version: every kind of personal data is masked now."""
    return mask_text(value)


def is_name_key(key: str) -> bool:
    return key.lower() in NAME_KEYS


def is_phone_key(key: str) -> bool:
    k = key.lower()
    return k in PHONE_KEYS or k.endswith(("_phone", "_mobile", "_tel"))


@lru_cache(maxsize=1024)
def mask_kind(key: str) -> str:
    """``phone``, ``name``, ``text`` (free text: personal data inside masked) or ``""``."""
    if is_phone_key(key):
        return "phone"
    if is_name_key(key):
        return "name"
    k = key.lower()
    return "text" if k in TEXT_KEYS or k.endswith(("_text", "_message")) else ""


def mask_field(key: str, value: Any) -> Any:
    """Mask ``value`` if ``key`` names personal data; otherwise return it unchanged."""
    kind = mask_kind(key)
    if not kind or not _enabled:
        return value
    if kind == "phone":
        return mask_phone(value)
    if kind == "name":
        return mask_name(value)
    return mask_text(value) if isinstance(value, str) else value


__all__ = [
    "mask_field",
    "mask_kind",
    "mask_name",
    "mask_phone",
    "mask_series",
    "mask_text",
    "masking",
    "masking_enabled",
    "needs_masking",
    "set_masking",
]
