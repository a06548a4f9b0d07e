"""The tiny town whose coverage figures are worked out by hand.

Near 113.0°E 23.0°N (EPSG:4326) — two villages side by side:

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

import shapely
from shapely.geometry import box
from sqlalchemy import text

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


def mp(g) -> str:
    """WKT of a polygon as a multipolygon (the stored geometry type)."""
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
        {"c": code, "m": minutes, "p": profile, "g": mp(geom)})


def build_tiny_town(conn, *, circles: bool = True) -> None:
    """Insert the tiny town of the module docstring (inside the caller's transaction)."""
    v1, v2 = box(113.000, 23.000, 113.010, 23.010), box(113.010, 23.000, 113.020, 23.010)
    for code, name, level, parent, g in (
            (TOWN, "小镇", "town", None, shapely.union(v1, v2)),
            (V1, "东村", "village", TOWN, v1), (V2, "西村", "village", TOWN, v2)):
        conn.execute(text(
            "INSERT INTO regions (code, name, level, parent_code, geom) VALUES "
            "(:c, :n, :l, :p, ST_GeomFromText(:g, 4326))"),
            {"c": code, "n": name, "l": level, "p": parent, "g": mp(g)})
    for code, region, g, pop in (("C1", V1, box(113.001, 23.001, 113.004, 23.004), 300),
                                 ("C2", V2, box(113.012, 23.001, 113.015, 23.004), 100)):
        conn.execute(text(
            "INSERT INTO compounds (code, name, region_code, population, geom) VALUES "
            "(:c, :n, :r, :p, ST_GeomFromText(:g, 4326))"),
            {"c": code, "n": f"小区{code}", "r": region, "p": pop, "g": mp(g)})
    for code, (x, y, comp, pop, hh) in BUILDINGS.items():
        half = 0.001 if code == "B6" else 0.0001
        conn.execute(text(
            "INSERT INTO buildings (code, compound_code, population, households, geom) VALUES "
            "(:c, :k, :p, :h, ST_GeomFromText(:g, 4326))"),
            {"c": code, "k": comp, "p": pop, "h": hh,
             "g": mp(box(x - half, y - 0.0001, x + half, y + 0.0001))})
    for code, kind, region, g, has in (
            ("G1", "governance", V1, v1, True), ("G2", "governance", V2, v2, False),
            ("PG1", "party", TOWN, box(113.005, 23.000, 113.015, 23.010), False)):
        conn.execute(text(
            "INSERT INTO grid_cells (code, name, kind, region_code, workers, has_branch, geom) "
            "VALUES (:c, :n, :k, :r, 1, :h, ST_GeomFromText(:g, 4326))"),
            {"c": code, "n": f"网格{code}", "k": kind, "r": region, "h": has, "g": mp(g)})
    conn.execute(text("INSERT INTO party_branches (code, name, region_code, seat_compound_code) "
                      "VALUES ('BR1', '一支部', :r, 'C1')"), {"r": V1})
    conn.execute(text("INSERT INTO branch_compounds VALUES ('BR1', 'C1')"))
    if circles:
        add_circle(conn, "P1", "station", CIRCLE_A)
        add_circle(conn, "P2", "town_center", CIRCLE_B)


def by_code(rows) -> dict:
    """Rows of a result by their code."""
    return {r.code: r for r in rows}
