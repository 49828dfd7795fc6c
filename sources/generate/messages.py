"""Buyer/seller/platform messages: the text pool (Chinese and English) and the threads
around orders and refunds, with the planted message-rule cases."""

from __future__ import annotations

import numpy as np

from sources.generate.arrays import _cat, _take
from sources.generate.vocabulary import AMAZON, MSG_H, REASONS, D, H

# --------------------------------------------------------------------------- message texts

_CN_TEXTS: dict[str, list[str]] = {
    "open_no_reason": ["不想要了，申请七天无理由退货", "拍错了，麻烦同意一下退款", "买多了，想退一件",
                       "尺码不合适，想退货", "家里已经有了，不需要了，申请退款"],
    "open_quality": ["收到的商品有质量问题，拉链坏了", "用了一次就坏了，申请退货退款",
                     "屏幕有坏点，要求退货", "有异味，质量太差了"],
    "open_not_as_described": ["实物和描述不符，颜色差别很大", "和详情页写的成分不一样",
                              "说是正品，专柜验了说不对"],
    "open_damaged": ["快递送到的时候包装破损，瓶子碎了", "外箱压坏了，里面的东西也有损坏"],
    "open_wrong_item": ["发错货了，我买的是黑色的", "收到的型号不对，麻烦处理一下"],
    "open_not_received": ["物流好几天没更新了，还没收到货", "显示已签收但我没收到"],
    "open_other": ["想问一下退款什么时候到账", "优惠券没用上，能退差价吗", "赠品没收到"],
    "followup": ["在吗？", "请尽快处理，谢谢", "还没处理吗？", "[图片]", "麻烦看一下"],
    "later": ["退货单号已经填了，请查收", "好的，谢谢", "已经寄回了", "钱什么时候退？",
              "收到了，谢谢"],
    "seller_refund": ["亲，非常抱歉给您带来不便，已为您处理退款", "您好，退货地址已发送，请寄回售后仓",
                      "亲，麻烦提供一下商品问题的照片哦", "收到您的退货后会第一时间退款",
                      "亲，已经同意退款，请注意查收", "您好，已为您催促快递，请耐心等待",
                      "本店支持七天无理由退货，请放心"],
    "seller_question": ["亲，48小时内发货哦", "支持开具电子发票", "保证正品，假一赔十",
                        "已为您修改地址", "今天下午已经发出了"],
    "seller_lookalike": ["滚筒洗衣机已发货，请注意查收", "亲，页面滚动到底部可以看到退货地址哦",
                         "您买的滚筒刷明天发货"],
    "platform_escalation": ["平台客服已介入，请双方在规定时间内提交凭证",
                            "小二已介入处理，请卖家尽快响应"],
    "platform_ruling": ["平台已完成判定，请查看处理结果"],
    "question": ["什么时候发货？", "可以开发票吗？", "请问是正品吗？", "能改一下收货地址吗？"],
    "hostile": ["爱买不买", "爱买不买，不退", "滚", "滚！别烦我", "不退，爱找谁找谁去"],
}  # fmt: skip
_EN_TEXTS: dict[str, list[str]] = {
    "open_no_reason": ["I'd like to return this, I changed my mind.", "Ordered the wrong size, "
                       "please accept the return.", "No longer needed, requesting a refund."],
    "open_quality": ["The zipper broke after one use.", "Stopped working after two days."],
    "open_not_as_described": ["The color is nothing like the pictures.",
                              "Item is not as described in the listing."],
    "open_damaged": ["The box arrived crushed and the glass is cracked."],
    "open_wrong_item": ["You sent me the wrong model."],
    "open_not_received": ["Tracking hasn't moved in a week, where is my package?",
                          "It says delivered but I never got it."],
    "open_other": ["When will my refund arrive?", "Can you refund the price difference?"],
    "followup": ["Hello?", "Any update on this?", "Please respond."],
    "later": ["I shipped it back today.", "Thanks!", "Got the refund, thank you.",
              "Tracking number is in the return request."],
    "seller_refund": ["Sorry for the trouble, we have issued a full refund.",
                      "Please use the prepaid label to send the item back.",
                      "Could you send us a photo of the damage?",
                      "Your refund will be processed as soon as the return arrives.",
                      "No problem at all, happy to help!"],
    "seller_question": ["It ships within 1 business day.", "Yes, it is compatible.",
                        "We updated your shipping address."],
    "seller_lookalike": ["We're rolling out the fix for this model next week.",
                         "Rolling out the replacement today, you'll get tracking soon."],
    "platform_escalation": ["Amazon has received an A-to-z Guarantee claim for this order.",
                            "A claim was filed for this order. Please respond within 72 hours."],
    "platform_ruling": ["The A-to-z Guarantee claim has been decided."],
    "question": ["When will this ship?", "Is this compatible with iPhone 15?",
                 "Can I change the delivery address?"],
    "hostile": ["Not my problem.", "not my problem, talk to the carrier",
                "That's not my problem. Stop messaging me."],
}  # fmt: skip
_TEXT_KEYS = list(_CN_TEXTS)
_TEXT_POOL: list[str] = []
_TEXT_OFF = np.zeros(2 * len(_TEXT_KEYS), dtype=np.int64)
_TEXT_LEN = np.zeros(2 * len(_TEXT_KEYS), dtype=np.int64)
for _lang, _texts in enumerate((_CN_TEXTS, _EN_TEXTS)):
    for _k, _key in enumerate(_TEXT_KEYS):
        _TEXT_OFF[_lang * len(_TEXT_KEYS) + _k] = len(_TEXT_POOL)
        _TEXT_LEN[_lang * len(_TEXT_KEYS) + _k] = len(_texts[_key])
        _TEXT_POOL.extend(_texts[_key])
