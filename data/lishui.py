"""Synthetic sample of 里水镇 (Lishui town, Nanhai district, Foshan; code 440605126).

Real: the town and its village-level units (codes and names from
``divisions.csv``), the town party-mass service center in 金峰洲社区 inside the
时代·天境 compound (open daily 09:00–21:00, 15 rooms, about 2,000 m²), the 170
service positions of the 里水镇党群服务地图, a resident population of about
500,000 and the 12 compounds of 金旗峰社区 (FACTS.md; articles ``000_*.txt``,
``004_*.txt``).

Synthetic: every geometry (about 150 km² around 23.19°N 113.15°E, built in
EPSG:32649 / UTM 49N and delivered in EPSG:4326), the streets, rivers,
compounds, buildings, populations and all other point attributes.
"""

from __future__ import annotations

import math

import numpy as np

from data.divisions import villages
from data.residents import with_residents
from data.sample import Sample
from data.synth import (
    HOURS_DAILY,
    SEVEN_FUNCTIONS,
    Layout,
    PointDraft,
    RiverSpec,
    TownSpec,
    assemble,
    build_layout,
    draft,
    short_name,
)
from geo.vocab import PointKind

TOWN_CODE = "440605126"
CENTER_REGION = "440605126050"  # 金峰洲社区
JINQIFENG = "440605126051"  # 金旗峰社区: 12 residential compounds
INDUSTRIAL = "440605126401"  # 和桂工业园社区
CENTER_COMPOUND = "时代·天境"
N_POINTS = 170

SPEC = TownSpec(
    key="lishui",
    prefix="LS",
    town_code=TOWN_CODE,
    town_name="里水镇",
    lon=113.15,
    lat=23.19,
    epsg=32649,
    area_km2=150.0,
    elongation=1.15,
    rivers=(
        RiverSpec(
            "里水河",
            width_m=70.0,
            angle_deg=20.0,
            offset=-0.15,
            meander_m=380.0,
            wavelength_m=3800.0,
        ),
        RiverSpec(
            "和顺涌",
            width_m=40.0,
            angle_deg=105.0,
            offset=0.3,
            meander_m=250.0,
            wavelength_m=2800.0,
        ),
    ),
    arterial_spacing_m=650.0,
    local_spacing_m=(150.0, 320.0),
    path_below=0.12,
    n_compounds=320,
    compound_cell_m2=(9_000.0, 70_000.0),
    compound_floors=(6, 32),
    population=500_000,
    compound_share=0.58,
    core_area_m2=(120_000.0, 240_000.0),
    extra_cells_share=0.12,
    phone_area_code="0757",
    road_names=(
        "里和",
        "环镇",
        "兴业",
        "振兴",
        "金谷",
        "文明",
        "建设",
        "工业",
        "幸福",
        "滨河",
        "长虹",
        "利民",
        "富民",
        "新华",
        "同心",
        "和平",
        "凤凰",
        "荔枝",
        "桂花",
        "北沙",
        "鹤峰",
        "甘蕉",
        "逢涌",
        "沙涌",
        "草场",
        "岗联",
        "宏岗",
        "赤山",
        "瑶头",
        "汤村",
    ),
    compound_words=(
        "金峰",
        "翠湖",
        "锦绣",
        "凤鸣",
        "荔园",
        "桂苑",
        "紫荆",
        "龙湾",
        "云山",
        "碧水",
        "雅居",
        "明珠",
        "怡景",
        "汇景",
        "君悦",
        "星河",
        "天誉",
        "尚城",
        "御景",
        "逸翠",
        "名门",
        "盛世",
        "凯旋",
        "泊林",
        "丽江",
        "东方",
        "南国",
        "华府",
        "水乡",
        "岭南",
        "玉兰",
        "金沙",
        "银湖",
        "翡翠",
        "湖景",
    ),
    compound_suffixes=(
        "花园",
        "华庭",
        "名苑",
        "雅苑",
        "新城",
        "豪庭",
        "御府",
        "公馆",
        "嘉园",
        "天地",
        "尚品",
        "半岛",
        "广场",
        "水岸",
        "庄园",
    ),
)

_STATION_THEMES = (
    "邻里",
    "长者",
    "新市民",
    "青年",
    "巾帼",
    "商圈",
    "市场",
    "工业园",
    "文化广场",
    "河畔",
    "乐龄",
    "同心",
    "红棉",
    "候鸟",
)
_DIRECTIONS = ("东", "北", "西", "南")


