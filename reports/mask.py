"""Masking of buyer personal data before it reaches a report, a mail body or a log.

The report shows buyer phone numbers and names only masked (``138****5678``, ``张*``).
Ids stay readable: the team needs them to find the record. Everything here is a pure
string function so the HTML context, the plain-text mail and any future output share one
definition of "masked".
"""

from __future__ import annotations

import math
import re
from functools import lru_cache
from typing import Any

import pandas as pd

#: Evidence keys whose value is a person's name (compared lower-cased).
NAME_KEYS = frozenset(
    {"recipient", "name", "buyer_name", "buyer", "buyer_nick", "receiver", "consignee", "contact"}
)
#: Evidence keys whose value is a phone number (also any key ending in ``_phone``/``_mobile``).
PHONE_KEYS = frozenset({"phone", "mobile", "tel", "telephone"})
#: Evidence keys holding free text a buyer or seller wrote; phone-like numbers inside are masked.
TEXT_KEYS = frozenset({"text", "message", "body", "content"})

# A mainland mobile number standing alone in free text (not part of a longer digit run,
# so order ids and amounts are left alone).
_MOBILE_IN_TEXT = re.compile(r"(?<![0-9])(?:\+?86[- ]?)?1[3-9][0-9](?:[- ]?[0-9]{4}){2}(?![0-9])")


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
    least half of the digits are always hidden. Separators are dropped; a leading ``+`` is kept. A value
    without digits is replaced by stars of the same length (at most 8).
    """
    if _is_missing(value):
        return ""
    text = str(value).strip()
    digits = re.sub(r"[^0-9]", "", text)
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
    return ("+" if text.startswith("+") else "") + masked


def mask_name(value: Any) -> str:
    """``张三`` → ``张*``, ``John Smith`` → ``J*** S****``.

    Each whitespace-separated word keeps its first character and every other character
    becomes ``*``; a one-character name becomes ``*`` (keeping it would show it whole).
    """
    if _is_missing(value):
        return ""
    text = str(value).strip()
    words = text.split()
    if len(words) == 1 and len(text) == 1:
        return "*"
    return " ".join(w[0] + "*" * (len(w) - 1) for w in words)


def mask_phones_in_text(value: str) -> str:
    """Mask every stand-alone mainland mobile number inside free text."""
    return _MOBILE_IN_TEXT.sub(lambda m: mask_phone(m.group(0)), value)


def is_name_key(key: str) -> bool:
    return key.lower() in NAME_KEYS


def is_phone_key(key: str) -> bool:
    k = key.lower()
    return k in PHONE_KEYS or k.endswith(("_phone", "_mobile", "_tel"))


@lru_cache(maxsize=1024)
def mask_kind(key: str) -> str:
    """``phone``, ``name``, ``text`` (free text: phones inside masked) or ``""`` (as is)."""
    if is_phone_key(key):
        return "phone"
    if is_name_key(key):
        return "name"
    return "text" if key.lower() in TEXT_KEYS else ""


def mask_field(key: str, value: Any) -> Any:
    """Mask ``value`` if ``key`` names personal data; otherwise return it unchanged."""
    kind = mask_kind(key)
    if not kind:
        return value
    if kind == "phone":
        return mask_phone(value)
    if kind == "name":
        return mask_name(value)
    return mask_phones_in_text(value) if isinstance(value, str) else value
