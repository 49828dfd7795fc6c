"""The benchmark: generated data of given cases, every stage timed, peak memory measured.

    .venv/bin/python bench/run.py                                  # tiny, 100k, 1m-500 (make bench)
    .venv/bin/python bench/run.py --case 10m                        # make bench-large
    .venv/bin/python bench/run.py --case 1m-500 --workers 1 2       # + the flow on Dask
    .venv/bin/python bench/run.py --case 1m-500 --compare --rounds 2  # vs bench/reference.py

A case (``CASES``: a name, orders, shops, file format) is the unit; ``--orders N`` adds ad-hoc
cases with the generator's default shop count. For each case, each step runs in a fresh
Python process, so that one step's memory does not inflate the next one's and every figure is
a cold start of that step:

- ``generate``: the data (``sources.generate``) written as a CSV or Parquet folder; timed on
  its own and counted nowhere else.
- ``floor``: reading the files with the audit's own reader (``sources.base``) and nothing else:
  the least any audit of these files can cost.
- ``stages``: the audit's plain functions one after another — read, validate, check (per rule
  family, from ``run_rules``' timings), kpis, write (findings/kpis/quarantine CSV and the
  HTML reports into a staging folder, moved into place), record (history store, run.json),
  and record again as a re-run of the same audit (which replaces the first run's rows) —
  each with wall time, CPU time and peak RSS (``Meter.run``: the stage-timing helper).
- ``flow``: the whole audit as the Prefect flow ``flows.audit.audit`` (what ``refund-audit run``
  does); its wall time minus the stages' sum is Prefect's overhead (task and flow run
  bookkeeping, logging, result handling), ``import prefect`` is shown apart. ``--workers K``
  adds one flow run per K with the check step partitioned by shop on a Dask ``LocalCluster``
  of K single-threaded workers (cluster start-up included in its time).

Peak RSS: a sampling thread (psutil, every 20 ms) reads the resident set of the process and its
children (the Dask workers) while each stage runs; ``ru_maxrss`` (the kernel's exact
high-water mark of the process) is reported per step as well.

Prefect needs an API for a flow run. The benchmark starts one ``prefect server start`` on
loopback for the whole benchmark (in a scratch PREFECT_HOME) and reports its start-up time
apart; ``--api-url`` uses a server that is already running instead. (Ephemeral mode — no
PREFECT_API_URL — would start a temporary server inside every flow process: 12-25 s each.)

``--compare``: the user's view. ``refund-audit run`` (the command, as a user starts it, with
whatever Prefect setup the environment has) and ``bench/reference.py`` (plain pandas: load,
validate, write the CSVs; no rules, no report) run alternately, ``--rounds`` times each, on
the same files; wall time and peak RSS of each process tree, and the ratio.

Results: a table on stdout and JSON in ``bench/out/`` (``bench-<time>.json`` and
``latest.json``). ``--keep`` keeps the generated data (its folder is printed);
``--data-root`` puts it somewhere other than a temporary folder and reuses data already there.
``--profile`` writes a pyinstrument profile of each stage next to the JSON.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out"
AS_OF = "2026-11-20T02:00:00+08:00"
WINDOW_DAYS = 30
sys.path.insert(0, str(ROOT))

#: The benchmark's cases: name → orders, shops (None: the generator's default, one per
#: 20,000 orders, at least 4) and file format. Add a row for a new case.
CASES: dict[str, dict] = {
    "tiny": {"orders": 60, "shops": 4, "format": "csv"},
    "100k": {"orders": 100_000, "shops": None, "format": "csv"},
    "1m-500": {"orders": 1_000_000, "shops": 500, "format": "csv"},
    "10m": {"orders": 10_000_000, "shops": None, "format": "parquet"},
}
DEFAULT_CASES = ["tiny", "100k", "1m-500"]


# --------------------------------------------------------------------------- measuring


class Meter:
    """Wall time, CPU time (this process and its children) and peak RSS per named stage."""

    def __init__(self, interval: float = 0.02, profile_dir: Path | None = None,
                 tag: str = ""):
        import psutil

        self.proc = psutil.Process()
        self.interval = interval
        self.stage: str | None = None
        self.peak: dict[str, int] = {}
        self.results: dict[str, dict] = {}
        self.profile_dir = profile_dir
        self.tag = tag
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def rss(self) -> int:
        total = self.proc.memory_info().rss
        for child in self.proc.children(recursive=True):
            try:
                total += child.memory_info().rss
            except Exception:  # a child that just exited
                continue
        return total

    def _sample(self) -> None:
        while not self._stop.is_set():
            stage = self.stage
            if stage is not None:
                try:
                    r = self.rss()
                except Exception:
                    r = 0
                if r > self.peak.get(stage, 0):
                    self.peak[stage] = r
            self._stop.wait(self.interval)

    def run(self, stage: str, fn, *args, **kwargs):
        profiler = None
        if self.profile_dir is not None:
            from pyinstrument import Profiler

            profiler = Profiler(interval=0.005)
            profiler.start()
        self.stage = stage
        self.peak[stage] = self.rss()
        t0, c0 = time.perf_counter(), _cpu()
        try:
            return fn(*args, **kwargs)
        finally:
            wall, cpu = time.perf_counter() - t0, _cpu() - c0
            self.peak[stage] = max(self.peak.get(stage, 0), self.rss())
            self.stage = None
            self.results[stage] = {"wall_s": round(wall, 3), "cpu_s": round(cpu, 3),
                                   "peak_rss_mb": round(self.peak[stage] / 2**20, 1)}
            if profiler is not None:
                profiler.stop()
                path = self.profile_dir / f"profile-{self.tag}-{stage}.txt"
                path.write_text(profiler.output_text(unicode=True, color=False, show_all=False),
                                encoding="utf-8")
                profiler.write_html(str(path.with_suffix(".html")))

    def close(self) -> dict:
        self._stop.set()
        self._thread.join()
        return self.results


def _cpu() -> float:
    s, c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime


def _maxrss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _sha(path: Path) -> str | None:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16] if path.exists() else None


# --------------------------------------------------------------------------- child steps


def child_generate(args) -> dict:
    from sources.generate import generate_tables
    from sources.writers import write_csv_folder, write_parquet_folder

    t = time.perf_counter()
    tables = generate_tables(args.orders, seed=args.seed, as_of=AS_OF,
                             window_days=WINDOW_DAYS, shops=args.shops)
    gen = time.perf_counter() - t
    rows = {k: len(v) for k, v in tables.items()}
    t = time.perf_counter()
    writer = write_parquet_folder if args.format == "parquet" else write_csv_folder
    writer(tables, Path(args.data))
    write = time.perf_counter() - t
    size = sum(p.stat().st_size for p in Path(args.data).iterdir())
    return {"generate_s": round(gen, 3), "write_files_s": round(write, 3), "rows": rows,
            "bytes": size, "max_rss_mb": _maxrss_mb()}


def child_floor(args) -> dict:
    from sources.base import open_source

    m = Meter()
    raw = m.run("read", open_source(args.data).read)
    res = m.close()["read"]
    return {**res, "rows": {k: (len(v) if v is not None else None) for k, v in raw.items()},
            "max_rss_mb": _maxrss_mb()}


def child_stages(args) -> dict:
    import pandas as pd

    from checks.audit import run_rules
    from checks.profiles import load_profiles, timezones
    from sources.base import open_source

    profile_dir = Path(args.profile_dir) if args.profile_dir else None
    m = Meter(profile_dir=profile_dir, tag=f"{args.orders}")
    profiles = load_profiles()
    tz = timezones(profiles)
    as_of = pd.Timestamp(AS_OF).tz_convert("UTC")
    from schemas.validate import validate_tables

    raw = m.run("read", open_source(args.data).read)
    validated = m.run("validate", validate_tables, raw, tz)
    del raw
    outcome = m.run("check", run_rules, validated.tables, profiles, as_of, WINDOW_DAYS, 24.0)
    out_dir = Path(args.out)
    result = _result(validated, outcome, profiles, tz, as_of, args.data, out_dir)
    m.run("write", _write, result, out_dir)
    m.run("record", _record, result, out_dir)
    m.run("record_rerun", _record, _rerun(result), out_dir)
    stages = m.close()
    # run_rules times its own parts: prepare, each rule family, kpis. "check" above includes
    # the KPIs; show them as their own stage.
    t = outcome.timings
    stages["check"]["parts_s"] = {k: round(v, 3) for k, v in t.items()}
    stages["kpis"] = {"wall_s": round(t.get("kpis", 0.0), 3)}
    stages["check"]["wall_s"] = round(stages["check"]["wall_s"] - t.get("kpis", 0.0), 3)
    return {"stages": stages, "counts": validated.counts, "findings": len(outcome.findings),
            "shops": len(result.shops),
            "max_rss_mb": _maxrss_mb(),
            "findings_sha": _sha(out_dir / "findings.csv"), "kpis_sha": _sha(out_dir / "kpis.csv")}


def _result(validated, outcome, profiles, tz, as_of, source, out_dir):
    """The AuditResult the flow would build (flows.pipeline), without Prefect."""
    import uuid

    from flows.options import options
    from flows.pipeline import assemble, run_record

    opts = options(source=str(source), out=out_dir, as_of=as_of, window_days=WINDOW_DAYS)
    run = run_record(opts, validated, outcome, profiles, started=as_of,
                     warnings=validated.warnings, key="bench-" + uuid.uuid4().hex[:10])
    return assemble(run, validated, outcome, profiles)


def _write(result, out_dir: Path) -> None:
    """The flow's write step: CSVs and pages into a staging folder, then moved into place."""
    from reports.outputs import StagedFolder, write_csvs, write_run_json
    from reports.render import write_reports

    staged = StagedFolder(out_dir)
    tmp = staged.open()
    write_csvs(result, tmp)
    write_reports(result, tmp, history=None, lang="zh")
    write_run_json(result.run, tmp)
    staged.commit()


