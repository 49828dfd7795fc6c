"""A tiny, hand-built AuditResult for the report and mail tests.

Frozen on purpose (fixed run id, as_of, history): the golden snapshot renders from it. Three
shops with findings of every status, one shop with none, KPIs with ok/warn/breach and an
empty rate, quarantine rows, per-table counts and the rule catalog.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd
import pytest

from checks.registry import BY_ID
from checks.result import FINDING_COLUMNS, KPI_COLUMNS, QUARANTINE_COLUMNS, AuditResult

AS_OF = pd.Timestamp("2026-11-20T02:00:00Z")  # 10:00 in Shanghai, 18:00 the day before in LA


def utc(text: str) -> pd.Timestamp:
    return pd.Timestamp(text).tz_convert("UTC")


CATALOG: list[dict[str, Any]] = [
    {"id": rid, "family": fam, "severity": sev, "title": title, "policy": policy, "source": src}
    for rid, fam, sev, title, policy, src in [
        (
            "RA001",
            "return_address",
            "critical",
            "Agreed return without a return address",
            "An agreed return must send the buyer a return address.",
            "Tmall 售后规则",
        ),
        (
            "RA004",
            "return_address",
            "major",
            "Return address incomplete",
            "Recipient, phone, province, city, district, street and postcode are required.",
            "https://rule.tmall.hk/ (as text)",
        ),
        (
            "RA005",
            "return_address",
            "critical",
            "Return address out of jurisdiction",
            "The return address must be in the platform's required country.",
            "Amazon Returns Policy",
        ),
        (
            "SD001",
            "seven_day",
            "critical",
            "7-day no-reason return refused",
            "A no-reason return inside the window may not be refused.",
            "《七日无理由退货规定》",
        ),
        (
            "RT001",
            "response_time",
            "major",
            "Refund request answered late",
            "Respond within 48 h (unshipped) or 120 h (shipped).",
            "Tmall 售后时效",
        ),
        (
            "RT002",
            "response_time",
            "critical",
            "Platform intervention answered late",
            "Answer a 客服介入 within 24 h.",
            "Tmall Global 纠纷规则",
        ),
        (
            "RT003",
            "response_time",
            "major",
            "Refund after receipt late",
            "Refund within 168 h of receiving the return.",
            "Tmall 售后时效",
        ),
        (
            "RT004",
            "response_time",
            "minor",
            "Buyer message answered late",
            "Reply to a buyer within 24 h.",
            "客服响应规范",
        ),
        (
            "DA001",
            "dispute",
            "info",
            "Quality dispute raised after the dispute window",
            "Tmall Global: a quality dispute must be raised within 24 h of receipt.",
            "Tmall Global seller article",
        ),
        (
            "DA002",
            "dispute",
            "info",
            "Quality dispute without evidence",
            "Tmall Global: a quality dispute needs the buyer's evidence.",
            "Seller article",
        ),
        (
            "PC002",
            "conduct",
            "minor",
            "Hostile or flat-refusal seller message",
            "Sellers must not insult or flatly refuse buyers.",
            "平台客服行为规范",
        ),
    ]
]
# titles and next actions as the rules declare them (the catalog's Chinese is keyed by them)
for _r in CATALOG:
    _rule = BY_ID.get(_r["id"])
    if _rule is not None:
        _r["title"], _r["action"] = _rule.title, _rule.action
TITLES = {r["id"]: r["title"] for r in CATALOG}
SEVERITY = {r["id"]: r["severity"] for r in CATALOG}


def finding(
    rule_id: str,
    status: str,
    platform: str,
    shop_id: str,
    *,
    order_id: str = "",
    refund_id: str = "",
    message_id: str = "",
    due_at: str | None = None,
    responded_at: str | None = None,
    detail: str = "",
    evidence: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One findings row with the AuditResult's dtypes; overdue hours derived like the rules."""
    due = utc(due_at) if due_at else pd.NaT
    resp = utc(responded_at) if responded_at else pd.NaT
    overdue = np.nan
    if due is not pd.NaT:
        overdue = ((resp if resp is not pd.NaT else AS_OF) - due) / pd.Timedelta(hours=1)
    return {
        "rule_id": rule_id,
        "status": status,
        "severity": SEVERITY.get(rule_id, "major"),
        "platform": platform,
        "shop_id": shop_id,
        "order_id": order_id,
        "refund_id": refund_id,
        "message_id": message_id,
        "due_at": due,
        "responded_at": resp,
        "overdue_hours": overdue,
        "detail": detail,
        "title": TITLES.get(rule_id, rule_id),
        "evidence": evidence or {},
    }


