"""Coverage figures on a hand-computed small town, rounding rules, bad input,
snapshots, and the longteng figures (32/36, 88.89 % / 88.88 %, 4 of 12 grids).

The tiny town (near 113.0°E 23.0°N, EPSG:4326) — two villages side by side:

    V1 = [113.000, 113.010] × [23.000, 23.010]   V2 = [113.010, 113.020] × same
    compound C1 (V1, [113.001, 113.004]²-ish), compound C2 (V2)
    B1 (113.002, 23.002) C1 pop 100 hh 40     B4 (113.013, 23.002) C2 pop 100 hh 30
    B2 (113.003, 23.003) C1 pop 200 hh 80     B5 (113.018, 23.008) --  pop 30  hh 10
    B3 (113.006, 23.008) --  pop 50  hh 20    B6 centroid (113.0195, 23.005) pop 20 hh 5,
                                                  footprint 113.0185..113.0205 (straddles B)
    circle A (station P1)     = [113.0010, 113.0025] × [23.0010, 23.0025]  holds B1
    circle B (town center P2) = [113.0120, 113.0190] × [23.0010, 23.0085]  holds B4, B5
    grids: G1 = V1 (has a branch), G2 = V2, party grid PG1 = [113.005, 113.015] × [23.0, 23.01]
    branch BR1 seated in C1, covering C1.

By hand (centroid rule): buildings 3/6; population 230/500 = 46.00 %; households 80/185;
compounds: C1 counts 100/300 = 1/3, C2 counts 1 → 4/3 = 1.33 of 2 = 66.67 % (66.66 %
truncated); V1 100/350 = 28.57 %, V2 130/150 = 86.67 %.
"""

from __future__ import annotations

import json
from decimal import Decimal
from fractions import Fraction

import numpy as np
import pytest
import shapely
from shapely.geometry import box
from sqlalchemy import text

from geo import coverage as cov
from geo.errors import InvalidInput, NotFound

TOWN, V1, V2 = "440100001", "440100001001", "440100001002"
BUILDINGS = {  # code: (cx, cy, compound, population, households)
    "B1": (113.002, 23.002, "C1", 100, 40),
    "B2": (113.003, 23.003, "C1", 200, 80),
    "B3": (113.006, 23.008, None, 50, 20),
    "B4": (113.013, 23.002, "C2", 100, 30),
    "B5": (113.018, 23.008, None, 30, 10),
    "B6": (113.0195, 23.005, None, 20, 5),
}
CIRCLE_A = box(113.0010, 23.0010, 113.0025, 23.0025)
CIRCLE_B = box(113.0120, 23.0010, 113.0190, 23.0085)


def _mp(g) -> str:
    return shapely.to_wkt(shapely.MultiPolygon([g]) if g.geom_type == "Polygon" else g)


def add_circle(conn, code: str, kind: str, geom, *, minutes: float = 10,
               profile: str = "elderly") -> None:
    """A service point at the polygon's centre with a stored (fresh) circle."""
    c = geom.centroid
    conn.execute(text(
        "INSERT INTO service_points (code, name, kind, region_code, geom) VALUES "
        "(:c, :n, :k, NULL, ST_SetSRID(ST_MakePoint(:x, :y), 4326)) ON CONFLICT DO NOTHING"),
        {"c": code, "n": f"阵地{code}", "k": kind, "x": c.x, "y": c.y})
    conn.execute(text(
        "INSERT INTO service_circles (point_code, minutes, profile, budget_m, method, "
        "walk_off_m, geom, input_version) VALUES (:c, :m, :p, 600, 'straight_line', 0, "
        "ST_GeomFromText(:g, 4326), 'p1:n-:w25:s300:g10')"),
        {"c": code, "m": minutes, "p": profile, "g": _mp(geom)})