def _record(result, out_dir: Path) -> None:
    from reports.history import append_run
    from reports.outputs import write_run_json

    append_run(out_dir.parent / "history.sqlite", result)
    write_run_json(result.run, out_dir)


def _rerun(result):
    """The same audit run again: another run id, the same audit key and content."""
    import dataclasses
    import uuid

    return dataclasses.replace(result, run={**result.run, "run_id": str(uuid.uuid4())})


def child_flow(args) -> dict:
    t = time.perf_counter()
    import flows  # noqa: F401  (offline-safe Prefect settings)
    from flows.audit import audit

    imported = time.perf_counter() - t
    kwargs = {}
    if args.workers:
        kwargs["workers"] = args.workers
    m = Meter(interval=0.05)
    state = m.run("flow", audit, source=str(args.data), out=str(args.out), as_of=AS_OF,
                  window_days=WINDOW_DAYS, return_state=True, **kwargs)
    res = m.close()["flow"]
    out = Path(args.out)
    run = json.loads((out / "run.json").read_text(encoding="utf-8")) \
        if (out / "run.json").exists() else {}
    return {**res, "import_prefect_s": round(imported, 3), "state": state.type.value,
            "message": (state.message or "")[:300], "run_timings": run.get("timings", {}),
            "max_rss_mb": _maxrss_mb(),
            "children_max_rss_mb": round(
                resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1),
            "findings_sha": _sha(out / "findings.csv"), "kpis_sha": _sha(out / "kpis.csv")}