def findings_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=[*FINDING_COLUMNS, "title", "evidence"])
    for col in ("due_at", "responded_at"):
        frame[col] = pd.to_datetime(frame[col], utc=True)
    frame["overdue_hours"] = frame["overdue_hours"].astype(float)
    return frame


def default_findings() -> list[dict[str, Any]]:
    TG, TM, AMZ = ("tmall_global", "tg-flagship"), ("tmall", "tm-store"), ("amazon_us", "amz-east")
    return [
        # tg-flagship: three at-risk items (listed here out of due order), violations, disputes
        finding(
            "RT001",
            "at_risk",
            *TG,
            order_id="O-1001",
            refund_id="R-2001",
            due_at="2026-11-20T08:00:00Z",
            detail="Refund request waiting since 2026-11-15",
            evidence={"requested_at": utc("2026-11-15T08:00:00Z"), "sla": "120 hours"},
        ),
        finding(
            "RT002",
            "at_risk",
            *TG,
            order_id="O-1002",
            refund_id="R-2002",
            due_at="2026-11-20T04:30:00Z",
            detail="Platform intervention not answered",
            evidence={"escalated_at": utc("2026-11-19T04:30:00Z"), "sla": "24 hours"},
        ),
        finding(
            "RT004",
            "at_risk",
            *TG,
            order_id="O-1003",
            message_id="M-3001",
            due_at="2026-11-20T20:00:00Z",
            detail="Buyer message waiting for a reply",
            evidence={
                "sent_at": utc("2026-11-19T20:00:00Z"),
                "text": "请问什么时候退款？我的电话 13912345678",
            },
        ),
        finding(
            "RA004",
            "violation",
            *TG,
            order_id="O-1004",
            refund_id="R-2004",
            detail="Return address lacks district and postcode",
            evidence={
                "address_id": "A-9",
                "recipient": "张三",
                "phone": "13812345678",
                "province": "浙江省",
                "city": "杭州市",
                "district": None,
                "postcode": "",
                "missing": ["district", "postcode"],
            },
        ),
        finding(
            "RT001",
            "violation",
            *TG,
            order_id="O-1005",
            refund_id="R-2005",
            due_at="2026-11-17T12:00:00Z",
            responded_at="2026-11-18T18:30:00Z",
            detail="Responded 30.5 h after the deadline",
            evidence={"requested_at": utc("2026-11-15T12:00:00Z"), "shipped": False},
        ),
        finding(
            "RT001",
            "violation",
            *TG,
            order_id="O-1006",
            refund_id="R-2006",
            due_at="2026-11-18T02:00:00Z",
            detail="No response yet",
            evidence={"requested_at": utc("2026-11-16T02:00:00Z"), "shipped": False},
        ),
        finding(
            "SD001",
            "violation",
            *TG,
            order_id="O-1007",
            refund_id="R-2007",
            detail="No-reason return refused inside the 7-day window",
            evidence={
                "delivered_at": utc("2026-11-10T03:00:00Z"),
                "window_closes_at": utc("2026-11-17T16:00:00Z"),
                "buyer_name": "李小龙",
            },
        ),
        finding(
            "DA001",
            "contestable",
            *TG,
            order_id="O-1008",
            refund_id="R-2008",
            detail="Quality claim raised 52 h after delivery (window 24 h)",
            evidence={
                "delivered_at": utc("2026-11-12T00:00:00Z"),
                "requested_at": utc("2026-11-14T04:00:00Z"),
                "window_hours": 24,
            },
        ),
        finding(
            "DA002",
            "contestable",
            *TG,
            order_id="O-1009",
            refund_id="R-2009",
            detail="Quality claim without buyer evidence",
            evidence={"reason": "damaged", "evidence_provided": False},
        ),
        # tm-store: late refund after receipt, a hostile message, one at-risk
        finding(
            "RT003",
            "violation",
            *TM,
            order_id="O-2001",
            refund_id="R-3001",
            due_at="2026-11-18T06:00:00Z",
            responded_at="2026-11-19T06:00:00Z",
            detail="Refunded 24 h late",
            evidence={"seller_received_at": utc("2026-11-11T06:00:00Z")},
        ),
        finding(
            "PC002",
            "violation",
            *TM,
            order_id="O-2002",
            message_id="M-4001",
            detail="Seller message contains a flat refusal",
            evidence={
                "text": "爱买不买",
                "phrase": "爱买不买",
                "sent_at": utc("2026-11-18T09:15:00Z"),
            },
        ),
        finding(
            "RT001",
            "at_risk",
            *TM,
            order_id="O-2003",
            refund_id="R-3003",
            due_at="2026-11-20T14:00:00Z",
            detail="Refund request waiting",
            evidence={"requested_at": utc("2026-11-18T14:00:00Z")},
        ),
        # amz-east: wrong-country return address (Latin name), an at-risk refund
        finding(
            "RA005",
            "violation",
            *AMZ,
            order_id="O-3001",
            refund_id="R-4001",
            detail="Return address in CN for a US buyer",
            evidence={
                "address_id": "A-77",
                "recipient": "John Smith",
                "phone": "+1 415 555 0123",
                "country": "CN",
                "required": "US",
            },
        ),
        finding(
            "RT003",
            "at_risk",
            *AMZ,
            order_id="O-3002",
            refund_id="R-4002",
            due_at="2026-11-20T17:00:00Z",
            detail="Return received, refund due",
            evidence={"seller_received_at": utc("2026-11-18T17:00:00Z"), "sla": "2 business days"},
        ),
    ]


