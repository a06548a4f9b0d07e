"""Synthetic sample of 龙腾街道 (Longteng street, Longhu district, Shantou; code 440507013).

Real (FACTS.md; article ``001_*.txt``): the street and its 5 communities (codes
and names from ``divisions.csv``); the "1+5+N" position system of 1 street
center, 5 community centers and 27 service stations (33 points); 36
residential compounds of which 6 compound party branches cover 32 (88.88 %);
12 basic grids with 12 part-time grid workers, 4 of the grids with a party
branch. The 6 centers' 51 activities of the year (over 6,900 person-times, at
least one a month each) are reproduced by :mod:`data.residents`.

Synthetic: every geometry (a street of about 10 km² around 23.36°N 116.72°E,
built in EPSG:32650 / UTM 50N and delivered in EPSG:4326), streets, the canal,
compounds, buildings, populations, branch memberships and point attributes.
A grid "has a branch" when a branch's seat compound lies in it.
"""

from __future__ import annotations

import numpy as np
import shapely

from data.divisions import villages
from data.residents import with_residents
from data.sample import Sample
from data.synth import (
    HOURS_DAILY,
    SEVEN_FUNCTIONS,
    BranchDraft,
    Layout,
    PointDraft,
    RiverSpec,
    TownSpec,
    apportion,
    assemble,
    build_layout,
    draft,
    short_name,
)
from geo.vocab import PointKind

TOWN_CODE = "440507013"
N_GRIDS = 12
N_BRANCHES = 6
N_COVERED = 32
N_BRANCH_GRIDS = 4
N_STATIONS = 27

SPEC = TownSpec(
    key="longteng",
    prefix="LT",
    town_code=TOWN_CODE,
    town_name="龙腾街道",
    lon=116.72,
    lat=23.36,
    epsg=32650,
    area_km2=10.0,
    elongation=1.2,
    rivers=(
        RiverSpec(
            "津湾涌", width_m=35.0, angle_deg=70.0, offset=0.3, meander_m=150.0, wavelength_m=1600.0
        ),
    ),
    arterial_spacing_m=420.0,
    local_spacing_m=(120.0, 220.0),
    path_below=0.05,
    n_compounds=36,
    compound_cell_m2=(5_000.0, 50_000.0),
    compound_floors=(8, 30),
    population=75_000,
    compound_share=0.72,
    core_area_m2=(100_000.0, 180_000.0),
    extra_cells_share=0.25,
    phone_area_code="0754",
    road_names=(
        "泰山",
        "嵩山",
        "衡山",
        "华山",
        "天山",
        "黄山",
        "庐山",
        "峨眉",
        "长江",
        "黄河",
        "珠江",
        "韩江",
        "榕江",
        "练江",
        "金砂",
        "龙腾",
        "津湾",
        "海滨",
    ),
    compound_words=(
        "龙湖",
        "金湾",
        "海景",
        "锦绣",
        "御景",
        "碧海",
        "星湖",
        "阳光",
        "华侨",
        "金砂",
        "世纪",
        "海逸",
        "天禧",
        "珠港",
        "津海",
        "东海岸",
        "龙腾",
        "丽景",
    ),
    compound_suffixes=("花园", "华庭", "名苑", "名都", "海湾", "新城", "豪庭", "公馆"),
    lloyd_iterations=3,
)


def _assign_regions(rng: np.random.Generator, seeds: np.ndarray, town, core_xy: np.ndarray):
    """Communities take the Voronoi cells in a random order."""
    return rng.permutation(len(seeds))


def _grid_counts(rng: np.random.Generator, n_regions: int) -> list[int]:
    """12 grids over the communities: one each, the rest spread at random."""
    extra = apportion(N_GRIDS - n_regions, rng.uniform(0.6, 1.4, n_regions))
    return [1 + int(k) for k in extra]


def _branches(layout: Layout) -> list[BranchDraft]:
    """6 branches seated in exactly 4 grids, covering exactly 32 of the 36 compounds.

    The 4 grids with most compounds host the seats (two of them host two);
    each seat is the most populous compound left in its grid; every other
    compound joins the nearest seat's branch, except the 4 farthest from any
    seat, which stay uncovered.
    """
    n_comp = len(layout.compound_geoms)
    grid = layout.compound_grid
    counts = np.bincount(grid, minlength=len(layout.grid_geoms))
    grids = np.lexsort((np.arange(len(counts)), -counts))[:N_BRANCH_GRIDS]
    seats_per_grid = [1] * N_BRANCH_GRIDS
    for _ in range(N_BRANCHES - N_BRANCH_GRIDS):
        # at most two seats a grid, where compounds are left
        spare = [counts[g] - k if k < 2 else -1 for g, k in zip(grids, seats_per_grid, strict=True)]
        seats_per_grid[int(np.argmax(spare))] += 1
    seats: list[int] = []
    for g, k in zip(grids, seats_per_grid, strict=True):
        members = np.flatnonzero(grid == g)
        if len(members) < k:
            raise RuntimeError(f"grid {g} has {len(members)} compounds, {k} seats needed")
        best = members[np.lexsort((members, -layout.compound_pop[members]))][:k]
        seats.extend(int(c) for c in best)
    centre = np.array([[g.centroid.x, g.centroid.y] for g in layout.compound_geoms])
    others = np.array([c for c in range(n_comp) if c not in seats])
    d = np.hypot(
        centre[others, None, 0] - centre[None, seats, 0],
        centre[others, None, 1] - centre[None, seats, 1],
    )
    nearest = np.argmin(d, axis=1)
    dist = d[np.arange(len(others)), nearest]
    n_out = n_comp - N_COVERED
    covered = np.sort(np.lexsort((others, dist))[: len(others) - n_out])
    out: list[BranchDraft] = []
    for k, seat in enumerate(seats):
        members = sorted(int(others[j]) for j in covered if nearest[j] == k)
        name = f"{layout.compound_names[seat]}联合党支部"
        out.append(BranchDraft(name=name, compounds=[seat, *members]))
    return out


