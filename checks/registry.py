"""The rule catalog: an explicit list in id order. The report's catalog, `refund-audit rules`
and docs/rules.md are generated from it, so they cannot drift."""

from __future__ import annotations

from checks import conduct, dispute, response_time, return_address, seven_day
from checks.findings import Rule

#: Bump when a rule's population, deadline or meaning changes (recorded in run.json).
CATALOG_VERSION = "2026.11.1"

RULES: list[Rule] = [
    return_address.ra001.rule,
    return_address.ra002.rule,
    return_address.ra003.rule,
    return_address.ra004.rule,
    return_address.ra005.rule,
    return_address.ra006.rule,
    seven_day.sd001.rule,
    seven_day.sd002.rule,
    response_time.rt001.rule,
    response_time.rt002.rule,
    response_time.rt003.rule,
    response_time.rt004.rule,
    dispute.da001.rule,
    dispute.da002.rule,
    dispute.da003.rule,
    conduct.pc001.rule,
    conduct.pc002.rule,
]
BY_ID = {r.id: r for r in RULES}


def catalog() -> list[dict]:
    """Plain dicts for the report, run.json and the CLI."""
    return [{"id": r.id, "family": r.family, "severity": r.severity, "title": r.title,
             "action": r.action, "policy": r.policy, "source": r.source, "why": r.doc} for r in RULES]


def rules_markdown() -> str:
    """docs/rules.md, generated from the registry."""
    lines = ["# Rule catalog", "",
             f"Generated from `checks/registry.py` (catalog version {CATALOG_VERSION}); do not "
             "edit by hand — run `refund-audit rules --markdown > docs/rules.md`.", "",
             "| id | severity | title | policy | source |", "|---|---|---|---|---|"]
    for r in RULES:
        cells = [r.id, r.severity, r.title, r.policy, r.source]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    lines.append("")
    for r in RULES:
        lines += [f"## {r.id} — {r.title}", "", r.doc, ""]
    return "\n".join(lines)