KPI_THRESHOLDS = {
    "dispute_refund_rate": (0.001, "lower"),
    "intervention_rate": (0.01, "lower"),
    "late_response_rate": (0.05, "lower"),
    "invalid_rejection_rate": (0.05, "lower"),
    "self_completion_rate": (0.8, "higher"),
    "seven_day_refusals": (0, "lower"),
    "return_address_defect_rate": (0.02, "lower"),
    "message_late_rate": (0.1, "lower"),
}


def kpi_rows(
    platform: str,
    shop_id: str,
    values: dict[str, tuple[float, str]],
    counts: dict[str, tuple[int, int]] | None = None,
) -> list[dict]:
    rows = []
    for metric, (threshold, better) in KPI_THRESHOLDS.items():
        value, status = values.get(metric, (0.0, "ok"))
        num, den = (counts or {}).get(metric, (np.nan, np.nan))
        rows.append(
            {
                "platform": platform,
                "shop_id": shop_id,
                "metric": metric,
                "value": value,
                "threshold": threshold,
                "status": status,
                "better": better,
                "numerator": num,
                "denominator": den,
            }
        )
    return rows


def default_kpis() -> pd.DataFrame:
    rows = (
        kpi_rows(
            "tmall_global",
            "tg-flagship",
            {
                "dispute_refund_rate": (0.0009, "warn"),
                "late_response_rate": (0.125, "breach"),
                "self_completion_rate": (0.92, "ok"),
                "seven_day_refusals": (1, "breach"),
                "invalid_rejection_rate": (np.nan, ""),  # nothing refused: empty, not zero
                "return_address_defect_rate": (0.05, "breach"),
            },
            {"late_response_rate": (1, 8), "return_address_defect_rate": (1, 20)},
        )
        + kpi_rows(
            "tmall",
            "tm-store",
            {
                "self_completion_rate": (0.95, "ok"),
                "message_late_rate": (0.09, "warn"),
                "invalid_rejection_rate": (np.nan, ""),
            },
        )
        + kpi_rows(
            "amazon_us",
            "amz-east",
            {"self_completion_rate": (1.0, "ok"), "return_address_defect_rate": (0.5, "breach")},
        )
        + kpi_rows(
            "jd_worldwide",
            "jd-quiet",
            {"self_completion_rate": (np.nan, ""), "late_response_rate": (np.nan, "")},
        )
    )
    return pd.DataFrame(rows, columns=[*KPI_COLUMNS, "better", "numerator", "denominator"])