def build_tiny_town(conn, *, circles: bool = True) -> None:
    """Insert the tiny town of the module docstring (inside the caller's transaction)."""
    v1, v2 = box(113.000, 23.000, 113.010, 23.010), box(113.010, 23.000, 113.020, 23.010)
    for code, name, level, parent, g in (
            (TOWN, "小镇", "town", None, shapely.union(v1, v2)),
            (V1, "东村", "village", TOWN, v1), (V2, "西村", "village", TOWN, v2)):
        conn.execute(text(
            "INSERT INTO regions (code, name, level, parent_code, geom) VALUES "
            "(:c, :n, :l, :p, ST_GeomFromText(:g, 4326))"),
            {"c": code, "n": name, "l": level, "p": parent, "g": _mp(g)})
    for code, region, g, pop in (("C1", V1, box(113.001, 23.001, 113.004, 23.004), 300),
                                 ("C2", V2, box(113.012, 23.001, 113.015, 23.004), 100)):
        conn.execute(text(
            "INSERT INTO compounds (code, name, region_code, population, geom) VALUES "
            "(:c, :n, :r, :p, ST_GeomFromText(:g, 4326))"),
            {"c": code, "n": f"小区{code}", "r": region, "p": pop, "g": _mp(g)})
    for code, (x, y, comp, pop, hh) in BUILDINGS.items():
        half = 0.001 if code == "B6" else 0.0001
        conn.execute(text(
            "INSERT INTO buildings (code, compound_code, population, households, geom) VALUES "
            "(:c, :k, :p, :h, ST_GeomFromText(:g, 4326))"),
            {"c": code, "k": comp, "p": pop, "h": hh,
             "g": _mp(box(x - half, y - 0.0001, x + half, y + 0.0001))})
    for code, kind, region, g, has in (
            ("G1", "governance", V1, v1, True), ("G2", "governance", V2, v2, False),
            ("PG1", "party", TOWN, box(113.005, 23.000, 113.015, 23.010), False)):
        conn.execute(text(
            "INSERT INTO grid_cells (code, name, kind, region_code, workers, has_branch, geom) "
            "VALUES (:c, :n, :k, :r, 1, :h, ST_GeomFromText(:g, 4326))"),
            {"c": code, "n": f"网格{code}", "k": kind, "r": region, "h": has, "g": _mp(g)})
    conn.execute(text("INSERT INTO party_branches (code, name, region_code, seat_compound_code) "
                      "VALUES ('BR1', '一支部', :r, 'C1')"), {"r": V1})
    conn.execute(text("INSERT INTO branch_compounds VALUES ('BR1', 'C1')"))
    if circles:
        add_circle(conn, "P1", "station", CIRCLE_A)
        add_circle(conn, "P2", "town_center", CIRCLE_B)


@pytest.fixture
def tiny(conn):
    build_tiny_town(conn)
    return conn


def _rows(result):
    return {r["code"]: r for r in result["by_region"]}


# ------------------------------------------------------------------ rounding
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
    assert s["fraction"] == "32/36" and s["percent"] == 88.88 and s["percent_text"] == "88.88%"
    # 0.125 cannot be off by float representation: 1/8 of 100 = 12.5 exactly
    assert str(cov.percent(1, 8, decimals=0)) == "13"
    with pytest.raises(InvalidInput):
        cov.percent(1, 2, rounding="ceiling")
    with pytest.raises(InvalidInput):
        cov.percent(1, 2, decimals=9)


