"""Every fixed word the report and the mail show, in Chinese and English.

``lang="zh"`` shows "中文 English" (the team reads Chinese; the English helps the agency's
non-Chinese staff and keeps terms unambiguous); ``lang="en"`` shows English only. Keeping
them in one table means a template never holds a bare label and a missing translation is a
KeyError in a test, not a blank on a page.
"""

from __future__ import annotations

LANGS = ("zh", "en")

_LABELS: dict[str, tuple[str, str]] = {
    # page structure
    "report_title": ("售后合规审计", "Refund audit"),
    "overview_title": ("全部店铺概览", "All shops overview"),
    "shop": ("店铺", "Shop"),
    "platform": ("平台", "Platform"),
    "period": ("审计区间", "Period"),
    "as_of": ("审计时点", "As of"),
    "window_days": ("窗口天数", "Window (days)"),
    "run_id": ("运行编号", "Run"),
    "source": ("数据源", "Source"),
    "timezone": ("时区", "Time zone"),
    "overall": ("总体状态", "Overall status"),
    "times_in": ("时间均为当地时间", "Times are local to"),
    "not_evaluated": ("未评估的规则", "Rules not evaluated"),
    "not_evaluated_why": (
        "缺少所需数据（如 messages 表）",
        "the data they need is missing (e.g. the messages table)",
    ),
    "back_to_overview": ("返回概览", "Back to overview"),
    # sections
    "kpis": ("关键指标", "KPIs"),
    "at_risk": ("风险预警", "At risk"),
    "at_risk_intro": (
        "尚未超时，请在截止时间前处理",
        "Not late yet: act before the due time",
    ),
    "violations": ("违规明细", "Violations"),
    "contestable": ("可申诉纠纷", "Contestable disputes"),
    "contestable_intro": (
        "买家的质量类纠纷不符合平台受理条件，可向平台申诉",
        "The buyer's quality claim does not meet the platform's conditions; the seller can contest it",
    ),
    "data_quality": ("数据质量", "Data quality"),
    "catalog": ("规则目录", "Rule catalog"),
    "ranking": ("店铺排名（按严重程度）", "Shops ranked by severity"),
    "by_rule": ("按规则统计", "Findings by rule"),
    "quarantine_reasons": ("隔离原因", "Quarantine reasons"),
    "warnings": ("运行警告", "Run warnings"),
    # re-audit diff section
    "diff": ("与上次审计相比", "Re-audit changes"),
    "diff_appeared": ("新出现", "Appeared"),
    "diff_disappeared": ("已消失", "Disappeared"),
    "diff_changed": ("状态变化", "Status changed"),
    "diff_unchanged": ("未变", "Unchanged"),
    "diff_kind_re-audit": (
        "同一审计的重新运行（如迟到的数据），对比其上一版本",
        "A re-run of the same audit (e.g. late data), compared with its earlier version",
    ),
    "diff_kind_previous": (
        "对比同一数据源、同一窗口的上一次审计",
        "Compared with the previous audit of the same source and window",
    ),
    "diff_baseline": ("对比运行", "Baseline run"),
    "recorded_at": ("记录于", "recorded"),
    "diff_none": ("没有可对比的更早运行", "No earlier run to compare with"),
    "diff_no_changes": ("没有变化", "No changes"),
    "diff_more": ("另有 {n} 条，完整列表请运行", "{n} more — run"),
    "diff_full": ("完整列表请运行", "Full list: run"),
    "change": ("变化", "Change"),
    "status_change": ("状态（之前 → 现在）", "Status (before → now)"),
    # table headers
    "rank": ("排名", "Rank"),
    "rule": ("规则", "Rule"),
    "rule_id": ("编号", "Id"),
    "title": ("标题", "Title"),
    "severity": ("严重程度", "Severity"),
    "status": ("状态", "Status"),
    "count": ("数量", "Count"),
    "action": ("待办", "To do"),
    "due": ("截止", "Due"),
    "responded": ("响应", "Responded"),
    "overdue_h": ("超时(小时)", "Overdue (h)"),
    "hours_left": ("剩余(小时)", "Hours left"),
    "ids": ("单号", "Ids"),
    "evidence": ("证据", "Evidence"),
    "detail": ("说明", "Detail"),
    "why": ("原因", "Why"),
    "value": ("数值", "Value"),
    "threshold": ("阈值", "Threshold"),
    "trend": ("趋势", "Trend"),
    "table": ("数据表", "Table"),
    "read": ("读取", "Read"),
    "valid": ("有效", "Valid"),
    "quarantined": ("隔离", "Quarantined"),
    "superseded": ("被取代", "Superseded"),
    "balanced": ("核对", "Balanced"),
    "column": ("字段", "Column"),
    "check": ("检查", "Check"),
    "examples": ("示例", "Examples"),
    "policy": ("规则内容", "Policy"),
    "rule_source": ("来源", "Source"),
    "family": ("类别", "Family"),
    "kpi_breaches": ("指标超标", "KPI breaches"),
    "kpi_warns": ("指标预警", "KPI warnings"),
    "findings_total": ("问题合计", "Findings"),
    "none_found": ("无", "None"),
    "no_quarantine": ("没有被隔离的行", "No row was quarantined"),
    "more_in_csv": ("另有 {n} 条，见 findings.csv", "{n} more in findings.csv"),
    "more_quarantine": ("另有 {n} 条，见 quarantine.csv", "{n} more in quarantine.csv"),
    "before": ("截止", "before"),
    "order": ("订单", "order"),
    "refund": ("售后单", "refund"),
    "message": ("消息", "message"),
    "yes": ("是", "yes"),
    "no": ("否", "no"),
    # statuses and severities
    "status_ok": ("正常", "OK"),
    "status_warn": ("预警", "Warn"),
    "status_breach": ("超标", "Breach"),
    "status_empty": ("无数据", "No data"),
    "overall_action": ("需立即处理", "Action needed"),
    "overall_attention": ("需关注", "Attention"),
    "overall_ok": ("正常", "OK"),
    "sev_critical": ("严重", "Critical"),
    "sev_major": ("重要", "Major"),
    "sev_minor": ("一般", "Minor"),
    "sev_info": ("提示", "Info"),
    "st_at_risk": ("预警", "At risk"),
    "st_violation": ("违规", "Violation"),
    "st_contestable": ("可申诉", "Contestable"),
    # KPI names
    "kpi_dispute_refund_rate": ("纠纷退款率", "Dispute refund rate"),
    "kpi_intervention_rate": ("介入率", "Intervention rate"),
    "kpi_late_response_rate": ("售后响应超时率", "Late response rate"),
    "kpi_invalid_rejection_rate": ("无效拒绝率", "Invalid rejection rate"),
    "kpi_self_completion_rate": ("自主完结率", "Self-completion rate"),
    "kpi_seven_day_refusals": ("7天无理由拒绝数", "7-day return refusals"),
    "kpi_return_address_defect_rate": ("退货地址问题率", "Return address defect rate"),
    "kpi_message_late_rate": ("消息回复超时率", "Late message reply rate"),
    "better_lower": ("越低越好", "lower is better"),
    "better_higher": ("越高越好", "higher is better"),
    # at-risk actions, per deadline rule
    "act_RT001": ("响应买家的售后申请", "Respond to the refund request"),
    "act_RT002": ("响应平台介入（提交凭证）", "Respond to the platform intervention"),
    "act_RT003": ("为已收到的退货退款", "Refund the received return"),
    "act_RT004": ("回复买家消息", "Reply to the buyer's message"),
    "act_default": ("处理", "Handle"),
    # mail
    "mail_counts": ("问题统计", "Counts"),
    "mail_full_report": (
        "完整报告见附件和 HTML 正文",
        "Full report in the HTML body and the attachment",
    ),
}


def label(key: str, lang: str) -> str:
    """The label for ``key``: "中文 English" for ``zh``, English for ``en``."""
    zh, en = _LABELS[key]
    if lang == "en":
        return en
    return f"{zh} {en}"


def labels(lang: str) -> dict[str, str]:
    """All labels for one language (what the templates get as ``L``)."""
    if lang not in LANGS:
        raise ValueError(f"unknown report language {lang!r}; use one of {', '.join(LANGS)}")
    return {key: label(key, lang) for key in _LABELS}


def has_label(key: str) -> bool:
    return key in _LABELS
