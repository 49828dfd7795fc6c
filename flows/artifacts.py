"""What a run publishes to the Prefect UI: a markdown summary and a table of KPIs per shop.

The UI may be remote from the host that wrote the files, so the summary carries the numbers
themselves (a ``file://`` link would not open there). Building the content is plain Python;
``publish`` is the only call into Prefect. Keys are lowercase-dash, so each is one versioned
artifact across runs.
"""

from __future__ import annotations

import pandas as pd

from checks.kpis import METRICS
from checks.result import SEVERITY_ORDER, STATUS_ORDER, AuditResult

SUMMARY_KEY = "audit-summary"
KPI_KEY = "audit-kpis"


def _md(text: object) -> str:
    """Data shown in markdown: pipes and newlines would break the table, HTML must not run."""
    s = str(text).replace("|", "\\|").replace("\n", " ")
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def summary_markdown(result: AuditResult, out_dir: str) -> str:
    """Run, counts, findings by severity and status, shops most affected, warnings."""
    run = result.run
    lines = [f"# Refund audit as of {run['as_of']}", "",
             f"- run `{run['run_id']}` · audit key `{run['audit_key']}`",
             f"- source `{_md(run['source'])}` · window {run['window_days']} days",
             f"- outputs: `{_md(out_dir)}` (on the host that ran the flow)", ""]
    sel = run.get("selection") or {}
    if sel.get("platforms") or sel.get("shops"):
        lines += [f"- selection: platforms {sel.get('platforms') or 'all'}, "
                  f"shops {sel.get('shops') or 'all'}", ""]
    lines += ["| table | read | valid | quarantined | superseded |", "|---|---:|---:|---:|---:|"]
    for t, c in run["counts"].items():
        lines.append(f"| {t} | {c['read']} | {c['valid']} | {c['quarantined']} | "
                     f"{c['superseded']} |")
    f = result.findings
    lines += ["", f"## Findings: {len(f)}", ""]
    if len(f):
        g = f.groupby(["severity", "status"]).size()
        lines += ["| severity | status | findings |", "|---|---|---:|"]
        for sev in SEVERITY_ORDER:
            for st in STATUS_ORDER:
                if (sev, st) in g.index:
                    lines.append(f"| {sev} | {st} | {int(g[(sev, st)])} |")
        top = f.groupby(["platform", "shop_id"]).size().sort_values(ascending=False,
                                                                   kind="stable").head(10)
        lines += ["", "| platform | shop | findings |", "|---|---|---:|"]
        lines += [f"| {_md(p)} | {_md(s)} | {int(n)} |" for (p, s), n in top.items()]
    if run.get("warnings"):
        lines += ["", "## Warnings", ""]
        lines += [f"- {_md(w)}" for w in run["warnings"]]
    return "\n".join(lines) + "\n"


def kpi_table(result: AuditResult) -> list[dict[str, str]]:
    """One row per shop, one column per KPI: ``value (status)``; empty rate: ``—``."""
    k = result.kpis
    rows = []
    for (p, s), g in k.groupby(["platform", "shop_id"], sort=True):
        row = {"platform": str(p), "shop_id": str(s)}
        for m, v, st in zip(g["metric"], g["value"], g["status"], strict=True):
            if m in METRICS:
                text = "—" if pd.isna(v) else (str(int(v)) if m == "seven_day_refusals"
                                               else f"{v:.2%}")
                row[m] = f"{text} ({st})" if st else text
        rows.append(row)
    return rows


def publish(result: AuditResult, out_dir: str) -> None:
    """Create (a new version of) both artifacts for the current flow run."""
    from prefect.artifacts import create_markdown_artifact, create_table_artifact

    create_markdown_artifact(key=SUMMARY_KEY, markdown=summary_markdown(result, out_dir),
                             description=f"Refund audit as of {result.run['as_of']}")
    create_table_artifact(key=KPI_KEY, table=kpi_table(result),
                          description="KPIs per shop: value (ok / warn / breach)")
