"""Time and size of every page and mail body at a big night's scale.

    .venv/bin/python tests/reports/bench_report.py [--shops 500] [--findings 400000]
        [--big-shop 50000] [--out DIR]

Wall and CPU seconds are both printed: on a shared machine the CPU time is the fairer
number. Not a test (test_report_scale.py asserts the limits); prints the numbers that
docs/decisions-report.md quotes: the time to write every page and build every mail body
(one per shop plus the overview), the largest page and mail body, and the mail body of the
shop with ``--big-shop`` findings. Writes into a temporary folder unless --out is given.
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
    parser.add_argument("--shops", type=int, default=500)
    parser.add_argument("--findings", type=int, default=400_000)
    parser.add_argument("--big-shop", type=int, default=50_000)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    from reports.mail_body import MailBuilder
    from reports.render import write_reports

    t = time.perf_counter()
    result, history = _fixtures().synthetic_result(args.shops, args.findings,
                                                   big_shop=args.big_shop)
    print(f"generated {len(result.findings)} findings, {len(result.shops)} shops in "
          f"{time.perf_counter() - t:.1f} s")
    with tempfile.TemporaryDirectory() as tmp:
        out = args.out or Path(tmp)
        t, c = time.perf_counter(), time.process_time()
        paths = write_reports(result, out, history=history, diff=None)
        pages, pages_cpu = time.perf_counter() - t, time.process_time() - c
        t, c = time.perf_counter(), time.process_time()
        builder = MailBuilder(result, history=history, diff=None)
        bodies = {None: builder.build(None)}
        for key in builder.shared.shop_keys:
            bodies[key] = builder.build(key)
        mails, mails_cpu = time.perf_counter() - t, time.process_time() - c
        sizes = sorted(p.stat().st_size for p in paths)
        html = {k: len(b.html.encode("utf-8")) for k, b in bodies.items()}
        text = {k: len(b.text.encode("utf-8")) for k, b in bodies.items()}
        largest = max(html, key=html.__getitem__)
        print(f"pages: {len(paths)} in {pages:.2f} s (CPU {pages_cpu:.2f} s); mail bodies: "
              f"{len(bodies)} in {mails:.2f} s (CPU {mails_cpu:.2f} s); together "
              f"{pages + mails:.2f} s (CPU {pages_cpu + mails_cpu:.2f} s)")
        print(f"page size: max {sizes[-1] / 1e3:.0f} KB, median {sizes[len(sizes) // 2] / 1e3:.0f}"
              f" KB, total {sum(sizes) / 1e6:.1f} MB; report.html "
              f"{paths[0].stat().st_size / 1e3:.0f} KB")
        print(f"mail HTML body: max {html[largest] / 1e3:.1f} KB ({largest or 'overview'}), "
              f"overview {html[None] / 1e3:.1f} KB, text max {max(text.values()) / 1e3:.1f} KB")
        if args.big_shop:
            key = ("tmall", "big-shop")
            print(f"big shop ({args.big_shop} findings): mail HTML {html[key] / 1e3:.1f} KB, "
                  f"page {(out / 'shops' / 'big-shop.html').stat().st_size / 1e3:.0f} KB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
