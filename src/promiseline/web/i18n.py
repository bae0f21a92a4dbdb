"""English and Simplified Chinese for the customer page: the words, and a delivery window
in plain words. The language is the browser's (Accept-Language) unless the customer
switched (a `lang` cookie)."""

from __future__ import annotations

import datetime as dt

from fastapi import Request

from promiseline.core.model.window import Window
from promiseline.core.readout.explain import Explanation

LANGS = ("en", "zh-CN")

WORDS: dict[str, dict[str, str]] = {
    "en": {
        "title": "Your order",
        "status": "Status",
        "queue": "Place in the queue",
        "queue_of": "number {n} in the build queue",
        "window": "Delivery",
        "why": "Why this date",
        "history": "How your date moved",
        "no_moves": "Your date has not moved since you locked your order.",
        "not_locked": "Dates are promised once an order is locked.",
        "lock": "Lock my order",
        "change": "Change the variant",
        "confirm_change": "Change it",
        "change_rule": "Your order keeps its place in the queue; its date follows the parts "
        "of the new variant at the next re-plan (a few seconds).",
        "variant": "Variant",
        "cancel": "Cancel my order",
        "confirm_cancel": "Yes, cancel it",
        "confirm_lock": "Yes, lock it",
        "keep": "No, keep it",
        "refund_yes": "You get your deposit back if you cancel now.",
        "refund_no": "Your deposit is no longer refundable if you cancel now.",
        "lock_rule": "Locking takes your place in the build queue; the deposit becomes "
        "non-refundable after the cooling-off period.",
        "token": "Your order's access code",
        "open": "Open my order",
        "bad_token": "That code does not open this order.",
        "live": "This page updates by itself.",
        "no_window": "We cannot give a date yet: {reason}",
        "indicative": "If you locked your order now:",
        "cancelled": "This order is cancelled.",
        "delivered": "This order has been delivered.",
        "language": "中文",
        "status_reserved": "reserved (not yet in the build queue)",
        "status_locked": "locked, waiting to be built",
        "status_scheduled": "scheduled for building",
        "status_built": "built",
        "status_shipped": "on its way",
        "status_delivered": "delivered",
        "status_cancelled": "cancelled",
        "moved": "On {day} your date moved: {before} → {after}.",
    },
    "zh-CN": {
        "title": "您的订单",
        "status": "状态",
        "queue": "排队位置",
        "queue_of": "生产队列第 {n} 位",
        "window": "交付时间",
        "why": "为什么是这个日期",
        "history": "交付日期的变化",
        "no_moves": "自您锁定订单以来，交付日期没有变化。",
        "not_locked": "订单锁定后才会承诺交付日期。",
        "lock": "锁定订单",
        "change": "更改车型版本",
        "confirm_change": "确认更改",
        "change_rule": "您的订单保留原排队位置；"
        "交付日期将在下一次排产（几秒内）时按新版本的零部件更新。",
        "variant": "版本",
        "cancel": "取消订单",
        "confirm_cancel": "确认取消",
        "confirm_lock": "确认锁定",
        "keep": "不，保留订单",
        "refund_yes": "现在取消，定金将全额退还。",
        "refund_no": "现在取消，定金将不予退还。",
        "lock_rule": "锁定后您将进入生产队列；冷静期过后定金不予退还。",
        "token": "订单访问码",
        "open": "查看我的订单",
        "bad_token": "该访问码无法打开此订单。",
        "live": "本页面会自动更新。",
        "no_window": "暂时无法给出日期：{reason}",
        "indicative": "如果您现在锁定订单：",
        "cancelled": "此订单已取消。",
        "delivered": "此订单已交付。",
        "language": "English",
        "status_reserved": "已预订（尚未进入生产队列）",
        "status_locked": "已锁定，等待生产",
        "status_scheduled": "已排产",
        "status_built": "已下线",
        "status_shipped": "运输中",
        "status_delivered": "已交付",
        "status_cancelled": "已取消",
        "moved": "{day}，您的交付日期调整为：{before} → {after}。",
    },
}


def pick(request: Request) -> str:
    """The customer's choice (cookie), else the browser's first language we have."""
    chosen = request.cookies.get("lang")
    if chosen in LANGS:
        return chosen
    for part in request.headers.get("accept-language", "").split(","):
        tag = part.split(";")[0].strip().lower()
        if tag.startswith("zh"):
            return "zh-CN"
        if tag.startswith("en"):
            return "en"
    return "en"


def day(d: dt.date, lang: str) -> str:
    if lang == "zh-CN":
        return f"{d.year}年{d.month}月{d.day}日"
    return f"{d.day} {d:%B %Y}"


ODDS_ZH = {5: "五成", 6: "六成", 7: "七成", 8: "八成", 9: "九成"}