def default_quarantine() -> pd.DataFrame:
    rows = [
        (
            "refunds",
            "R-9001",
            "amount",
            "amount_le_order",
            "500.00",
            "refund asks more than the order's 300.00",
        ),
        (
            "refunds",
            "R-9002",
            "amount",
            "amount_le_order",
            "120.50",
            "refund asks more than the order's 99.00",
        ),
        (
            "refunds",
            "R-9003",
            "decided_at",
            "decided_when_pending",
            "2026-11-02T10:00:00+08:00",
            "decided_at set while decision is pending",
        ),
        ("orders", "O-9001", "paid_at", "required", "", "paid_at is empty"),
        (
            "orders",
            "O-9002",
            "platform",
            "known_platform",
            "shopee",
            "platform 'shopee' has no profile",
        ),
        ("return_addresses", "A-9001", "phone", "type", "13800001111", "phone is not text"),
        (
            "refunds",
            "R-9004",
            "amount",
            "amount_le_order",
            "80.00",
            "refund asks more than the order's 50.00",
        ),
        (
            "refunds",
            "R-9005",
            "amount",
            "amount_le_order",
            "81.00",
            "refund asks more than the order's 50.00",
        ),
    ]
    owners = [
        ("tmall_global", "tg-flagship"),
        ("tmall_global", "tg-flagship"),
        ("tmall", "tm-store"),
        ("amazon_us", "amz-east"),
        ("shopee", "sp-unknown"),  # an order of a platform without a profile: no page
        ("tmall", "tm-store"),
        (None, None),  # a refund whose order does not exist: nobody's
        (None, None),
    ]
    frame = pd.DataFrame(rows, columns=QUARANTINE_COLUMNS)
    frame["platform"] = [p for p, _ in owners]
    frame["shop_id"] = [s for _, s in owners]
    return frame


def default_history() -> pd.DataFrame:
    rows = []
    for i, (run_id, day) in enumerate(
        [("run-0001", "2026-11-17"), ("run-0002", "2026-11-18"), ("run-0003", "2026-11-19")]
    ):
        as_of = pd.Timestamp(f"{day}T02:00:00Z")
        for metric, value in [
            ("late_response_rate", 0.02 + 0.04 * i),
            ("dispute_refund_rate", 0.0005),
            ("self_completion_rate", 0.9 + 0.01 * i),
            ("invalid_rejection_rate", np.nan if i == 1 else 0.03),
            ("seven_day_refusals", float(i % 2)),
        ]:
            rows.append(
                {
                    "run_id": run_id,
                    "as_of": as_of,
                    "platform": "tmall_global",
                    "shop_id": "tg-flagship",
                    "metric": metric,
                    "value": value,
                }
            )
    return pd.DataFrame(rows, columns=["run_id", "as_of", "platform", "shop_id", "metric", "value"])


