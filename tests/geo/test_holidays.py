"""China's holiday calendar in opening hours: National Day, the Spring
Festival's make-up Saturday, an ordinary Sunday, years the calendar does not
know. Dates checked against the State Council's notices (国办发明电〔2025〕7号
for 2026: Spring Festival 2-15..2-23 with 2-14 and 2-28 worked; National Day
and Mid-Autumn 10-01..10-07 with 9-20 and 10-10 worked)."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from geo import holidays
from geo.hours import format_hours_zh, intervals_on, is_open, next_opening, parse_hours

CENTER = parse_hours("周一至周日 9:00-21:00，节假日休息")[0]
OFFICE = parse_hours("工作日 8:30-12:00 14:30-17:30")[0]
SIX_DAYS = parse_hours("周一至周六 9:00-17:00")[0]


def test_day_kinds_of_2026() -> None:
    oct1 = holidays.day_kind(date(2026, 10, 1))
    assert (oct1.kind, oct1.name_zh, oct1.makeup) == ("holiday", "国庆节", False)
    # the weekend days of the period are holiday days too
    assert holidays.day_kind(date(2026, 10, 4)).kind == "holiday"  # a Sunday
    feb14 = holidays.day_kind(date(2026, 2, 14))  # a Saturday worked for the Spring Festival
    assert (feb14.kind, feb14.makeup, feb14.name_zh) == ("workday", True, "春节")
    assert holidays.day_kind(date(2026, 11, 29)).kind == "rest"  # an ordinary Sunday
    assert holidays.day_kind(date(2026, 12, 1)).kind == "workday"
    assert holidays.day_kind(date(holidays.LAST_YEAR + 1, 1, 5)) is None


def test_closed_on_holidays_on_national_day() -> None:
    at = datetime(2026, 10, 1, 10, 0)
    assert is_open(CENTER, at) is False
    assert is_open(CENTER, at, calendar=False) is True  # the weekly hours alone
    # open again on the first day after the period, at nine
    assert next_opening(CENTER, at) == datetime.fromisoformat("2026-10-08T09:00+08:00")
    # a make-up Saturday is an ordinary open day for it
    assert is_open(CENTER, datetime(2026, 10, 10, 10, 0)) is True


def test_workday_hours_follow_the_calendar() -> None:
    assert OFFICE["workday"] == [["08:30", "12:00"], ["14:30", "17:30"]]
    # the Spring Festival make-up Saturday is worked: open
    assert is_open(OFFICE, datetime(2026, 2, 14, 9, 0)) is True
    assert is_open(OFFICE, datetime(2026, 2, 14, 9, 0), calendar=False) is False
    # National Day on a Thursday: closed; an ordinary Saturday: closed
    assert is_open(OFFICE, datetime(2026, 10, 1, 9, 0)) is False
    assert is_open(OFFICE, datetime(2026, 11, 28, 9, 0)) is False
    # Friday 2026-02-13 after hours: next opening is the make-up Saturday morning
    assert next_opening(OFFICE, datetime(2026, 2, 13, 18, 0)) == \
        datetime.fromisoformat("2026-02-14T08:30+08:00")
    # the week of the Spring Festival (2-15..2-23): nothing until Tuesday 2-24
    assert next_opening(OFFICE, datetime(2026, 2, 14, 18, 0)) == \
        datetime.fromisoformat("2026-02-24T08:30+08:00")
    assert format_hours_zh(OFFICE) == "工作日 08:30-12:00, 14:30-17:30"


def test_six_day_position_on_sunday_and_make_up_saturday() -> None:
    assert is_open(SIX_DAYS, datetime(2026, 11, 29, 10, 0)) is False  # ordinary Sunday
    assert next_opening(SIX_DAYS, datetime(2026, 11, 29, 10, 0)) == \
        datetime.fromisoformat("2026-11-30T09:00+08:00")
    assert is_open(SIX_DAYS, datetime(2026, 2, 14, 10, 0)) is True  # make-up Saturday
    # no 节假日休息: open on a holiday Monday that falls in its week
    assert is_open(SIX_DAYS, datetime(2026, 10, 5, 10, 0)) is True


def test_unknown_year_reads_the_weekly_hours() -> None:
    later = date(holidays.LAST_YEAR + 1, 10, 1)
    assert intervals_on(CENTER, later) == [(540, 1260)]
    with pytest.raises(holidays.OutsideCalendar, match=str(holidays.LAST_YEAR)):
        holidays.require_known(later)


def test_calendar_for_pages() -> None:
    cal = holidays.calendar_json(2026)
    assert cal["last_year"] == holidays.LAST_YEAR
    assert "2026-10-01" in cal["holidays"] and "2026-02-14" in cal["workdays"]
    assert "2026-11-29" not in cal["holidays"]
