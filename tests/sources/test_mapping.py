"""Back-end exports read through a column mapping (sources.mapping).

Two fixtures: a synthetic Tmall-style refund export in GBK whose contract twin is in the same
fixture folder (tests/fixtures/tmall_refund_export/SOURCE.md), and a 300-row slice of a real
Tmall order report with trailing spaces in its header and CRLF line endings
(tests/fixtures/tmall_order_report/SOURCE.md).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import factories as F
import pandas as pd
import pytest

from checks.audit import run_rules
from checks.profiles import load_profiles, timezones
from schemas.errors import InputError
from schemas.validate import validate_tables
from sources.base import CsvFolder, open_source
from sources.mapping import ColumnRule, TableMapping, apply_mapping, load_mapping
from sources.writers import write_csv_folder

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
REFUND_EXPORT = FIXTURES / "tmall_refund_export"
ORDER_REPORT = FIXTURES / "tmall_order_report"
PROFILES = load_profiles(None)
TZ = timezones(PROFILES)
AS_OF = "2026-11-20T02:00:00+08:00"


# -- the mapping file ---------------------------------------------------------------------
def _mapping_file(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "m.yaml"
    p.write_text(text, encoding="utf-8")
    return p


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("tables: {refundz: {}}", "unknown table 'refundz'"),
        (
            "tables: {refunds: {columns: {refund_no: 退款编号}}}",
            "refunds.refund_no is not an input column",
        ),
        (
            "tables: {refunds: {columns: {kind: {from: 类型, values: {仅退款: refund}}}}}",
            r"maps to \['refund'\], not in the documented values",
        ),
        (
            "tables: {refunds: {columns: {kind: {values: {仅退款: refund_only}}}}}",
            "needs 'from', 'constant' or 'default'",
        ),
        (
            "tables: {refunds: {columns: {kind: {from: 类型, value: {}}}}}",
            r"unknown key\(s\) \['value'\]",
        ),
        ("tables: [1, 2]", "needs a 'tables' section"),
        ("tables: {refunds: {columns: {kind: [unclosed}", "not valid YAML"),
    ],
)
def test_bad_mapping_file_names_file_and_key(tmp_path, text, message):
    p = _mapping_file(tmp_path, text)
    with pytest.raises(InputError, match=message) as exc:
        load_mapping(p)
    assert str(p) in str(exc.value)


def test_unknown_mapping_name_lists_the_shipped_ones():
    with pytest.raises(InputError, match="tmall_refund_export"):
        load_mapping("no_such_mapping")


def test_toml_mapping(tmp_path):
    p = tmp_path / "m.toml"
    p.write_text(
        '[tables.orders.columns]\norder_id = "订单号"\nplatform = {constant = "tmall"}\n',
        encoding="utf-8",
    )
    m = load_mapping(p)
    assert m.tables["orders"].rules["platform"].constant == "tmall"
    assert m.tables["orders"].rules["order_id"].sources == ("订单号",)


def test_apply_mapping_values_otherwise_default_format_strip():
    tm = TableMapping(
        "refunds",
        ("x.csv",),
        {
            "reason": ColumnRule(
                "reason", ("退款原因",), values={"质量问题": "quality"}, otherwise="other"
            ),
            "decision": ColumnRule(
                "decision", ("处理结果",), values={"同意": "agreed"}, default="pending"
            ),
            "requested_at": ColumnRule(
                "requested_at", ("申请时间", "退款申请时间"), formats=("%Y/%m/%d %H:%M:%S",)
            ),
            "amount": ColumnRule("amount", ("退款金额",), strip="￥,"),
            "ruling": ColumnRule("ruling", ("客服判定",), default="none"),
        },
    )
    raw = pd.DataFrame(
        {
            "退款原因 ": ["质量问题", "少件", "", None],
            "处理结果": ["同意", "", None, "驳回"],
            " 退款申请时间": ["2026/11/05 10:00:00", "2026-11-05T10:00:00+08:00", "昨天", ""],
            "退款金额": ["￥1,299.00", "12", "abc", None],
            "refund_id": ["R1", "R2", "R3", "R4"],  # contract-named columns pass through
        },
        dtype="str",
    )
    out = apply_mapping(raw, tm, "x.csv")
    assert out["reason"].tolist()[:2] == ["quality", "other"]
    assert out["reason"].fillna("").tolist()[2:] == ["", ""]  # empty stays empty
    assert out["decision"].tolist() == ["agreed", "pending", "pending", "驳回"]
    assert out["requested_at"].tolist()[:3] == [
        "2026-11-05T10:00:00",
        "2026-11-05T10:00:00+08:00",
        "昨天",
    ]
    assert out["amount"].tolist()[:3] == ["1299.00", "12", "abc"]
    assert out["ruling"].tolist() == ["none"] * 4
    assert out["refund_id"].tolist() == ["R1", "R2", "R3", "R4"]
    assert len(out) == len(raw)


def test_apply_mapping_missing_required_source_names_it():
    tm = TableMapping(
        "refunds", ("x.csv",), {"refund_id": ColumnRule("refund_id", ("退款编号", "售后单号"))}
    )
    with pytest.raises(InputError, match=r"none of the columns \['退款编号', '售后单号'\]"):
        apply_mapping(pd.DataFrame({"别的": ["1"]}), tm, "x.csv")


# -- the Tmall-style refund export (GBK) ---------------------------------------------------
def _validated(source: str, **kw):
    return validate_tables(open_source(source, **kw).read(), TZ)


def test_refund_export_through_mapping_equals_contract_twin():
    mapped = _validated(
        str(REFUND_EXPORT / "export"), encoding="gbk", mapping="tmall_refund_export"
    )
    plain = _validated(str(REFUND_EXPORT / "contract"))
    assert mapped.counts == plain.counts
    assert mapped.counts["refunds"] == {"read": 11, "valid": 9, "quarantined": 1, "superseded": 1}
    for t in mapped.tables:
        pd.testing.assert_frame_equal(mapped.tables[t], plain.tables[t])
    pd.testing.assert_frame_equal(mapped.quarantine, plain.quarantine)
    q = mapped.quarantine
    assert q[["row_key", "column", "value"]].values.tolist() == [["TR8", "kind", "换货"]]

    out = run_rules(mapped.tables, PROFILES, pd.Timestamp(AS_OF))
    got = set(zip(out.findings["rule_id"], out.findings["refund_id"], strict=True))
    assert {("RA001", "TR1"), ("SD001", "TR2"), ("RT001", "TR3"), ("DA003", "TR5")} <= got
    reasons = mapped.tables["refunds"].set_index("refund_id")["reason"]
    assert reasons["TR7"] == "other" and reasons["TR9"] == "wrong_item"
    assert mapped.tables["refunds"].set_index("refund_id").loc["TR9", "amount"] == 1299.0


def test_refund_export_read_as_utf8_names_gbk():
    with pytest.raises(InputError, match="GBK") as exc:
        open_source(str(REFUND_EXPORT / "export"), mapping="tmall_refund_export").read()
    assert "--encoding gbk" in str(exc.value)


def test_several_exports_are_all_read(tmp_path):
    folder = tmp_path / "exports"
    shutil.copytree(REFUND_EXPORT / "export", folder)
    first = next(folder.glob("退款管理导出*.csv"))
    shutil.copy(first, folder / "退款管理导出20261121.csv")
    v = _validated(str(folder), encoding="gbk", mapping="tmall_refund_export")
    # the second day's file repeats every row: exact copies collapse to the first
    assert v.counts["refunds"] == {"read": 22, "valid": 9, "quarantined": 1, "superseded": 12}


def test_mapping_on_a_database_source_is_refused(tmp_path):
    with pytest.raises(InputError, match="applies to a folder"):
        open_source(f"sqlite:///{tmp_path}/x.sqlite", mapping="tmall_refund_export")


# -- the real Tmall order report ------------------------------------------------------------
def _order_report_folder(folder: Path, as_orders_csv: bool) -> Path:
    """The report next to contract-format refunds (one unanswered request on order 2, paid
    2020-02-21 00:00:02 Shanghai time) and an empty address book."""
    folder.mkdir(parents=True)
    src = ORDER_REPORT / "tmall_order_report.csv"
    shutil.copy(src, folder / ("orders.csv" if as_orders_csv else src.name))
    refund = F.refund(
        order_id="2",
        requested_at="2020-02-22T10:00:00+08:00",
        amount="10",
        decision="pending",
        first_response_at=None,
        decided_at=None,
        refunded_at=None,
        refunded_amount=None,
        updated_at=None,
    )
    t = F.tables(refunds=[refund], addresses=[], with_messages=False)
    write_csv_folder({n: t[n] for n in ("refunds", "return_addresses")}, folder)
    return folder


def test_order_report_fixture_keeps_its_quirks():
    raw = (ORDER_REPORT / "tmall_order_report.csv").read_bytes()
    header = raw.split(b"\r\n", 1)[0].decode("utf-8")
    assert "收货地址 ," in header and "订单付款时间 ," in header
    assert raw.count(b"\r\n") == 301


def test_order_report_without_mapping_names_the_missing_column(tmp_path):
    folder = _order_report_folder(tmp_path / "report", as_orders_csv=True)
    with pytest.raises(InputError, match="missing the required column 'order_id'"):
        _validated(str(folder))


def test_order_report_with_mapping_reads_and_validates(tmp_path):
    folder = _order_report_folder(tmp_path / "report", as_orders_csv=False)
    raw = CsvFolder(folder, mapping="tmall_order_report").read()
    o = raw["orders"]
    assert len(o) == 300
    assert set(o["platform"]) == {"tmall"} and set(o["buyer_region"]) == {"CN"}
    v = validate_tables(raw, TZ)
    assert v.counts["orders"] == {"read": 300, "valid": 262, "quarantined": 38, "superseded": 0}
    q = v.quarantine[v.quarantine["table"] == "orders"]
    assert set(q["column"]) == {"paid_at"} and set(q["check"]) == {"missing"}
    paid = v.tables["orders"].set_index("order_id")["paid_at"]
    # "2020-02-21 00:00:02" is Shanghai local time (the tmall profile's zone)
    assert paid["2"] == pd.Timestamp("2020-02-20T16:00:02Z")
    assert v.counts["refunds"]["valid"] == 1
    out = run_rules(v.tables, PROFILES, pd.Timestamp("2020-03-01T00:00:00+08:00"))
    assert out.findings[["rule_id", "refund_id"]].values.tolist() == [["RT001", "R1"]]


# -- through the CLI, as a user runs it -----------------------------------------------------
def _run(cli, *args: str, env_extra: dict | None = None) -> subprocess.CompletedProcess:
    import os

    env = {k: v for k, v in os.environ.items() if k != "REFUND_AUDIT_MAPPING"}
    env.update(env_extra or {})
    return subprocess.run(
        [*cli, "run", *args], capture_output=True, text=True, env=env, timeout=300
    )


@pytest.mark.prefect
def test_cli_refund_export_with_mapping_and_gbk(cli, tmp_path):
    out = tmp_path / "out"
    res = _run(
        cli,
        "--source",
        str(REFUND_EXPORT / "export"),
        "--mapping",
        "tmall_refund_export",
        "--encoding",
        "gbk",
        "--as-of",
        AS_OF,
        "--out",
        str(out),
    )
    assert res.returncode == 0, res.stderr
    run = json.loads((out / "run.json").read_text(encoding="utf-8"))
    assert run["counts"]["refunds"]["read"] == 11
    assert run["findings"]["SD001"]


@pytest.mark.prefect
def test_cli_gbk_export_without_encoding_exits_2_naming_gbk(cli, tmp_path):
    out = tmp_path / "out"
    res = _run(cli, "--source", str(REFUND_EXPORT / "export"), "--as-of", AS_OF, "--out", str(out))
    assert res.returncode == 2, res.stdout + res.stderr
    assert "GBK" in res.stderr and "--encoding gbk" in res.stderr
    assert "Traceback" not in res.stderr
    assert not (out / "run.json").exists() and not (out / "findings.csv").exists()


@pytest.mark.prefect
def test_cli_order_report_missing_column_then_mapped(cli, tmp_path):
    bare = _order_report_folder(tmp_path / "bare", as_orders_csv=True)
    out = tmp_path / "out1"
    res = _run(
        cli, "--source", str(bare), "--as-of", "2020-03-01T00:00:00+08:00", "--out", str(out)
    )
    assert res.returncode == 2, res.stdout + res.stderr
    assert "'order_id'" in res.stderr and "orders" in res.stderr
    assert not (out / "run.json").exists()

    mapped = _order_report_folder(tmp_path / "mapped", as_orders_csv=False)
    out = tmp_path / "out2"
    res = _run(
        cli,
        "--source",
        str(mapped),
        "--as-of",
        "2020-03-01T00:00:00+08:00",
        "--out",
        str(out),
        env_extra={"REFUND_AUDIT_MAPPING": "tmall_order_report"},
    )
    assert res.returncode == 0, res.stderr
    run = json.loads((out / "run.json").read_text(encoding="utf-8"))
    assert run["counts"]["orders"] == {
        "read": 300,
        "valid": 262,
        "quarantined": 38,
        "superseded": 0,
    }