def make_result(
    findings: pd.DataFrame | None = None,
    *,
    kpis: pd.DataFrame | None = None,
    quarantine: pd.DataFrame | None = None,
    shops: list[tuple[str, str]] | None = None,
    catalog: list[dict[str, Any]] | None = None,
    run: dict[str, Any] | None = None,
) -> AuditResult:
    shops = shops or [
        ("tmall_global", "tg-flagship"),
        ("tmall", "tm-store"),
        ("amazon_us", "amz-east"),
        ("jd_worldwide", "jd-quiet"),
    ]
    return AuditResult(
        run=run
        or {
            "run_id": "run-0004",
            "as_of": AS_OF.isoformat(),
            "window_days": 30,
            "source": "sqlite:///data/demo.sqlite",
            "audit_key": "k-demo-2026-11-20-30d",
        },
        findings=findings if findings is not None else findings_frame(default_findings()),
        kpis=kpis if kpis is not None else default_kpis(),
        quarantine=quarantine if quarantine is not None else default_quarantine(),
        counts={
            "orders": {"read": 120, "valid": 118, "quarantined": 2, "superseded": 0},
            "refunds": {"read": 60, "valid": 52, "quarantined": 5, "superseded": 3},
            "return_addresses": {"read": 12, "valid": 11, "quarantined": 1, "superseded": 0},
            "messages": {"read": 40, "valid": 39, "quarantined": 0, "superseded": 1},
        },
        catalog=catalog if catalog is not None else [dict(r) for r in CATALOG],
        timezones={
            "tmall_global": "Asia/Shanghai",
            "tmall": "Asia/Shanghai",
            "jd_worldwide": "Asia/Shanghai",
            "amazon_us": "America/Los_Angeles",
        },
        shops=pd.DataFrame(shops, columns=["platform", "shop_id"]),
        not_evaluated=[],
    )


@pytest.fixture
def result() -> AuditResult:
    return make_result()


@pytest.fixture
def history() -> pd.DataFrame:
    return default_history()


@pytest.fixture
def build() -> SimpleNamespace:
    """The builders, for tests that need a variant of the tiny result."""
    return SimpleNamespace(
        result=make_result,
        finding=finding,
        frame=findings_frame,
        findings=default_findings,
        kpis=default_kpis,
        kpi_rows=kpi_rows,
        quarantine=default_quarantine,
        history=default_history,
        catalog=CATALOG,
        as_of=AS_OF,
    )


# --------------------------------------------------------------------------- at scale

RULES_AT_SCALE = [
    ("RA001", "violation"), ("RA004", "violation"), ("RA005", "violation"),
    ("SD001", "violation"), ("RT001", "violation"), ("RT001", "at_risk"),
    ("RT002", "violation"), ("RT002", "at_risk"), ("RT003", "violation"),
    ("RT003", "at_risk"), ("RT004", "violation"), ("RT004", "at_risk"),
    ("DA001", "contestable"), ("DA002", "contestable"), ("PC002", "violation"),
]  # fmt: skip


