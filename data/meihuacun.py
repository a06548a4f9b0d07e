"""Synthetic sample of 梅花村街道 (Meihuacun street, Yuexiu district, Guangzhou; code 440104013).

Real (FACTS.md; article ``003_*.txt``): the street and its 15 communities
(codes and names from ``divisions.csv``); the street center
梅花村街道党群服务中心 at 杨箕雄镇大街20号 (floors 1–2, about 2,000 m²), which
also houses the 杨箕社区 residents' committee (so it lies in 杨箕社区), with its
7 one-stop functions 党务, 政务, 居家养老, 来穗人员, 群团, 文化, 智库 (mapped
one to one onto the services ``party``, ``government``, ``elderly_care``,
``migrants``, ``mass_orgs``, ``culture``, ``think_tank``); the name of the
共和苑 compound (in 共和苑社区); the phone area code 020. The article's other
figures (90 party organisations and 3,463 members registered on "双报到", 24
training classes; 34 buildings and 628 households of 共和苑) are not positions
and are not reproduced, except the micro-wishes and micro-projects (271
micro-wishes claimed by 447 members; 25 micro-projects of 97,150.6 yuan claimed
by 19 organisations), which :mod:`data.residents` reproduces.

Synthetic (no published figure): every geometry (a dense inner-city street of
about 3 km² around 23.135°N 113.300°E, built in EPSG:32649 / UTM 49N and
delivered in EPSG:4326; a 320 m arterial grid with local streets every
80–120 m); a narrow river on the eastern side named after 沙河涌, which flows
past 杨箕 (its course here is made up); the road names (local-sounding, not the
real street plan); where the communities lie (杨箕 in the east by the river,
环市东 in the north, 中山一 in the south, the others at random); the
population (about 100,000, 80 % in compounds); 70 compounds (old 单位大院 of 6
floors to high-rises of about 30) and the buildings; the positions besides the
center: one center per community and 30 service stations (16 in compounds, 4
elderly-care, 4 for new employment groups, 3 in office buildings, 3 outdoor
workers' rest stations); 45 basic grids (3 per community, 1–2 grid workers
each, drawn after the compounds, so a compound may straddle two); compound
party branches: up to 2 per community, seated in its most populous compounds
and joined by the community's other compounds within 200 m of a seat. A grid
"has a branch" when a branch's seat compound lies in it. Every point attribute
other than the center's name, address, area and services.
"""

from __future__ import annotations

import numpy as np

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
    add_grids,
    assemble,
    build_layout,
    draft,
    short_name,
)
from geo.vocab import PointKind

TOWN_CODE = "440104013"
CENTER_REGION = "440104013015"  # 杨箕社区: its committee sits in the street center
CENTER_NAME = "梅花村街道党群服务中心"
CENTER_ADDRESS = "梅花村街道杨箕社区杨箕雄镇大街20号"
CENTER_AREA_M2 = 2000.0
NORTH_REGION = "440104013014"  # 环市东社区
SOUTH_REGION = "440104013009"  # 中山一社区
GONGHEYUAN_REGION = "440104013008"  # 共和苑社区
GONGHEYUAN = "共和苑"
GRIDS_PER_COMMUNITY = 3
SEATS_PER_COMMUNITY = 2
JOIN_M = 200.0
N_COMPOUND_STATIONS = 16
#: labelled stations outside compounds: (label, how many communities, name pattern)
LABELLED_STATIONS = (
    ("长者服务", 4, "{}长者服务党群服务站"),
    ("新就业群体", 4, "{}新就业群体党群服务站"),
    ("商务楼宇", 3, "{}商务楼宇党群服务站"),
    ("户外劳动者", 3, "{}户外劳动者爱心驿站"),
)
N_STATIONS = N_COMPOUND_STATIONS + sum(k for _, k, _ in LABELLED_STATIONS)

