"""Field rules: the one definition of what a valid value is, for every way data
comes in.

Planner writes through the API (:mod:`geo.editing`, one JSON value at a time)
and file imports (:mod:`geo.io.importer`, whole columns with pandas/numpy)
validate the same fields of service points, compounds, buildings, grid cells
and party branches.  Both take the rule itself from here: the length limits,
the refused characters and SQL/markup patterns, the kind / grid kind / service
vocabularies with their Chinese aliases, the numeric ranges, the code format,
the phone format, opening-hours parsing and the coordinate box.  The importer
may keep a vectorised fast path (numbers, coordinates) as long as it reads the
limits from here; ``tests/geo/test_rules_parity.py`` feeds the same rows
through both and checks they agree.

A rule function returns ``(value, problem)``: the normalised value and
``None``, or ``None`` and a :class:`geo.errors.Problem` (``kind`` machine-readable,
``column`` the field name, ``message`` a short Chinese phrase, ``expected`` what
would be accepted).  The callers add where the value was
(request field, file row and column).
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from geo.errors import Problem
from geo.hours import DAY_KEYS, format_hours_zh, parse_hours

if TYPE_CHECKING:
    from geo.entities import Field
from geo.vocab import (
    BOOL_LOOKUP,
    CHANNEL_EXPECTED,
    CHANNEL_LOOKUP,
    GRID_KIND_EXPECTED,
    GRID_KIND_LOOKUP,
    KIND_EXPECTED,
    KIND_LOOKUP,
    LEVEL_LOOKUP,
    ORG_KIND_EXPECTED,
    ORG_KIND_LOOKUP,
    SERVICE_EXPECTED,
    WISH_CATEGORY_EXPECTED,
    WISH_CATEGORY_LOOKUP,
    WISH_KIND_ZH,
    lookup_service,
    normalize_label,
    split_services,
)

__all__ = [
    "ADDRESS_MAX_LEN",
    "AREA_MARGIN_DEG",
    "CHINA",
    "CHINA_BOX",
    "OperatingArea",
    "area_from_extent",
    "CODE_MAX_LEN",
    "CODE_RE",
    "EMPTY_TOKENS",
    "HOURS_TEXT_MAX_LEN",
    "LAT_RANGE",
    "LNG_RANGE",
    "NAME_MAX_LEN",
    "PHONE_MAX_LEN",
    "RANGES",
    "TOWN_TOLERANCE_M",
    "NumberRange",
    "check_code",
    "check_hours",
    "check_number",
    "check_mobile",
    "check_phone",
    "check_datetime",
    "check_text",
    "grid_kind",
    "hours_from_text",
    "is_empty_token",
    "parse_bool",
    "parse_stars",
    "point_kind",
    "service_tags",
]


def _refuse(kind: str, message: str, column: str, value: Any = None,
            expected: str | None = None) -> tuple[None, Problem]:
    return None, Problem(message, column=column, value=shorten(value), expected=expected,
                             kind=kind)


# ==========================================================================
# text
# ==========================================================================
#: Longest name (points, compounds, grid cells, branches), characters.
NAME_MAX_LEN = 200
#: Longest address, characters.
ADDRESS_MAX_LEN = 500
#: Longest opening-hours text, characters.
HOURS_TEXT_MAX_LEN = 500
#: Longest phone value (one or several numbers), characters.
PHONE_MAX_LEN = 64

#: Cell texts that mean "nothing here" in an optional field.
EMPTY_TOKENS = frozenset({"-", "--", "—", "——", "/", "无", "暂无", "null", "none", "nan", "n/a",
                          "na", "#n/a"})

_BAD_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")
_SUSPICIOUS = re.compile(
    r"""
      --\s*$                                        # trailing SQL comment
    | /\*|\*/                                       # block comment
    | ;\s*(select|insert|update|delete|drop|alter|create|truncate|grant|revoke|copy|exec)\b
    | \bunion\b\s+(all\s+)?select\b
    | \b(drop|truncate|alter)\s+(table|database|schema|index|view)\b
    | \bdelete\s+from\b | \binsert\s+into\b | \bupdate\s+\S+\s+set\b
    | \bselect\b.+\bfrom\b
    | ['"`]\s*(or|and)\b
    | \b(or|and)\s+['"]?\w+['"]?\s*(=|<|>|like\b)
    | \b(pg_sleep|sleep|benchmark|waitfor|dbms_\w+)\s*\(
    | ['"`]\s*\)\s*[;#]
    | <\s*/?\s*[a-z!]
    | javascript\s*:
    """,
    re.IGNORECASE | re.VERBOSE | re.DOTALL,
)


def shorten(v: Any) -> Any:
    """A value as shown in a problem: short, without control characters."""
    if isinstance(v, str):
        return _BAD_CHARS.sub("\ufffd", v[:120])
    if isinstance(v, (int, float, bool)) or v is None:
        return v
    return _BAD_CHARS.sub("\ufffd", str(v)[:120])


def is_empty_token(s: str) -> bool:
    """Whether a trimmed text is one of :data:`EMPTY_TOKENS` (``-``, ``无`` ...)."""
    return s.lower() in EMPTY_TOKENS


def check_text(value: Any, *, field: str, max_len: int = NAME_MAX_LEN, required: bool = False,
               empty_tokens: bool = False) -> tuple[str | None, Problem | None]:
    """A free-text value, stripped (``None`` when empty and allowed).

    Refused: non-strings, control characters and lone surrogates, text longer
    than ``max_len``, and text that looks like SQL or markup (``'; DROP TABLE``,
    ``' OR '1'='1``, ``UNION SELECT``, ``<script>``): such a value is never
    a name or an address, and storing it would only pass the attack on to
    whatever reads the data next.  With ``empty_tokens`` (optional fields) a
    placeholder such as ``-`` or ``无`` counts as empty.
    """
    if value is None:
        if required:
            return _refuse("missing_value", "不能为空", field, expected="非空文本")
        return None, None
    if not isinstance(value, str):
        return _refuse("not_text", "应为文本", field, value, "文本")
    if _BAD_CHARS.search(value):
        return _refuse("invalid_characters", "包含控制字符或无效字符", field, value,
                       "可打印的文本")
    s = value.strip()
    if s and empty_tokens and not required and is_empty_token(s):
        s = ""
    if not s:
        if required:
            return _refuse("missing_value", "不能为空", field, expected="非空文本")
        return None, None
    if len(s) > max_len:
        return _refuse("value_too_long", f"过长（{len(s)} 个字符，最多 {max_len} 个）", field, s,
                       f"不超过 {max_len} 个字符")
    if _SUSPICIOUS.search(s):
        return _refuse("suspicious_text", "包含疑似 SQL 注入或网页脚本的内容", field, s,
                       "不含 SQL 语句或网页标记的普通文本")
    return s, None


# ==========================================================================
# codes
# ==========================================================================
#: Longest code of a point, compound, building, grid cell or branch.
CODE_MAX_LEN = 64
#: A code: letters, digits, ``- _ .``, starting with a letter or digit (URL-safe).
CODE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")
_CODE_EXPECTED = "字母、数字和 - _ .（以字母或数字开头，最多 64 个字符）"


def check_code(value: Any, *, field: str = "code") -> tuple[str | None, Problem | None]:
    """A row's code (the natural key, also its URL): :data:`CODE_RE`, stripped."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return _refuse("missing_value", "编码为空", field, expected=_CODE_EXPECTED)
    if not isinstance(value, str):
        return _refuse("invalid_code", "编码格式不正确", field, value, _CODE_EXPECTED)
    s = value.strip()
    if len(s) > CODE_MAX_LEN:
        return _refuse("value_too_long", f"编码过长（{len(s)} 个字符）", field, s,
                       f"不超过 {CODE_MAX_LEN} 个字符")
    if not CODE_RE.match(s):
        return _refuse("invalid_code", "编码格式不正确", field, s, _CODE_EXPECTED)
    return s, None


# ==========================================================================
# vocabularies (the words are geo.vocab's)
# ==========================================================================
def _vocab(value: Any, lookup: Mapping[str, str], field: str, kind: str, what: str,
           expected: str) -> tuple[str | None, Problem | None]:
    if isinstance(value, str):
        hit = lookup.get(normalize_label(value))
        if hit is not None:
            return hit, None
    return _refuse(kind, f"不是已知的{what}", field, value, expected)


def point_kind(value: Any, *, field: str = "kind") -> tuple[str | None, Problem | None]:
    """A point kind: its slug (``station``) or a Chinese name (``党群服务站``, ``党群驿站``)."""
    return _vocab(value, KIND_LOOKUP, field, "unknown_kind", "阵地类型", KIND_EXPECTED)


def grid_kind(value: Any, *, field: str = "kind") -> tuple[str | None, Problem | None]:
    """A grid kind: ``governance``/``party`` or ``治理网格``, ``党建网格`` ..."""
    return _vocab(value, GRID_KIND_LOOKUP, field, "unknown_grid_kind", "网格类型",
                  GRID_KIND_EXPECTED)


def service_tags(words: Iterable[Any]) -> tuple[list[str], list[int]]:
    """``(tags without duplicates, indices of unknown words)`` of a list of
    service words (slugs or Chinese names)."""
    tags: list[str] = []
    unknown: list[int] = []
    for i, w in enumerate(words):
        tag = lookup_service(w) if isinstance(w, str) else None
        if tag is None:
            unknown.append(i)
        elif tag not in tags:
            tags.append(tag)
    return tags, unknown


def parse_bool(value: Any) -> bool | None:
    """``True``/``False`` from a boolean or a word (``是``/``否``, ``有``/``无``,
    ``yes``/``no``, ``1``/``0``); None when not a yes/no value."""
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, str):
        return BOOL_LOOKUP.get(normalize_label(value))
    return None


# ==========================================================================
# numbers
# ==========================================================================
@dataclass(frozen=True)
class NumberRange:
    """Allowed values of a numeric field (inclusive)."""

    lo: float
    hi: float
    integer: bool

    @property
    def expected(self) -> str:
        return f"{self.lo:g}–{self.hi:g} 之间的{'整数' if self.integer else '数字'}"


_COUNT_HI = 10_000_000
#: numeric fields -> allowed range
RANGES: dict[str, NumberRange] = {
    "rooms": NumberRange(0, 10_000, True),
    "floor_area_m2": NumberRange(0, 1_000_000, False),
    "stars": NumberRange(1, 5, True),
    "households": NumberRange(0, _COUNT_HI, True),
    "population": NumberRange(0, _COUNT_HI, True),
    "workers": NumberRange(0, 10_000, True),
    "members": NumberRange(0, 100_000, True),
    "budget_yuan": NumberRange(0, 10_000_000, False),
    "capacity": NumberRange(0, 100_000, True),
    "signups": NumberRange(0, 100_000, True),
    "attendance": NumberRange(0, 1_000_000, True),
    "score": NumberRange(1, 5, True),
    "year": NumberRange(1949, 2100, True),
}

#: a mainland mobile number (what a one-time code can be sent to)
MOBILE_RE = re.compile(r"^1[3-9]\d{9}$")
MOBILE_EXPECTED = "11 位手机号码（如 13800138000）"


def check_mobile(value: Any, *, field: str = "phone") -> tuple[str | None, Problem | None]:
    """A mainland mobile number, normalised to its 11 digits (``+86``, spaces and
    dashes dropped; full-width digits accepted)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return _refuse("missing_value", "不能为空", field, expected=MOBILE_EXPECTED)
    if not isinstance(value, str):
        return _refuse("invalid_mobile", "不是手机号码", field, value, MOBILE_EXPECTED)
    t = re.sub(r"[\s\-()（）]", "", unicodedata.normalize("NFKC", value))
    if t.startswith("+86"):
        t = t[3:]
    elif t.startswith("0086"):
        t = t[4:]
    if not MOBILE_RE.match(t):
        return _refuse("invalid_mobile", "不是手机号码", field, shorten(value), MOBILE_EXPECTED)
    return t, None


_DATETIME_EXPECTED = "带时区的日期时间（ISO 8601，如 2026-12-05T09:30:00+08:00）"


def check_datetime(value: Any, *, field: str) -> tuple[Any, Problem | None]:
    """An instant with its time zone (ISO 8601 text or an aware ``datetime``);
    a time without a zone is taken as Beijing time (Asia/Shanghai)."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    if value is None:
        return None, None
    if isinstance(value, datetime):
        got = value
    elif isinstance(value, str):
        try:
            got = datetime.fromisoformat(value.strip())
        except ValueError:
            return _refuse("invalid_datetime", "不是日期时间", field, shorten(value),
                           _DATETIME_EXPECTED)
    else:
        return _refuse("invalid_datetime", "不是日期时间", field, value, _DATETIME_EXPECTED)
    if got.tzinfo is None:
        got = got.replace(tzinfo=ZoneInfo("Asia/Shanghai"))
    if not 1990 <= got.year <= 2100:
        return _refuse("out_of_range", "日期超出范围", field, shorten(value),
                       "1990—2100 年之间的日期时间")
    return got, None


def check_number(value: Any, *, field: str, rng: NumberRange | None = None
                 ) -> tuple[int | float | None, Problem | None]:
    """A number in the field's :data:`RANGES` (an integral float such as ``3.0``
    is an integer). ``None`` stays ``None``."""
    r = rng or RANGES[field]
    if value is None:
        return None, None
    if isinstance(value, bool | np.bool_) or not isinstance(
            value, int | float | np.integer | np.floating):
        return _refuse("not_a_number", "不是数字", field, value, r.expected)
    v = float(value)
    if not math.isfinite(v):
        return _refuse("not_a_number", "不是有限数字", field, str(value), r.expected)
    if r.integer and not v.is_integer():
        return _refuse("not_an_integer", "不是整数", field, value, r.expected)
    if v < r.lo:
        return _refuse("negative_number" if r.lo == 0 else "out_of_range", "太小", field,
                       value, r.expected)
    if v > r.hi:
        return _refuse("out_of_range", "太大", field, value, r.expected)
    return (int(v) if r.integer else v), None


_NUM_CLEAN = re.compile(r"(平方米|平米|㎡|m2|m²|米|个|间|户|人|约|左右|余|多|以上|\s)",
                        re.IGNORECASE)
_THOUSANDS = re.compile(r"^[+-]?\d{1,3}(,\d{3})+(\.\d+)?$")
_DMS = re.compile(
    r"^(?P<h1>[ENSW东西南北])?\s*(?P<d>\d+(?:\.\d+)?)\s*[°度]\s*(?:(?P<m>\d+(?:\.\d+)?)\s*['′’分])?"
    r"\s*(?:(?P<s>\d+(?:\.\d+)?)\s*(?:\"|″|”|''|秒))?\s*(?P<h2>[ENSW东西南北])?$",
    re.IGNORECASE)


def number_from_text(s: str) -> float | None:
    """Parse a number written by a person: ``2,000㎡``, ``约120平方米``, ``113°12'30\"E``."""
    t = unicodedata.normalize("NFKC", s).strip()
    m = _DMS.match(t)
    if m:
        d = float(m.group("d"))
        mi = float(m.group("m") or 0)
        se = float(m.group("s") or 0)
        if mi >= 60 or se >= 60:
            return None
        v = d + mi / 60 + se / 3600
        hemi = (m.group("h1") or m.group("h2") or "").upper()
        return -v if hemi in ("S", "W", "西", "南") else v
    t = _NUM_CLEAN.sub("", t).rstrip("ENen东北")
    if _THOUSANDS.match(t):  # thousands separators, also before a unit (3,120人, 2,000㎡)
        t = t.replace(",", "")
    try:
        v = float(t)
    except ValueError:
        return None
    return v if math.isfinite(v) else None


def parse_numbers(values: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(values float64, empty mask, unparsable mask)`` of a column of cells
    (numbers, texts written by people, or empty; a pandas Series or a list)."""
    if not isinstance(values, pd.Series):
        values = pd.Series(list(values), dtype=object)
    n = len(values)
    if pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values.dtype):
        out = values.to_numpy(dtype=np.float64, na_value=np.nan)
        empty = np.isnan(out)
        return out, empty, np.zeros(n, dtype=bool)
    out = np.full(n, np.nan)
    empty = np.zeros(n, dtype=bool)
    bad = np.zeros(n, dtype=bool)
    cache: dict[str, float | None] = {}
    for i, v in enumerate(values.tolist()):
        if isinstance(v, bool):
            bad[i] = True
            continue
        if isinstance(v, int | float | np.integer | np.floating):
            fv = float(v)
            if math.isnan(fv):
                empty[i] = True
            else:
                out[i] = fv
            continue
        s = _cell_text(v)
        if s is None or s.lower() in EMPTY_TOKENS:
            empty[i] = True
            continue
        if s not in cache:
            cache[s] = number_from_text(s)
        got = cache[s]
        if got is None:
            bad[i] = True
        else:
            out[i] = got
    return out, empty, bad


_ZH_DIGIT = {"一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5}
_STARS_RE = re.compile(r"([0-9]+(?:\.0+)?|[一二两三四五])\s*(?:星级?|星)?")


def parse_stars(value: Any, *, field: str = "stars") -> tuple[int | None, Problem | None]:
    """A star rating: a number, ``3``/``3.0``, ``三星``, ``3星级`` or ``★★★``;
    within :data:`RANGES` ``["stars"]``."""
    if value is None or isinstance(value, bool):
        return check_number(value, field=field)  # type: ignore[return-value]
    if isinstance(value, int | float | np.integer | np.floating):
        got = value
    else:
        t = unicodedata.normalize("NFKC", str(value)).strip()
        got = None
        if t and set(t) == {"★"}:
            got = len(t)
        else:
            m = _STARS_RE.fullmatch(t)
            if m:
                g = m.group(1)
                got = _ZH_DIGIT[g] if g in _ZH_DIGIT else int(float(g))
        if got is None:
            return _refuse("invalid_stars", "不是有效星级", field, value,
                           "1–5 的整数（或“三星”“★★★”）")
    n, problem = check_number(got, field=field)
    if problem is not None:
        problem.kind = "invalid_stars"
        problem.expected = "1–5 的整数（或“三星”“★★★”）"
        problem.value = shorten(value)
    return n, problem  # type: ignore[return-value]


# ==========================================================================
# phone
# ==========================================================================
_PHONE_OK = re.compile(r"^[\d\s\-+()（）转,，/、;；#*]+$|^[\d\s\-+()]+(?:ext\.?|转)\s*\d+$",
                       re.IGNORECASE)
_PHONE_EXPECTED = "如 0757-86500000 或 13800000000，多个号码用“、”分隔"


def check_phone(value: Any, *, field: str = "phone") -> tuple[str | None, Problem | None]:
    """A phone number (or several): digits with ``- + ( ) 、 ,`` ``转``/``ext``, at
    least 5 digits, NFKC-normalised (full-width digits become ASCII)."""
    if value is None:
        return None, None
    if not isinstance(value, str):
        return _refuse("invalid_phone", "不是电话号码", field, value, _PHONE_EXPECTED)
    t = unicodedata.normalize("NFKC", value).strip()
    if not t or is_empty_token(t):
        return None, None
    if len(t) > PHONE_MAX_LEN:
        return _refuse("invalid_phone", f"电话号码过长（最多 {PHONE_MAX_LEN} 个字符）", field, t,
                       _PHONE_EXPECTED)
    if not _PHONE_OK.match(t) or sum(ch.isdigit() for ch in t) < 5:
        return _refuse("invalid_phone", "不是电话号码", field, value, _PHONE_EXPECTED)
    return t, None


# ==========================================================================
# opening hours
# ==========================================================================
def hours_from_text(text: str) -> tuple[dict[str, Any], list[str]]:
    """Structured hours of an opening-hours text and the notes a planner should
    read (an unparsed text is kept as is, with a note saying so)."""
    parsed, notes = parse_hours(text)
    if not parsed["parsed"]:
        why = [n for n in notes if "已按原文保留" not in n]
        detail = f"（{'；'.join(why)}）" if why else ""
        shown = text[:60]
        return parsed, [f"开放时间 '{shown}' 无法解析，已按原文保留{detail}"]
    return parsed, list(notes)


_HHMM_RE = re.compile(r"^(\d{2}):(\d{2})$")
_HOURS_KEYS = frozenset({"always_open", "closed_on_holidays", "weekly", "text", "parsed",
                         "workday"})


def _interval(iv: Any) -> tuple[int, int] | None:
    if not isinstance(iv, (list, tuple)) or len(iv) != 2:
        return None
    out = []
    for i, t in enumerate(iv):
        m = _HHMM_RE.match(t) if isinstance(t, str) else None
        if not m:
            return None
        h, mi = int(m.group(1)), int(m.group(2))
        if mi > 59 or h > 24 or (h == 24 and (mi != 0 or i == 0)):
            return None
        out.append(h * 60 + mi)
    return (out[0], out[1]) if out[0] < out[1] else None


def _fmt(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def check_hours(v: Any, *, field: str = "hours") -> tuple[dict | None, list[Problem]]:
    """Structured opening hours (the form of :mod:`geo.hours`), normalised."""
    problems: list[Problem] = []

    def bad(message: str, column: str, value: Any, expected: str) -> None:
        problems.append(_refuse("invalid_hours", message, column, value, expected)[1])

    if v is None:
        return None, problems
    if not isinstance(v, Mapping):
        bad("开放时间应为结构化对象", field, v,
            '{"weekly": {"mon": [["09:00", "17:00"]]}, ...}')
        return None, problems
    unknown = set(v) - _HOURS_KEYS
    if unknown:
        bad("开放时间含未知字段", field, ", ".join(sorted(map(str, unknown))),
            ", ".join(sorted(_HOURS_KEYS)))
        return None, problems
    weekly = v.get("weekly") or {}
    if not isinstance(weekly, Mapping):
        bad("weekly 应为对象", f"{field}.weekly", weekly, "星期键 -> [[开始, 结束]]")
        return None, problems
    def spans_of(ivs: Any, where: str) -> list[list[str]] | None:
        if not isinstance(ivs, list):
            bad("应为时段列表", where, ivs, '[["09:00", "17:00"]]')
            return None
        spans: list[tuple[int, int]] = []
        for iv in ivs:
            mins = _interval(iv)
            if mins is None:
                bad("时段无效", where, iv, '["HH:MM", "HH:MM"]，开始早于结束')
                continue
            spans.append(mins)
        spans.sort()
        for a, b in zip(spans, spans[1:], strict=False):
            if b[0] < a[1]:
                bad("时段重叠", where, ivs, "互不重叠的时段")
                break
        return [[_fmt(a), _fmt(b)] for a, b in spans]

    clean_weekly: dict[str, list[list[str]]] = {}
    for day, ivs in weekly.items():
        where = f"{field}.weekly.{day}"
        if day not in DAY_KEYS:
            bad("未知的星期", where, day, " ".join(DAY_KEYS))
            continue
        spans = spans_of(ivs, where)
        if spans:
            clean_weekly[day] = spans
    workday = None
    if v.get("workday") is not None:
        workday = spans_of(v["workday"], f"{field}.workday")
    for flag in ("always_open", "closed_on_holidays"):
        if flag in v and not isinstance(v[flag], bool):
            bad("应为 true/false", f"{field}.{flag}", v[flag], "布尔值（true/false）")
    hours_text, p = check_text(v.get("text"), field=f"{field}.text", max_len=HOURS_TEXT_MAX_LEN)
    if p is not None:
        problems.append(p)
    if problems:
        return None, problems
    if v.get("always_open"):
        clean_weekly = {d: [["00:00", "24:00"]] for d in DAY_KEYS}
    always = all(clean_weekly.get(d) == [["00:00", "24:00"]] for d in DAY_KEYS)
    hours = {"always_open": always, "closed_on_holidays": bool(v.get("closed_on_holidays")),
             "weekly": clean_weekly, "text": hours_text or "", "parsed": True}
    if workday and not always:
        hours["workday"] = workday
    if not hours["text"]:
        hours["text"] = format_hours_zh(hours)
    return hours, problems


# ==========================================================================
# coordinates
# ==========================================================================
#: Longitude range accepted, degrees east (mainland China and islands).
LNG_RANGE: tuple[float, float] = (73.5, 135.1)
#: Latitude range accepted, degrees north.
LAT_RANGE: tuple[float, float] = (3.8, 53.6)
#: The same as a box ``(lng0, lat0, lng1, lat1)``.
CHINA_BOX: tuple[float, float, float, float] = (LNG_RANGE[0], LAT_RANGE[0], LNG_RANGE[1],
                                                LAT_RANGE[1])
#: A new or moved geometry may lie at most this far outside its town (metres).
TOWN_TOLERANCE_M = 100.0


Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class OperatingArea:
    """Where this database's data may lie: one or more boxes ``(W, S, E, N)``.

    The outside-area refusal of imports and edits, the swapped-coordinate check and
    the applicability of CGCS2000 take it; GCJ-02 and BD-09 stay tied to
    :data:`CHINA_BOX` (they exist only there). Made by
    :func:`geo.regions.operating_area` from the settings
    (``SERVICEMAP_OPERATING_AREA``), else from the regions loaded (or, before any
    region, the walking network), else :data:`CHINA`.

    Attributes
    ----------
    boxes
        The boxes; a point inside any of them is inside the area.
    source
        ``china`` (the default), ``settings``, ``regions`` or ``network``.
    """

    boxes: tuple[Box, ...]
    source: str = "china"

    def contains(self, lng: Any, lat: Any) -> np.ndarray:
        """Whether points lie in the area (arrays ok; NaN is outside)."""
        lng, lat = np.asarray(lng, dtype=float), np.asarray(lat, dtype=float)
        out = np.zeros(np.broadcast(lng, lat).shape, dtype=bool)
        for w, s, e, n in self.boxes:
            out |= (lng >= w) & (lng <= e) & (lat >= s) & (lat <= n)
        return out

    def contains_bounds(self, bounds: np.ndarray) -> np.ndarray:
        """Whether envelopes ``(N, 4)`` lie wholly inside one of the boxes."""
        b = np.asarray(bounds, dtype=float).reshape(-1, 4)
        out = np.zeros(len(b), dtype=bool)
        for w, s, e, n in self.boxes:
            out |= (b[:, 0] >= w) & (b[:, 2] <= e) & (b[:, 1] >= s) & (b[:, 3] <= n)
        return out

    def swapped(self, lng: Any, lat: Any) -> np.ndarray:
        """Coordinates that are obviously latitude, longitude: outside the area as
        given, inside it when swapped."""
        return self.contains(lat, lng) & ~self.contains(lng, lat)

    @property
    def is_china(self) -> bool:
        return self.boxes == (CHINA_BOX,)

    def expected_zh(self) -> str:
        """The area in words, for the ``expected`` of a problem."""
        if self.is_china:
            return (f"经度 {LNG_RANGE[0]}–{LNG_RANGE[1]}、纬度 {LAT_RANGE[0]}–{LAT_RANGE[1]} "
                    "之间（中国境内）")
        where = {"settings": "设置 SERVICEMAP_OPERATING_AREA", "regions": "已导入的区划",
                 "network": "已导入的路网"}.get(self.source, self.source)
        boxes = "，或 ".join(f"经度 {w:g}–{e:g}、纬度 {s:g}–{n:g}" for w, s, e, n in self.boxes)
        return f"{boxes} 之间（工作范围，来自{where}）"

    def name_zh(self) -> str:
        return "中国" if self.is_china else "工作范围"


#: The default operating area: mainland China and its islands.
CHINA = OperatingArea((CHINA_BOX,), "china")
#: How far the area reaches beyond the regions (or network) it is made from, degrees
#: (about 10 km): a position just across a town's border is still accepted here and
#: checked against the town by :data:`TOWN_TOLERANCE_M`.
AREA_MARGIN_DEG = 0.1


def area_from_extent(extent: Box | None, source: str) -> OperatingArea:
    """The operating area for data whose envelope is ``extent``: China when it lies
    in China, else the envelope grown by :data:`AREA_MARGIN_DEG` (and China too when
    it reaches into China)."""
    if extent is None:
        return CHINA
    w, s, e, n = extent
    inside = bool(CHINA.contains_bounds(np.array([extent]))[0])
    if inside:
        return CHINA
    m = AREA_MARGIN_DEG
    grown = (max(w - m, -180.0), max(s - m, -90.0), min(e + m, 180.0), min(n + m, 90.0))
    touches = not (e < CHINA_BOX[0] or w > CHINA_BOX[2] or n < CHINA_BOX[1] or s > CHINA_BOX[3])
    return OperatingArea((CHINA_BOX, grown) if touches else (grown,), source)


# ==========================================================================
# columns: the rule of each field kind, over a column of values
# ==========================================================================
def _cell_text(value: Any) -> str | None:
    """A value as trimmed text (``None`` when empty); integral numbers lose ``.0``."""
    if value is None or value is pd.NaT:
        return None
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, bool | np.bool_):
        return "是" if value else "否"
    if isinstance(value, float | np.floating):
        if math.isnan(value):
            return None
        return str(int(value)) if float(value).is_integer() and abs(value) < 1e16 \
            else repr(float(value))
    if isinstance(value, int | np.integer):
        return str(int(value))
    return str(value).strip() or None


@dataclass
class Checked:
    """A column checked by its field's rule.

    Attributes
    ----------
    values
        The normalised values, aligned with the input (``None`` where empty or refused;
        a field's default where empty and it has one).
    problems
        ``(row index, problem)`` for every refused value: the problem's ``kind``,
        ``message`` (a short Chinese phrase), ``value`` and ``expected``;
        ``column`` is the field name (or ``services.1``: an item of a list).
    notes
        ``(row index, kind, note)`` remarks that refuse nothing (an opening-hours
        text kept as is).
    parsed
        ``hours_text`` only: the structured hours parsed from each text.
    """

    values: list[Any]
    problems: list[tuple[int, Problem]] = field(default_factory=list)
    notes: list[tuple[int, str, str]] = field(default_factory=list)
    parsed: list[Any] | None = None

    def refused(self) -> set[int]:
        return {i for i, _ in self.problems}


_REGION_CODE_EXPECTED = "6、9 或 12 位数字（县、镇街、村居）"
_BOOL_EXPECTED = "是 或 否（有/无、1/0、true/false）"
_VOCABS: dict[str, tuple[Mapping[str, str], str, str, str]] = {
    "point_kind": (KIND_LOOKUP, "unknown_kind", "阵地类型", KIND_EXPECTED),
    "grid_kind": (GRID_KIND_LOOKUP, "unknown_grid_kind", "网格类型", GRID_KIND_EXPECTED),
    "level": (LEVEL_LOOKUP, "invalid_level", "区划级别", "县（区）、镇（街道）或 村（社区）"),
    "wish_category": (WISH_CATEGORY_LOOKUP, "unknown_category", "心愿类别",
                      WISH_CATEGORY_EXPECTED),
    "channel": (CHANNEL_LOOKUP, "unknown_channel", "收集渠道", CHANNEL_EXPECTED),
    "org_kind": (ORG_KIND_LOOKUP, "unknown_org_kind", "组织类型", ORG_KIND_EXPECTED),
    "wish_kind": ({normalize_label(w): k for k, zh in WISH_KIND_ZH.items() for w in (k, zh)},
                  "unknown_wish_kind", "类型", "微心愿 或 微项目"),
}


def check_value(f: Field, value: Any) -> tuple[Any, list[Problem]]:
    """One value of a request (JSON) through its field's rule: a one-row
    :func:`check_column`. Returns the normalised value and the problems."""
    got = check_column(f, [value])
    return got.values[0], [p for _, p in got.problems]


def check_column(f: Field, values: Sequence[Any], *, cells: bool = False) -> Checked:
    """Check a column of values with the rule of the field's kind.

    The one implementation of the field rules: a planner's edit passes one
    JSON value (:func:`check_value`), a file import a whole column of cells
    (``cells=True``: texts written by people — numbers such as ``2,000㎡``,
    yes/no words, star ratings such as ``三星``, several services in one cell
    — or numbers as the reader found them).  Distinct values are checked once.

    Parameters
    ----------
    f
        The field (:class:`geo.entities.Field`): its ``kind``, ``label``,
        ``required``, ``default`` and ``max_len``.
    values
        The column, aligned with rows (``None`` for empty).
    cells
        Values come from a file's cells rather than a JSON body.

    Returns
    -------
    Checked
        Normalised values and the problems, by row index. Kinds that need the
        store (``region``, ``compound``, ``compounds``), personal data and
        geometry are checked by their callers.
    """
    kind = f.kind
    n = len(values)
    out = Checked([None] * n)
    if kind == "number" and cells:
        return _numbers_column(f, values, out)
    memo: dict[Any, tuple[Any, list[Problem]]] = {}
    for i, v in enumerate(values):
        if cells and kind not in ("services",):
            v = _cell_text(v)
        key = v if isinstance(v, str | int | float | bool | type(None)) else None
        if key is not None or v is None:
            hit = memo.get((type(v), v))
            if hit is None:
                hit = memo[(type(v), v)] = _one(f, v, cells)
        else:
            hit = _one(f, v, cells)
        value, problems = hit
        for p in problems:
            out.problems.append((i, replace(p)))
        out.values[i] = value if not problems else None
    if kind == "hours_text":
        _hours_column(out)
    return out


def _missing(f: Field) -> tuple[Any, list[Problem]]:
    if f.required:
        return None, [Problem("不能为空", column=f.name, expected=f"非空的{f.label}",
                              kind="missing_value")]
    return f.default, []


def _one(f: Field, v: Any, cells: bool) -> tuple[Any, list[Problem]]:
    """One value through the rule of its field's kind: ``(value, problems)``."""
    kind, name = f.kind, f.name
    if kind in ("text", "hours_text"):
        out, p = check_text(v, field=name, max_len=f.max_len or NAME_MAX_LEN,
                            required=f.required, empty_tokens=True)
        if p is not None and p.kind == "missing_value":
            p.expected = f"非空的{f.label}"
        return (out if out is not None else f.default if p is None else None), _list(p)
    if kind == "code":
        if v is None:
            return _missing(f)
        out, p = check_code(v, field=name)
        return out, _list(p)
    if kind == "region_code":
        if v is None or (isinstance(v, str) and not v.strip()):
            return _missing(f)
        t = unicodedata.normalize("NFKC", str(v)).strip()
        if not (t.isdigit() and len(t) in (6, 9, 12)):
            return None, [Problem("不是行政区划代码", column=name, value=shorten(v),
                                  expected=_REGION_CODE_EXPECTED, kind="invalid_region_code")]
        return t, []
    if kind in _VOCABS:
        if v is None or (isinstance(v, str) and (not v.strip() or is_empty_token(v.strip()))):
            return _missing(f)
        lookup, pkind, what, expected = _VOCABS[kind]
        out, p = _vocab(v, lookup, name, pkind, what, expected)
        return out, _list(p)
    if kind == "services":
        return _services(f, v)
    if kind == "number":
        if v is None:
            return f.default, []
        out, p = check_number(v, field=name)
        return out, _list(p)
    if kind == "stars":
        if v is None or (isinstance(v, str) and is_empty_token(v)):
            return None, []
        out, p = parse_stars(v, field=name)
        return out, _list(p)
    if kind == "phone":
        out, p = check_phone(v, field=name)
        return out, _list(p)
    if kind == "mobile":
        if v is None and not f.required:
            return None, []
        out, p = check_mobile(v, field=name)
        return out, _list(p)
    if kind == "datetime":
        if v is None:
            return _missing(f)
        out, p = check_datetime(v, field=name)
        return out, _list(p)
    if kind == "bool":
        if v is None or (isinstance(v, str) and not v.strip()):
            return f.default, []
        got = parse_bool(v)
        if got is None:
            return None, [Problem("不是是/否值", column=name, value=shorten(v),
                                  expected=_BOOL_EXPECTED, kind="invalid_bool")]
        return got, []
    if kind == "hours":
        hours, problems = check_hours(v, field=name)
        return hours, problems
    raise ValueError(f"field {name}: kind {kind!r} is not checked by a column rule")


def _list(p: Problem | None) -> list[Problem]:
    return [] if p is None else [p]


def _services(f: Field, v: Any) -> tuple[Any, list[Problem]]:
    """Service tags from a list of tags or Chinese names (JSON), or one text such as
    ``党务、政务；养老`` (a cell)."""
    if v is None:
        return list(f.default or []), []
    listed = not isinstance(v, str)
    words = split_services(v) if isinstance(v, str) else v
    if not isinstance(words, list | tuple):
        return None, [Problem("应为服务项目列表", column=f.name, value=shorten(v),
                              expected="服务项目列表", kind="unknown_service")]
    tags, unknown = service_tags(words)
    if not unknown:
        return tags, []
    if listed:  # one problem per item of the list, as a JSON body names them
        return None, [Problem("不是已知的服务内容", column=f"{f.name}.{i}",
                              value=shorten(words[i]), expected=SERVICE_EXPECTED,
                              kind="unknown_service") for i in unknown]
    shown = "、".join(repr(words[k]) for k in unknown)
    return None, [Problem(f"中的 {shown} 不是已知的服务内容", column=f.name, value=shorten(v),
                          expected=SERVICE_EXPECTED, kind="unknown_service")]


def _hours_column(out: Checked) -> None:
    """Opening-hours texts parsed into structured hours, with the notes a planner
    should read (a text that cannot be parsed is kept as is)."""
    memo: dict[str, tuple[dict, list[str]]] = {}
    out.parsed = [None] * len(out.values)
    for i, t in enumerate(out.values):
        if t is None:
            continue
        if t not in memo:
            memo[t] = hours_from_text(t)
        parsed, notes = memo[t]
        out.parsed[i] = parsed
        if not parsed["parsed"]:
            out.notes.append((i, "hours_unparsed", notes[0]))
        elif notes:
            out.notes.append((i, "hours_note", "；".join(notes)))


def _numbers_column(f: Field, values: Sequence[Any], out: Checked) -> Checked:
    """Numbers from a column of cells, vectorised: parsed (``2,000㎡``, ``约120``),
    then checked against the field's range (:data:`RANGES`)."""
    r = RANGES[f.name]
    vals, empty, bad = parse_numbers(values)
    raw = list(values)

    def refuse(idx: np.ndarray, kind: str, message: str) -> None:
        for i in idx.tolist():
            out.problems.append((i, Problem(message, column=f.name, value=shorten(raw[i]),
                                            expected=r.expected, kind=kind)))

    refuse(np.flatnonzero(bad), "not_a_number", "不是数字")
    ok = ~empty & ~bad
    if r.integer:
        frac = ok & (np.floor(vals) != vals)
        refuse(np.flatnonzero(frac), "not_an_integer", "不是整数")
        ok &= ~frac
    low = ok & (vals < r.lo)
    refuse(np.flatnonzero(low), "negative_number" if r.lo == 0 else "out_of_range", "太小")
    ok &= ~low
    high = ok & (vals > r.hi)
    refuse(np.flatnonzero(high), "out_of_range", "太大")
    ok &= ~high
    for i in np.flatnonzero(ok).tolist():
        out.values[i] = int(vals[i]) if r.integer else float(vals[i])
    if f.default is not None:
        for i in np.flatnonzero(empty).tolist():
            out.values[i] = f.default
    out.problems.sort(key=lambda t: t[0])
    return out
