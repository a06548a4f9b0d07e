"""Snapshots: stored runs are history; comparing two gives per-area deltas."""

from __future__ import annotations

import pytest
from shapely.geometry import box

from geo import coverage as cov
from geo.errors import NotFound
from tests.geo.coverage.town import TOWN, V1, add_circle


def test_snapshots_compare_before_and_after_a_new_station(tiny):
    first = cov.reach_coverage(cov.analyse(tiny, TOWN))
    a = cov.save_snapshot(tiny, first, label="现状", actor="test")
    # a new station whose circle holds B2 (200 people, in C1)
    add_circle(tiny, "P9", "station", box(113.0028, 23.0028, 113.0032, 23.0032))
    b = cov.save_snapshot(tiny, cov.reach_coverage(cov.analyse(tiny, TOWN)), label="新建站后")
    listed = cov.list_snapshots(tiny, TOWN)
    assert [s.id for s in listed][:2] == [b, a]
    assert listed[1].population_covered == 230 and listed[1].label == "现状"
    diff = cov.compare_snapshots(tiny, a, b)
    assert diff.parameters_differ == () and diff.same_region
    t = diff.totals
    assert (t.population_covered_before, t.population_covered_after,
            t.population_covered_delta) == (230, 430, 200)
    assert t.compounds_covered_delta == pytest.approx(0.67)
    assert (t.population_pct_before, t.population_pct_after) == (46.0, 86.0)
    v1 = next(r for r in diff.areas if r.code == V1)
    assert v1.population_covered_delta == 200
    # history is kept: the stored result is the one computed then
    stored = cov.get_snapshot(tiny, a)
    assert stored.result["totals"]["population_covered"] == 230 and stored.label == "现状"
    assert stored.result["parameters"]["rule"]["building"] == "centroid"
    with pytest.raises(NotFound):
        cov.compare_snapshots(tiny, a, 10**9)


def test_a_snapshot_stores_the_result_as_dict(tiny):
    r = cov.reach_coverage(cov.analyse(tiny, TOWN))
    stored = cov.get_snapshot(tiny, cov.save_snapshot(tiny, r)).as_dict()
    assert {k: v for k, v in stored.items() if k not in ("id", "label", "actor",
                                                         "created_at")} == r.as_dict()
    assert stored["label"] is None and stored["actor"] is None