_TEXT_POOL.append(None)  # type: ignore[arg-type]  # an image-only message has no text
_T = {key: k for k, key in enumerate(_TEXT_KEYS)}




class MessagesMixin:
    """Message threads and the planted message cases."""

    def build_messages(self) -> None:
        R, od, A, r = self.R_final, self.od, self.A, self.rng
        n_ref = len(R["req"])
        has_thread = r.random(n_ref) < 0.88
        # a seller message on a request is a response: none before first_response_at / decided_at
        # as they happened (uncensored), so a reply after the pull is cut with it
        floor = np.fmin(self.R["resp"], self.R["dec"])
        floor = np.where(np.isnan(floor), np.inf, floor)
        ti = np.flatnonzero(has_thread)
        threads = {
            "oi": R["oi"][ti], "ri": ti, "start": np.where(
                r.random(len(ti)) < 0.7, R["req"][ti] + r.uniform(60, 30 * 60, len(ti)),
                R["req"][ti] - r.uniform(600, 3 * H, len(ti)),
            ),
            "turns": self.choice([0.65, 0.27, 0.08], len(ti), [1, 2, 3]),
            "silent": R["silent"][ti], "floor": floor[ti],
            "cutoff": R["cutoff"][ti], "reason": R["reason"][ti],
        }  # fmt: skip
        msgs = [self.thread_messages(threads, refund=True)]
        # the platform's own notices on escalations and rulings
        esc = np.flatnonzero(~np.isnan(R["esc"]))
        ruled = np.flatnonzero(~np.isnan(R["ruled"]))
        for rows, when, key in (
            (esc, R["esc"][esc] + r.uniform(60, 1200, len(esc)), "platform_escalation"),
            (ruled, R["ruled"][ruled], "platform_ruling"),
        ):
            msgs.append(self.message_rows(R["oi"][rows], rows, 2, when, key, R["cutoff"][rows]))
        made = sum(len(m["oi"]) for m in msgs)
        has_ref = np.zeros(self.n, dtype=bool)
        has_ref[R["oi"]] = True
        free = np.flatnonzero(~has_ref)
        n_q = int(min(len(free), max(0, (0.7 * self.n - made) / 2.2)))
        qo = np.sort(r.choice(free, size=n_q, replace=False))
        questions = {
            "oi": qo, "ri": np.full(n_q, -1), "start": od["paid"][qo] + r.uniform(600, 3 * D, n_q),
            "turns": self.choice([0.8, 0.2], n_q, [1, 2]), "silent": np.zeros(n_q, dtype=bool),
            "floor": np.full(n_q, -np.inf), "cutoff": np.full(n_q, A),
            "reason": np.full(n_q, -1),
        }  # fmt: skip
        msgs.append(self.thread_messages(questions, refund=False))
        self.M = _cat(*msgs)
        self.has_msg = np.zeros(self.n, dtype=bool)
        self.has_msg[self.M["oi"]] = True
        self.has_ref = has_ref

    def message_rows(self, oi, ri, sender, when, key, cutoff) -> dict[str, np.ndarray]:
        k = len(oi)
        lang = (self.od["plat"][np.asarray(oi, dtype=np.int64)] == AMAZON).astype(np.int64)
        cat = lang * len(_TEXT_KEYS) + (_T[key] if isinstance(key, str) else key)
        text = _TEXT_OFF[cat] + np.floor(self.rng.random(k) * _TEXT_LEN[cat]).astype(np.int64)
        return {
            "oi": np.asarray(oi, dtype=np.int64), "ri": np.asarray(ri, dtype=np.int64),
            "sender": np.full(k, sender, dtype=np.int8), "t": np.asarray(when, dtype=float),
            "text": text, "cutoff": np.asarray(cutoff, dtype=float),
        }  # fmt: skip

    def thread_messages(self, th: dict[str, np.ndarray], *, refund: bool) -> dict[str, np.ndarray]:
        """Buyer/seller turns: a buyer opens, the seller replies (after his first response)."""
        r = self.rng
        parts = []
        b = th["start"].copy()
        for j in range(3):
            live = np.flatnonzero(th["turns"] > j)
            if not len(live):
                break
            m = len(live)
            oi, cut = th["oi"][live], th["cutoff"][live]
            ri = np.where(r.random(m) < 0.88, th["ri"][live], -1) if refund else th["ri"][live]
            if j == 0:
                key = np.where(th["reason"][live] >= 0, th["reason"][live], _T["question"])
                if refund:
                    key = np.array([_T[f"open_{REASONS[x]}"] for x in range(7)])[key]
            else:
                key = np.full(m, _T["later"])
            parts.append(self.message_rows(oi, ri, 0, b[live], key, cut))
            delay = np.maximum(120, self.logn(1.5 * H, 1.1, m))
            reply = np.fmax(b[live] + delay, th["floor"][live])
            last = th["turns"][live] == j + 1
            no_reply = th["silent"][live] | (last & (r.random(m) < 0.02)) | ~np.isfinite(reply)
            follow = r.random(m) < 0.15
            f_at = np.where(no_reply, b[live] + r.uniform(120, 3 * H, m),
                            b[live] + (reply - b[live]) * r.uniform(0.1, 0.8, m))  # fmt: skip
            fi = np.flatnonzero(follow)
            parts.append(self.message_rows(oi[fi], ri[fi], 0, f_at[fi], "followup", cut[fi]))
            si = np.flatnonzero(~no_reply)
            seller_key = np.where(
                r.random(len(si)) < 0.02, _T["seller_lookalike"],
                _T["seller_refund" if refund else "seller_question"],
            )  # fmt: skip
            parts.append(self.message_rows(oi[si], ri[si], 1, reply[si], seller_key, cut[si]))
            b[live] = np.where(no_reply, b[live] + r.uniform(6 * H, 30 * H, m),
                               reply + r.uniform(0.5 * H, 30 * H, m))  # fmt: skip
        out = _cat(*parts) if parts else self.message_rows([], [], 0, [], "later", [])
        keep = out["t"] <= out["cutoff"]
        return _take(out, np.flatnonzero(keep))

    def plant_messages(self) -> None:
        """RT004 (late and at-risk buyer turns) on quiet orders, PC002 hostile seller texts."""
        od, A, r = self.od, self.A, self.rng
        quiet = ~self.has_msg & ~self.has_ref & (od["paid"] >= A - self.W)
        n_buyer = int(((self.M["sender"] == 0) & (self.M["t"] >= A - self.W)).sum())
        k = max(2, round(0.004 * n_buyer))
        late_o = r.permutation(np.flatnonzero(quiet & (od["paid"] <= A - 6 * D)))[:k]
        start = od["paid"][late_o] + r.uniform(H, 2 * D, len(late_o))
        reply = start + MSG_H * H + r.uniform(3 * H, 48 * H, len(late_o))
        quiet[late_o] = False
        risk_o = r.permutation(np.flatnonzero(quiet & (od["paid"] <= A - D)))[: max(2, k // 2)]
        risk_at = A - r.uniform(2 * H, 20 * H, len(risk_o))
        none = np.full(len(late_o), -1)
        parts = [
            self.M,
            self.message_rows(late_o, none, 0, start, "question", np.full(len(late_o), A)),
            self.message_rows(late_o, none, 1, reply, "seller_question", np.full(len(late_o), A)),
            self.message_rows(risk_o, np.full(len(risk_o), -1), 0, risk_at, "question",
                              np.full(len(risk_o), A)),
        ]  # fmt: skip
        M = _cat(*parts)
        seller = np.flatnonzero((M["sender"] == 1) & (M["t"] >= A - self.W) & (M["t"] < A))
        k = min(len(seller), max(2, round(0.002 * len(seller))))
        hostile = r.choice(seller, size=k, replace=False)
        lang = (od["plat"][M["oi"][hostile]] == AMAZON).astype(np.int64)
        cat = lang * len(_TEXT_KEYS) + _T["hostile"]
        M["text"][hostile] = _TEXT_OFF[cat] + np.floor(r.random(k) * _TEXT_LEN[cat]).astype(
            np.int64
        )
        image_only = (M["sender"] == 0) & (r.random(len(M["t"])) < 0.01)
        M["text"][image_only] = len(_TEXT_POOL) - 1
        M["t"] = np.floor(M["t"])
        n = len(M["t"])
        M["num"] = np.arange(n, dtype=np.int64)
        M["style"] = self.styles(n)
        self.M = M
        self.M_dups = np.sort(r.choice(n, size=min(n, max(2, round(0.002 * n))), replace=False))
        self.has_msg[M["oi"]] = True