# ------------------------------------------------------------------ reach, by hand
def test_reach_coverage_by_hand(tiny):
    r = cov.reach_coverage(cov.analyse(tiny, TOWN))
    t = r["totals"]
    assert (t["buildings"], t["buildings_covered"], t["buildings_pct"]) == (6, 3, 50.0)
    assert (t["population"], t["population_covered"], t["population_pct"]) == (500, 230, 46.0)
    assert t["population_fraction"] == "230/500" and t["population_uncovered"] == 270
    assert (t["households"], t["households_covered"]) == (185, 80)
    assert (t["compounds"], t["compounds_covered"], t["compounds_pct"]) == (2, 1.33, 66.67)
    assert (t["compounds_full"], t["compounds_partial"], t["compounds_uncovered"]) == (1, 1, 0)
    rows = _rows(r)
    assert (rows[V1]["buildings_covered"], rows[V1]["population_covered"],
            rows[V1]["population_pct"]) == (1, 100, 28.57)
    assert (rows[V1]["compounds_covered"], rows[V1]["compounds_pct"]) == (0.33, 33.33)
    assert (rows[V2]["buildings_covered"], rows[V2]["population_covered"],
            rows[V2]["population_pct"]) == (2, 130, 86.67)
    assert rows[V2]["compounds_pct"] == 100.0
    # the result states its rule and parameters
    assert r["rule"]["building"] == "centroid" and "centroid" in r["rule"]["text"]
    assert r["parameters"]["minutes"] == 10 and r["parameters"]["profile"] == "elderly"
    assert r["parameters"]["budget_m"] == 600 and r["parameters"]["rounding"] == "half_up"
    assert r["circles"]["count"] == 2 and r["circles"]["stale"] == 0
    # per grid (both kinds)
    grids = {g["code"]: g for g in r["by_grid"]}
    assert (grids["G1"]["population_covered"], grids["G2"]["population_covered"]) == (100, 130)
    assert (grids["PG1"]["buildings"], grids["PG1"]["buildings_covered"],
            grids["PG1"]["population"], grids["PG1"]["population_covered"]) == (2, 1, 150, 100)
    assert grids["PG1"]["kind"] == "party" and grids["G1"]["has_branch"] is True
    # who each point reaches
    points = {p["code"]: p for p in r["by_point"]}
    assert points["P1"]["population"] == 100 and points["P2"]["population"] == 130
    assert points["P2"]["population_only_here"] == 130


def test_rounding_rule_applies_everywhere(tiny):
    p = cov.CoverageParams(rounding="truncate")
    r = cov.reach_coverage(cov.analyse(tiny, TOWN, p))
    assert r["totals"]["compounds_pct"] == 66.66
    assert _rows(r)[V2]["population_pct"] == 86.66
    assert r["parameters"]["rounding"] == "truncate"


@pytest.mark.parametrize("rule, compound_rule, buildings, population, compounds", [
    ("intersects", "population_share", 4, 250, 1.33),  # B6's footprint touches circle B
    ("within", "population_share", 3, 230, 1.33),
    ("centroid", "any", 3, 230, 2.0),        # C1 has a covered building → counts 1
    ("centroid", "majority", 3, 230, 1.0),   # C1: 1/3 < 1/2
    ("centroid", "all", 3, 230, 1.0),
])
def test_rules(tiny, rule, compound_rule, buildings, population, compounds):
    p = cov.CoverageParams(rule=cov.CoverageRule(rule, compound_rule))
    t = cov.reach_coverage(cov.analyse(tiny, TOWN, p))["totals"]
    assert (t["buildings_covered"], t["population_covered"], t["compounds_covered"]) == \
        (buildings, population, compounds)


def test_within_uses_the_union_of_circles(tiny):
    # B7 straddles circles A and a new circle C: inside their union, in neither alone
    tiny.execute(text(
        "INSERT INTO buildings (code, compound_code, population, households, geom) VALUES "
        "('B7', 'C1', 10, 4, ST_GeomFromText(:g, 4326))"),
        {"g": _mp(box(113.0024, 23.0014, 113.0026, 23.0016))})
    add_circle(tiny, "P3", "civilization", box(113.0025, 23.0010, 113.0040, 23.0020))
    within = cov.CoverageParams(rule=cov.CoverageRule("within"))
    t = cov.reach_coverage(cov.analyse(tiny, TOWN, within))["totals"]
    assert t["population_covered"] == 230 + 10


def test_kinds_select_circles(tiny):
    p = cov.CoverageParams(kinds=("station",))
    r = cov.reach_coverage(cov.analyse(tiny, TOWN, p))
    assert r["totals"]["population_covered"] == 100 and r["circles"]["count"] == 1
    assert r["parameters"]["kinds"] == ["station"]