SPEC = TownSpec(
    key="meihuacun",
    prefix="MH",
    town_code=TOWN_CODE,
    town_name="梅花村街道",
    lon=113.300,
    lat=23.135,
    epsg=32649,
    area_km2=3.0,
    elongation=1.15,
    rivers=(
        RiverSpec(
            "沙河涌", width_m=18.0, angle_deg=80.0, offset=-0.6, meander_m=60.0, wavelength_m=900.0
        ),
    ),
    arterial_spacing_m=320.0,
    local_spacing_m=(80.0, 120.0),
    path_below=0.02,
    n_compounds=70,
    compound_cell_m2=(4_000.0, 40_000.0),
    compound_floors=(6, 32),
    population=100_000,
    compound_share=0.8,
    core_area_m2=(20_000.0, 50_000.0),
    extra_cells_share=0.3,
    phone_area_code="020",
    road_names=(
        "梅花",
        "杨箕",
        "共和",
        "东兴",
        "环市",
        "东风",
        "水均",
        "西元岗",
        "执信",
        "寺右",
        "梅东",
        "福今",
        "竹丝岗",
        "农林",
        "先烈",
        "达道",
        "犀牛",
        "松岗",
    ),
    compound_words=(
        "梅花",
        "东兴",
        "水均",
        "杨箕",
        "执信",
        "寺右",
        "梅东",
        "东风",
        "环市",
        "铁路",
        "省直",
        "福今",
        "竹丝岗",
        "锦城",
        "农林",
        "西元",
        "雅荷",
        "东山",
    ),
    compound_suffixes=("大院", "宿舍", "新村", "花园", "大厦", "小区", "雅苑", "广场"),
    lloyd_iterations=3,
)


def _assign_regions(codes: list[str]):
    """Seed order: 杨箕 on the eastern side (by 沙河涌), 环市东 the northernmost
    of the rest, 中山一 the southernmost, the others at random."""

    def assign(rng: np.random.Generator, seeds: np.ndarray, town, core_xy: np.ndarray):
        n = len(seeds)
        order = np.full(n, -1, dtype=np.int64)
        free = list(range(n))
        for code, key in (
            (CENTER_REGION, seeds[:, 0]),
            (NORTH_REGION, seeds[:, 1]),
            (SOUTH_REGION, -seeds[:, 1]),
        ):
            best = max(free, key=lambda s: (float(key[s]), -s))
            order[codes.index(code)] = best
            free.remove(best)
        rest = [i for i in range(n) if order[i] < 0]
        for row, seed in zip(rest, rng.permutation(np.array(free)), strict=True):
            order[row] = int(seed)
        return order

    return assign


def _branches(layout: Layout) -> list[BranchDraft]:
    """Up to 2 branches a community, seated in its most populous compounds; the
    community's other compounds join the nearest seat within 200 m."""
    region = layout.compound_region
    centre = np.array([[g.centroid.x, g.centroid.y] for g in layout.compound_geoms])
    out: list[BranchDraft] = []
    for r in range(len(layout.region_codes)):
        members = np.flatnonzero(region == r)
        if len(members) == 0:
            continue
        ranked = members[np.lexsort((members, -layout.compound_pop[members]))]
        seats = [int(c) for c in ranked[:SEATS_PER_COMMUNITY]]
        groups: list[list[int]] = [[s] for s in seats]
        for c in sorted(int(c) for c in ranked[SEATS_PER_COMMUNITY:]):
            d = np.hypot(centre[seats, 0] - centre[c, 0], centre[seats, 1] - centre[c, 1])
            k = int(np.argmin(d))
            if d[k] <= JOIN_M:
                groups[k].append(c)
        for g in groups:
            seat = layout.compound_names[g[0]]
            name = f"{seat}联合党支部" if len(g) > 1 else f"{seat}党支部"
            out.append(BranchDraft(name=name, compounds=g))
    return out


