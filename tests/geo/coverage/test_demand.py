"""Demand from the residents' side on the tiny town (figures by hand): unmet
wishes outside every circle (checked against shapely on the circles' boxes),
each building's share of the wishes, and siting weighted by unmet wishes."""

from __future__ import annotations

import pytest
import shapely
from sqlalchemy import text

from geo import coverage as cov
from geo import siting
from geo.circles import Networks
from geo.errors import Conflict, InvalidInput
from tests.geo.coverage.town import CIRCLE_A, CIRCLE_B, TOWN, V1, V2, build_tiny_town

NO_NETWORK = Networks({})
#: code: (lng, lat or None, village, state, compound, grid)
WISHES = {
    "W1": (113.002, 23.002, V1, "published", "C1", "G1"),    # inside circle A
    "W2": (113.006, 23.008, V1, "claimed", None, "G1"),      # outside both
    "W3": (113.013, 23.002, V2, "posted", "C2", "G2"),       # inside circle B
    "W4": (None, None, V1, "published", None, None),          # no location
    "W5": (113.006, 23.009, V1, "confirmed", None, "G1"),    # fulfilled: not unmet
    "W6": (113.0195, 23.009, V2, "published", None, "G2"),   # outside both
}


def _wishes(conn, wishes=WISHES) -> None:
    for code, (x, y, village, state, compound, grid) in wishes.items():
        conn.execute(text(
            "INSERT INTO wishes (code, title, region_code, state, compound_code, grid_code, geom) "
            "VALUES (:c, :t, :v, :s, :k, :g, CASE WHEN CAST(:x AS float) IS NULL THEN NULL "
            "ELSE ST_SetSRID(ST_MakePoint(:x, :y), 4326) END)"),
            {"c": code, "t": f"心愿{code}", "v": village, "s": state, "k": compound, "g": grid,
             "x": x, "y": y})


@pytest.fixture
def tiny(conn):
    build_tiny_town(conn)
    _wishes(conn)
    return conn


def test_wishes_outside_every_circle_by_hand(tiny):
    got = cov.wishes_outside(tiny, TOWN, cov.CoverageParams(), detail=True)
    # independently: which located unmet wishes fall in neither circle's box
    circles = [CIRCLE_A, CIRCLE_B]
    expected = sorted(c for c, (x, y, _, s, _, _) in WISHES.items()
                      if x is not None and s in cov.UNMET_STATES
                      and not any(shapely.covers(b, shapely.Point(x, y)) for b in circles))
    assert expected == ["W2", "W6"]
    assert sorted(w["code"] for w in got["wishes"]) == expected
    assert got["totals"] == {"unmet": 5, "located": 4, "inside": 2, "outside": 2}
    by = {v["code"]: v for v in got["by_region"]}
    assert by[V1] == {"code": V1, "name": "东村", "unmet": 3, "located": 2, "outside": 1}
    assert by[V2]["unmet"] == 2 and by[V2]["outside"] == 1
    assert got["circles"] == 2


def test_the_public_answer_folds_small_villages_and_lists_nobody(tiny):
    got = cov.wishes_outside(tiny, TOWN, cov.CoverageParams())
    assert "wishes" not in got
    assert [v["code"] for v in got["by_region"]] == [V1]  # V2 has 2 unmet wishes: folded
    assert got["suppressed"] == {"villages": 1, "outside": 1, "below": 3}
    assert got["totals"]["outside"] == 2


def test_without_circles_it_says_how_to_compute_them(conn):
    build_tiny_town(conn, circles=False)
    with pytest.raises(Conflict, match="servicemap isochrones"):
        cov.wishes_outside(conn, TOWN, cov.CoverageParams())


def test_each_buildings_share_of_the_unmet_wishes(tiny):
    an = cov.analyse(tiny, TOWN)
    t = an.town
    share = dict(zip(t.b_id.tolist(), cov.wish_shares(tiny, t).tolist(), strict=True))
    ids = dict(tiny.execute(text("SELECT code, id FROM buildings")).all())
    s = {code: share[i] for code, i in ids.items()}
    # W1 in C1 → B1 100, B2 200: 1/3, 2/3; W3 in C2 → B4; W2 in grid G1 (V1) → B1 100,
    # B2 200, B3 50 by population; W6 in grid G2 → B4 100, B5 30, B6 20; W4: village V1
    # → B1, B2, B3 again; W5 is fulfilled and counts nowhere
    g1 = {"B1": 100 / 350, "B2": 200 / 350, "B3": 50 / 350}
    g2 = {"B4": 100 / 150, "B5": 30 / 150, "B6": 20 / 150}
    assert s["B1"] == pytest.approx(1 / 3 + 2 * g1["B1"])
    assert s["B2"] == pytest.approx(2 / 3 + 2 * g1["B2"])
    assert s["B3"] == pytest.approx(2 * g1["B3"])
    assert s["B4"] == pytest.approx(1 + g2["B4"])
    assert s["B5"] == pytest.approx(g2["B5"]) and s["B6"] == pytest.approx(g2["B6"])
    assert sum(s.values()) == pytest.approx(5)