def _assign_regions(names: list[str], codes: list[str]):
    """Seed order for the village rows: 金峰洲 on the eastern (Guangzhou) border,
    金旗峰 next to it, communities (社区) nearer the urban core than villages (村)."""

    def assign(rng: np.random.Generator, seeds: np.ndarray, town, core_xy: np.ndarray):
        n = len(seeds)
        order = np.full(n, -1, dtype=np.int64)
        i_center, i_jqf = codes.index(CENTER_REGION), codes.index(JINQIFENG)
        east = int(np.argmax(seeds[:, 0]))
        order[i_center] = east
        free = [i for i in range(n) if i != east]
        d = np.hypot(seeds[free, 0] - seeds[east, 0], seeds[free, 1] - seeds[east, 1])
        order[i_jqf] = free.pop(int(np.argmin(d)))
        radius = math.sqrt(town.area / math.pi)
        free_arr = np.array(free)
        key = np.hypot(seeds[free_arr, 0] - core_xy[0], seeds[free_arr, 1] - core_xy[1])
        key = key + rng.normal(0.0, 0.25 * radius, len(free_arr))
        by_core = free_arr[np.argsort(key, kind="stable")]
        rows = [i for i in range(n) if i not in (i_center, i_jqf)]
        communities = [i for i in rows if "社区" in names[i]]
        rest = [i for i in rows if "社区" not in names[i]]
        communities = [communities[j] for j in rng.permutation(len(communities))]
        rest = [rest[j] for j in rng.permutation(len(rest))]
        for row, seed in zip(communities + rest, by_core, strict=True):
            order[row] = seed
        return order

    return assign


def _weights(codes: list[str], names: list[str]) -> np.ndarray:
    w = np.array([1.0 if "社区" in n else 0.6 for n in names])
    w[codes.index(INDUSTRIAL)] = 0.25
    w[codes.index(CENTER_REGION)] = 1.2
    w[codes.index(JINQIFENG)] = 1.2
    return w


