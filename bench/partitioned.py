"""Benchmark of the partitioned audit: time and peak memory by size and way of running.

    .venv/bin/python bench/partitioned.py --data 1m=/data/1m 2m=/data/2m 10m=/data/10m
    .venv/bin/python bench/partitioned.py --data 1m=/data/1m --workers 1 2
    .venv/bin/python bench/partitioned.py --data 1m=/data/1m --mode run   # whole CLI run

Each case runs in a fresh Python process (``--mode engine``: load → validate → check →
merge and the three CSV files, through ``flows.partitioned``; ``--mode run``: the whole
``refund-audit run``, reports and history included). A sampling thread (psutil, every 50 ms)
adds up the resident memory of that process and all its children (Dask workers), so the
peak is the whole machine's cost of the run. CPU seconds are the process tree's.
``--partitions`` forces a count (default: chosen from the data size, ~250k orders each);
``--workers K`` runs the partitions on a LocalCluster of K single-threaded workers.
``--compare DIR``: each case's findings/kpis/quarantine CSV must equal DIR's, byte for byte.

Data: any folder the audit reads (``refund-audit generate --orders N --out DIR [--format
parquet]``). Results: a table on stdout and JSON in ``bench/out/partitioned-<time>.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
AS_OF = "2026-11-20T02:00:00+08:00"
FILES = ("findings.csv", "kpis.csv", "quarantine.csv")

ENGINE = r"""
import json, sys, time
import pandas as pd
from checks.profiles import load_profiles, timezones
from checks.result import AuditResult
from flows.partitioned import DaskExecutor, Options, run_partitioned
from reports.outputs import write_csvs
from pathlib import Path
if __name__ == "__main__":
    src, out, n, workers = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    as_of = pd.Timestamp(sys.argv[5]).tz_convert("UTC")
    P = load_profiles(); TZ = timezones(P)
    if n < 0:  # the unpartitioned reference: everything in one frame
        from checks.audit import run_rules
        from schemas.validate import validate_tables
        from sources.base import open_source
        v = validate_tables(open_source(src).read(), TZ)
        o = run_rules(v.tables, P, as_of, 30, 24)
        write_csvs(AuditResult(run={}, findings=o.findings, kpis=o.kpis,
                               quarantine=v.quarantine, counts=v.counts, catalog=[],
                               timezones=TZ, shops=None), Path(out))
        print(json.dumps({"partitions": 0, "findings": len(o.findings)}))
        sys.exit(0)
    ex = DaskExecutor(workers=workers) if workers else None
    m = run_partitioned(src, Options(P, TZ, as_of), n or None, ex)
    write_csvs(AuditResult(run={}, findings=m.outcome.findings, kpis=m.outcome.kpis,
                           quarantine=m.validated.quarantine, counts=m.validated.counts,
                           catalog=[], timezones=TZ, shops=None), Path(out))
    print(json.dumps({"partitions": m.partitions, "findings": len(m.outcome.findings),
                      "orders": m.validated.counts["orders"]["read"],
                      "timings": {k: round(v, 2) for k, v in m.timings.items()}}))
"""


def measure(cmd: list[str], env: dict) -> dict:
    import psutil

    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    ps = psutil.Process(proc.pid)
    peak = [0]
    cpu: dict[int, float] = {}
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            try:
                procs = [ps, *ps.children(recursive=True)]
                rss = 0
                for p in procs:
                    try:
                        rss += p.memory_info().rss
                        t = p.cpu_times()
                        cpu[p.pid] = t.user + t.system + t.children_user + t.children_system
                    except psutil.Error:
                        pass
                peak[0] = max(peak[0], rss)
            except psutil.Error:
                pass
            stop.wait(0.05)

    th = threading.Thread(target=sample, daemon=True)
    th.start()
    out, err = proc.communicate()
    stop.set()
    th.join()
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{err[-3000:]}")
    last = [line for line in out.splitlines() if line.startswith("{")]
    return {"wall_s": round(wall, 2), "peak_rss_gb": round(peak[0] / 1e9, 3),
            "cpu_s": round(sum(cpu.values()), 1),
            "detail": json.loads(last[-1]) if last else {}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", nargs="+", required=True, help="label=folder ...")
    ap.add_argument("--workers", nargs="*", type=int, default=[0],
                    help="0 = sequential in one process; K = a LocalCluster of K workers")
    ap.add_argument("--partitions", type=int, default=0,
                    help="0: chosen from the data size; -1: the unpartitioned reference")
    ap.add_argument("--mode", choices=("engine", "run"), default="engine")
    ap.add_argument("--as-of", default=AS_OF)
    ap.add_argument("--out", default=str(ROOT / "bench" / "out"))
    ap.add_argument("--compare", default=None)
    args = ap.parse_args()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    results = []
    scratch = Path(args.out) / "partitioned-outputs"
    for spec in args.data:
        label, folder = spec.split("=", 1)
        for w in args.workers:
            way = "whole" if args.partitions < 0 else "seq" if not w else f"w{w}"
            out = scratch / f"{label}-{way}"
            if args.mode == "engine":
                cmd = [sys.executable, "-c", ENGINE, folder, str(out), str(args.partitions),
                       str(w), args.as_of]
            else:
                cmd = [str(Path(sys.executable).with_name("refund-audit")), "run", "--source",
                       folder, "--out", str(out), "--as-of", args.as_of]
                if args.partitions:
                    cmd += ["--partitions", str(args.partitions)]
                if w:
                    cmd += ["--workers", str(w)]
            r = measure(cmd, env)
            r.update(label=label, workers=w, mode=args.mode)
            if args.compare:
                r["identical"] = all((Path(args.compare) / f).read_bytes()
                                     == (out / f).read_bytes() for f in FILES)
            results.append(r)
            print(f"{label:>5} {way:>12} "
                  f"wall {r['wall_s']:8.1f} s  cpu {r['cpu_s']:8.1f} s  peak RSS "
                  f"{r['peak_rss_gb']:6.2f} GB  {r['detail'].get('partitions', '')} part. "
                  + (f"identical={r['identical']}" if "identical" in r else ""), flush=True)
    Path(args.out).mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    (Path(args.out) / f"partitioned-{stamp}.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