def test_village_region_and_stale_circles(tiny):
    r = cov.reach_coverage(cov.analyse(tiny, V2))
    assert r["region"]["code"] == V2 and r["by_region"] == []
    assert (r["totals"]["population"], r["totals"]["population_covered"]) == (150, 130)
    # the point moved (version bumped): its circle is reported stale
    tiny.execute(text("UPDATE service_points SET version = 2 WHERE code = 'P2'"))
    assert cov.analyse(tiny, V2).circles.stale == ["P2"]


# ------------------------------------------------------------------ branches and grids
def test_branch_coverage_by_hand(tiny):
    b = cov.branch_coverage(tiny, TOWN, detail=True)
    assert (b["totals"]["compounds"], b["totals"]["with_branch"], b["totals"]["fraction"],
            b["totals"]["percent_text"], b["totals"]["branches"]) == (2, 1, "1/2", "50.00%", 1)
    rows = _rows(b)
    assert rows[V1]["fraction"] == "1/1" and rows[V2]["fraction"] == "0/1"
    assert [c["code"] for c in b["compounds_without_branch"]] == ["C2"]
    assert "compounds_without_branch" not in cov.branch_coverage(tiny, TOWN)
    # a deleted branch no longer counts
    tiny.execute(text("UPDATE party_branches SET deleted_at = now()"))
    assert cov.branch_coverage(tiny, TOWN)["totals"]["with_branch"] == 0


def test_grid_view_by_hand(tiny):
    g = cov.grid_view(tiny, TOWN, detail=True)
    kinds = {k["kind"]: k for k in g["kinds"]}
    gov, party = kinds["governance"], kinds["party"]
    assert (gov["grids"], gov["with_branch"], gov["fraction"]) == (2, 1, "1/2")
    assert gov["compounds_in_grids_without_branch"] == 1  # C2 in G2
    assert (party["grids"], party["with_branch"], party["compounds"]) == (1, 0, 1)
    cells = {c["code"]: c for c in g["grids"]}
    assert cells["G1"]["branch_seats"] == 1 and cells["G1"]["compounds_with_branch"] == 1
    assert cells["G2"]["population"] == 150 and cells["PG1"]["population"] == 150
    assert gov["inconsistent"] == []
    # dual-grid overlay: PG1 is half in G1, half in G2
    overlay = {(o["governance_code"], o["party_code"]): o for o in g["overlay"]}
    assert set(overlay) == {("G1", "PG1"), ("G2", "PG1")}
    for o in overlay.values():
        assert o["share_of_governance"] == pytest.approx(0.5, abs=0.01)
        assert o["share_of_party"] == pytest.approx(0.5, abs=0.01)
    assert [c["code"] for c in g["compounds_in_grids_without_branch"]
            if c["grid_kind"] == "governance"] == ["C2"]


# ------------------------------------------------------------------ gaps
def test_gaps_by_hand(tiny):
    an = cov.analyse(tiny, TOWN)
    g = cov.gap_report(an, detail=True, limit=50, conn=tiny)
    assert g["totals"]["population_uncovered"] == 270
    assert g["totals"]["buildings_uncovered"] == 3
    assert [(b["code"], b["population"]) for b in g["buildings"]] == \
        [("B2", 200), ("B3", 50), ("B6", 20)]
    assert [(c["code"], c["population_uncovered"], c["covered_pct"]) for c in g["compounds"]] \
        == [("C1", 200, 33.33)]
    assert [r["code"] for r in g["by_region"]] == [V1, V2]  # most uncovered first
    h = g["hexagons"]
    assert h["resolution"] == 8 and 400 < h["edge_m"] < 600
    assert sum(c["population_uncovered"] for c in h["cells"]) == 270
    # gap areas: raster cells of residential land outside both circles
    a = g["areas"]
    assert a["area_m2"] > 0 and a["area_m2"] % (30 * 30) == pytest.approx(0, abs=1e-3)
    assert sum(f["properties"]["population_uncovered"] for f in a["features"]) == 270
    c2 = box(113.012, 23.001, 113.015, 23.004)
    for f in a["features"]:
        poly = shapely.geometry.shape(f["geometry"])
        assert poly.intersection(c2).area < 1e-9  # C2 lies inside circle B
        assert not poly.contains(shapely.Point(113.002, 23.002))  # B1 is covered
    # public answer: uncovered hexagons with fewer than 3 buildings are not listed
    public = cov.gap_report(an, conn=tiny)
    assert "buildings" not in public and "compounds" not in public
    sup = public["hexagons"]["suppressed"]
    assert sum(c["population_uncovered"] for c in public["hexagons"]["cells"]) + \
        sup["population_uncovered"] == 270