def _points(rng: np.random.Generator, layout: Layout) -> list[PointDraft]:
    """1 street center, 15 community centers, 30 service stations."""
    codes = layout.region_codes
    n_regions = len(codes)
    disp = [short_name(n) for n in layout.region_names]
    used: set[int] = set()
    taken: list[tuple[float, float]] = []
    out: list[PointDraft] = []

    def at(b: int) -> tuple[float, float]:
        used.add(b)
        xy = layout.building_xy[b]
        taken.append((float(xy[0]), float(xy[1])))
        return float(xy[0]), float(xy[1])

    def near(xy, *, region: int) -> int:
        b = layout.nearest_building(xy, region=region, in_compound=False, exclude=used)
        if b < 0:
            b = layout.nearest_building(xy, region=region, exclude=used)
        return b

    def pick(n: int, sep: float, **kw) -> list[int]:
        got: list[int] = []
        while len(got) < n:
            more = layout.pick_buildings(
                rng, n - len(got), exclude=used, taken_xy=taken, min_sep_m=sep, **kw
            )
            got.extend(more)
            used.update(more)
            if sep <= 0 and len(got) < n:
                if kw.get("in_compound") is False:
                    kw["in_compound"] = None  # no house left: any building of the region
                    continue
                raise RuntimeError("not enough buildings for service points")
            sep /= 2
        return got

    # the street center: in the old 杨箕 village core, where its committee is
    r_c = codes.index(CENTER_REGION)
    b = near(layout.seeds[r_c], region=r_c)
    out.append(
        PointDraft(
            name=CENTER_NAME,
            kind=PointKind.TOWN_CENTER,
            xy=at(b),
            hours_text=HOURS_DAILY,
            services=list(SEVEN_FUNCTIONS),
            rooms=10,
            floor_area_m2=CENTER_AREA_M2,
            stars=5,
            region=r_c,
            address=CENTER_ADDRESS,
        )
    )
    # one center per community, near its seed
    for r in range(n_regions):
        b = near(layout.seeds[r], region=r)
        xy = at(b) if b >= 0 else layout.street_site(layout.seeds[r], r)
        out.append(draft(rng, PointKind.VILLAGE_CENTER, f"{disp[r]}党群服务中心", xy, region=r))
    # stations in compounds, one compound each
    for b in pick(N_COMPOUND_STATIONS, 120.0, in_compound=True, distinct_compounds=True):
        cname = layout.compound_names[layout.building_compound[b]]
        out.append(draft(rng, PointKind.STATION, f"{cname}党群服务站", at(b), address_suffix=cname))
    # labelled stations in streets outside compounds
    for _label, k, pattern in LABELLED_STATIONS:
        for r in sorted(rng.choice(n_regions, size=k, replace=False)):
            got = pick(1, 120.0, in_compound=False, region=int(r))
            out.append(
                draft(rng, PointKind.STATION, pattern.format(disp[r]), at(got[0]), region=int(r))
            )
    n_st = sum(p.kind == PointKind.STATION for p in out)
    if n_st != N_STATIONS or len(out) != 1 + n_regions + N_STATIONS:
        raise RuntimeError(f"meihuacun: {n_st} stations, {len(out)} points")
    return out


def build(seed: int = 20261122) -> tuple[Layout, Sample]:
    """Generate the Meihuacun layout (metric, EPSG:32649) and sample (EPSG:4326)."""
    rng = np.random.default_rng(seed)
    rows = villages(TOWN_CODE)
    codes = list(rows["code"])
    grid_counts = [GRIDS_PER_COMMUNITY] * len(rows)
    layout = build_layout(
        rng,
        SPEC,
        rows,
        assign_regions=_assign_regions(codes),
        region_weights=np.ones(len(rows)),
        named_compounds={codes.index(GONGHEYUAN_REGION): GONGHEYUAN},
    )
    # grid cells drawn after the compounds: short blocks leave too few compound
    # sites that fit inside cells of about 0.07 km²
    add_grids(rng, layout, grid_counts)
    names: list[str] = []
    for r, k in enumerate(grid_counts):
        names.extend(f"{short_name(layout.region_names[r])}第{j + 1}网格" for j in range(k))
    branches = _branches(layout)
    points = _points(rng, layout)
    workers = [int(w) for w in rng.integers(1, 3, len(names))]
    sample = assemble(
        layout,
        rng,
        points=points,
        grid_names=names,
        grid_workers=workers,
        branches=branches,
    )
    return layout, sample


def generate(seed: int = 20261122) -> Sample:
    """Generate the Meihuacun sample.

    Parameters
    ----------
    seed : int
        Seed of ``numpy.random.default_rng``; the same seed gives identical frames.

    Returns
    -------
    data.sample.Sample
        All frames in EPSG:4326, every row flagged ``synthetic``; with the
        residents' side (:mod:`data.residents`: the article's 271 micro-wishes
        claimed by 447 members and 25 micro-projects of 97,150.6 yuan claimed
        by 19 organisations).
    """
    return with_residents(build(seed)[1], seed)