SITES = [{"lng": 113.0045, "lat": 23.0055, "name": "S3"},   # reaches B2 and B3
         {"lng": 113.0195, "lat": 23.005, "name": "S4"}]    # reaches B6


def test_siting_by_population_ignores_wishes_by_default(tiny):
    r = siting.site(tiny, TOWN, 1, sites=SITES, networks=NO_NETWORK)
    assert [s["name"] for s in r["exact"]["sites"]] == ["S3"]
    assert r["exact"]["population_new"] == 250
    assert "wish_weight" not in r["parameters"] and "wishes_new" not in r["exact"]


def test_siting_weighted_by_unmet_wishes_by_hand(conn):
    build_tiny_town(conn)
    # 30 unmet wishes in grid G2 (no compound): B6 gets 30 × 20/150 = 4 of them
    _wishes(conn, {f"X{i}": (113.0195, 23.009, V2, "published", None, "G2")
                   for i in range(30)})
    r = siting.site(conn, TOWN, 1, sites=SITES, networks=NO_NETWORK, wish_weight=100)
    ex = r["exact"]
    # S3: B2 200 + B3 50 = 250, no wishes there; S4: B6 20 + 100 × 4 = 420
    assert [s["name"] for s in ex["sites"]] == ["S4"]
    assert ex["demand_new"] == 420 and ex["population_new"] == 20
    assert ex["wishes_new"] == pytest.approx(4.0)
    assert ex["sites"][0]["population_new"] == 20 and ex["sites"][0]["demand_new"] == 420
    assert ex["population_covered_after"] == 230 + 20
    assert r["parameters"]["wish_weight"] == 100
    # a weight that makes the wishes count less than B2 and B3's people: S3 again
    r = siting.site(conn, TOWN, 1, sites=SITES, networks=NO_NETWORK, wish_weight=50)
    assert [s["name"] for s in r["exact"]["sites"]] == ["S3"]  # 250 > 20 + 50 × 4 = 220
    assert r["exact"]["wishes_new"] == 0


@pytest.mark.parametrize("bad", [-1, 10_001, float("nan")])
def test_a_bad_wish_weight_is_refused(tiny, bad):
    with pytest.raises(InvalidInput) as e:
        siting.site(tiny, TOWN, 1, sites=SITES, networks=NO_NETWORK, wish_weight=bad)
    assert e.value.problems[0].column == "wish_weight"


def test_gap_ranking_weighted_by_unmet_wishes_by_hand(conn):
    build_tiny_town(conn)
    # uncovered by compound: C1 has B2 (200 people; B1 is covered), C2 none (B4 covered).
    # 3 unmet wishes in C1: B1 gets 1 (100/300 of each), B2 gets 2 — only B2's count
    _wishes(conn, {f"Y{i}": (113.003, 23.003, V1, "posted", "C1", "G1") for i in range(3)})
    an = cov.analyse(conn, TOWN)
    plain = cov.gap_report(an, detail=True, conn=conn, areas=False)
    assert [(c.code, c.population_uncovered) for c in plain.compounds] == [("C1", 200)]
    assert plain.compounds[0].wishes_unmet is None
    assert "wishes_unmet" not in plain.compounds[0].as_dict()
    got = cov.gap_report(an, detail=True, conn=conn, areas=False, wish_weight=10)
    assert got.compounds[0].wishes_unmet == pytest.approx(2.0)


def test_candidates_are_kept_by_the_same_demand_they_are_chosen_by(conn):
    import numpy as np

    build_tiny_town(conn)
    _wishes(conn, {f"X{i}": (113.0195, 23.009, V2, "published", None, "G2")
                   for i in range(30)})
    an = cov.analyse(conn, TOWN)
    fwd, _ = siting._metric(an.town)
    x, y = fwd.transform(np.array([113.0195]), np.array([23.005]))  # on B6
    xy = np.column_stack([x, y])
    assert siting._potential(an, xy, 100.0, fwd).tolist() == [20]
    demand = an.town.b_pop + np.rint(100 * cov.wish_shares(conn, an.town)).astype(np.int64)
    assert siting._potential(an, xy, 100.0, fwd, demand).tolist() == [420]
