"""The typed results: attributes, ``as_dict()`` (the JSON), optional parts left
out, frozen, and the transitional key reads for callers outside the package."""

from __future__ import annotations

import dataclasses
import json

import pytest

from geo import coverage as cov
from tests.geo.coverage.town import TOWN, V1, V2


def test_reach_as_dict_is_the_json(tiny):
    r = cov.reach_coverage(cov.analyse(tiny, TOWN))
    d = r.as_dict()
    assert list(d) == ["region", "parameters", "rule", "circles", "computed_at", "crs",
                       "population_source", "totals", "by_region", "by_grid", "by_point"]
    assert d["region"] == {"code": TOWN, "name": "小镇", "level": "town", "parent_code": None}
    assert d["crs"] == "EPSG:4326"
    # the tiny town's buildings record no population source: 500 people, unknown
    assert d["population_source"] == {"source": "unknown", "source_zh": "未知",
                                      "label_zh": "人口来源：未知", "people": {"unknown": 500}}
    assert [v["code"] for v in d["by_region"]] == [V1, V2]
    # a grid row names its kind, village and branch flag right after its level
    g1 = next(g for g in d["by_grid"] if g["code"] == "G1")
    assert list(g1)[:8] == ["code", "name", "level", "kind", "region_code", "region_name",
                            "has_branch", "buildings"]
    assert (g1["region_code"], g1["region_name"], g1["has_branch"]) == (V1, "东村", True)
    assert json.loads(json.dumps(d, ensure_ascii=False)) == d  # lists, not tuples
    assert "by_point" not in cov.reach_coverage(cov.analyse(tiny, TOWN),
                                                by_point=False).as_dict()


def test_results_are_frozen(tiny):
    r = cov.reach_coverage(cov.analyse(tiny, TOWN))
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.totals.population = 0


def test_grid_view_without_detail_and_rounding_part(tiny):
    g = cov.grid_view(tiny, TOWN).as_dict()
    assert "compounds_in_grids_without_branch" not in g
    assert g["rounding"] == {"mode": "half_up", "decimals": 2}
    b = cov.branch_coverage(tiny, TOWN, rounding="truncate").as_dict()
    assert b["rounding"] == {"mode": "truncate", "mode_zh": "截断（不进位）", "decimals": 2}
    assert list(b["rule"]) == ["text", "text_zh"]