def _points(rng: np.random.Generator, layout: Layout) -> list[PointDraft]:
    """The 170 positions: 1 town center, one center per village-level unit, then
    administrative service centers, civilization practice posts, red-education
    bases, 广佛候鸟 stations and (most of all) party-mass service stations."""
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

    def near(xy, *, region: int | None = None, in_compound: bool | None = False) -> int:
        b = layout.nearest_building(xy, region=region, in_compound=in_compound, exclude=used)
        if b < 0:
            b = layout.nearest_building(xy, region=region, exclude=used)
        return b

    def pick(n: int, **kw) -> list[int]:
        sep = kw.pop("min_sep_m", 0.0)
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

    # 1. the town center, in the 时代·天境 compound of 金峰洲社区
    i_center = codes.index(CENTER_REGION)
    comp = layout.compound_names.index(CENTER_COMPOUND)
    centroid = layout.compound_geoms[comp].centroid
    b = layout.nearest_building((centroid.x, centroid.y), compound=comp)
    out.append(
        PointDraft(
            name="里水镇党群服务中心",
            kind=PointKind.TOWN_CENTER,
            xy=at(b),
            hours_text=HOURS_DAILY,
            services=list(SEVEN_FUNCTIONS),
            rooms=15,
            floor_area_m2=2000.0,
            stars=5,
            region=i_center,
            address_suffix=CENTER_COMPOUND,
        )
    )
    # 2. one center per village/community, near its old core
    for r in range(n_regions):
        b = near(layout.seeds[r], region=r)
        xy = at(b) if b >= 0 else layout.street_site(layout.seeds[r], r)
        out.append(draft(rng, PointKind.VILLAGE_CENTER, f"{disp[r]}党群服务中心", xy, region=r))
    # 3. administrative service centers: the main hall near the urban core, branches
    b = near(layout.core_xy, in_compound=None)
    out.append(draft(rng, PointKind.ADMIN_SERVICE, "里水镇行政服务中心", at(b)))
    centre = np.array(layout.town.centroid.coords[0])
    for b in pick(3, in_compound=False, min_sep_m=3000.0):
        dx, dy = layout.building_xy[b] - centre
        k = int(round(math.atan2(dy, dx) / (math.pi / 2))) % 4
        name = f"里水镇行政服务中心{_DIRECTIONS[k]}部分中心"
        if any(p.name == name for p in out):
            name = f"里水镇行政服务中心{disp[layout.building_region[b]]}分中心"
        out.append(draft(rng, PointKind.ADMIN_SERVICE, name, at(b)))
    # 4. civilization practice: the town institute and 15 village stations
    b = near(layout.core_xy, in_compound=None)
    out.append(draft(rng, PointKind.CIVILIZATION, "里水镇新时代文明实践所", at(b)))
    for r in sorted(rng.choice(n_regions, size=15, replace=False)):
        b = near(layout.seeds[r], region=int(r))
        if b < 0:
            continue
        out.append(
            draft(rng, PointKind.CIVILIZATION, f"{disp[r]}新时代文明实践站", at(b), region=int(r))
        )
    # 5. red-education bases in old villages
    villages_only = [i for i in range(n_regions) if disp[i].endswith("村")]
    for r in sorted(rng.choice(villages_only, size=4, replace=False)):
        b = near(layout.seeds[r], region=int(r))
        if b < 0:
            continue
        out.append(
            draft(rng, PointKind.RED_EDUCATION, f"{disp[r]}红色教育基地", at(b), region=int(r))
        )
    # 6. stations for cross-border commuters (广佛候鸟) on the Guangzhou side
    east_first = np.argsort(-layout.seeds[:, 0], kind="stable")[:3]
    for r in east_first:
        got = pick(1, in_compound=False, region=int(r))
        out.append(draft(rng, PointKind.OTHER, f"{disp[r]}广佛候鸟驿站", at(got[0]), region=int(r)))
    # 7. party-mass service stations, where people live: half in compounds
    n_left = N_POINTS - len(out)
    n_comp = n_left // 2
    for b in pick(n_comp, in_compound=True, distinct_compounds=True, min_sep_m=250.0):
        name = f"{layout.compound_names[layout.building_compound[b]]}党群服务站"
        out.append(
            draft(
                rng,
                PointKind.STATION,
                name,
                at(b),
                address_suffix=layout.compound_names[layout.building_compound[b]],
            )
        )
    names = {p.name for p in out}
    for b in pick(N_POINTS - len(out), in_compound=False, min_sep_m=300.0):
        r = int(layout.building_region[b])
        themes = [t for t in _STATION_THEMES if f"{disp[r]}{t}党群服务站" not in names]
        theme = themes[int(rng.integers(len(themes)))] if themes else f"第{len(names)}"
        name = f"{disp[r]}{theme}党群服务站"
        names.add(name)
        out.append(draft(rng, PointKind.STATION, name, at(b), region=r))
    if len(out) != N_POINTS:
        raise RuntimeError(f"lishui: {len(out)} service points, expected {N_POINTS}")
    return out


def build(seed: int = 20261122) -> tuple[Layout, Sample]:
    """Generate the Lishui layout (metric, EPSG:32649) and sample (EPSG:4326)."""
    rng = np.random.default_rng(seed)
    rows = villages(TOWN_CODE)
    codes, names = list(rows["code"]), list(rows["name"])
    layout = build_layout(
        rng,
        SPEC,
        rows,
        assign_regions=_assign_regions(names, codes),
        region_weights=_weights(codes, names),
        compound_quota={codes.index(JINQIFENG): 12},
        named_compounds={codes.index(CENTER_REGION): CENTER_COMPOUND},
    )
    return layout, assemble(layout, rng, points=_points(rng, layout))


def generate(seed: int = 20261122) -> Sample:
    """Generate the Lishui sample.

    Parameters
    ----------
    seed : int
        Seed of ``numpy.random.default_rng``; the same seed gives identical frames.

    Returns
    -------
    data.sample.Sample
        All frames in EPSG:4326, every row flagged ``synthetic``; with residents'
        ratings of its positions in 2026Q3 and 2026Q4 (:mod:`data.residents`).
    """
    layout, sample = build(seed)
    return with_residents(with_grids(layout, sample, seed), seed)


#: The eight pilot villages of "双网融合" (FACTS.md, ``004_*.txt``): they also get
#: party-building grid cells (党建网格) overlaid on the governance grid.
PILOT_VILLAGES = ("鹤峰", "宏岗", "赤山", "贤僚", "河村", "大步", "金旗峰", "金峰洲")
#: About this many residents per governance grid cell (synthetic; 2 to 10 cells a village).
RESIDENTS_PER_GRID = 5000