def window_words(w: Window, lang: str) -> str:
    """'most likely the week of 14 September 2026; 8 in 10 chances between 1 September and
    5 October 2026' for a window with stated odds (the tenths are the window's own
    probability, rounded down: never more than it holds), or the plan's stand-in, which
    states none: 'between ... and ...'. The likely date is named by its week only when
    the window spans weeks, by a week that starts inside the window; else by its day."""
    assert w.earliest is not None
    assert w.latest is not None
    likely = w.likely or w.earliest
    e, la = day(w.earliest, lang), day(w.latest, lang)
    if w.odds is None:
        if lang == "zh-CN":
            return f"预计在{e}至{la}之间交付。"
        return f"Expected between {e} and {la}."
    tenths = min(9, max(1, int((w.probability or w.odds) * 10 + 1e-9)))
    week = max(likely - dt.timedelta(days=likely.weekday()), w.earliest)
    by_week = (w.latest - w.earliest).days >= 7  # a window of weeks names the likely week
    one_day = w.earliest == w.latest
    if lang == "zh-CN":
        odds = ODDS_ZH.get(tenths, f"{tenths}成")
        when = f"{day(week, lang)}那一周" if by_week else day(likely, lang)
        if one_day:
            return f"最可能在{day(likely, lang)}交付；有{odds}把握在这一天。"
        return f"最可能在{when}交付；有{odds}把握在{e}至{la}之间。"
    when = f"the week of {day(week, lang)}" if by_week else f"on {day(likely, lang)}"
    if one_day:
        return f"Most likely on {day(likely, lang)}; {tenths} in 10 chances on that day."
    return f"Most likely {when}; {tenths} in 10 chances between {e} and {la}."


def why(e: Explanation, lang: str) -> str:
    """Why the order's date is what it is, in a customer's words in either language: the
    core's facts (its build and delivery day, its place, what held it back and how many
    cars ahead needed the same) without the plant's names for lines, plants, parts,
    limits and markets (a customer read 'line p2-final, plant phase-2-majuqiao')."""
    zh = lang == "zh-CN"
    kind, _, _ = e.bound_by.partition(":")
    when = day(e.blocked_day, lang) if e.blocked_day else ""
    ahead = f"{e.ahead_same_constraint:,}" if e.ahead_same_constraint is not None else ""
    if e.build_date is None:
        head = "您的车暂无生产日期。" if zh else "Your car has no build date yet."
    elif zh:
        head = f"您的车计划于{day(e.build_date, lang)}生产"
        head += f"，{day(e.delivery_date, lang)}交付。" if e.delivery_date else "。"
    else:
        head = f"Your car is planned to be built on {day(e.build_date, lang)}"
        head += f" and delivered on {day(e.delivery_date, lang)}." if e.delivery_date else "."
    if e.queue_position and zh:
        pos = (
            f"它在生产队列中排第 {e.queue_position:,} 位"
            f"（同车型第 {e.model_queue_position:,} 位）。"
        )
    elif e.queue_position:
        pos = (
            f" It is number {e.queue_position:,} in the build queue "
            f"({e.model_queue_position:,} among cars of its model). "
        )
    else:
        pos = "它尚未进入生产队列。" if zh else " It is not in the build queue yet. "
    words = WHY_ZH if zh else WHY_EN
    detail = words.get(kind, words[""]) if e.status == "planned" else words["unplanned"]
    return (head + pos + detail.format(when=when, ahead=ahead)).strip()


WHY_EN = {
    "line": "The production line that builds it is fully booked on {when}: the {ahead} cars "
    "ahead of yours on that line are built first.",
    "part": "A part your car needs is short from {when}: the {ahead} cars ahead of yours that "
    "need it get it first.",
    "mix": "The factory builds only so many cars like yours a day, and on {when} those are "
    "taken by the {ahead} cars ahead of yours.",
    "shutdown": "The factory is closed for maintenance on {when}.",
    "market": "Deliveries to your region start on the day it opens.",
    "gate": "Your model is delivered in your country once it is approved there.",
    "sailing": "The first ship your car could take is full, so it goes on a later one.",
    "ahead": "Cars for your country are built in time for their ship, not earlier.",
    "": "It is built on the first day it can be: nothing holds it back.",
    "unplanned": "It cannot be given a build day yet.",
}
WHY_ZH = {
    "line": "{when}生产您这款车的产线已排满：排在您前面的 {ahead} 台车先在这条产线生产。",
    "part": "从{when}起，您的车所需的一个零部件供应不足：排在您前面、需要它的 {ahead} 台车先用。",
    "mix": "工厂每天只能生产一定数量与您的车同类的车，"
    "{when}的名额已由排在您前面的 {ahead} 台车占用。",
    "shutdown": "工厂于{when}停产检修。",
    "market": "您所在地区开放后才开始交付。",
    "gate": "您的车型在您所在国家获得认证后才能交付。",
    "sailing": "您的车最早能赶上的船期已满，改搭之后的船期。",
    "ahead": "出口到您所在国家的车按船期生产，不会提前。",
    "": "它在可以生产的第一天即安排生产，没有受到任何限制。",
    "unplanned": "暂时无法排产。",
}
