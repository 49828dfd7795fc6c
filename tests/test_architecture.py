"""House rules that keep the project's shape: imports point one way and the generated
docs are current."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from checks.registry import RULES, rules_markdown

ROOT = Path(__file__).resolve().parents[1]
# schemas ← checks ← reports ← flows; sources feeds flows. Nothing imports flows.
ALLOWED = {
    "schemas": {"schemas"},
    "checks": {"schemas", "checks"},
    "reports": {"schemas", "checks", "reports"},
    "sources": {"schemas", "sources"},
    "flows": {"schemas", "checks", "reports", "sources", "flows"},
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module.split(".")[0])
    return out


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_imports_point_one_way_and_only_flows_import_prefect(package):
    project = set(ALLOWED)
    for path in sorted((ROOT / package).rglob("*.py")):
        mods = _imports(path)
        assert not (mods & project) - ALLOWED[package], f"{path} imports {mods & project}"
        if package != "flows":
            assert not {"prefect", "prefect_dask"} & mods, f"{path} imports prefect"


def test_rule_ids_unique_in_order_and_metadata_complete():
    ids = [r.id for r in RULES]
    assert ids == sorted(ids, key=lambda i: ("RA", "SD", "RT", "DA", "PC").index(i[:2]) * 1000
                         + int(i[2:]))
    assert len(set(ids)) == len(ids) == 17
    for r in RULES:
        assert r.severity in {"critical", "major", "minor", "info"}
        assert r.title and r.policy and r.source and r.doc, r.id


def test_docs_rules_md_is_generated_from_the_registry():
    assert (ROOT / "docs" / "rules.md").read_text(encoding="utf-8") == rules_markdown(), (
        "docs/rules.md is stale: run `make docs`")
