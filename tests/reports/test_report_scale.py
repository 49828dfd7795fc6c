"""Scale: every mail body fits the inbox budget and pages stay usable, whatever the size.

A shop with 50,000 findings (plus 50 shops × 100,000 findings around it) must still get a
mail HTML body ≤ 100 KB (Gmail clips at ~102 KB) and a page a browser opens at once.
"""

from __future__ import annotations

from reports.mail_body import MAX_HTML_BYTES, MailBuilder
from reports.render import write_reports

BIG = ("tmall", "big-shop")


def test_mail_bodies_stay_under_100_kb_with_a_50k_findings_shop(synthetic, tmp_path):
    result, history = synthetic(50, 100_000, big_shop=50_000, history_runs=10)
    builder = MailBuilder(result, history=history, diff=None)
    sizes = {}
    for key in [None, *builder.shared.shop_keys]:
        body = builder.build(key)
        sizes[key] = len(body.html.encode("utf-8"))
        assert "<svg" not in body.html
    assert max(sizes.values()) <= MAX_HTML_BYTES == 100_000, max(sizes.items(),
                                                                   key=lambda kv: kv[1])
    big = builder.build(BIG)
    assert "50000" in big.text.replace(",", "")  # all findings counted, pointed to the CSV
    assert "findings-big-shop.csv" in big.html and "big-shop.html" in big.html
    paths = write_reports(result, tmp_path, history=history)
    page = (tmp_path / "shops" / "big-shop.html").stat().st_size
    assert page < 500_000, page
    assert max(p.stat().st_size for p in paths) < 1_000_000
