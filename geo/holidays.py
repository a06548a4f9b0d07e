"""China's official calendar of public holidays and make-up working days.

The State Council publishes each year's holidays (法定节假日, with the
weekend days folded into each holiday period) and the weekend days worked in
exchange (调休上班). The dates come from the maintained ``chinesecalendar``
package (import name ``chinese_calendar``; 2004 to :data:`LAST_YEAR` in the
pinned release), never from the network.

Every date is one of three kinds (:func:`day_kind`):

``workday``
    an official working day: Monday to Friday outside a holiday period, and
    the make-up Saturdays and Sundays (``makeup`` true, e.g. 2026-02-14 before
    the Spring Festival);
``holiday``
    a day of a public-holiday period (``name`` says which, e.g. National Day
    2026-10-01 to 10-07, weekend days of the period included);
``rest``
    an ordinary Saturday or Sunday.

Past the last year the package knows (and before the first) the kind is not
known: :func:`day_kind` returns ``None`` and :func:`require_known` raises
:class:`OutsideCalendar`. Callers decide: an instant a client asked about is
refused (400, :mod:`geo.points`); "now" in an unknown year falls back to the
weekly hours and says so (``calendar_known: false``). Upgrading
``chinesecalendar`` (released each November after the State Council's notice)
extends the years.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache

import chinese_calendar
from chinese_calendar.constants import holidays as _HOLIDAYS
from chinese_calendar.constants import workdays as _WORKDAYS

__all__ = [
    "FIRST_YEAR",
    "HOLIDAY_ZH",
    "LAST_YEAR",
    "DayInfo",
    "OutsideCalendar",
    "calendar_json",
    "day_kind",
    "known",
    "require_known",
]

FIRST_YEAR: int = min(_HOLIDAYS).year
LAST_YEAR: int = max(_HOLIDAYS).year

#: Chinese names of the holidays (the package's English names as keys).
HOLIDAY_ZH: dict[str, str] = {
    h.value: h.chinese for h in chinese_calendar.Holiday
}


class OutsideCalendar(ValueError):
    """A date outside the years the holiday calendar knows."""

    def __init__(self, day: date) -> None:
        self.day = day
        super().__init__(
            f"节假日日历只包含 {FIRST_YEAR}–{LAST_YEAR} 年，{day.isoformat()} 不在其中"
            f"（升级 chinesecalendar 可增加年份）")


@dataclass(frozen=True, slots=True)
class DayInfo:
    """The kind of one date (see the module docstring)."""

    day: date
    kind: str  # workday | holiday | rest
    name: str | None = None  # the holiday (English name) of a holiday or make-up day
    makeup: bool = False  # a Saturday or Sunday worked (调休上班)

    @property
    def name_zh(self) -> str | None:
        return HOLIDAY_ZH.get(self.name, self.name) if self.name else None


def known(day: date) -> bool:
    """Whether the calendar knows the year of ``day``."""
    return FIRST_YEAR <= day.year <= LAST_YEAR


def require_known(day: date | datetime) -> date:
    """``day`` as a date; :class:`OutsideCalendar` when its year is not known."""
    d = day.date() if isinstance(day, datetime) else day
    if not known(d):
        raise OutsideCalendar(d)
    return d


@lru_cache(maxsize=4096)
def day_kind(day: date) -> DayInfo | None:
    """The kind of ``day``, or None when its year is not known."""
    if not known(day):
        return None
    if day in _WORKDAYS:
        return DayInfo(day, "workday", _WORKDAYS[day], makeup=day.weekday() >= 5)
    if day in _HOLIDAYS:
        return DayInfo(day, "holiday", _HOLIDAYS[day])
    return DayInfo(day, "rest" if day.weekday() >= 5 else "workday")


def calendar_json(first_year: int, last_year: int | None = None) -> dict:
    """The calendar for a page's script: holiday and make-up dates (ISO) of the
    known years in ``[first_year, last_year]`` and the years covered."""
    last = LAST_YEAR if last_year is None else min(last_year, LAST_YEAR)
    first = max(first_year, FIRST_YEAR)
    return {
        "first_year": first, "last_year": last,
        "holidays": sorted(d.isoformat() for d in _HOLIDAYS if first <= d.year <= last),
        "workdays": sorted(d.isoformat() for d in _WORKDAYS if first <= d.year <= last),
    }