def _grid_cells(rng: np.random.Generator, region, xy: np.ndarray, pop: np.ndarray,
                k: int) -> list:
    """``k`` cells partitioning ``region``: Voronoi cells of population-weighted
    k-means centres of the buildings, clipped to the region."""
    import shapely

    if len(xy) < k:
        k = max(1, len(xy))
    centres = xy[rng.choice(len(xy), size=k, replace=False)] if len(xy) else \
        np.array([region.representative_point().coords[0]])
    w = pop.astype(float) + 1.0
    for _ in range(12):
        d = ((xy[:, None, :] - centres[None, :, :]) ** 2).sum(axis=2)
        lab = np.argmin(d, axis=1)
        for j in range(len(centres)):
            m = lab == j
            if m.any():
                centres[j] = (xy[m] * w[m, None]).sum(axis=0) / w[m].sum()
    if len(centres) == 1:
        return [region]
    cells = shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(centres),
                                                       extend_to=region))
    out = []
    for c in centres:
        cell = next(v for v in cells if v.covers(shapely.Point(c)))
        part = shapely.make_valid(cell.intersection(region))
        polys = [g for g in shapely.get_parts(part) if g.geom_type == "Polygon" and g.area > 1.0]
        if polys:
            out.append(shapely.MultiPolygon(polys) if len(polys) > 1 else polys[0])
    return out


def with_grids(layout: Layout, sample: Sample, seed: int = 20261122) -> Sample:
    """Add synthetic grid cells: governance cells (治理网格, about one per
    :data:`RESIDENTS_PER_GRID` residents, 2–10 per village/community, one
    part-time grid worker each) and, in the eight pilot villages, party-building
    cells (党建网格) drawn independently so the two grids overlap but differ.
    No grid holds a branch: the sample has no party branches.

    Uses its own random stream (derived from ``seed``), so the other frames are
    unchanged. Cells are built in EPSG:32649 and delivered in EPSG:4326.
    """
    import geopandas as gpd
    import pandas as pd
    import pyproj
    import shapely

    from data.synth import short_name
    from geo.vocab import GridKind

    rng = np.random.default_rng([seed, 71])
    rows = []
    n_gov = n_party = 0
    for r, (code, name) in enumerate(zip(layout.region_codes, layout.region_names,
                                         strict=True)):
        m = layout.building_region == r
        xy, pop = layout.building_xy[m], layout.building_pop[m]
        k = int(np.clip(round(pop.sum() / RESIDENTS_PER_GRID), 2, 10))
        disp = short_name(name)
        for j, cell in enumerate(_grid_cells(rng, layout.region_geoms[r], xy.copy(), pop, k)):
            n_gov += 1
            rows.append((f"LS-G{n_gov:03d}", f"{disp}第{j + 1}网格", code,
                         GridKind.GOVERNANCE.value, 1, cell))
        if any(disp.startswith(p) for p in PILOT_VILLAGES):
            for j, cell in enumerate(_grid_cells(rng, layout.region_geoms[r], xy.copy(), pop,
                                                 k + 1)):
                n_party += 1
                rows.append((f"LS-PG{n_party:02d}", f"{disp}党建第{j + 1}网格", code,
                             GridKind.PARTY.value, 1, cell))
    inv = pyproj.Transformer.from_crs(SPEC.epsg, 4326, always_xy=True)
    geoms = shapely.transform(np.array([g for *_, g in rows], dtype=object),
                              lambda xy: np.column_stack(inv.transform(xy[:, 0], xy[:, 1])))
    grids = gpd.GeoDataFrame(
        {"code": [r[0] for r in rows], "name": [r[1] for r in rows],
         "region_code": [r[2] for r in rows], "kind": [r[3] for r in rows],
         "workers": np.array([r[4] for r in rows], dtype=np.int64),
         "has_branch": np.zeros(len(rows), dtype=bool),
         "synthetic": np.ones(len(rows), dtype=bool)},
        geometry=geoms, crs=4326)
    sample.grids = pd.concat([sample.grids, grids], ignore_index=True) if len(sample.grids) \
        else grids
    return sample
