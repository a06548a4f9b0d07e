"""Branch coverage and the dual-grid view: by hand on the tiny town, and the
longteng figures (32/36 = 88.89 % half-up, 88.88 % truncated; 4 of 12 grids)."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from geo import coverage as cov
from tests.geo.coverage.town import TOWN, V1, V2, by_code


def test_branch_coverage_by_hand(tiny):
    b = cov.branch_coverage(tiny, TOWN, detail=True)
    assert (b.totals.compounds, b.totals.with_branch, b.totals.fraction,
            b.totals.percent_text, b.totals.branches) == (2, 1, "1/2", "50.00%", 1)
    rows = by_code(b.by_region)
    assert rows[V1].fraction == "1/1" and rows[V2].fraction == "0/1"
    assert [c.code for c in b.compounds_without_branch] == ["C2"]
    assert "compounds_without_branch" not in cov.branch_coverage(tiny, TOWN).as_dict()
    # a deleted branch no longer counts
    tiny.execute(text("UPDATE party_branches SET deleted_at = now()"))
    assert cov.branch_coverage(tiny, TOWN).totals.with_branch == 0


def test_grid_view_by_hand(tiny):
    g = cov.grid_view(tiny, TOWN, detail=True)
    kinds = {k.kind: k for k in g.kinds}
    gov, party = kinds["governance"], kinds["party"]
    assert (gov.grids, gov.with_branch, gov.fraction) == (2, 1, "1/2")
    assert gov.compounds_in_grids_without_branch == 1  # C2 in G2
    assert (party.grids, party.with_branch, party.compounds) == (1, 0, 1)
    cells = by_code(g.grids)
    assert cells["G1"].branch_seats == 1 and cells["G1"].compounds_with_branch == 1
    assert cells["G2"].population == 150 and cells["PG1"].population == 150
    assert gov.inconsistent == ()
    # dual-grid overlay: PG1 is half in G1, half in G2
    overlay = {(o.governance_code, o.party_code): o for o in g.overlay}
    assert set(overlay) == {("G1", "PG1"), ("G2", "PG1")}
    for o in overlay.values():
        assert o.share_of_governance == pytest.approx(0.5, abs=0.01)
        assert o.share_of_party == pytest.approx(0.5, abs=0.01)
    assert [c.code for c in g.compounds_in_grids_without_branch
            if c.grid_kind == "governance"] == ["C2"]


def test_longteng_branch_coverage_reproduces_both_figures(longteng):
    half_up = cov.branch_coverage(longteng, "440507013")
    t = half_up.totals
    assert (t.with_branch, t.compounds, t.fraction, t.branches) == (32, 36, "32/36", 6)
    assert (t.percent, t.percent_text) == (88.89, "88.89%")
    assert half_up.percent_variants["truncate"] == "88.88%"
    truncated = cov.branch_coverage(longteng, "440507013", rounding="truncate")
    assert truncated.totals.percent_text == "88.88%"
    assert sum(r.compounds for r in half_up.by_region) == 36
    assert sum(r.with_branch for r in half_up.by_region) == 32
    assert len(half_up.by_region) == 5


def test_longteng_four_of_twelve_grids_hold_a_branch(longteng):
    g = cov.grid_view(longteng, "440507013", detail=True)
    (gov,) = g.kinds
    assert (gov.kind, gov.grids, gov.with_branch, gov.fraction) == \
        ("governance", 12, 4, "4/12")
    assert gov.workers == 12 and gov.inconsistent == ()
    assert gov.compounds + gov.compounds_outside_grids == 36
    listed = g.compounds_in_grids_without_branch
    assert len(listed) == gov.compounds_in_grids_without_branch > 0
    branch_grids = {c.code for c in g.grids if c.has_branch}
    assert not branch_grids & {c.grid_code for c in listed}
