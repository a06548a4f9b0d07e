"""Tests for geo.hours: parsing, is_open and Chinese rendering of opening hours."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geo.hours import DAY_KEYS, format_hours_zh, is_open, parse_hours

WEEKDAYS = DAY_KEYS[:5]
ALL_DAYS = DAY_KEYS
FULL = [["00:00", "24:00"]]


def week(days: tuple[str, ...] | list[str], intervals: list[list[str]]) -> dict[str, Any]:
    return {d: [list(iv) for iv in intervals] for d in days}


def structure(
    weekly: dict[str, Any],
    *,
    always_open: bool = False,
    closed_on_holidays: bool = False,
    workday: list[list[str]] | None = None,
) -> dict[str, Any]:
    out = {
        "always_open": always_open,
        "closed_on_holidays": closed_on_holidays,
        "weekly": weekly,
        "parsed": True,
    }
    if workday is not None:
        out["workday"] = workday
    return out


def without_text(hours: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in hours.items() if k != "text"}


EVERY_9_21 = week(ALL_DAYS, [["09:00", "21:00"]])
SPLIT = [["08:30", "12:00"], ["14:30", "17:30"]]

# text -> structure worked out by hand (all parse without warnings)
CASES: list[tuple[str, dict[str, Any]]] = [
    ("每天9:00-21:00", structure(EVERY_9_21)),
    ("每日 09:00-21:00", structure(EVERY_9_21)),
    ("周一至周五 8:30-12:00 14:30-17:30", structure(week(WEEKDAYS, SPLIT))),
    (
        "周一至周五8:30-12:00，14:30-17:30；周六 9:00-12:00",
        structure({**week(WEEKDAYS, SPLIT), "sat": [["09:00", "12:00"]]}),
    ),
    ("星期一到星期六 9:00~18:00", structure(week(DAY_KEYS[:6], [["09:00", "18:00"]]))),
    ("工作日 9:00-17:00", structure(week(WEEKDAYS, [["09:00", "17:00"]]),
                                  workday=[["09:00", "17:00"]])),
    ("周末 10:00-16:00", structure(week(("sat", "sun"), [["10:00", "16:00"]]))),
    ("09:00—21:00", structure(EVERY_9_21)),
    ("9：00-21：00", structure(EVERY_9_21)),
    ("全天开放", structure(week(ALL_DAYS, FULL), always_open=True)),
    ("24小时开放", structure(week(ALL_DAYS, FULL), always_open=True)),
    (
        "全天开放，节假日休息",
        structure(week(ALL_DAYS, FULL), always_open=True, closed_on_holidays=True),
    ),
    (
        "周一至周五 9:00-17:00 法定节假日休息",
        structure(week(WEEKDAYS, [["09:00", "17:00"]]), closed_on_holidays=True),
    ),
    (
        "节假日休息；每天 9:00-21:00",
        structure(EVERY_9_21, closed_on_holidays=True),
    ),
    (
        "周二至周日 9:00-17:00，周一闭馆，法定节假日休息",
        structure(week(DAY_KEYS[1:], [["09:00", "17:00"]]), closed_on_holidays=True),
    ),
    ("每天9:00-21:00 周一休息", structure(week(DAY_KEYS[1:], [["09:00", "21:00"]]))),
    ("周一闭馆 09:00-21:00", structure(week(DAY_KEYS[1:], [["09:00", "21:00"]]))),
    ("上午8:30-12:00 下午14:30-17:30", structure(week(ALL_DAYS, SPLIT))),
    ("8:30-12:00/14:30-17:30", structure(week(ALL_DAYS, SPLIT))),
    (
        "每天 9:00-12:00、14:00-17:30",
        structure(week(ALL_DAYS, [["09:00", "12:00"], ["14:00", "17:30"]])),
    ),
    # extras
    ("下午2:30-5:30", structure(week(ALL_DAYS, [["14:30", "17:30"]]))),
    ("早上9点到晚上9点半", structure(week(ALL_DAYS, [["09:00", "21:30"]]))),
    (
        "周一、周三、周五 9:00-12:00",
        structure(week(("mon", "wed", "fri"), [["09:00", "12:00"]])),
    ),
    ("周一至五 9:00-18:00", structure(week(WEEKDAYS, [["09:00", "18:00"]]))),
    (
        "周五至周一 10:00-20:00",
        structure(week(("mon", "fri", "sat", "sun"), [["10:00", "20:00"]])),
    ),
    (
        "每天9:00-21:00；周六 9:00-12:00",
        structure({**EVERY_9_21, "sat": [["09:00", "12:00"]]}),
    ),
    (
        "周一至周五 8:30-17:30 中午12:00-13:30休息",
        structure(week(WEEKDAYS, [["08:30", "12:00"], ["13:30", "17:30"]])),
    ),
    (
        "开放时间：周一至周五 9:00-17:00（法定节假日除外）",
        structure(week(WEEKDAYS, [["09:00", "17:00"]]), closed_on_holidays=True),
    ),
    ("每天 0:00-24:00", structure(week(ALL_DAYS, FULL), always_open=True)),
    ("周六 9:00-24:00", structure({"sat": [["09:00", "24:00"]]})),
]


@pytest.mark.parametrize(("text", "expected"), CASES, ids=[c[0] for c in CASES])
def test_parse_forms(text: str, expected: dict[str, Any]) -> None:
    hours, warnings = parse_hours(text)
    assert warnings == []
    assert hours["text"] == text
    assert without_text(hours) == expected
    # exact key order of the weekly mapping: Monday first, closed days absent
    assert list(hours["weekly"]) == [d for d in DAY_KEYS if d in expected["weekly"]]


@pytest.mark.parametrize("text", ["暂无", "预约开放", "周一闭馆", "节假日休息", "请电话咨询"])
def test_unparseable_kept_as_text(text: str) -> None:
    hours, warnings = parse_hours(text)
    assert hours == {
        "always_open": False,
        "closed_on_holidays": False,
        "weekly": {},
        "text": text,
        "parsed": False,
    }
    assert any("原文" in w for w in warnings)
    assert format_hours_zh(hours) == text


def test_empty_text() -> None:
    hours, warnings = parse_hours("")
    assert hours["parsed"] is False and hours["weekly"] == {}
    assert warnings
    assert format_hours_zh(hours) == "开放时间未知"


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("每天 9:00-25:00", "25:00"),
        ("25:00-26:00", "25:00"),
        ("周一至周五 9:60-17:00", "9:60"),
        ("每天 21:00-09:00", "21:00-09:00"),
        ("每天 9:00-9:00", "09:00-09:00"),
        ("每天 24:00-24:00", "24:00"),
        ("周一至周五 8:30-12:00 17:30-14:30", "17:30-14:30"),
    ],
)
def test_invalid_times(text: str, fragment: str) -> None:
    hours, warnings = parse_hours(text)
    assert hours["parsed"] is False
    assert hours["weekly"] == {}
    assert any(fragment in w for w in warnings)
    assert any("原文" in w for w in warnings)


def test_partial_parse_warns_about_ignored_text() -> None:
    hours, warnings = parse_hours("周一至周五 9:00-17:00，周六预约开放")
    assert hours["parsed"] is True
    assert hours["weekly"] == week(WEEKDAYS, [["09:00", "17:00"]])
    assert any("预约" in w for w in warnings)
    assert any("周六" in w for w in warnings)


def test_overlapping_ranges_are_merged_with_warning() -> None:
    hours, warnings = parse_hours("每天 9:00-13:00 12:00-18:00")
    assert hours["weekly"]["mon"] == [["09:00", "18:00"]]
    assert any("重叠" in w for w in warnings)
    # touching ranges merge silently
    hours, warnings = parse_hours("每天 9:00-12:00 12:00-18:00")
    assert hours["weekly"]["sun"] == [["09:00", "18:00"]] and warnings == []


def test_holiday_only_hours_are_ignored_with_warning() -> None:
    hours, warnings = parse_hours("每天 9:00-17:00；节假日 9:00-12:00")
    assert hours["weekly"] == week(ALL_DAYS, [["09:00", "17:00"]])
    assert any("节假日" in w for w in warnings)


# --------------------------------------------------------------------------
# is_open
# --------------------------------------------------------------------------
MUSEUM, _ = parse_hours("周二至周日 9:00-21:00，周一闭馆，法定节假日休息")
OFFICE, _ = parse_hours("周一至周五 8:30-12:00 14:30-17:30")
ALWAYS, _ = parse_hours("全天开放，节假日休息")
SHANGHAI = timezone(timedelta(hours=8))

# 2024-10-01 is a Tuesday (National Day holiday), 2024-10-08 the next Tuesday.
HOLIDAYS = {date(2024, 10, 1), date(2024, 10, 2)}


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        (datetime(2024, 10, 8, 9, 0), True),  # opening minute is open
        (datetime(2024, 10, 8, 8, 59, 59), False),
        (datetime(2024, 10, 8, 20, 59, 59, 999999), True),
        (datetime(2024, 10, 8, 21, 0), False),  # closing minute is closed
        (datetime(2024, 10, 7, 12, 0), False),  # Monday: 闭馆
        (datetime(2024, 10, 13, 12, 0), True),  # Sunday
        (datetime(2024, 10, 1, 12, 0), False),  # holiday (Tuesday)
        (datetime(2024, 10, 8, 12, 0, tzinfo=SHANGHAI), True),
    ],
)
def test_is_open_museum(at: datetime, expected: bool) -> None:
    assert is_open(MUSEUM, at, holidays=HOLIDAYS) is expected


def test_is_open_converts_aware_datetimes_to_china_time() -> None:
    # Friday 2024-10-11 23:00 UTC is Saturday 07:00 in Shanghai: a different day
    friday_late_utc = datetime(2024, 10, 11, 23, 0, tzinfo=UTC)
    sat_morning, _ = parse_hours("周六 6:00-8:00")
    assert is_open(sat_morning, friday_late_utc) is True
    assert is_open(sat_morning, friday_late_utc.replace(tzinfo=None)) is False  # naive = China
    # Monday 2024-10-07 01:00 UTC is Monday 09:00 in Shanghai
    assert is_open(OFFICE, datetime(2024, 10, 7, 1, 0, tzinfo=UTC)) is True
    assert is_open(OFFICE, datetime(2024, 10, 7, 1, 0)) is False
    # Monday 2024-09-30 16:00 UTC is 2024-10-01 00:00 in Shanghai, a holiday there
    late_utc = datetime(2024, 9, 30, 16, 0, tzinfo=UTC)
    assert is_open(ALWAYS, late_utc, holidays=HOLIDAYS) is False
    assert is_open(ALWAYS, late_utc.replace(tzinfo=None), holidays=HOLIDAYS) is True
    # Tuesday 2024-10-08 13:00 UTC = 21:00 China: the museum has just closed
    assert is_open(MUSEUM, datetime(2024, 10, 8, 13, 0, tzinfo=UTC)) is False
    assert is_open(MUSEUM, datetime(2024, 10, 8, 12, 59, tzinfo=UTC)) is True


def test_is_open_office_split_day() -> None:
    tue = date(2024, 10, 8)
    at = [
        ("08:29", False),
        ("08:30", True),
        ("11:59", True),
        ("12:00", False),
        ("14:29", False),
        ("14:30", True),
        ("17:29", True),
        ("17:30", False),
    ]
    for hhmm, expected in at:
        h, m = map(int, hhmm.split(":"))
        assert is_open(OFFICE, datetime(tue.year, tue.month, tue.day, h, m)) is expected, hhmm
    assert is_open(OFFICE, datetime(2024, 10, 12, 10, 0)) is False  # Saturday


def test_is_open_holidays() -> None:
    noon = datetime(2024, 10, 1, 12, 0)
    assert is_open(ALWAYS, noon) is False  # National Day, by the official calendar
    assert is_open(ALWAYS, noon, calendar=False) is True  # the weekly hours alone
    assert is_open(ALWAYS, noon, holidays=set(), calendar=False) is True
    assert is_open(ALWAYS, noon, holidays=HOLIDAYS, calendar=False) is False
    # positions that do not close on holidays ignore the calendar
    every, _ = parse_hours("每天9:00-21:00")
    assert is_open(every, noon, holidays=HOLIDAYS) is True


def test_is_open_unknown_and_edge_shapes() -> None:
    unknown, _ = parse_hours("请电话咨询")
    assert is_open(unknown, datetime(2024, 10, 8, 12, 0)) is None
    # consumers may get always_open without weekly, and [] for closed days
    assert is_open(structure({}, always_open=True), datetime(2024, 10, 8, 3, 0)) is True
    h = structure({"mon": [], "tue": [["9:00", "24:00"]]})
    assert is_open(h, datetime(2024, 10, 7, 12, 0)) is False
    assert is_open(h, datetime(2024, 10, 8, 23, 59, 59)) is True
    assert is_open(h, datetime(2024, 10, 9, 0, 0)) is False
    full, _ = parse_hours("全天开放")
    assert is_open(full, datetime(2024, 10, 8, 0, 0)) is True


# --------------------------------------------------------------------------
# format_hours_zh and round trips
# --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "rendered"),
    [
        ("每天9:00-21:00", "每天 09:00-21:00"),
        ("周一至周五 8:30-12:00 14:30-17:30", "周一至周五 08:30-12:00, 14:30-17:30"),
        (
            "周一至周五8:30-12:00，14:30-17:30；周六 9:00-12:00",
            "周一至周五 08:30-12:00, 14:30-17:30；周六 09:00-12:00",
        ),
        ("全天开放", "全天开放"),
        ("24小时开放，法定节假日休息", "全天开放；节假日休息"),
        ("周末 10:00-16:00", "周六、周日 10:00-16:00"),
        ("每天9:00-21:00 周一休息", "周二至周日 09:00-21:00"),
        ("每天9:00-21:00；周六 9:00-12:00", "周一至周五、周日 09:00-21:00；周六 09:00-12:00"),
    ],
)
def test_format_hours_zh(text: str, rendered: str) -> None:
    hours, _ = parse_hours(text)
    assert format_hours_zh(hours) == rendered


@pytest.mark.parametrize(("text", "expected"), CASES, ids=[c[0] for c in CASES])
def test_round_trip_parsed_forms(text: str, expected: dict[str, Any]) -> None:
    hours, _ = parse_hours(text)
    again, warnings = parse_hours(format_hours_zh(hours))
    assert warnings == []
    assert without_text(again) == without_text(hours) == expected


@st.composite
def hours_structures(draw: st.DrawFn) -> dict[str, Any]:
    weekly: dict[str, Any] = {}
    for key in DAY_KEYS:
        n = draw(st.integers(min_value=0, max_value=3))
        if n == 0:
            continue
        bounds = sorted(
            draw(
                st.lists(
                    st.integers(min_value=0, max_value=24 * 60),
                    min_size=2 * n,
                    max_size=2 * n,
                    unique=True,
                )
            )
        )
        weekly[key] = [
            [f"{a // 60:02d}:{a % 60:02d}", f"{b // 60:02d}:{b % 60:02d}"]
            for a, b in zip(bounds[::2], bounds[1::2], strict=True)
        ]
    if not weekly or draw(st.booleans()) and draw(st.booleans()):
        weekly = {key: [list(iv) for iv in FULL] for key in DAY_KEYS}
    always = all(weekly.get(k) == FULL for k in DAY_KEYS)
    return structure(weekly, always_open=always, closed_on_holidays=draw(st.booleans()))


@settings(max_examples=300, deadline=None)
@given(hours_structures())
def test_round_trip_random_structures(hours: dict[str, Any]) -> None:
    text = format_hours_zh(hours)
    parsed, warnings = parse_hours(text)
    assert warnings == []
    assert without_text(parsed) == hours
    assert parsed["text"] == text


@settings(max_examples=200, deadline=None)
@given(hours_structures(), st.datetimes(min_value=datetime(2020, 1, 1)))
def test_is_open_matches_weekly_table(hours: dict[str, Any], at: datetime) -> None:
    key = DAY_KEYS[at.weekday()]
    minute = at.hour * 60 + at.minute
    expected = any(
        int(o[:2]) * 60 + int(o[3:]) <= minute < int(c[:2]) * 60 + int(c[3:])
        for o, c in hours["weekly"].get(key, [])
    )
    assert is_open(hours, at, calendar=False) is expected


def test_format_normalises_unpadded_times() -> None:
    h = structure({"sat": [["9:00", "12:00"]], "sun": [["9:00", "12:00"]]})
    assert format_hours_zh(h) == "周六、周日 09:00-12:00"


HOURS_ALPHABET = list(
    "0123456789:：-—~～至到点半周星期一二三四五六日天每工作末"
    "上下午晚全开放24小时节假法定休息闭馆，,；;、/ "
)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=HOURS_ALPHABET, max_size=40) | st.text(max_size=20))
def test_parse_never_raises_and_output_is_well_formed(text: str) -> None:
    hours, warnings = parse_hours(text)
    assert set(hours) == {"always_open", "closed_on_holidays", "weekly", "text", "parsed"}
    assert hours["text"] == text
    assert all(isinstance(w, str) for w in warnings)
    if not hours["parsed"]:
        assert hours["weekly"] == {} and warnings
        return
    assert set(hours["weekly"]) <= set(DAY_KEYS)
    for intervals in hours["weekly"].values():
        assert intervals
        minutes = [int(t[:2]) * 60 + int(t[3:]) for iv in intervals for t in iv]
        assert minutes == sorted(minutes) and len(set(minutes)) == len(minutes)
        assert 0 <= minutes[0] and minutes[-1] <= 24 * 60
    full = all(hours["weekly"].get(k) == FULL for k in DAY_KEYS)
    assert hours["always_open"] is full
    # rendering parses back to the same structure
    again, _ = parse_hours(format_hours_zh(hours))
    assert without_text(again) == without_text(hours)
