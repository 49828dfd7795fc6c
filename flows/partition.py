"""Splitting an audit by platform and shop, and putting the parts back together.

Why: one platform's failure (a rule tripping over data no test foresaw) or one shop's report
must not stop the audit of the others. When the check step over everything fails, the flow
runs it again once per platform on that platform's orders (with their refunds and messages;
the address book stays whole, since RA002 must still see an address owned by another shop)
and merges the parts that succeed, in the order one run over everything produces: when no
part fails, the outputs are byte-identical to the unpartitioned run (tested). Rules never
look across platforms and KPIs are per shop, so the split loses nothing. Reports are
isolated per shop the same way: whole first, shop by shop only on failure.

The same selection serves the ``shops`` / ``platforms`` parameters of a run. Plain pandas:
no Prefect here, so each piece is testable on its own.
"""

from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path

import pandas as pd

from checks.audit import SORT, AuditOutcome
from checks.kpis import METRICS
from checks.result import AuditResult


def restrict(tables: dict[str, pd.DataFrame | None], platforms: list[str] | None = None,
             shops: list[str] | None = None) -> dict[str, pd.DataFrame | None]:
    """The validated tables cut down to the orders of ``platforms`` and ``shops`` (None or
    empty: all), with the refunds and messages of those orders; the address book whole."""
    orders = tables["orders"]
    keep = pd.Series(True, index=orders.index)
    if platforms:
        keep &= orders["platform"].isin(platforms)
    if shops:
        keep &= orders["shop_id"].isin(shops)
    if keep.all():
        return tables
    # A hash lookup: Series.isin on pandas 3 string columns is ~10x slower here.
    ids = pd.Index(orders.loc[keep, "order_id"].drop_duplicates())
    out = dict(tables)
    out["orders"] = orders[keep].reset_index(drop=True)
    for t in ("refunds", "messages"):
        df = tables.get(t)
        if df is not None:
            out[t] = df[ids.get_indexer(df["order_id"]) >= 0].reset_index(drop=True)
    return out


def platforms_of(tables: dict[str, pd.DataFrame | None]) -> list[str]:
    """The partitions of the check step, in the order the merged result needs."""
    return sorted(tables["orders"]["platform"].dropna().unique().tolist())


def shops_of(orders: pd.DataFrame) -> list[tuple[str, str]]:
    if not len(orders):
        return []
    pairs = orders[["platform", "shop_id"]].dropna().astype("str").drop_duplicates()
    return sorted(map(tuple, pairs.to_numpy().tolist()))


def unaudited_shops(raw_orders: pd.DataFrame, valid_orders: pd.DataFrame
                    ) -> list[tuple[str, str]]:
    """Shops that have orders in the source but not one valid order: their data is broken
    (every row quarantined), so they are not audited while the other shops are."""
    cols = ["platform", "shop_id"]
    if raw_orders is None or not set(cols) <= set(raw_orders.columns):
        return []
    raw = raw_orders[cols].astype("str").apply(lambda s: s.str.strip())
    seen = set(shops_of(raw[(raw["platform"] != "") & (raw["shop_id"] != "")
                            & raw.notna().all(axis=1)]))
    return sorted(seen - set(shops_of(valid_orders)))


def merge(parts: list[AuditOutcome]) -> AuditOutcome:
    """One outcome from per-platform outcomes, ordered as ``run_rules`` orders one run:
    findings by ``SORT``, KPIs metric by metric, then by shop."""
    if len(parts) == 1:
        return parts[0]
    found = [p.findings for p in parts if len(p.findings)]
    findings = pd.concat(found, ignore_index=True) if found else parts[0].findings
    if len(findings):
        findings = findings.sort_values(SORT, kind="stable", na_position="first") \
            .reset_index(drop=True)
    kpis = pd.concat([p.kpis for p in parts], ignore_index=True)
    rank = kpis["metric"].map({m: i for i, m in enumerate(METRICS)})
    kpis = kpis.iloc[rank.argsort(kind="stable")].reset_index(drop=True)
    timings: dict[str, float] = {}
    for p in parts:
        for k, v in p.timings.items():
            timings[k] = timings.get(k, 0.0) + v
    return AuditOutcome(findings=findings, kpis=kpis, data=parts[0].data,
                        not_evaluated=parts[0].not_evaluated, timings=timings)


def only_shops(result: AuditResult, keys: set[tuple[str, str]], keep: bool = True
               ) -> AuditResult:
    """``result`` with the findings, KPIs and shop list of ``keys`` only (or all but them)."""
    def cut(df: pd.DataFrame) -> pd.DataFrame:
        if not len(df):
            return df
        hit = pd.Series([k in keys for k in zip(df["platform"].astype("str"),
                                                  df["shop_id"].astype("str"), strict=True)],
                        index=df.index)
        return df[hit if keep else ~hit].reset_index(drop=True)

    return dataclasses.replace(result, findings=cut(result.findings), kpis=cut(result.kpis),
                               shops=cut(result.shops))


def write_reports_isolated(result: AuditResult, out_dir: Path, *, history, lang: str,
                           diff: dict | None = None, report_tz: str | None = None
                           ) -> tuple[list[Path], list[dict]]:
    """The HTML reports, with one shop's failing page kept from taking down the others.
    ``diff``: the re-audit diff for the report's section (``reports.diff.report_diff``);
    ``report_tz``: the overview's zone (the ``report_timezone`` setting).

    The normal path is one ``write_reports`` call. Only when it raises is each shop tried on
    its own (into a scratch folder), and the report written again without the shops that
    fail; those are returned as failures ``{"stage": "report", "platform", "shop_id",
    "error"}``. When no single shop is to blame, the report as a whole failed.
    """
    from reports.render import write_reports

    try:
        return write_reports(result, out_dir, history=history, lang=lang, diff=diff,
                             report_tz=report_tz), []
    except OSError:  # the folder cannot be written (disk full...): no shop is to blame
        raise
    except Exception as exc:  # isolate below, then report what failed
        whole = exc
    keys = shops_of(pd.concat([result.shops, result.kpis[["platform", "shop_id"]]]))
    failed: list[dict] = []
    with tempfile.TemporaryDirectory() as scratch:
        for key in keys:
            try:
                write_reports(only_shops(result, {key}), Path(scratch), history=history,
                              lang=lang, diff=diff, report_tz=report_tz)
            except Exception as exc:
                failed.append({"stage": "report", "platform": key[0], "shop_id": key[1],
                               "error": describe(exc)})
    if not failed:
        return [], [{"stage": "report", "platform": None, "shop_id": None,
                     "error": describe(whole)}]
    rest = only_shops(result, {(f["platform"], f["shop_id"]) for f in failed}, keep=False)
    try:
        return write_reports(rest, out_dir, history=history, lang=lang, diff=diff,
                             report_tz=report_tz), failed
    except Exception as exc:
        return [], [*failed, {"stage": "report", "platform": None, "shop_id": None,
                              "error": describe(exc)}]


def describe(exc: BaseException) -> str:
    """One line naming an error, for warnings and run.json (no traceback)."""
    return f"{type(exc).__name__}: {exc}"[:500]