def _points(rng: np.random.Generator, layout: Layout) -> list[PointDraft]:
    """1 street center, 5 community centers, 27 stations (the "1+5+N" system)."""
    n_regions = len(layout.region_codes)
    disp = [short_name(n) for n in layout.region_names]
    used: set[int] = set()
    taken: list[tuple[float, float]] = []
    out: list[PointDraft] = []

    def at(b: int) -> tuple[float, float]:
        used.add(b)
        xy = layout.building_xy[b]
        taken.append((float(xy[0]), float(xy[1])))
        return float(xy[0]), float(xy[1])

    def pick(n: int, sep: float, **kw) -> list[int]:
        got: list[int] = []
        while len(got) < n:
            more = layout.pick_buildings(
                rng, n - len(got), exclude=used, taken_xy=taken, min_sep_m=sep, **kw
            )
            got.extend(more)
            used.update(more)
            if sep <= 0 and len(got) < n:
                raise RuntimeError("not enough buildings for service points")
            sep /= 2
        return got

    b = layout.nearest_building(layout.core_xy)
    out.append(
        PointDraft(
            name="龙腾街道党群服务中心",
            kind=PointKind.TOWN_CENTER,
            xy=at(b),
            hours_text=HOURS_DAILY,
            services=list(SEVEN_FUNCTIONS),
            rooms=12,
            floor_area_m2=1500.0,
            stars=5,
        )
    )
    for r in range(n_regions):
        b = layout.nearest_building(layout.seeds[r], region=r, in_compound=False, exclude=used)
        if b < 0:
            b = layout.nearest_building(layout.seeds[r], region=r, exclude=used)
        xy = at(b) if b >= 0 else layout.street_site(layout.seeds[r], r)
        out.append(draft(rng, PointKind.VILLAGE_CENTER, f"{disp[r]}党群服务中心", xy, region=r))

    # stations: in compounds, markets, new-economy sites, elderly care, parks
    for b in pick(13, 150.0, in_compound=True, distinct_compounds=True):
        cname = layout.compound_names[layout.building_compound[b]]
        out.append(draft(rng, PointKind.STATION, f"{cname}党群服务站", at(b), address_suffix=cname))
    for label in ("农贸市场", "新就业群体", "长者服务"):
        for r in sorted(rng.choice(n_regions, size=4, replace=False)):
            got = pick(1, 150.0, in_compound=False, region=int(r))
            out.append(
                draft(
                    rng, PointKind.STATION, f"{disp[r]}{label}党群服务站", at(got[0]), region=int(r)
                )
            )
    # parks by the canal
    by_water = shapely.distance(layout.water_zone, shapely.points(layout.building_xy)) < 250.0
    ok = by_water & (layout.building_compound < 0) & (layout.building_margin_m >= 3.0)
    near = np.flatnonzero(ok & (layout.building_edge_m <= 120.0))
    parks = ("津湾涌滨河公园", "龙腾湿地公园")
    for label in parks:
        cand = [int(b) for b in near if int(b) not in used]
        b = cand[int(rng.integers(len(cand)))] if cand else pick(1, 0.0, in_compound=False)[0]
        out.append(draft(rng, PointKind.STATION, f"{label}党群服务站", at(b)))
    n_st = sum(p.kind == PointKind.STATION for p in out)
    if n_st != N_STATIONS or len(out) != 1 + n_regions + N_STATIONS:
        raise RuntimeError(f"longteng: {n_st} stations, {len(out)} points")
    return out


def build(seed: int = 20261122) -> tuple[Layout, Sample]:
    """Generate the Longteng layout (metric, EPSG:32650) and sample (EPSG:4326)."""
    rng = np.random.default_rng(seed)
    rows = villages(TOWN_CODE)
    grid_counts = _grid_counts(rng, len(rows))
    layout = build_layout(
        rng,
        SPEC,
        rows,
        assign_regions=_assign_regions,
        region_weights=np.ones(len(rows)),
        grids_per_region=grid_counts,
    )
    names: list[str] = []
    for r, k in enumerate(grid_counts):
        names.extend(f"{short_name(layout.region_names[r])}第{j + 1}网格" for j in range(k))
    branches = _branches(layout)
    points = _points(rng, layout)
    sample = assemble(
        layout,
        rng,
        points=points,
        grid_names=names,
        grid_workers=[1] * N_GRIDS,
        branches=branches,
    )
    return layout, sample


def generate(seed: int = 20261122) -> Sample:
    """Generate the Longteng sample.

    Parameters
    ----------
    seed : int
        Seed of ``numpy.random.default_rng``; the same seed gives identical frames.

    Returns
    -------
    data.sample.Sample
        All frames in EPSG:4326, every row flagged ``synthetic``; with the
        activities of its centers (:mod:`data.residents`: the article's 51 of
        January–August 2026, over 6,900 person-times, and a monthly program to
        December 2028).
    """
    return with_residents(build(seed)[1], seed)
