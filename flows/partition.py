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


# -- the pages written by two processes at once ---------------------------------------------
#: below this many shops the pages cost less than starting a second process saves
PARALLEL_MIN_SHOPS = 40
#: the share of the shop pages the forked process writes: this process also writes the CSV
#: files, the overview and rules.html meanwhile (measured at 1M orders / 500 shops)
CHILD_SHARE = 0.65

_JOB: dict | None = None  # what the forked page writer writes (inherited by fork, not pickled)


def _child_pages(conn) -> None:
    """In the forked process: the pages of its share of the shops; nothing logged. Sends
    ("ok", pages written) or ("error", the error named)."""
    from reports.render import write_shop_pages

    try:
        job = _JOB
        assert job is not None
        conn.send(("ok", len(write_shop_pages(**job))))
    except BaseException as exc:
        conn.send(("error", describe(exc)))
    finally:
        conn.close()


def pages_in_parallel(n_shops: int) -> bool:
    """Whether a run's pages are split between this process and a forked one: the
    ``parallel`` setting is on, two cores are usable, fork is available, and there are
    enough shops for it to pay."""
    import multiprocessing

    from flows.partitioned import parallel_enabled, usable_cores

    return (n_shops >= PARALLEL_MIN_SHOPS and usable_cores() >= 2
            and "fork" in multiprocessing.get_all_start_methods() and parallel_enabled())


def write_reports_parallel(result: AuditResult, out_dir: Path, *, history, lang: str,
                           diff: dict | None = None, report_tz: str | None = None,
                           meanwhile=None, own_rows: bool = True):
    """``write_reports_isolated`` with a forked process writing a share of the shop pages
    while this one runs ``meanwhile()`` (the CSV files) and writes the other pages, the
    overview and rules.html. Returns ``((pages, failures), meanwhile's result)``.

    Each shop's page is the same bytes whichever process writes it (``reports.render.
    write_shop_pages``). The forked process only renders and writes files: no logging, no
    Prefect, no network; it is forked after the run's data is in memory, so nothing is
    pickled to it, and only a count comes back. When either share fails for any reason,
    the pages both wrote are removed and the whole report is written again here by
    ``write_reports_isolated``, with its usual per-shop isolation, so a failure looks
    exactly as it does without the second process.
    ``own_rows=False``: this process builds its pages from the whole audit (the mail bodies
    written later reuse that work). Falls back to one process when ``pages_in_parallel``
    says no.
    """
    global _JOB
    import contextlib
    import functools
    import gc
    import multiprocessing
    import sys

    from reports.page import load_page_templates
    from reports.render import write_reports
    from reports.shared import shop_keys, shop_page_names

    # The one-process report: without a second process, and the fallback when a share fails.
    one_process = functools.partial(write_reports_isolated, result, out_dir, history=history,
                                    lang=lang, diff=diff, report_tz=report_tz)
    keys = shop_keys(result)
    if not pages_in_parallel(len(keys)):
        done = meanwhile() if meanwhile else None
        return one_process(), done
    names = shop_page_names(keys)
    # every shop whose position crosses a multiple of 1 / CHILD_SHARE: spread evenly
    theirs = [k for i, k in enumerate(keys)
              if int((i + 1) * CHILD_SHARE) > int(i * CHILD_SHARE)]
    taken = set(theirs)
    ours = [k for k in keys if k not in taken]
    ctx = multiprocessing.get_context("fork")
    receive, send = ctx.Pipe(duplex=False)
    _JOB = {"result": result, "out_dir": Path(out_dir), "shops": theirs, "page_names": names,
            "history": history, "lang": lang, "diff": diff, "report_tz": report_tz}
    for stream in (sys.stdout, sys.stderr):  # no buffered text copied into the child
        with contextlib.suppress(Exception):  # a closed or odd stream
            stream.flush()
    load_page_templates(lang)  # once, inherited by the child
    gc.freeze()  # the child's collections would otherwise touch (copy) every shared page
    child = ctx.Process(target=_child_pages, args=(send,), name="refund-audit-pages",
                        daemon=True)
    try:
        child.start()
    except OSError:  # no process to be had (memory, limits): all of it here
        receive.close()
        done = meanwhile() if meanwhile else None
        return one_process(), done
    finally:
        gc.unfreeze()
        _JOB = None
        send.close()  # the child holds its own copy: a child that dies ends recv() here
    try:
        done = meanwhile() if meanwhile else None
        try:
            paths = write_reports(result, out_dir, history=history, lang=lang, diff=diff,
                                  report_tz=report_tz, shops=ours, own_rows=own_rows)
            ok = True
        except OSError:
            raise
        except Exception:  # written again below, shop by shop where needed
            ok = False
        try:
            ok = receive.recv()[0] == "ok" and ok
        except EOFError:  # the child died without a word: the same fallback
            ok = False
    except BaseException:
        child.kill()  # nothing of it may write into a folder about to be discarded
        raise
    finally:
        child.join()
        receive.close()
    if not ok:
        # What either share wrote goes first: without the failing shops, another shop's
        # page may get another file name (a shop id no longer on two platforms).
        for stale in ["report.html", "rules.html", *(f"shops/{n}.html" for n in names.values())]:
            (Path(out_dir) / stale).unlink(missing_ok=True)
        return one_process(), done
    folder = Path(out_dir) / "shops"
    pages = [paths[0], *(folder / f"{names[k]}.html" for k in keys), paths[-1]]
    return (pages, []), done


def describe(exc: BaseException) -> str:
    """One line naming an error, for warnings and run.json (no traceback)."""
    return f"{type(exc).__name__}: {exc}"[:500]