def test_h3_resolution_for_500_m():
    assert cov.h3_resolution_for(500) == 8
    assert cov.h3_resolution_for(200) == 9


# ------------------------------------------------------------------ monotonicity
def test_adding_a_station_never_decreases_coverage(tiny):
    an = cov.analyse(tiny, TOWN)
    before = cov.reach_coverage(an, by_point=False)
    rng = np.random.default_rng(7)
    for i in range(20):
        x, y = rng.uniform(113.0, 113.02), rng.uniform(23.0, 23.01)
        w, h = rng.uniform(0.0005, 0.006, 2)
        after = cov.reach_coverage(an.with_extra([box(x, y, x + w, y + h)], [f"N{i}"]),
                                   by_point=False)
        for a, b in zip([before["totals"], *before["by_region"], *before["by_grid"]],
                        [after["totals"], *after["by_region"], *after["by_grid"]],
                        strict=True):
            for f in ("buildings_covered", "population_covered", "households_covered",
                      "compounds_covered"):
                assert b[f] >= a[f], (i, a["code"], f)


# ------------------------------------------------------------------ bad input
def test_unknown_region(tiny):
    with pytest.raises(NotFound, match="999999"):
        cov.analyse(tiny, "999999")


def test_minutes_without_circles_say_how_to_compute_them(tiny):
    with pytest.raises(InvalidInput, match="servicemap isochrones --minutes 15 --profile "
                                           "elderly"):
        cov.analyse(tiny, TOWN, cov.CoverageParams(minutes=15))


def test_compute_option_computes_missing_circles(tiny):
    # no walking network here: straight-line circles of 5 min × 5 km/h = 416.7 m
    an = cov.analyse(tiny, TOWN, cov.CoverageParams(minutes=5, profile="adult"), compute=True)
    assert len(an.circles) == 2 and an.circles.missing == []
    n = tiny.execute(text("SELECT count(*) FROM service_circles WHERE minutes = 5")).scalar()
    assert n == 2


def test_empty_town(conn):
    conn.execute(text("INSERT INTO regions (code, name, level, geom) VALUES ('440100009', "
                      "'空镇', 'town', ST_GeomFromText(:g, 4326))"),
                 {"g": _mp(box(114.0, 23.0, 114.01, 23.01))})
    with pytest.raises(InvalidInput, match="no residential buildings"):
        cov.analyse(conn, "440100009")
    with pytest.raises(InvalidInput, match="no residential compounds"):
        cov.branch_coverage(conn, "440100009")
    with pytest.raises(InvalidInput, match="no grid cells"):
        cov.grid_view(conn, "440100009")


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


def test_region_required_when_several_towns(tiny):
    tiny.execute(text("INSERT INTO regions (code, name, level) VALUES ('440100002', '另镇', "
                      "'town')"))
    with pytest.raises(InvalidInput, match="440100001 小镇"):
        cov.analyse(tiny, None)


