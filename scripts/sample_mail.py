"""Render the sample mail shown in the README (docs/img/sample-mail.png).

    PYTHONPATH=. .venv/bin/python scripts/sample_mail.py [--out docs/img/sample-mail.png]

Builds one shop's mail body from the small hand-made audit the report tests use (with a
"changes since the last run" so the New marks show) and screenshots it with headless
Chromium at a phone-ish 420 px width.
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "img" / "sample-mail.png")
    parser.add_argument("--width", type=int, default=420)
    parser.add_argument("--height", type=int, default=2300)
    args = parser.parse_args()
    spec = importlib.util.spec_from_file_location("fx", ROOT / "tests/reports/conftest.py")
    fx = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(fx)
    from reports.mail_body import build_mail

    result = fx.make_result()
    findings = result.findings
    new = findings[findings["refund_id"].isin(["R-2002", "R-2007"])]
    diff = {"kind": "previous",
            "before": {"run_id": "run-0003", "as_of": "2026-11-19T02:00:00+00:00"},
            "after": {"run_id": "run-0004"},
            "counts": {"appeared": len(new), "disappeared": 0, "changed": 0},
            "appeared": [{**r, "due_at": None, "responded_at": None}
                         for r in new.drop(columns=["evidence"]).to_dict("records")],
            "disappeared": [], "changed": []}
    body = build_mail(result, ("tmall_global", "tg-flagship"), history=fx.default_history(),
                      diff=diff)
    with tempfile.TemporaryDirectory() as tmp:
        page = Path(tmp) / "mail.html"
        page.write_text(body.html, "utf-8")
        args.out.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["/usr/bin/chromium", "--headless", "--no-sandbox", "--disable-gpu",
                        "--hide-scrollbars", f"--user-data-dir={tmp}/profile",
                        f"--window-size={args.width},{args.height}",
                        f"--screenshot={args.out}", page.as_uri()],
                       check=True, capture_output=True, timeout=120)
    print(f"{args.out} ({len(body.html.encode())} bytes of HTML): {body.subject}")


if __name__ == "__main__":
    main()