CHILDREN = {"generate": child_generate, "floor": child_floor, "stages": child_stages,
            "flow": child_flow}


# --------------------------------------------------------------------------- the user's view


def measure_command(cmd: list[str], env: dict | None = None, timeout: float = 7200) -> dict:
    """Wall time and peak RSS (sampled over the whole process tree) of one command."""
    import psutil

    t, c0 = time.perf_counter(), resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.Popen(cmd, env={**os.environ, **(env or {})}, cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    top = psutil.Process(proc.pid)
    peak = 0
    out: list[str] = []
    reader = threading.Thread(target=lambda: out.extend(proc.stdout), daemon=True)
    reader.start()
    while proc.poll() is None:
        try:
            rss = top.memory_info().rss + sum(
                c.memory_info().rss for c in top.children(recursive=True))
            peak = max(peak, rss)
        except psutil.Error:
            pass
        time.sleep(0.05)
        if time.perf_counter() - t > timeout:
            proc.kill()
    wall = time.perf_counter() - t
    c1 = resource.getrusage(resource.RUSAGE_CHILDREN)  # the tree's CPU, steadier under load
    cpu = (c1.ru_utime + c1.ru_stime) - (c0.ru_utime + c0.ru_stime)
    reader.join(10)
    return {"wall_s": round(wall, 3), "cpu_s": round(cpu, 3),
            "peak_rss_mb": round(peak / 2**20, 1),
            "returncode": proc.returncode, "tail": "".join(out)[-1500:]}


def compare(case: str, data: Path, rounds: int, scratch: Path, api_env: dict) -> dict:
    """``refund-audit run`` and bench/reference.py alternately on the same files."""
    cli = str(Path(sys.executable).parent / "refund-audit")
    cmds = {
        "reference": [sys.executable, str(ROOT / "bench" / "reference.py"), str(data),
                      str(scratch / "reference")],
        "refund-audit run": [cli, "run", "--source", str(data), "--out",
                             str(scratch / "run" / "latest"), "--as-of", AS_OF],
    }
    runs: dict[str, list[dict]] = {k: [] for k in cmds}
    for i in range(rounds):
        for name, cmd in cmds.items():
            print(f"[{case}] compare round {i + 1}/{rounds}: {name} …", flush=True)
            res = measure_command(cmd, env=api_env)
            if res["returncode"] != 0:
                raise RuntimeError(f"{name} failed ({res['returncode']}):\n{res['tail']}")
            runs[name].append(res)
    best = {k: min(r["wall_s"] for r in v) for k, v in runs.items()}
    return {"runs": runs, "best_s": best,
            "ratio_best": round(best["refund-audit run"] / best["reference"], 2)}


def _child(step: str, env: dict | None = None, timeout: float = 7200, **kw) -> dict:
    """Run one step in a fresh interpreter; its JSON result comes back through a file."""
    with tempfile.NamedTemporaryFile("r", suffix=".json", delete=False) as fh:
        result_path = fh.name
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", step,
           "--result", result_path]
    for k, v in kw.items():
        if v is None or v is False:
            continue
        cmd += [f"--{k.replace('_', '-')}", str(v)]
    t = time.perf_counter()
    proc = subprocess.run(cmd, env={**os.environ, **(env or {})}, cwd=ROOT, timeout=timeout,
                          capture_output=True, text=True)
    wall = time.perf_counter() - t
    try:
        if proc.returncode != 0:
            tail = (proc.stderr or proc.stdout)[-3000:]
            raise RuntimeError(f"bench step {step!r} failed ({proc.returncode}):\n{tail}")
        res = json.loads(Path(result_path).read_text(encoding="utf-8"))
    finally:
        Path(result_path).unlink(missing_ok=True)
    res["process_wall_s"] = round(wall, 3)
    return res


