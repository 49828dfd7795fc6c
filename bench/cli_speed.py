"""How long a user waits for `refund-audit run` on small on-demand audits, against a plain
pandas script (bench/reference_tiny.py) that reads the same rows, checks them and writes a
CSV. The commands run alternated, round after round, so that the machine's load hits them
alike; the medians and their ratios go to docs/scheduling.md.

    python bench/cli_speed.py [--rounds 7] [--orders 40] [--prefect-api URL]

Cases: the reference script; a tiny audit in-process (no Prefect server configured); a
folder without orders.csv (refused before anything is read); with ``--prefect-api``, the
same tiny audit as a Prefect flow on that running server. The tool's modules are compiled
to bytecode first, as an installed copy has them; the first (uncounted) round also fills
the per-machine cache (checks/disk_cache.py), as any earlier run on the machine would.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
AS_OF = "2026-11-20T02:00:00+08:00"
PACKAGES = ("flows", "checks", "reports", "schemas", "sources")


def _cli() -> str:
    return str(Path(sys.executable).parent / "refund-audit")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--orders", type=int, default=40)
    ap.add_argument("--prefect-api", default=None)
    args = ap.parse_args(argv)
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    env["PYTHONPATH"] = str(ROOT)
    work = Path(tempfile.mkdtemp(prefix="cli-speed-"))
    src, empty = work / "src", work / "empty"
    empty.mkdir()
    subprocess.run([_cli(), "generate", "--orders", str(args.orders), "--out", str(src)],
                   check=True, env=env, capture_output=True)
    (empty / "refunds.csv").write_text("refund_id\nR1\n")
    # The tool's modules as an installed package has them: compiled to bytecode (pip does it
    # at install time). Without it, under PYTHONDONTWRITEBYTECODE every run would compile
    # ~55 modules from source again (~0.1-0.2 s), which no installed copy does.
    subprocess.run([sys.executable, "-m", "compileall", "-q",
                    *(str(ROOT / p) for p in PACKAGES)], check=True, capture_output=True)
    cases = {
        "reference script": ([sys.executable, str(ROOT / "bench" / "reference_tiny.py"),
                              str(src), str(work / "ref.csv")], env, 0),
        "tiny audit, in-process": ([_cli(), "run", "--source", str(src), "--as-of", AS_OF,
                                    "--out", str(work / "out")], env, 0),
        "no orders.csv (exit 2)": ([_cli(), "run", "--source", str(empty), "--out",
                                    str(work / "bad")], env, 2),
    }
    if args.prefect_api:
        cases["tiny audit, Prefect server"] = (
            [_cli(), "run", "--source", str(src), "--as-of", AS_OF, "--out",
             str(work / "outp")], {**env, "PREFECT_API_URL": args.prefect_api}, 0)
    times: dict[str, list[float]] = {k: [] for k in cases}
    for _ in range(args.rounds + 1):  # the first round warms the file cache, not counted
        for name, (cmd, e, code) in cases.items():
            t = time.perf_counter()
            p = subprocess.run(cmd, env=e, capture_output=True, text=True)
            wall = time.perf_counter() - t
            if p.returncode != code:
                print(f"{name}: exit {p.returncode}\n{p.stdout}{p.stderr}", file=sys.stderr)
                return 1
            times[name].append(wall)
    ref = statistics.median(times["reference script"][1:])
    load = os.getloadavg()
    print(f"{args.rounds} alternated rounds, {args.orders} generated orders, "
          f"load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")
    print(f"{'case':32} {'median':>8} {'min':>7} {'max':>7} {'× reference':>12}")
    for name, ts in times.items():
        ts = ts[1:]
        med = statistics.median(ts)
        print(f"{name:32} {med:7.2f}s {min(ts):6.2f}s {max(ts):6.2f}s {med / ref:11.2f}×")
    return 0


if __name__ == "__main__":
    sys.exit(main())