# ------------------------------------------------------------------ snapshots
def test_snapshots_compare_before_and_after_a_new_station(tiny):
    first = cov.reach_coverage(cov.analyse(tiny, TOWN))
    a = cov.save_snapshot(tiny, first, label="现状", actor="test")
    # a new station whose circle holds B2 (200 people, in C1)
    add_circle(tiny, "P9", "station", box(113.0028, 23.0028, 113.0032, 23.0032))
    b = cov.save_snapshot(tiny, cov.reach_coverage(cov.analyse(tiny, TOWN)), label="新建站后")
    listed = cov.list_snapshots(tiny, TOWN)
    assert [s["id"] for s in listed][:2] == [b, a]
    assert listed[1]["population_covered"] == 230 and listed[1]["label"] == "现状"
    diff = cov.compare_snapshots(tiny, a, b)
    assert diff["parameters_differ"] == [] and diff["same_region"]
    t = diff["totals"]
    assert (t["population_covered_before"], t["population_covered_after"],
            t["population_covered_delta"]) == (230, 430, 200)
    assert t["compounds_covered_delta"] == pytest.approx(0.67)
    assert (t["population_pct_before"], t["population_pct_after"]) == (46.0, 86.0)
    v1 = next(r for r in diff["areas"] if r["code"] == V1)
    assert v1["population_covered_delta"] == 200
    # history is kept: the stored result is the one computed then
    stored = cov.get_snapshot(tiny, a)
    assert stored["totals"]["population_covered"] == 230 and stored["label"] == "现状"
    assert stored["parameters"]["rule"]["building"] == "centroid"
    with pytest.raises(NotFound):
        cov.compare_snapshots(tiny, a, 10**9)


# ------------------------------------------------------------------ exports
def test_csv_and_xlsx_exports_have_chinese_headers(tiny):
    import io

    from openpyxl import load_workbook

    r = cov.reach_coverage(cov.analyse(tiny, TOWN))
    data = cov.export_csv(r, "reach")
    assert data.startswith("\ufeff".encode())
    lines = data.decode("utf-8-sig").splitlines()
    assert lines[0].startswith("编码,名称,层级,建筑数,覆盖建筑数,建筑覆盖率(%)")
    assert lines[1].startswith(f"{TOWN},小镇,镇街,6,3,50.0")
    assert any(line.startswith("覆盖规则,建筑质心") for line in lines)
    wb = load_workbook(io.BytesIO(cov.export_xlsx(r, "reach")))
    assert wb.sheetnames == ["覆盖汇总", "网格覆盖", "阵地覆盖", "参数"]
    assert wb["覆盖汇总"]["A1"].value == "编码" and wb["覆盖汇总"]["J2"].value == 230
    b = cov.branch_coverage(tiny, TOWN, rounding="truncate")
    assert "50.00%" in cov.export_csv(b, "branches").decode("utf-8-sig")
    assert json.dumps(r, ensure_ascii=False)  # JSON-ready


# ------------------------------------------------------------------ longteng
@pytest.fixture(scope="module")
def longteng(samples_engine):
    with samples_engine.connect() as c:
        yield c


def test_longteng_branch_coverage_reproduces_both_figures(longteng):
    half_up = cov.branch_coverage(longteng, "440507013")
    t = half_up["totals"]
    assert (t["with_branch"], t["compounds"], t["fraction"], t["branches"]) == (32, 36, "32/36", 6)
    assert (t["percent"], t["percent_text"]) == (88.89, "88.89%")
    assert half_up["percent_variants"]["truncate"] == "88.88%"
    truncated = cov.branch_coverage(longteng, "440507013", rounding="truncate")
    assert truncated["totals"]["percent_text"] == "88.88%"
    assert sum(r["compounds"] for r in half_up["by_region"]) == 36
    assert sum(r["with_branch"] for r in half_up["by_region"]) == 32
    assert len(half_up["by_region"]) == 5


def test_longteng_four_of_twelve_grids_hold_a_branch(longteng):
    g = cov.grid_view(longteng, "440507013", detail=True)
    (gov,) = g["kinds"]
    assert (gov["kind"], gov["grids"], gov["with_branch"], gov["fraction"]) == \
        ("governance", 12, 4, "4/12")
    assert gov["workers"] == 12 and gov["inconsistent"] == []
    assert gov["compounds"] + gov["compounds_outside_grids"] == 36
    listed = g["compounds_in_grids_without_branch"]
    assert len(listed) == gov["compounds_in_grids_without_branch"] > 0
    branch_grids = {c["code"] for c in g["grids"] if c["has_branch"]}
    assert not branch_grids & {c["grid_code"] for c in listed}