# --------------------------------------------------------------------------- Prefect server


class PrefectServer:
    """One loopback ``prefect server start`` for the whole benchmark (see module docstring)."""

    def __init__(self, home: Path):
        self.home = home
        self.proc: subprocess.Popen | None = None
        self.url = ""
        self.startup_s = 0.0

    def __enter__(self) -> PrefectServer:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        env = {**os.environ, "PREFECT_HOME": str(self.home),
               "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1"}
        env.pop("PREFECT_API_URL", None)
        self.home.mkdir(parents=True, exist_ok=True)
        log = (self.home / "server.log").open("w")
        t = time.perf_counter()
        self.proc = subprocess.Popen(
            [str(Path(sys.executable).parent / "prefect"), "server", "start", "--host",
             "127.0.0.1", "--port", str(port), "--no-ui", "--analytics-off"],
            env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self.url = f"http://127.0.0.1:{port}/api"
        deadline = time.time() + 180
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"prefect server exited; see {self.home / 'server.log'}")
            try:
                with urllib.request.urlopen(self.url + "/health", timeout=2) as r:
                    if r.status == 200:
                        self.startup_s = time.perf_counter() - t
                        return self
            except OSError:
                time.sleep(0.5)
        raise RuntimeError("prefect server did not become healthy in 180 s")

    def __exit__(self, *exc) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()


# --------------------------------------------------------------------------- driver


