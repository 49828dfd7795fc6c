"""Render time and page sizes at the contract's scale (50 shops × 100,000 findings).

    .venv/bin/python tests/reports/bench_report.py [--shops 50] [--findings 100000] [--out DIR]

Not a test (the slow test in test_scale.py asserts the limits); prints the numbers that
docs/decisions-report.md quotes. Writes into a temporary folder unless --out is given.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _fixtures():
    spec = importlib.util.spec_from_file_location("reports_fixtures", HERE / "conftest.py")
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--shops", type=int, default=50)
    parser.add_argument("--findings", type=int, default=100_000)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    from reports.render import write_reports

    t = time.perf_counter()
    result, history = _fixtures().synthetic_result(args.shops, args.findings)
    print(f"generated {len(result.findings)} findings in {time.perf_counter() - t:.1f} s")
    with tempfile.TemporaryDirectory() as tmp:
        out = args.out or Path(tmp)
        t = time.perf_counter()
        paths = write_reports(result, out, history=history)
        elapsed = time.perf_counter() - t
        sizes = sorted(p.stat().st_size for p in paths)
        print(f"rendered {len(paths)} pages in {elapsed:.2f} s")
        print(
            f"page size: max {sizes[-1] / 1e6:.2f} MB, median {sizes[len(sizes) // 2] / 1e6:.2f} MB, "
            f"total {sum(sizes) / 1e6:.1f} MB; report.html {paths[0].stat().st_size / 1e6:.2f} MB"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
