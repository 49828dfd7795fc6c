"""How much of each list a page or a mail body shows.

The mail body has a size budget (Gmail clips HTML above ~102 KB): a few rows per list and
the rest counted and pointed to the attached CSV and page. The page on disk shows more but
still caps every table so a shop with 50,000 findings opens quickly in a browser; the full
lists are in the CSV files.
"""

from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True)
class Caps:
    at_risk: int  # items due soon
    per_rule: int  # rows per rule among violations
    contestable: int  # rows per rule among contestable disputes
    changes: int  # rows of "changed since the last run"
    reasons: int  # set-aside reasons
    shops: int  # shops in the overview's ranking
    evidence: bool  # show each row's evidence fields
    detail: int  # characters of a row's detail


PAGE = Caps(at_risk=30, per_rule=5, contestable=5, changes=50, reasons=20, shops=10_000,
            evidence=True, detail=200)
MAIL = Caps(at_risk=15, per_rule=3, contestable=2, changes=10, reasons=5, shops=25,
            evidence=False, detail=140)


def page_caps(at_risk: int) -> Caps:
    """The page caps with another bound on the at-risk table (``write_reports(caps=...)``)."""
    return PAGE if at_risk == PAGE.at_risk else replace(PAGE, at_risk=at_risk)
