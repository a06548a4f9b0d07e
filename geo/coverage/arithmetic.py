"""Rules and rounding: when a building and a compound count as covered, exact
percentages and shares, and the parameters of a coverage run.

Percentages are computed from integers (or exact fractions for compound
shares) and rounded with the stated rule: ``half_up`` to two decimals by
default (32/36 → 88.89 %), ``truncate`` (32/36 → 88.88 %, the published
figure) or ``half_even``; never with binary floats.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from fractions import Fraction
from typing import Any

from geo.circles import budget_for, profile_key
from geo.coverage.results import ParametersUsed, RuleStatement, Share
from geo.errors import InvalidInput, Problem
from geo.profiles import WalkBudget
from geo.vocab import POINT_KIND_ZH, PointKind

__all__ = [
    "BUILDING_RULES",
    "COMPOUND_RULES",
    "ROUNDINGS",
    "CoverageParams",
    "CoverageRule",
    "percent",
    "share",
]

BUILDING_RULES: tuple[str, ...] = ("centroid", "intersects", "within")
COMPOUND_RULES: tuple[str, ...] = ("population_share", "any", "majority", "all")
ROUNDINGS: tuple[str, ...] = ("half_up", "truncate", "half_even")

_BUILDING_RULE_TEXT = {
    "centroid": ("a building is covered when its footprint centroid lies in a service circle "
                 "(boundary included)", "建筑质心落在任一服务圈内（含边界）即视为覆盖"),
    "intersects": ("a building is covered when any part of its footprint touches a service "
                   "circle", "建筑轮廓与任一服务圈相交即视为覆盖"),
    "within": ("a building is covered when its whole footprint lies inside the union of the "
               "service circles", "建筑轮廓完全落在服务圈并集内才视为覆盖"),
}
_COMPOUND_RULE_TEXT = {
    "population_share": ("a compound counts as covered by the share of its population living "
                         "in covered buildings", "小区按已覆盖建筑人口占比计入覆盖数"),
    "any": ("a compound counts as covered when any of its buildings is covered",
            "小区任一建筑被覆盖即计为覆盖"),
    "majority": ("a compound counts as covered when at least half of its population lives "
                 "in covered buildings", "小区半数及以上人口被覆盖即计为覆盖"),
    "all": ("a compound counts as covered only when all its buildings are covered",
            "小区全部建筑被覆盖才计为覆盖"),
}
_ROUNDING_TEXT = {
    "half_up": "四舍五入", "truncate": "截断（不进位）", "half_even": "银行家舍入",
}


@dataclass(frozen=True)
class CoverageRule:
    """When a building and a compound count as covered.

    Attributes
    ----------
    building
        One of :data:`BUILDING_RULES`.
    compound
        One of :data:`COMPOUND_RULES`.
    """

    building: str = "centroid"
    compound: str = "population_share"

    def validate(self) -> CoverageRule:
        problems = []
        if self.building not in BUILDING_RULES:
            problems.append(Problem(f"未知的建筑覆盖规则 {self.building!r}", column="rule",
                                    value=self.building, expected=", ".join(BUILDING_RULES)))
        if self.compound not in COMPOUND_RULES:
            problems.append(Problem(f"未知的小区覆盖规则 {self.compound!r}",
                                    column="compound_rule", value=self.compound,
                                    expected=", ".join(COMPOUND_RULES)))
        if problems:
            raise InvalidInput("覆盖规则不正确", problems)
        return self

    @property
    def needs_footprints(self) -> bool:
        return self.building != "centroid"

    def summary(self) -> RuleStatement:
        """The rule as data and as sentences (English and Chinese)."""
        b_en, b_zh = _BUILDING_RULE_TEXT[self.building]
        c_en, c_zh = _COMPOUND_RULE_TEXT[self.compound]
        return RuleStatement(
            building=self.building, compound=self.compound,
            text=f"{b_en}; {c_en}; population and households are counted by building",
            text_zh=f"{b_zh}；{c_zh}；人口与户数按建筑统计")

    def describe(self) -> dict[str, str]:
        """The rule as data and as sentences (English and Chinese), a dict."""
        return self.summary().as_dict()


def _check_rounding(rounding: str, decimals: int) -> None:
    problems = []
    if rounding not in ROUNDINGS:
        problems.append(Problem(f"未知的取舍方式 {rounding!r}", column="rounding",
                                value=rounding, expected=", ".join(ROUNDINGS)))
    if not (isinstance(decimals, int) and 0 <= decimals <= 6):
        problems.append(Problem("小数位数应为 0 到 6 的整数", column="decimals",
                                value=decimals, expected="0..6"))
    if problems:
        raise InvalidInput("取舍方式不正确", problems)


def percent(numerator: int | Fraction, denominator: int, *, rounding: str = "half_up",
            decimals: int = 2) -> Decimal | None:
    """``100 × numerator / denominator`` rounded exactly.

    Parameters
    ----------
    numerator, denominator
        Non-negative counts (``numerator`` may be an exact :class:`Fraction`).
    rounding
        ``half_up`` (88.885 → 88.89), ``truncate`` (towards zero: 88.888… →
        88.88) or ``half_even``.
    decimals
        Digits after the decimal point, 0–6.

    Returns
    -------
    Decimal or None
        The percentage with exactly ``decimals`` digits; ``None`` when the
        denominator is 0. Computed with fractions, never binary floats.

    Examples
    --------
    >>> str(percent(32, 36)), str(percent(32, 36, rounding="truncate"))
    ('88.89', '88.88')
    """
    if rounding not in ROUNDINGS or not (isinstance(decimals, int) and 0 <= decimals <= 6):
        _check_rounding(rounding, decimals)
    if denominator == 0:
        return None
    # integer arithmetic on num/den: 100·10^d·num/den = q + r/den exactly
    f = numerator if isinstance(numerator, Fraction) else Fraction(int(numerator))
    num = abs(f.numerator) * 100 * 10**decimals
    den = f.denominator * abs(int(denominator))
    sign = -1 if (f < 0) != (denominator < 0) else 1
    q, r = divmod(num, den)
    if rounding == "half_up":
        q += 2 * r >= den
    elif rounding == "half_even":
        q += 2 * r > den or (2 * r == den and q % 2 == 1)
    return Decimal(sign * q).scaleb(-decimals)


def share(numerator: int | Fraction, denominator: int, *, rounding: str = "half_up",
          decimals: int = 2) -> Share:
    """A share as an exact fraction and a rounded percentage.

    Returns
    -------
    Share
        ``numerator``, ``denominator``, ``fraction`` (``"32/36"``, not reduced),
        ``percent`` (float with ``decimals`` digits, or None), ``percent_text``
        (``"88.89%"``), ``rounding`` and ``decimals``.
    """
    p = percent(numerator, denominator, rounding=rounding, decimals=decimals)
    num = _num(numerator)
    return Share(numerator=num, denominator=int(denominator),
                 fraction=f"{num}/{int(denominator)}", percent=_float(p),
                 percent_text="—" if p is None else f"{p}%", rounding=rounding,
                 decimals=decimals)


def _num(x: int | Fraction) -> int | float:
    if isinstance(x, Fraction) and x.denominator != 1:
        return float(round(x, 4))
    return int(x)


def _float(p: Decimal | None) -> float | None:
    return None if p is None else float(p)


def _round_count(x: Fraction, rounding: str, decimals: int = 2) -> float:
    """An exact fractional count rounded like the percentages (e.g. 12.37 compounds)."""
    p = percent(x, 100, rounding=rounding, decimals=decimals)
    return float(p) if p is not None else 0.0


def _compound_value(cov: int, tot: int, rule: str) -> Fraction:
    """How much one compound counts under ``rule`` with ``cov`` of its ``tot``
    people covered."""
    if rule == "population_share":
        return Fraction(int(cov), int(tot))
    if rule == "any":
        return Fraction(int(cov > 0))
    if rule == "majority":
        return Fraction(int(2 * cov >= tot and cov > 0))
    return Fraction(int(cov == tot))


@dataclass(frozen=True)
class CoverageParams:
    """What to measure: circles of which points, how long a walk, which rule.

    Attributes
    ----------
    minutes
        Walking time of the circles, minutes.
    profile
        Walking profile (``standard``, ``adult``, ``elderly``) of the circles.
    speed_kmh
        Explicit walking speed (custom profile), km/h.
    kinds
        Point kinds whose circles count (:class:`geo.vocab.PointKind` values);
        empty: every kind.
    rule
        The :class:`CoverageRule`.
    rounding, decimals
        How percentages are rounded (:func:`percent`).
    """

    minutes: float = 10
    profile: str = "elderly"
    speed_kmh: float | None = None
    kinds: tuple[str, ...] = ()
    rule: CoverageRule = field(default_factory=CoverageRule)
    rounding: str = "half_up"
    decimals: int = 2
    #: only positions open at this instant count (their hours and China's
    #: holiday calendar); None: every position
    at: datetime | None = None

    def validated(self) -> CoverageParams:
        self.budget()  # minutes/profile/speed
        self.rule.validate()
        _check_rounding(self.rounding, self.decimals)
        valid = {k.value for k in PointKind}
        bad = [k for k in self.kinds if k not in valid]
        if bad:
            raise InvalidInput("未知的阵地类型", [Problem(
                f"未知的阵地类型 {k!r}", column="kinds", value=k,
                expected=", ".join(sorted(valid))) for k in bad])
        return replace(self, kinds=tuple(sorted(set(self.kinds))))

    def budget(self) -> WalkBudget:
        return budget_for(self.profile, self.minutes, self.speed_kmh)

    def summary(self) -> ParametersUsed:
        """The parameters as measured (budget in metres, profile key, labels)."""
        b = self.budget()
        kinds = self.kinds or tuple(sorted(k.value for k in PointKind))
        return ParametersUsed(
            minutes=b.minutes, profile=profile_key(b), speed_kmh=b.speed_kmh,
            budget_m=round(b.metres, 1), kinds=kinds,
            kinds_zh=tuple(POINT_KIND_ZH[PointKind(k)] for k in kinds),
            rule=self.rule.summary(), rounding=self.rounding,
            rounding_zh=_ROUNDING_TEXT[self.rounding], decimals=self.decimals,
            open_at=None if self.at is None else self.at.isoformat())

    def describe(self) -> dict[str, Any]:
        """:meth:`summary` as a dict."""
        return self.summary().as_dict()
