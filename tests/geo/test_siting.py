"""Siting new stations: the exact (HiGHS) optimum equals brute force, greedy never
beats it, the reported "newly covered" population is what the coverage
figures then show, what-if changes nothing, and bad input is refused."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp
from sqlalchemy import text

from geo import coverage as cov
from geo import siting
from geo.circles import Networks
from geo.errors import InvalidInput
from tests.geo.coverage.town import TOWN, build_tiny_town


def _random_instance(rng: np.random.Generator, n_groups: int, n_cand: int, density: float):
    m = (rng.random((n_groups, n_cand)) < density).astype(np.int8)
    m[np.arange(n_groups), rng.integers(0, n_cand, n_groups)] = 1  # every group reachable
    return rng.integers(1, 500, n_groups), sp.csr_matrix(m)


# ------------------------------------------------------------------ solvers
@pytest.mark.parametrize("seed", range(25))
def test_exact_equals_brute_force_and_greedy_never_beats_it(seed):
    rng = np.random.default_rng(seed)
    w, m = _random_instance(rng, int(rng.integers(5, 40)), int(rng.integers(3, 10)),
                            float(rng.uniform(0.05, 0.4)))
    for k in (1, 2, 3):
        best, _ = siting.brute_force(w, m, k)
        exact = siting.solve_exact(w, m, k)
        greedy = siting.solve_greedy(w, m, k)
        assert exact.optimal and exact.objective == best
        assert len(exact.chosen) <= k
        assert siting.coverage_of(w, m, exact.chosen) == exact.objective
        assert greedy.objective <= exact.objective
        assert siting.coverage_of(w, m, greedy.chosen) == greedy.objective


def test_greedy_is_beaten_on_the_classic_trap():
    # X reaches A and B (8 people) — greedy takes it first; Y (A, C) and Z (B, D)
    # together reach everyone (14)
    w = np.array([4, 4, 3, 3])  # A, B, C, D
    m = sp.csr_matrix(np.array([[1, 1, 0], [1, 0, 1], [0, 1, 0], [0, 0, 1]]))
    greedy = siting.solve_greedy(w, m, 2)
    exact = siting.solve_exact(w, m, 2)
    assert greedy.chosen[0] == 0 and greedy.objective == 11
    assert sorted(exact.chosen) == [1, 2] and exact.objective == 14
    # the report orders chosen sites by what each adds
    assert siting.order_by_marginal(w, m, exact.chosen) == [(1, 7), (2, 7)]


def test_solvers_stop_when_nobody_is_left():
    w = np.array([10])
    m = sp.csr_matrix(np.array([[1, 1, 0]]))
    assert siting.solve_greedy(w, m, 3).chosen == [0]
    assert siting.order_by_marginal(w, m, siting.solve_exact(w, m, 3).chosen) in \
        ([(0, 10)], [(1, 10)])


# ------------------------------------------------------------------ the tiny town
@pytest.fixture
def tiny(conn):
    build_tiny_town(conn)
    return conn


#: no walking network in the tiny town: candidates get straight-line circles of
#: 600 m (10 min at the elderly 3.6 km/h)
NO_NETWORK = Networks({})


def test_site_on_the_tiny_town_by_hand(tiny):
    # uncovered: B2 (113.003, 23.003) 200, B3 (113.006, 23.008) 50, B6 (113.0195, 23.005) 20.
    # Site S1 on B2 reaches B2 only (B3 is 634 m away); S2 on B3 reaches B3 only;
    # S3 between B2 and B3 (≤ 600 m from both) reaches both; S4 on B6 reaches B6.
    sites = [{"lng": 113.003, "lat": 23.003, "name": "S1"},
             {"lng": 113.006, "lat": 23.008, "name": "S2"},
             {"lng": 113.0045, "lat": 23.0055, "name": "S3"},
             {"lng": 113.0195, "lat": 23.005, "name": "S4"}]
    r = siting.site(tiny, TOWN, 2, sites=sites, networks=NO_NETWORK)
    assert r["before"] == {"population": 500, "population_covered": 230,
                           "population_pct": 46.0, "circles": 2}
    ex = r["exact"]
    assert ex["optimal"] and ex["population_new"] == 270 and ex["population_pct_after"] == 100.0
    assert [(s["name"], s["population_new"], s["population_covered_after"])
            for s in ex["sites"]] == [("S3", 250, 480), ("S4", 20, 500)]
    assert ex["sites"][0]["method"] == "straight_line"
    assert r["greedy"]["population_new"] <= ex["population_new"]
    assert r["candidates"]["useful"] == 4
    # the exact optimum equals brute force over the same candidate circles
    an = cov.analyse(tiny, TOWN)
    inst = siting.build_instance(an, siting.user_candidates(sites, an.town, reach_m=625),
                                 NO_NETWORK)
    for k in (1, 2, 3):
        best, _ = siting.brute_force(inst.weights, inst.cover, k)
        assert siting.solve_exact(inst.weights, inst.cover, k).objective == best


def test_reported_gain_matches_coverage_after_adding_the_sites(tiny):
    sites = [{"lng": 113.0045, "lat": 23.0055}, {"lng": 113.0195, "lat": 23.005}]
    r = siting.site(tiny, TOWN, 1, sites=sites, networks=NO_NETWORK, geometry=True)
    best = r["exact"]["sites"][0]
    w = siting.what_if(tiny, TOWN, best["lng"], best["lat"], networks=NO_NETWORK)
    assert w["delta"]["population_covered"] == best["population_new"] == 250
    assert w["after"]["population_covered"] == best["population_covered_after"]
    assert best["circle"]["type"] in ("Polygon", "MultiPolygon")


def test_what_if_by_hand_and_nothing_is_saved(tiny):
    count = "SELECT (SELECT count(*) FROM service_points) + (SELECT count(*) FROM " \
            "service_circles) + (SELECT count(*) FROM coverage_snapshots)"
    n0 = tiny.execute(text(count)).scalar()
    w = siting.what_if(tiny, TOWN, 113.003, 23.003, networks=NO_NETWORK, name="拟建站")
    assert w["stored"] is False and w["site"]["method"] == "straight_line"
    assert w["delta"] == {"buildings_covered": 1, "households_covered": 80,
                          "population_covered": 200, "compounds_covered": 0.67}
    assert (w["before"]["population_covered"], w["after"]["population_covered"]) == (230, 430)
    assert [r["code"] for r in w["by_region"]] == ["440100001001"]
    assert {r["code"] for r in w["by_grid"]} == {"G1"}
    assert tiny.execute(text(count)).scalar() == n0


def test_what_if_accepts_gcj02(tiny):
    from geo.crs import wgs84_to_gcj02

    glng, glat = wgs84_to_gcj02(113.003, 23.003)
    w = siting.what_if(tiny, TOWN, float(glng), float(glat), crs="gcj02", networks=NO_NETWORK)
    assert abs(w["site"]["lng"] - 113.003) < 1e-6 and w["delta"]["population_covered"] == 200


# ------------------------------------------------------------------ bad input
def test_k_larger_than_the_candidates(tiny):
    with pytest.raises(InvalidInput, match="超过了候选点数量（1 个）"):
        siting.site(tiny, TOWN, 2, sites=[{"lng": 113.003, "lat": 23.003}],
                    networks=NO_NETWORK)
    with pytest.raises(InvalidInput, match="k = 3 超过了候选点数量（2 个）"):
        siting.site(tiny, TOWN, 3, source="compounds", networks=NO_NETWORK)


@pytest.mark.parametrize("k", [0, -1, 51, 2.5, True])
def test_invalid_k(tiny, k):
    with pytest.raises(InvalidInput) as e:
        siting.site(tiny, TOWN, k, source="compounds", networks=NO_NETWORK)
    assert e.value.problems[0].column == "k"


def test_invalid_candidate_coordinates_are_all_reported(tiny):
    sites = [{"lng": 113.003, "lat": 23.003},           # fine
             {"lng": 23.003, "lat": 113.003},           # swapped
             {"lng": 113.0, "lat": 95.0},               # out of range
             {"lng": "东经113", "lat": 23.0},            # not a number
             {"lng": math.nan, "lat": 23.0},            # NaN
             {"lng": 116.4, "lat": 39.9},               # Beijing: outside the town
             {"lng": 113.003, "lat": 23.003, "crs": "utm"}]
    n0 = tiny.execute(text("SELECT count(*) FROM service_circles")).scalar()
    with pytest.raises(InvalidInput) as e:
        siting.site(tiny, TOWN, 1, sites=sites, networks=NO_NETWORK)
    rows = [p.row for p in e.value.problems]
    assert rows == [2, 3, 4, 5, 6, 7]
    assert "经纬度是否写反了" in e.value.problems[0].message
    assert "6 个候选点有误，未进行计算" in e.value.message
    assert tiny.execute(text("SELECT count(*) FROM service_circles")).scalar() == n0
    with pytest.raises(InvalidInput):
        siting.site(tiny, TOWN, 1, sites=[], networks=NO_NETWORK)


def test_unknown_method_and_source(tiny):
    with pytest.raises(InvalidInput):
        siting.site(tiny, TOWN, 1, method="annealing", networks=NO_NETWORK)
    with pytest.raises(InvalidInput):
        siting.site(tiny, TOWN, 1, source="schools", networks=NO_NETWORK)


# ------------------------------------------------------------------ lishui
@pytest.fixture(scope="module")
def lishui(samples_engine):
    """The lishui sample with its 10-minute circles computed inside a transaction
    that is rolled back afterwards."""
    from geo.circles import compute_circles

    with samples_engine.connect() as c:
        trans = c.begin()
        networks = Networks.load(c)
        compute_circles(c, [10], profile="elderly", networks=networks,
                        codes=[r[0] for r in c.execute(text(
                            "SELECT code FROM service_points WHERE code LIKE 'LS-%'"))])
        yield c, networks
        trans.rollback()


def test_lishui_siting_exact_and_greedy(lishui):
    conn, networks = lishui
    an = cov.analyse(conn, "440605126")
    r = siting.site(conn, "440605126", 3, source="compounds", networks=networks, an=an)
    ex, gr = r["exact"], r["greedy"]
    assert ex["optimal"] and gr["population_new"] <= ex["population_new"]
    assert r["candidates"]["generated"] == 320
    cum = [s["population_covered_after"] for s in ex["sites"]]
    assert cum == sorted(cum) and cum[-1] == r["before"]["population_covered"] + \
        ex["population_new"]
    gains = [s["population_new"] for s in ex["sites"]]
    assert gains == sorted(gains, reverse=True) and all(g > 0 for g in gains)
    # adding the chosen sites' circles gives exactly the reported population
    from geo.circles import circles_at

    b = an.params.budget()
    circles = circles_at(networks, [s["lng"] for s in ex["sites"]],
                         [s["lat"] for s in ex["sites"]], b)
    after = an.with_extra([c.polygon for c in circles], ["x"] * len(circles))
    assert int((after.town.b_pop * after.covered).sum()) == cum[-1]


def test_lishui_node_candidates_are_residential_and_thinned(lishui):
    conn, _ = lishui
    an = cov.analyse(conn, "440605126")
    cands, stats = siting.candidate_sites(conn, an, "nodes", reach_m=625, max_candidates=500)
    assert len(cands) == stats["kept"] <= 500 < stats["reaching"] <= stats["generated"]
    assert stats["thinning_m"] > 0
    assert all(c.source == "node" for c in cands)


def test_what_if_never_decreases_coverage_on_lishui(lishui):
    conn, networks = lishui
    an = cov.analyse(conn, "440605126")
    rng = np.random.default_rng(3)
    idx = rng.choice(len(an.town.c_code), 5, replace=False)
    for i in idx:
        w = siting.what_if(conn, "440605126", float(an.town.c_xy[i, 0]),
                           float(an.town.c_xy[i, 1]), networks=networks, an=an, geometry=False)
        assert all(v >= 0 for v in w["delta"].values())
        for row in w["by_region"] + w["by_grid"]:
            assert all(v >= 0 for v in row["delta"].values())


def test_facility_candidates_are_the_town_s_facilities(lishui):
    """Public facilities (from OSM) become candidates by name and kind: those in the
    town's villages only, and a chosen one is the facility's own point."""
    conn, networks = lishui
    an = cov.analyse(conn, "440605126")
    # three facilities: at the uncovered building with most people, at a compound of
    # the town, and one 30 km away (outside every village)
    t = an.town
    worst = int(np.argmax(t.b_pop * ~an.covered))
    assert t.b_pop[worst] > 0 and not an.covered[worst]
    pts = [t.b_xy[worst], t.c_xy[0], (113.5, 23.4)]
    sp = conn.begin_nested()
    try:
        for i, (x, y) in enumerate(pts):
            conn.execute(text(
                "INSERT INTO facilities (osm_type, osm_id, kind, tag, name, dataset, geom) "
                "VALUES ('n', :i, 'community', 'amenity=community_centre', :n, 'test', "
                "ST_SetSRID(ST_MakePoint(:x, :y), 4326))"),
                {"i": 900 + i, "n": f"社区活动中心{i}", "x": float(x), "y": float(y)})
        cands, stats = siting.candidate_sites(conn, an, "facilities", reach_m=625)
        assert stats["generated"] == 2  # the far one is outside the town
        # kept when it can reach someone uncovered: the first always can
        assert "n900" in {c.ref for c in cands} <= {"n900", "n901"}
        assert all(c.source == "facility" and c.name.endswith("（社区中心）") for c in cands)
        allc, _ = siting.candidate_sites(conn, an, "all", reach_m=625, max_candidates=100_000)
        assert {c.ref for c in cands} <= {c.ref for c in allc if c.source == "facility"}
    finally:
        sp.rollback()
