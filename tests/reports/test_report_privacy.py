"""One shop, one shop's data: no shop page or shop mail shows another shop's ids.

Every id of every other shop (shop ids, order/refund/message ids of its findings, the row
keys of its set-aside rows) is looked for in each shop's page and in its mail body (HTML
and text). Ids are made distinct per shop so a hit is a leak, not a coincidence.
"""

from __future__ import annotations

import re

import pandas as pd

from reports.mail_body import MailBuilder
from reports.render import write_reports


def ids_by_shop(result) -> dict[tuple[str, str], set[str]]:
    out: dict[tuple[str, str], set[str]] = {}
    f = result.findings
    for col in ("order_id", "refund_id", "message_id", "shop_id"):
        for (p, s), values in f.groupby(["platform", "shop_id"])[col]:
            out.setdefault((p, s), set()).update(v for v in values.astype(str) if v)
    q = result.quarantine.dropna(subset=["platform", "shop_id"])
    for (p, s), values in q.groupby(["platform", "shop_id"])["row_key"]:
        out.setdefault((p, s), set()).update(values.astype(str))
    return out


def leaks(text: str, others: set[str]) -> list[str]:
    return sorted(i for i in others if re.search(r"(?<![\w-])" + re.escape(i) + r"(?![\w-])",
                                                 text))


def test_no_shop_page_or_mail_shows_another_shops_ids(result, history, tmp_path):
    paths = write_reports(result, tmp_path, history=history, lang="zh", diff=None)
    ids = ids_by_shop(result)
    assert len(ids) >= 3 and all(ids.values())
    builder = MailBuilder(result, history=history, diff=None)
    names = builder.shared.page_names
    for key in builder.shared.shop_keys:
        others = set().union(*(v for k, v in ids.items() if k != key)) - ids.get(key, set())
        page = (tmp_path / "shops" / f"{names[key]}.html").read_text("utf-8")
        body = builder.build(key)
        for where, text in (("page", page), ("mail html", body.html), ("mail text", body.text),
                            ("subject", body.subject)):
            assert leaks(text, others) == [], (key, where)
    # the overview shows them all (the check above is not vacuous)
    overview = (tmp_path / "report.html").read_text("utf-8")
    assert {"tg-flagship", "amz-east", "tm-store", "R-2002", "R-9003"} <= {
        i for i in set().union(*ids.values()) if i in overview}
    assert paths


def test_a_shop_sees_its_own_set_aside_rows_and_no_one_elses(result, tmp_path):
    write_reports(result, tmp_path, lang="en")
    tm = (tmp_path / "shops" / "tm-store.html").read_text("utf-8")
    assert "R-9003" in tm and "A-9001" in tm
    assert "R-9001" not in tm and "O-9002" not in tm and "R-9004" not in tm


def test_privacy_holds_at_scale(synthetic_small):
    result, history = synthetic_small
    builder = MailBuilder(result, history=history, diff=None)
    ids = ids_by_shop(result)
    for key in builder.shared.shop_keys[:6]:
        others = {s for k in ids if k != key for s in [k[1]]}
        body = builder.build(key)
        assert leaks(body.html + body.text, others) == [], key
        assert isinstance(result.findings, pd.DataFrame)
