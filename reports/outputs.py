"""Writing the audit's machine-readable outputs (docs/spec.md, "Outputs"): findings.csv, kpis.csv,
quarantine.csv and run.json. Deterministic: the same audit gives byte-identical CSV files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from checks.result import FINDING_COLUMNS, KPI_COLUMNS, QUARANTINE_COLUMNS, AuditResult
from schemas.timestamps import to_iso_utc


def findings_frame(findings: pd.DataFrame) -> pd.DataFrame:
    """findings.csv content: contract columns, UTC ISO times, overdue_hours to 2 decimals."""
    f = findings[FINDING_COLUMNS].copy()
    # An empty findings frame has object columns: make them timestamps before formatting.
    f["due_at"] = to_iso_utc(pd.to_datetime(f["due_at"], utc=True))
    f["responded_at"] = to_iso_utc(pd.to_datetime(f["responded_at"], utc=True))
    oh = f["overdue_hours"].astype("float64")
    f["overdue_hours"] = np.where(oh.isna(), "", oh.round(2).map("{:.2f}".format))
    f["overdue_hours"] = f["overdue_hours"].replace("-0.00", "0.00")
    for c in ("order_id", "refund_id", "message_id", "detail"):
        f[c] = f[c].astype("object").where(f[c].notna(), "")
    return f


def _num(v: float, metric: str) -> str:
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return ""
    if metric == "seven_day_refusals":
        return str(int(v))
    return f"{v:.6f}".rstrip("0").rstrip(".") if v != int(v) else str(int(v))


def kpis_frame(kpis: pd.DataFrame) -> pd.DataFrame:
    k = kpis[KPI_COLUMNS].copy()
    k["value"] = [_num(v, m) for v, m in zip(kpis["value"], kpis["metric"], strict=True)]
    k["threshold"] = [_num(v, m) for v, m in zip(kpis["threshold"], kpis["metric"],
                                                  strict=True)]
    return k


def write_csvs(result: AuditResult, out_dir: Path) -> dict[str, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {
        "findings": out_dir / "findings.csv",
        "kpis": out_dir / "kpis.csv",
        "quarantine": out_dir / "quarantine.csv",
    }
    findings_frame(result.findings).to_csv(paths["findings"], index=False, lineterminator="\n")
    kpis_frame(result.kpis).to_csv(paths["kpis"], index=False, lineterminator="\n")
    result.quarantine[QUARANTINE_COLUMNS].to_csv(paths["quarantine"], index=False,
                                                 lineterminator="\n")
    return paths


def write_run_json(run: dict, out_dir: Path) -> Path:
    path = out_dir / "run.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(run, indent=2, ensure_ascii=False, default=str) + "\n",
                   encoding="utf-8")
    tmp.replace(path)
    return path


def findings_summary(findings: pd.DataFrame) -> dict[str, dict[str, int]]:
    """{rule_id: {status: count}} for run.json."""
    if findings.empty:
        return {}
    g = findings.groupby(["rule_id", "status"]).size()
    out: dict[str, dict[str, int]] = {}
    for (rid, st), n in g.items():
        out.setdefault(rid, {})[st] = int(n)
    return out
