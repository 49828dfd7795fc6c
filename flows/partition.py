"""Shops of an audit, and one shop's report page kept from taking down the others.

Why: one shop's report (a page tripping over data no test foresaw) must not stop the
audit of the others: the reports are written whole first, shop by shop only on failure.
Splitting the data itself (by order for memory and Dask, by platform when a check fails)
is one mechanism, ``flows.partitioned``; its merge is ``checks.partition``. Plain pandas:
no Prefect here, so each piece is testable on its own.
"""

from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path

import pandas as pd

from checks.result import AuditResult


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


def _in(df: pd.DataFrame, keys: set[tuple[str, str]]) -> pd.Series:
    """Whether each row's (platform, shop_id) is one of ``keys``: one vectorised lookup (a
    Python test per row made the per-shop retry below cost shops x findings)."""
    pairs = pd.MultiIndex.from_arrays([df["platform"].astype("str"),
                                       df["shop_id"].astype("str")])
    return pd.Series(pairs.isin(list(keys)), index=df.index)


def only_shops(result: AuditResult, keys: set[tuple[str, str]], keep: bool = True
               ) -> AuditResult:
    """``result`` with the findings, KPIs and shop list of ``keys`` only (or all but them)."""
    def cut(df: pd.DataFrame) -> pd.DataFrame:
        if not len(df):
            return df
        hit = _in(df, keys)
        return df[hit if keep else ~hit].reset_index(drop=True)

    return dataclasses.replace(result, findings=cut(result.findings), kpis=cut(result.kpis),
                               shops=cut(result.shops))


def each_shop(result: AuditResult, keys: list[tuple[str, str]]):
    """``(key, only_shops(result, {key}))`` for every key, the frames grouped once."""
    def groups(df: pd.DataFrame) -> dict[tuple[str, str], pd.DataFrame]:
        if not len(df):
            return {}
        by = [df["platform"].astype("str"), df["shop_id"].astype("str")]
        return {(str(p), str(s_)): g.reset_index(drop=True)
                for (p, s_), g in df.groupby(by, sort=False)}

    frames = {"findings": groups(result.findings), "kpis": groups(result.kpis),
              "shops": groups(result.shops)}
    for key in keys:
        yield key, dataclasses.replace(result, **{
            name: by_key.get(key, getattr(result, name).iloc[0:0].reset_index(drop=True))
            for name, by_key in frames.items()})


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
        for key, one in each_shop(result, keys):
            try:
                write_reports(one, Path(scratch), history=history,
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