def synthetic_result(
    n_shops: int = 50, n_findings: int = 100_000, seed: int = 7, *, big_shop: int = 0,
    history_runs: int = 30,
) -> tuple[AuditResult, pd.DataFrame]:
    """An AuditResult the size of a big agency night, and earlier runs of KPI history.

    Findings are spread unevenly over shops (a few shops hold most, as in real portfolios)
    and over rules; each has evidence with a name and a phone to mask, and a message text
    with a phone number. ``big_shop``: that many more findings in one extra shop
    (``tmall/big-shop``). Built column-wise, so a million findings take seconds."""
    rng = np.random.default_rng(seed)
    platforms = ["tmall_global", "tmall", "jd_worldwide", "amazon_us"]
    shops = [(platforms[i % 4], f"shop-{i:03d}") for i in range(n_shops)]
    weights = 1.0 / np.arange(1, n_shops + 1)  # Zipf-like: shop-000 has the most
    shop_idx = rng.choice(n_shops, size=n_findings, p=weights / weights.sum())
    plat = np.array([p for p, _ in shops], dtype=object)[shop_idx]
    sid = np.array([s for _, s in shops], dtype=object)[shop_idx]
    if big_shop:
        shops.append(("tmall", "big-shop"))
        plat = np.concatenate([plat, np.full(big_shop, "tmall", dtype=object)])
        sid = np.concatenate([sid, np.full(big_shop, "big-shop", dtype=object)])
    n = n_findings + big_shop
    rules = np.array([r for r, _ in RULES_AT_SCALE], dtype=object)
    statuses = np.array([st for _, st in RULES_AT_SCALE], dtype=object)
    rule_idx = rng.integers(0, len(RULES_AT_SCALE), size=n)
    rule, status = rules[rule_idx], statuses[rule_idx]
    due = AS_OF + pd.to_timedelta(rng.integers(-30 * 24 * 60, 0, size=n), unit="min")
    soon = AS_OF + pd.to_timedelta(rng.integers(1, 24 * 60, size=n), unit="min")
    due = pd.Series(np.where(status == "at_risk", soon, due), dtype="datetime64[ns, UTC]")
    deadline = pd.Series(rule).str.startswith("RT").to_numpy()
    due = due.where(deadline)
    ids = pd.Series(np.arange(n)).map("{:08d}".format)
    by_message = np.isin(rule, ["RT004", "PC002"])
    findings = pd.DataFrame({
        "rule_id": rule,
        "status": status,
        "severity": pd.Series(rule).map(SEVERITY).fillna("major").to_numpy(),
        "platform": plat,
        "shop_id": sid,
        "order_id": ("O" + ids).to_numpy(),
        "refund_id": np.where(by_message, "", "R" + ids),
        "message_id": np.where(by_message, "M" + ids, ""),
        "due_at": due,
        "responded_at": pd.Series(pd.NaT, index=range(n), dtype="datetime64[ns, UTC]"),
        "overdue_hours": ((AS_OF - due) / pd.Timedelta(hours=1)).to_numpy(),
        "detail": (pd.Series(rule) + " finding number " + ids + " with a short human sentence"
                   ).to_numpy(),
        "title": pd.Series(rule).map(TITLES).fillna("").to_numpy(),
    })
    requested = (due.fillna(AS_OF) - pd.Timedelta(hours=48)).tolist()
    findings["evidence"] = [
        {"requested_at": t, "recipient": "王小明", "phone": "13812345678", "province": "浙江省",
         "city": "杭州市", "text": "call me at 13912345678", "missing": ["district"]}
        for t in requested
    ]
    kpis = pd.DataFrame(
        [r for p, s in shops for r in kpi_rows(p, s, {"late_response_rate": (0.07, "breach")},
                                               {"late_response_rate": (7, 100)})],
        columns=[*KPI_COLUMNS, "better", "numerator", "denominator"],
    )
    runs = np.arange(history_runs)
    keys = pd.DataFrame(shops, columns=["platform", "shop_id"])
    history = keys.merge(pd.DataFrame({"metric": list(KPI_THRESHOLDS)}), how="cross").merge(
        pd.DataFrame({"run": runs}), how="cross")
    history["run_id"] = history["run"].map("run-{:04d}".format)
    history["as_of"] = AS_OF - pd.to_timedelta(history_runs - history["run"], unit="D")
    history["value"] = rng.random(len(history)) * 0.1
    result = make_result(findings, kpis=kpis, shops=shops)
    quarantine = pd.concat([default_quarantine()] * 5000, ignore_index=True)
    owner = rng.integers(0, len(shops), size=len(quarantine))
    quarantine["platform"] = [shops[k][0] for k in owner]
    quarantine["shop_id"] = [shops[k][1] for k in owner]
    result.quarantine = quarantine
    columns = ["run_id", "as_of", "platform", "shop_id", "metric", "value"]
    return result, history[columns]


@pytest.fixture
def synthetic():
    """The at-scale builder (slow tests only)."""
    return synthetic_result


@pytest.fixture(scope="module")
def synthetic_small():
    """Twelve shops, 6,000 findings: enough for per-shop checks, quick to build."""
    return synthetic_result(12, 6_000, seed=3, history_runs=5)