def bench_case(case: str, args, api_env: dict, root: Path) -> dict:
    spec = CASES[case]
    n, fmt, shops = spec["orders"], spec["format"], spec["shops"]
    data = root / f"{fmt}-{n}" if shops is None else root / f"{fmt}-{n}-s{shops}"
    res: dict = {"case": case, "orders": n, "shops": shops, "format": fmt, "data": str(data)}
    marker = data / ".complete"
    if marker.exists():
        res["generate"] = json.loads(marker.read_text())
        res["generate"]["reused"] = True
    else:
        shutil.rmtree(data, ignore_errors=True)
        print(f"[{case}] generating {fmt} data in {data} …", flush=True)
        res["generate"] = _child("generate", orders=n, data=data, format=fmt,
                                 seed=args.seed, shops=shops)
        marker.write_text(json.dumps(res["generate"]))
    g = res["generate"]
    print(f"[{case}] data: " + ", ".join(f"{k} {v:,}" for k, v in g["rows"].items())
          + f"; generated in {g['generate_s']:.1f} s + written in {g['write_files_s']:.1f} s",
          flush=True)
    scratch = Path(tempfile.mkdtemp(prefix=f"bench-{case}-", dir=root))
    try:
        print(f"[{case}] floor (read only) …", flush=True)
        res["floor"] = _child("floor", data=data)
        print(f"[{case}] stages …", flush=True)
        res["stages"] = _child("stages", orders=n, data=data, out=scratch / "stages" / "out",
                               profile_dir=args.profile_dir)
        if not args.no_flow:
            print(f"[{case}] Prefect flow …", flush=True)
            res["flow"] = _child("flow", env=api_env, data=data, out=scratch / "flow")
            for k in args.workers or []:
                print(f"[{case}] Prefect flow, check on {k} Dask worker(s) …", flush=True)
                res[f"flow_dask{k}"] = _child("flow", env=api_env, data=data,
                                              out=scratch / f"flow-dask{k}", workers=k)
        if args.compare:
            res["compare"] = compare(case, data, args.rounds, scratch / "compare",
                                     args.compare_env)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return res


def summarise(r: dict) -> dict:
    """Totals, orders/s, Prefect overhead, total/floor."""
    st = r["stages"]["stages"]
    names = ["read", "validate", "check", "kpis", "write", "record"]  # not record_rerun
    stage_sum = sum(st[s]["wall_s"] for s in names if s in st)
    s = {"stages_total_s": round(stage_sum, 2),
         "peak_rss_mb": max(r["stages"]["max_rss_mb"],
                            max(v.get("peak_rss_mb", 0) for v in st.values())),
         "floor_s": r["floor"]["wall_s"]}
    s["stages_over_floor"] = round(stage_sum / s["floor_s"], 2)
    failed = [k for k in r if k.startswith("flow") and r[k]["state"] != "COMPLETED"]
    if failed:
        s["failed"] = {k: r[k]["message"] for k in failed}
        print(f"[{r['case']}] FAILED: " + "; ".join(f"{k}: {v}" for k, v in
                                                      s["failed"].items()), flush=True)
    if "flow" in r and "flow" not in failed:
        f = r["flow"]
        s["flow_s"] = f["wall_s"]
        s["flow_peak_rss_mb"] = max(f["peak_rss_mb"], f["max_rss_mb"])
        s["prefect_overhead_s"] = round(f["wall_s"] - stage_sum, 2)
        s["flow_over_floor"] = round(f["wall_s"] / s["floor_s"], 2)
        s["orders_per_s"] = round(r["orders"] / f["wall_s"])
        s["flow_identical_to_stages"] = f["findings_sha"] == r["stages"]["findings_sha"]
    for k in [k for k in r if k.startswith("flow_dask") and k not in failed]:
        f = r[k]
        s[k] = {"wall_s": f["wall_s"], "peak_rss_mb": f["peak_rss_mb"],
                "orders_per_s": round(r["orders"] / f["wall_s"]),
                "identical": (f["findings_sha"] == r["flow"]["findings_sha"]
                              and f["kpis_sha"] == r["flow"]["kpis_sha"]) if "flow" in r
                else None}
    return s


