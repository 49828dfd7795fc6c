"""Rule cases as data: rows in, expected findings out, boundaries included.

Each rule's cases live in ``tests/checks/cases/<rule id>.yaml`` (the sqlfluff layout: one
file per rule, one generic test). A case names only the columns it is about; the factories
fill valid defaults (a tmall_global order O1 paid 2026-11-01, shipped 11-02, delivered 11-04
10:00 +08:00; a refund answered and refunded within the hour). The whole finding set must
match exactly, so a rule that fires where it should not fails the case too. Every rule has
at least one case where it fires and one where it does not.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml
from factories import address, message, order, refund, tables

from checks.audit import run_rules
from checks.profiles import load_profiles, timezones
from checks.registry import RULES
from schemas.validate import validate_tables

AS_OF = "2026-11-20T02:00:00+08:00"
P = load_profiles()
CASE_DIR = Path(__file__).parent / "cases"
FACTORIES = {"orders": order, "refunds": refund, "addresses": address, "messages": message}


def audit(orders=None, refunds=None, addresses=None, messages=None, as_of=AS_OF, window=30):
    raw = tables(orders=orders, refunds=refunds, addresses=addresses, messages=messages)
    v = validate_tables(raw, timezones(P))
    assert v.quarantine.empty, v.quarantine.to_dict("records")
    out = run_rules(v.tables, P, pd.Timestamp(as_of), window)
    return out.findings


def found(findings: pd.DataFrame) -> set[tuple[str, str, str]]:
    ids = findings["message_id"].where(findings["message_id"].notna(), findings["refund_id"])
    return set(zip(findings["rule_id"], findings["status"], ids, strict=True))


def _text(path: Path, name: str, row: dict) -> dict:
    """A case row as the CSV text it stands for; YAML's own dates, numbers and booleans are
    refused (``true`` unquoted would be read as YAML, not as the text the audit reads)."""
    for k, v in row.items():
        if v is not None and not isinstance(v, str):
            raise TypeError(f"{path.name}, case {name!r}: {k} = {v!r} is not text; quote it")
    return row


def load_cases() -> dict[str, dict]:
    """Every case of every rule file, keyed "<rule id>: <case name>"."""
    cases = {}
    for path in sorted(CASE_DIR.glob("*.yaml")):
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        assert doc["rule"] == path.stem, f"{path.name} holds the cases of {doc['rule']}"
        for case in doc["cases"]:
            unknown = set(case) - {"name", "expect", "as_of", "window", *FACTORIES}
            assert not unknown, f"{path.name}, case {case['name']!r}: unknown keys {unknown}"
            key = f"{doc['rule']}: {case['name']}"
            assert key not in cases, f"two cases named {key!r}"
            built = {t: [FACTORIES[t](**_text(path, case["name"], row)) for row in rows]
                     for t, rows in case.items() if t in FACTORIES}
            built.update({k: case[k] for k in ("as_of", "window") if k in case})
            built["expect"] = {tuple(e) for e in case["expect"]}
            cases[key] = {"rule": doc["rule"], **built}
    return cases


CASES = load_cases()


@pytest.mark.parametrize("name", list(CASES))
def test_rule_case(name):
    case = dict(CASES[name])
    case.pop("rule")
    expect = case.pop("expect")
    assert found(audit(**case)) == expect


@pytest.mark.parametrize("rule_id", [r.id for r in RULES])
def test_every_rule_has_a_firing_and_a_clean_case(rule_id):
    mine = [c for c in CASES.values() if c["rule"] == rule_id]
    fires = [c for c in mine if any(e[0] == rule_id for e in c["expect"])]
    clean = [c for c in mine if not any(e[0] == rule_id for e in c["expect"])]
    assert fires, f"no case in cases/{rule_id}.yaml where {rule_id} fires"
    assert clean, f"no case in cases/{rule_id}.yaml where {rule_id} does not fire"


def test_every_case_file_is_a_rule_of_the_catalog():
    ids = {r.id for r in RULES}
    assert {p.stem for p in CASE_DIR.glob("*.yaml")} <= ids


def test_overdue_hours_and_due_for_a_late_answer():
    f = audit(orders=[order(shipped_at=None, delivered_at=None)],
              refunds=[refund(first_response_at="2026-11-07T12:30:00+08:00",
                              decided_at="2026-11-07T12:30:00+08:00",
                              refunded_at="2026-11-07T13:00:00+08:00")])
    row = f.iloc[0]
    assert row["due_at"] == pd.Timestamp("2026-11-07T02:00:00Z")
    assert row["responded_at"] == pd.Timestamp("2026-11-07T04:30:00Z")
    assert row["overdue_hours"] == pytest.approx(2.5)


def test_at_risk_overdue_hours_are_negative_hours_left():
    f = audit(orders=[order(shipped_at=None, delivered_at=None)],
              refunds=[refund(requested_at="2026-11-18T20:00:00+08:00", first_response_at=None,
                              decision="pending", decided_at=None, refunded_at=None,
                              refunded_amount=None, updated_at=None)])
    assert f["overdue_hours"].tolist() == [pytest.approx(-18.0)]


EBAY = dict(platform="ebay_us", buyer_region="US", currency="USD", shipped_at=None,
            delivered_at=None)


@pytest.mark.parametrize(("requested", "responded", "expect"), [
    # Before 2020-05-01: 8 calendar days. Thu 2020-04-16 10:00 PDT → due Fri 04-24 10:00.
    ("2020-04-16T10:00:00-07:00", "2020-04-24T10:00:00-07:00", set()),
    ("2020-04-16T10:00:00-07:00", "2020-04-24T10:00:01-07:00", {("RT001", "violation", "R1")}),
    # From 2020-05-01: 3 business days. Thu 05-07 10:00 → Tue 05-12 10:00 (weekend skipped).
    ("2020-05-07T10:00:00-07:00", "2020-05-12T10:00:00-07:00", set()),
    ("2020-05-07T10:00:00-07:00", "2020-05-12T10:00:01-07:00", {("RT001", "violation", "R1")}),
])
def test_ebay_profile_version_in_force_at_the_request(requested, responded, expect):
    f = audit(orders=[order(**EBAY, paid_at="2020-04-01T10:00:00-07:00")],
              refunds=[refund(requested_at=requested, first_response_at=responded,
                              decided_at=responded, refunded_at=responded, updated_at=None)],
              as_of="2020-06-01T00:00:00Z", window=60)
    assert found(f) == expect
