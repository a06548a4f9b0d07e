"""Rules and rounding: exact percentages (32/36 → 88.89 % half-up, 88.88 %
truncated), shares, and refused parameters."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest

from geo import coverage as cov
from geo.errors import InvalidInput
from tests.geo.coverage.town import TOWN


@pytest.mark.parametrize("num, den, rounding, decimals, expected", [
    (32, 36, "half_up", 2, "88.89"),
    (32, 36, "truncate", 2, "88.88"),
    (32, 36, "half_even", 2, "88.89"),
    (2, 3, "truncate", 2, "66.66"),
    (1, 8, "half_up", 0, "13"),      # 12.5 → 13
    (1, 8, "half_even", 0, "12"),    # 12.5 → 12
    (1, 8, "truncate", 0, "12"),
    (3, 8, "half_even", 0, "38"),    # 37.5 → 38
    (1, 3, "half_up", 6, "33.333333"),
    (36, 36, "truncate", 2, "100.00"),
    (0, 5, "half_up", 2, "0.00"),
    (Fraction(4, 3), 2, "half_up", 2, "66.67"),
    (Fraction(4, 3), 2, "truncate", 2, "66.66"),
])
def test_percent_is_exact(num, den, rounding, decimals, expected):
    assert cov.percent(num, den, rounding=rounding, decimals=decimals) == Decimal(expected)
    assert str(cov.percent(num, den, rounding=rounding, decimals=decimals)) == expected


def test_percent_edge_cases():
    assert cov.percent(1, 0) is None
    s = cov.share(32, 36, rounding="truncate")
    assert s.fraction == "32/36" and s.percent == 88.88 and s.percent_text == "88.88%"
    # 0.125 cannot be off by float representation: 1/8 of 100 = 12.5 exactly
    assert str(cov.percent(1, 8, decimals=0)) == "13"
    with pytest.raises(InvalidInput):
        cov.percent(1, 2, rounding="ceiling")
    with pytest.raises(InvalidInput):
        cov.percent(1, 2, decimals=9)


def test_share_of_nothing_and_of_a_fraction():
    # 0 of 0: no percentage; 4/3 compounds of 2: the fraction shows 1.3333 (4 decimals)
    assert cov.share(0, 0).as_dict() == {
        "numerator": 0, "denominator": 0, "fraction": "0/0", "percent": None,
        "percent_text": "—", "rounding": "half_up", "decimals": 2}
    s = cov.share(Fraction(4, 3), 2)
    assert (s.numerator, s.fraction, s.percent) == (1.3333, "1.3333/2", 66.67)


def test_parameters_as_measured():
    # elderly: 3.6 km/h × 10 min = 600 m; no kinds chosen: every kind, sorted
    p = cov.CoverageParams().validated().summary()
    assert (p.minutes, p.profile, p.speed_kmh, p.budget_m) == (10, "elderly", 3.6, 600.0)
    assert p.kinds[0] == "admin_service" and len(p.kinds) == len(p.kinds_zh) == 7
    assert p.rule.building == "centroid" and p.rounding_zh == "四舍五入"
    assert cov.CoverageParams().describe() == p.as_dict()
    assert cov.CoverageParams().describe()["kinds"] == list(p.kinds)


@pytest.mark.parametrize("params, column", [
    (cov.CoverageParams(rule=cov.CoverageRule("touches")), "rule"),
    (cov.CoverageParams(rule=cov.CoverageRule("centroid", "half")), "compound_rule"),
    (cov.CoverageParams(kinds=("castle",)), "kinds"),
    (cov.CoverageParams(rounding="up"), "rounding"),
    (cov.CoverageParams(minutes=0), "minutes"),
    (cov.CoverageParams(profile="jogger"), "profile"),
])
def test_invalid_parameters(tiny, params, column):
    with pytest.raises(InvalidInput) as e:
        cov.analyse(tiny, TOWN, params)
    assert e.value.problems[0].column == column
