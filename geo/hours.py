"""Opening hours (开放时间) of service positions: parsing, evaluation, rendering.

Structured form
---------------
Every layer exchanges opening hours as a plain dict of exactly this shape::

    {
        "always_open": bool,          # open 24 hours every day (全天开放)
        "closed_on_holidays": bool,   # closed on public holidays (节假日休息)
        "weekly": {                   # day key -> list of [open, close]
            "mon": [["08:30", "12:00"], ["14:30", "17:30"]],
            ...,
            "sun": [["09:00", "12:00"]],
        },
        "text": "<original text>",
        "parsed": bool,               # False: hours unknown, see "text"
        "workday": [["09:00", "17:00"]],  # optional: hours on official working days
    }

``workday`` is present only when the text said ``工作日``: those hours follow
China's official calendar (:mod:`geo.holidays`) rather than the weekday, so
the position is also open on a make-up working Saturday or Sunday (调休上班)
and closed on a public holiday that falls on a weekday. ``weekly`` still
lists them under Monday to Friday, for readers without a calendar.

Day keys are ``mon tue wed thu fri sat sun``; a closed day is absent (the
parser omits it; consumers also accept ``[]``).  Times are 24-hour ``"HH:MM"``
local China time (Asia/Shanghai, UTC+8, no DST); ``"24:00"`` is allowed as a
closing time.  Intervals are half-open ``[open, close)``, sorted, disjoint and
not touching, and never cross midnight.  ``always_open`` is ``True`` exactly
when every day is ``[["00:00", "24:00"]]`` (the parser fills ``weekly`` that
way, so consumers may read either field).  Unparsed hours have ``weekly == {}``
and both flags ``False``.

Parsing rules (:func:`parse_hours`)
-----------------------------------
The text is NFKC-normalised (full-width ``：，；～`` become ASCII) and all dash
variants (``— – ~ 〜`` ...) become ``-``.  It is then read as a sequence of
*segments*: a day specification followed by time ranges.  Day specifications:
``每天/每日/全年``, ``周一至周五`` (also ``星期一到星期六``, ``周一-周五``,
``周一至五``, wrapping ranges such as ``周五至周一``), single days
(``周六``, ``星期日``, ``礼拜天``), lists (``周一、周三``), ``工作日`` (the
official working days: Mon-Fri in ``weekly`` and the ``workday`` hours) and
``周末/双休日`` (Sat-Sun).
Time ranges: ``9:00-21:00``, ``9.00-21.00``, ``9点-17点半`` with optional
``上午/下午/晚上`` (``下午2:30`` means 14:30), separated by spaces,
``, ; 、 /``.  Ranges before any day specification apply to every day.  When
segments overlap, the more specific one (fewer days) wins.

Also recognised: ``全天开放``/``24小时开放`` (00:00-24:00), ``节假日休息``/
``法定节假日休息``/``节假日除外`` (``closed_on_holidays``), ``周一闭馆``/
``周一休息`` (day removed) and ``12:00-14:00休息`` (a break cut out of the
segment's ranges).  Anything else is reported in the warnings.  Text without
any usable opening range, or with an invalid time (``25:00``, a close not
after the open), yields ``parsed=False``, ``weekly={}`` and a warning that the
text was kept as is.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from geo.holidays import day_kind

__all__ = [
    "CHINA_TZ",
    "DAY_KEYS",
    "DAY_ZH",
    "format_hours_zh",
    "intervals_on",
    "is_open",
    "next_opening",
    "parse_hours",
]

#: Time zone in which opening hours are evaluated.
CHINA_TZ = ZoneInfo("Asia/Shanghai")
#: Day keys of the ``weekly`` mapping, Monday first (``datetime.weekday()`` order).
DAY_KEYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
#: Chinese day names in the same order.
DAY_ZH: tuple[str, ...] = ("周一", "周二", "周三", "周四", "周五", "周六", "周日")

_ALL_DAYS = frozenset(range(7))
_FULL_DAY = (0, 24 * 60)

# --------------------------------------------------------------------------
# tokeniser
# --------------------------------------------------------------------------
_DASHES = re.compile(r"[\u2010-\u2015\u2212\u2500\u2501\u301c\uff5e~-]+")
_DAY_CHAR = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6, "七": 6}
_DAY_CHAR.update({str(i + 1): i for i in range(7)})
_PFX = r"(?:周|星期|礼拜)"
_DCH = r"(?:[一二三四五六日天七]|[1-7](?![\d:.点]))"
_PERIOD = r"(?:凌晨|早上|早晨|上午|中午|下午|傍晚|晚上|晚间|夜间|白天)"
_HOL = r"(?:国家)?(?:法定)?(?:节假日|公众假期|节日|假日|假期)"
_CLOSE_WORDS = r"(?:闭馆|休馆|休息|不对外开放|不开放|暂停开放|停止开放|关闭|不办公|闭店|停业|休)"


def _time(n: int) -> str:
    return (
        rf"(?P<h{n}>\d{{1,2}})"
        rf"(?:\s*[:.]\s*(?P<m{n}>\d{{2}})|\s*点\s*(?:(?P<mm{n}>[0-5]?\d)\s*分?|(?P<half{n}>半))?)"
    )


_TOKENS: list[tuple[str, str]] = [
    (
        "always",
        r"(?:7\s*[x×*]\s*)?(?:24|二十四)\s*小时(?:开放|营业|服务|值守|值班)?"
        r"|全天候(?:开放|营业|服务)?|全天(?:开放|营业|服务)",
    ),
    ("holiday_closed", rf"除\s*{_HOL}\s*外|逢?{_HOL}(?:期间)?\s*(?:除外|{_CLOSE_WORDS})"),
    ("holiday_open", rf"{_HOL}(?:期间)?\s*(?:正常|照常)(?:开放|营业|办公)?"),
    ("holiday_spec", _HOL),
    (
        "range",
        rf"(?:(?P<p1>{_PERIOD})\s*)?{_time(1)}\s*(?:-+|至|到)\s*"
        rf"(?:(?P<p2>{_PERIOD})\s*)?{_time(2)}",
    ),
    ("everyday", r"每天|每日|天天|全周|全年无休|全年|常年"),
    ("workday", r"工作日"),
    ("weekend", r"周末|双休日"),
    ("dayrange", rf"每?{_PFX}(?P<d1>{_DCH})\s*(?:-|至|到)\s*{_PFX}?(?P<d2>{_DCH})"),
    ("day", rf"每?{_PFX}(?P<d>{_DCH})"),
    ("closed", rf"(?:全天)?{_CLOSE_WORDS}"),
    (
        "filler",
        r"(?:对外)?(?:开放|营业|办公|服务|工作|值班|接待|上班)(?:时间|时段)?"
        r"|时间|时段|每周|均|照常|正常|为|:",
    ),
    ("sep", r"[\s,;、/|\\()\[\]{}<>【】《》「」。.!?&+和及与或-]+"),
]
_TOKEN_RE = re.compile("|".join(f"(?P<{name}>{pat})" for name, pat in _TOKENS))


@dataclass
class _Segment:
    days: frozenset[int] | None  # None: every day (no day specification given)
    label: str
    intervals: list[tuple[int, int]] = field(default_factory=list)
    breaks: list[tuple[int, int]] = field(default_factory=list)
    holiday_only: bool = False
    closed: bool = False
    workday: bool = False  # the official working days (工作日)


def _fmt(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _parse_hhmm(value: str, *, is_close: bool) -> int:
    """``"HH:MM"`` -> minutes after midnight; ``ValueError`` when invalid."""
    m = re.fullmatch(r"\s*(\d{1,2}):(\d{2})\s*", str(value))
    if not m:
        raise ValueError(f"invalid time {value!r}")
    h, mi = int(m.group(1)), int(m.group(2))
    if mi > 59 or h > 24 or (h == 24 and (mi != 0 or not is_close)):
        raise ValueError(f"invalid time {value!r}")
    return h * 60 + mi


def _clock_minutes(m: re.Match[str], n: int) -> tuple[int, int, str]:
    """Hour, minute and the source text of time ``n`` of a range match."""
    h = int(m.group(f"h{n}"))
    if m.group(f"m{n}") is not None:
        mi = int(m.group(f"m{n}"))
    elif m.group(f"mm{n}") is not None:
        mi = int(m.group(f"mm{n}"))
    elif m.group(f"half{n}") is not None:
        mi = 30
    else:
        mi = 0
    return h, mi, f"{h}:{mi:02d}"


def _apply_period(h: int, period: str | None) -> int:
    if period in ("下午", "傍晚", "晚上", "晚间", "夜间") and h < 12:
        return h + 12
    if period == "中午" and h < 6:
        return h + 12
    return h


def _read_range(m: re.Match[str]) -> tuple[tuple[int, int] | None, str | None]:
    """Interval in minutes from a ``range`` match, or an error message."""
    p1 = m.group("p1")
    p2 = m.group("p2") or p1
    h1, m1, raw1 = _clock_minutes(m, 1)
    h2, m2, raw2 = _clock_minutes(m, 2)
    h1, h2 = _apply_period(h1, p1), _apply_period(h2, p2)
    for h, mi, raw, is_close in ((h1, m1, raw1, False), (h2, m2, raw2, True)):
        if mi > 59 or h > 24 or (h == 24 and (mi != 0 or not is_close)):
            return None, f"时间无效：{raw}"
    start, end = h1 * 60 + m1, h2 * 60 + m2
    if end <= start:
        return None, f"结束时间不晚于开始时间：{_fmt(start)}-{_fmt(end)}（不支持跨午夜时段）"
    return (start, end), None


def _merge(intervals: list[tuple[int, int]]) -> tuple[list[tuple[int, int]], bool]:
    """Sort and merge overlapping/touching intervals; flag real overlaps."""
    out: list[tuple[int, int]] = []
    overlap = False
    for start, end in sorted(intervals):
        if out and start <= out[-1][1]:
            overlap = overlap or start < out[-1][1]
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out, overlap


def _subtract(
    intervals: list[tuple[int, int]], breaks: list[tuple[int, int]]
) -> list[tuple[int, int]]:
    out = list(intervals)
    for b_start, b_end in breaks:
        nxt: list[tuple[int, int]] = []
        for start, end in out:
            if b_end <= start or b_start >= end:
                nxt.append((start, end))
                continue
            if start < b_start:
                nxt.append((start, b_start))
            if b_end < end:
                nxt.append((b_end, end))
        out = nxt
    return out


def _unparsed(text: str) -> dict[str, Any]:
    return {
        "always_open": False,
        "closed_on_holidays": False,
        "weekly": {},
        "text": text,
        "parsed": False,
    }


def parse_hours(text: str) -> tuple[dict[str, Any], list[str]]:
    """Parse a Chinese opening-hours text into the structured form.

    Parameters
    ----------
    text : str
        Free text such as ``"周一至周五 8:30-12:00 14:30-17:30；周六 9:00-12:00"``
        or ``"全天开放，节假日休息"``.  Times are local China time.

    Returns
    -------
    hours : dict
        The structured form described in the module docstring; ``text`` is the
        input unchanged.  ``parsed`` is ``False`` (and ``weekly`` empty) when no
        opening range could be read or a time was invalid.
    warnings : list of str
        Human-readable (Chinese) notes about ignored or unusable parts; empty
        for a clean parse.
    """
    text = "" if text is None else str(text)
    if not text.strip():
        return _unparsed(text), ["开放时间为空"]
    s = _DASHES.sub("-", unicodedata.normalize("NFKC", text))

    warnings: list[str] = []
    errors: list[str] = []
    unknown: list[str] = []
    segments: list[_Segment] = []
    closed_days: set[int] = set()
    closed_on_holidays = False
    cur: _Segment | None = None
    last = ""  # kind of the last significant token
    unknown_run = ""

    def default_segment() -> _Segment:
        for seg in segments:
            if seg.days is None:
                return seg
        seg = _Segment(days=None, label="每天")
        segments.append(seg)
        return seg

    pos = 0
    while pos < len(s):
        m = _TOKEN_RE.match(s, pos)
        if m is None or m.end() == pos:
            unknown_run += s[pos]
            pos += 1
            last = "unknown"
            continue
        if unknown_run.strip():
            unknown.append(unknown_run.strip())
        unknown_run = ""
        kind = m.lastgroup
        word = m.group(0)
        pos = m.end()

        if kind in ("everyday", "workday", "weekend", "dayrange", "day", "holiday_spec"):
            if kind == "everyday":
                days = _ALL_DAYS
            elif kind == "workday":
                days = frozenset(range(5))
            elif kind == "weekend":
                days = frozenset({5, 6})
            elif kind == "dayrange":
                d1, d2 = _DAY_CHAR[m.group("d1")], _DAY_CHAR[m.group("d2")]
                days = frozenset((d1 + k) % 7 for k in range((d2 - d1) % 7 + 1))
            elif kind == "day":
                days = frozenset({_DAY_CHAR[m.group("d")]})
            else:
                days = frozenset()
            holiday_only = kind == "holiday_spec"
            if (
                last == "day"
                and cur is not None
                and not cur.holiday_only
                and not holiday_only
                and cur.days is not None
            ):
                cur.days = cur.days | days
                cur.label += "、" + word.strip()
                cur.workday = False  # 工作日、周六: plain weekdays
            else:
                cur = _Segment(days=days, label=word.strip(), holiday_only=holiday_only,
                               workday=kind == "workday")
                segments.append(cur)
            last = "day"
        elif kind == "range":
            interval, err = _read_range(m)
            if err is not None:
                errors.append(err)
            else:
                assert interval is not None
                if cur is None or cur.closed:
                    cur = default_segment()
                cur.intervals.append(interval)
            last = "range"
        elif kind == "always":
            if cur is None or cur.closed:
                cur = default_segment()
            cur.intervals.append(_FULL_DAY)
            last = "always"
        elif kind == "closed":
            if last == "day" and cur is not None:
                if cur.holiday_only:
                    closed_on_holidays = True
                else:
                    assert cur.days is not None
                    closed_days |= cur.days
                cur.closed = True
                cur = None
            elif last == "range" and cur is not None and cur.intervals:
                cur.breaks.append(cur.intervals.pop())
            else:
                unknown.append(word.strip())
            last = "closed"
        elif kind == "holiday_closed":
            closed_on_holidays = True
            last = "holiday"
        elif kind == "holiday_open":
            last = "holiday"
        # filler and separators change nothing
    if unknown_run.strip():
        unknown.append(unknown_run.strip())

    # ---- assemble the week ------------------------------------------------
    for seg in segments:
        if seg.holiday_only and seg.intervals:
            warnings.append(f"节假日的单独开放时间无法表示，已忽略：{seg.label}")
        elif seg.days is not None and not seg.closed and not seg.intervals and not seg.breaks:
            warnings.append(f"“{seg.label}”后未写开放时间，已忽略")

    usable = [seg for seg in segments if not seg.holiday_only and seg.intervals]
    usable.sort(key=lambda seg: -len(_ALL_DAYS if seg.days is None else seg.days))
    week: dict[int, list[tuple[int, int]]] = {}
    workday: list[tuple[int, int]] | None = None
    for seg in usable:
        merged, overlap = _merge(seg.intervals)
        if overlap:
            warnings.append(f"“{seg.label}”的时段有重叠，已合并")
        merged = _subtract(merged, seg.breaks)
        for d in _ALL_DAYS if seg.days is None else seg.days:
            week[d] = list(merged)
        if seg.workday and merged:
            workday = list(merged)
    for d in closed_days:
        week.pop(d, None)
    week = {d: ivs for d, ivs in week.items() if ivs}

    if errors:
        return _unparsed(text), [*errors, *warnings, "开放时间无效，已按原文保留"]
    if not week:
        return _unparsed(text), [*warnings, "无法解析开放时间，已按原文保留"]
    if unknown:
        warnings.append("未识别的内容已忽略：" + "；".join(f"“{u}”" for u in unknown))

    weekly = {DAY_KEYS[d]: [[_fmt(a), _fmt(b)] for a, b in week[d]] for d in range(7) if d in week}
    always = all(week.get(d) == [_FULL_DAY] for d in range(7))
    hours = {
        "always_open": always,
        "closed_on_holidays": closed_on_holidays,
        "weekly": weekly,
        "text": text,
        "parsed": True,
    }
    if workday is not None and not always:
        hours["workday"] = [[_fmt(a), _fmt(b)] for a, b in workday]
    return hours, warnings


# --------------------------------------------------------------------------
# evaluation and rendering
# --------------------------------------------------------------------------
def _day_intervals(hours: dict[str, Any], key: str) -> list[tuple[int, int]]:
    raw = (hours.get("weekly") or {}).get(key) or []
    return [(_parse_hhmm(o, is_close=False), _parse_hhmm(c, is_close=True)) for o, c in raw]


def intervals_on(hours: dict[str, Any], day: date, *, calendar: bool = True,
                 holidays: set[date] | None = None) -> list[tuple[int, int]] | None:
    """The opening intervals (minutes after midnight, half-open) of one China date.

    ``None`` when the hours are unknown. With ``calendar`` (the default) the
    official calendar (:mod:`geo.holidays`) decides holidays and make-up
    working days: a position closed on holidays (``节假日休息``) is closed on
    every day of a holiday period; ``workday`` hours (``工作日``) apply on
    make-up working Saturdays and Sundays and not on holiday weekdays. A year
    the calendar does not know is read from the weekly hours alone.
    ``holidays`` adds public holidays of its own (tests, local closures).
    """
    if not hours or not hours.get("parsed"):
        return None
    info = day_kind(day) if calendar else None
    holiday = (info is not None and info.kind == "holiday") or bool(holidays and day in holidays)
    if holiday and hours.get("closed_on_holidays"):
        return []
    work = hours.get("workday")
    if work is not None:
        if info is not None and info.makeup:
            return [(_parse_hhmm(o, is_close=False), _parse_hhmm(c, is_close=True))
                    for o, c in work]
        if holiday and day.weekday() < 5:
            return []
    if hours.get("always_open"):
        return [_FULL_DAY]
    return _day_intervals(hours, DAY_KEYS[day.weekday()])


def _local(at: datetime) -> datetime:
    return at.replace(tzinfo=CHINA_TZ) if at.tzinfo is None else at.astimezone(CHINA_TZ)


def is_open(
    hours: dict[str, Any], at: datetime, *, holidays: set[date] | None = None,
    calendar: bool = True,
) -> bool | None:
    """Whether a position is open at an instant.

    Parameters
    ----------
    hours : dict
        Structured opening hours (see module docstring).
    at : datetime.datetime
        The instant.  Naive datetimes are taken as China time (Asia/Shanghai);
        aware ones are converted to it first, so a UTC instant late in the
        evening counts for the next day in China.
    holidays : set of datetime.date, optional
        Further public holidays (China dates), besides the official calendar.
    calendar : bool
        Follow the official holiday and make-up-workday calendar
        (:func:`intervals_on`); False reads the weekly hours alone.

    Returns
    -------
    bool or None
        ``None`` when the hours are unknown (``parsed`` false); otherwise
        whether ``at`` falls into one of the day's half-open ``[open, close)``
        intervals.

    Raises
    ------
    ValueError
        If an interval of the relevant day holds an invalid time.
    """
    local = _local(at)
    spans = intervals_on(hours, local.date(), calendar=calendar, holidays=holidays)
    if spans is None:
        return None
    minute = local.hour * 60 + local.minute + (local.second + local.microsecond / 1e6) / 60.0
    return any(start <= minute < end for start, end in spans)


def next_opening(hours: dict[str, Any], at: datetime, *, days: int = 14,
                 calendar: bool = True) -> datetime | None:
    """The next instant (China time, at or after ``at``) at which a closed
    position opens; None when the hours are unknown, when it is open at
    ``at``, or when it does not open within ``days`` days (a holiday period
    is at most nine days)."""
    local = _local(at)
    minute = local.hour * 60 + local.minute + (local.second + local.microsecond / 1e6) / 60.0
    today = local.date()
    for k in range(days + 1):
        day = today + timedelta(days=k)
        spans = intervals_on(hours, day, calendar=calendar)
        if spans is None:
            return None
        for start, end in spans:
            if k == 0 and start <= minute < end:
                return None
            if k > 0 or start >= minute:
                midnight = datetime(day.year, day.month, day.day, tzinfo=CHINA_TZ)
                return midnight + timedelta(minutes=start)
    return None


def _days_zh(days: list[int]) -> str:
    if len(days) == 7:
        return "每天"
    runs: list[list[int]] = []
    for d in days:
        if runs and d == runs[-1][-1] + 1:
            runs[-1].append(d)
        else:
            runs.append([d])
    parts: list[str] = []
    for run in runs:
        if len(run) >= 3:
            parts.append(f"{DAY_ZH[run[0]]}至{DAY_ZH[run[-1]]}")
        else:
            parts.extend(DAY_ZH[d] for d in run)
    return "、".join(parts)


def format_hours_zh(hours: dict[str, Any]) -> str:
    """Short Chinese rendering of structured opening hours.

    Parameters
    ----------
    hours : dict
        Structured opening hours (see module docstring).

    Returns
    -------
    str
        E.g. ``"每天 09:00-21:00"``, ``"周一至周五 08:30-12:00, 14:30-17:30；周六
        09:00-12:00"``, ``"全天开放；节假日休息"``.  Days with identical ranges are
        grouped (runs of three or more days as ``周X至周Y``).  Unparsed hours
        render as their original text (or ``"开放时间未知"`` when empty).  The
        result parses back (:func:`parse_hours`) to the same structure, apart
        from ``text``.
    """
    if not hours or not hours.get("parsed"):
        original = str((hours or {}).get("text") or "").strip()
        return original or "开放时间未知"
    parts: list[str] = []
    if hours.get("always_open"):
        parts.append("全天开放")
    else:
        work = hours.get("workday")
        work_ivs = None
        if work is not None:
            work_ivs = tuple((_parse_hhmm(o, is_close=False), _parse_hhmm(c, is_close=True))
                             for o, c in work)
            parts.append("工作日 " + ", ".join(f"{_fmt(a)}-{_fmt(b)}" for a, b in work_ivs))
        groups: dict[tuple[tuple[int, int], ...], list[int]] = {}
        closed: list[int] = []
        for d, key in enumerate(DAY_KEYS):
            ivs = tuple(_day_intervals(hours, key))
            if work_ivs is not None and d < 5 and ivs == work_ivs:
                continue  # said by 工作日
            if ivs:
                groups.setdefault(ivs, []).append(d)
            elif work_ivs is not None and d < 5:
                closed.append(d)
        for ivs, days in groups.items():
            ranges = ", ".join(f"{_fmt(a)}-{_fmt(b)}" for a, b in ivs)
            parts.append(f"{_days_zh(days)} {ranges}")
        if closed:
            parts.append(_days_zh(closed) + "休息")
        if not parts:
            parts.append("暂无开放时段")
    if hours.get("closed_on_holidays"):
        parts.append("节假日休息")
    return "；".join(parts)