def print_table(results: list[dict], server_s: float | None) -> None:
    rows = [("stage", *[f"{r['case']}: {r['orders']:,} {r['format']}"
                        + (f", {r['shops']} shops" if r["shops"] else "") for r in results])]

    def line(label, fn):
        cells = []
        for r in results:
            try:
                cells.append(fn(r))
            except (KeyError, TypeError):
                cells.append("—")
        rows.append((label, *cells))

    def stage(name):
        def fn(r):
            v = r["stages"]["stages"][name]
            mem = f", {v['peak_rss_mb'] / 1024:.2f} GB" if "peak_rss_mb" in v else ""
            return f"{v['wall_s']:.2f} s (cpu {v['cpu_s']:.1f}{mem})" if "cpu_s" in v \
                else f"{v['wall_s']:.2f} s"
        return fn

    def count(n: int) -> str:
        return f"{n / 1e6:.2f}M" if n >= 1e6 else f"{n / 1000:.0f}k" if n >= 1e4 else f"{n:,}"

    line("rows (orders/refunds/msgs)", lambda r: "/".join(
        count(r["generate"]["rows"][t]) for t in ("orders", "refunds", "messages")))
    line("generate (not counted)", lambda r: "{:.1f} s".format(
        r["generate"]["generate_s"] + r["generate"]["write_files_s"]))
    line("floor: read only", lambda r: f"{r['floor']['wall_s']:.2f} s")
    line("shops audited", lambda r: f"{r['stages']['shops']:,}")
    line("findings", lambda r: f"{r['stages']['findings']:,}")
    for name in ("read", "validate", "check", "kpis", "write", "record", "record_rerun"):
        line(name, stage(name))
    fams = sorted({k for r in results for k in r["stages"]["stages"]["check"].get("parts_s", {})
                   if k != "kpis"})
    for k in fams:
        line(f"  check {k}", lambda r, k=k: f"{r['stages']['stages']['check']['parts_s'][k]:.2f} s")
    line("stages total", lambda r: f"{r['summary']['stages_total_s']:.2f} s")
    line("stages peak RSS", lambda r: f"{r['summary']['peak_rss_mb'] / 1024:.2f} GB")
    line("flow (Prefect) total", lambda r: f"{r['flow']['wall_s']:.2f} s")
    line("  import prefect (apart)", lambda r: f"{r['flow']['import_prefect_s']:.2f} s")
    line("  Prefect overhead", lambda r: f"{r['summary']['prefect_overhead_s']:.2f} s")
    line("  flow peak RSS", lambda r: f"{r['summary']['flow_peak_rss_mb'] / 1024:.2f} GB")
    line("  orders/s", lambda r: f"{r['summary']['orders_per_s']:,}")
    line("  total / floor", lambda r: f"{r['summary']['flow_over_floor']:.2f}")
    for k in sorted({k for r in results for k in r["summary"] if k.startswith("flow_dask")}):
        line(f"flow, Dask {k[9:]} worker(s)", lambda r, k=k: (
            f"{r['summary'][k]['wall_s']:.2f} s, {r['summary'][k]['peak_rss_mb'] / 1024:.2f} GB"
            + ("" if r["summary"][k]["identical"] else " (OUTPUT DIFFERS)")))
    if any("compare" in r for r in results):
        line("compare: reference (best)", lambda r: "{:.2f} s, {:.2f} GB".format(
            r["compare"]["best_s"]["reference"],
            min(x["peak_rss_mb"] for x in r["compare"]["runs"]["reference"]) / 1024))
        line("compare: refund-audit run (best)", lambda r: "{:.2f} s, {:.2f} GB".format(
            r["compare"]["best_s"]["refund-audit run"],
            max(x["peak_rss_mb"] for x in r["compare"]["runs"]["refund-audit run"]) / 1024))
        line("  every round, wall (cpu): ref / run", lambda r: "; ".join(
            f"{a['wall_s']:.1f} ({a['cpu_s']:.1f}) / {b['wall_s']:.1f} ({b['cpu_s']:.1f})"
            for a, b in zip(
                r["compare"]["runs"]["reference"], r["compare"]["runs"]["refund-audit run"],
                strict=True)))
        line("  run / reference", lambda r: f"{r['compare']['ratio_best']:.2f}x")
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
    for i, row in enumerate(rows):
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)))
        if i == 0:
            print("  ".join("-" * w for w in widths))
    if server_s is not None:
        print(f"(Prefect server start-up, once, not counted: {server_s:.1f} s)")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--case", nargs="+", choices=sorted(CASES), help="cases to run (default: "
                   + ", ".join(DEFAULT_CASES) + ")")
    p.add_argument("--orders", type=int, nargs="+", help="also: ad-hoc cases of N orders")
    p.add_argument("--format", choices=("csv", "parquet"), default="csv",
                   help="file format of the --orders cases")
    p.add_argument("--compare", action="store_true", help="also time `refund-audit run` "
                   "against bench/reference.py, alternately")
    p.add_argument("--rounds", type=int, default=2, help="rounds of --compare")
    p.add_argument("--workers", type=int, nargs="*", help="also run the flow with the check "
                   "on a Dask LocalCluster of K workers, for each K given")
    p.add_argument("--keep", action="store_true", help="keep the generated data")
    p.add_argument("--data-root", type=Path, help="where to put (and reuse) generated data")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--no-flow", action="store_true", help="skip the Prefect flow runs")
    p.add_argument("--api-url", help="a running Prefect server's API URL (default: start one)")
    p.add_argument("--profile", action="store_true", help="pyinstrument profile per stage")
    p.add_argument("--out", type=Path, default=OUT, help="where the JSON results go")
    # child steps (internal)
    p.add_argument("--child", choices=sorted(CHILDREN), help=argparse.SUPPRESS)
    p.add_argument("--result", help=argparse.SUPPRESS)
    p.add_argument("--data", help=argparse.SUPPRESS)
    p.add_argument("--profile-dir", help=argparse.SUPPRESS)
    p.add_argument("--shops", type=int, help=argparse.SUPPRESS)
    args = p.parse_args(argv)

    if args.child:
        if args.child == "flow":
            args.workers = args.workers[0] if args.workers else None
            args.orders = None
        else:
            args.orders = args.orders[0] if args.orders else None
        res = CHILDREN[args.child](args)
        Path(args.result).write_text(json.dumps(res, default=str), encoding="utf-8")
        return 0

    args.out.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    args.profile_dir = str(args.out / f"profile-{stamp}") if args.profile else None
    if args.profile_dir:
        Path(args.profile_dir).mkdir(parents=True, exist_ok=True)
    cases = list(args.case or ([] if args.orders else DEFAULT_CASES))
    for n in args.orders or []:
        CASES[f"{n}-{args.format}"] = {"orders": n, "shops": None, "format": args.format}
        cases.append(f"{n}-{args.format}")
    # --compare runs the command as a user would: the environment's Prefect setup, as is.
    args.compare_env = {}
    root = args.data_root or Path(tempfile.mkdtemp(prefix="refund-audit-bench-"))
    root.mkdir(parents=True, exist_ok=True)
    keep = args.keep or args.data_root is not None
    results: list[dict] = []
    meta = {"started": stamp, "cpus": os.cpu_count(), "python": sys.version.split()[0],
            "argv": sys.argv[1:]}
    try:
        import psutil

        meta["memory_gb"] = round(psutil.virtual_memory().total / 2**30, 1)
        meta["load_avg_at_start"] = os.getloadavg()
    except Exception:
        pass
    server_s = None
    try:
        if args.no_flow:
            api_env: dict = {}
            results = [bench_case(c, args, api_env, root) for c in cases]
        elif args.api_url:
            api_env = {"PREFECT_API_URL": args.api_url}
            results = [bench_case(c, args, api_env, root) for c in cases]
        else:
            print("starting a Prefect server on loopback (once, not counted) …", flush=True)
            with PrefectServer(root / ".prefect-home") as server:
                server_s = round(server.startup_s, 1)
                print(f"Prefect server up in {server_s} s at {server.url}", flush=True)
                api_env = {"PREFECT_API_URL": server.url,
                           "PREFECT_HOME": str(root / ".prefect-home")}
                results = [bench_case(c, args, api_env, root) for c in cases]
    finally:
        if not keep:
            shutil.rmtree(root, ignore_errors=True)
        else:
            print(f"data kept in {root}")
    for r in results:
        r["summary"] = summarise(r)
    meta["prefect_server_startup_s"] = server_s
    meta["load_avg_at_end"] = os.getloadavg()
    doc = {"meta": meta, "results": results}
    for path in (args.out / f"bench-{stamp}.json", args.out / "latest.json"):
        path.write_text(json.dumps(doc, indent=2, default=str) + "\n", encoding="utf-8")
    print()
    print_table(results, server_s)
    print(f"\nJSON: {args.out / f'bench-{stamp}.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
