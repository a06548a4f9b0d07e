"""The synthetic sample towns reproduce the published facts and are consistent.

Facts: FACTS.md (articles 000_*.txt / 004_*.txt for Lishui 里水镇, 001_*.txt for
Longteng 龙腾街道, 003_*.txt for Meihuacun 梅花村街道). Metric checks run in the
UTM zone of each town (EPSG:32649 for Lishui and Meihuacun, EPSG:32650 for
Longteng).
"""

from __future__ import annotations

import csv
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

import data
from data.divisions import ENV_VAR, division_names, divisions_csv_path, villages
from data.sample import Sample
from data.synth import hours_dict
from geo.vocab import PointKind, Service

ROOT = Path(__file__).resolve().parents[2]
UTM = {"lishui": 32649, "longteng": 32650, "meihuacun": 32649}
TOWN = {"lishui": "440605126", "longteng": "440507013", "meihuacun": "440104013"}
TOWN_NAME = {"lishui": "里水镇", "longteng": "龙腾街道", "meihuacun": "梅花村街道"}
AREA_CODE = {"lishui": "0757", "longteng": "0754", "meihuacun": "020"}
PREFIX = {"lishui": "LS-", "longteng": "LT-", "meihuacun": "MH-"}
#: samples with grid cells and compound party branches
WITH_GRIDS = ("longteng", "meihuacun")
FRAMES = ("regions", "points", "grids", "compounds", "buildings", "nodes", "edges", "water")
DAYS = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"}


@pytest.fixture(scope="module")
def samples() -> dict[str, Sample]:
    return {name: data.generate(name) for name in data.SAMPLES}


@pytest.fixture(scope="module")
def lishui(samples):
    return samples["lishui"]


@pytest.fixture(scope="module")
def longteng(samples):
    return samples["longteng"]


@pytest.fixture(scope="module")
def meihuacun(samples):
    return samples["meihuacun"]


def _csv_villages(town: str) -> dict[str, str]:
    with open(ROOT / "data" / "divisions.csv", encoding="utf-8") as f:
        return {
            r["code"]: r["name"]
            for r in csv.DictReader(f)
            if r["parent_code"] == town and r["level"] == "village"
        }


def _metric(frame: gpd.GeoDataFrame, name: str) -> gpd.GeoDataFrame:
    return frame.to_crs(UTM[name])


# -- divisions -----------------------------------------------------------------------------------


def test_bundled_divisions_copy_is_used_and_complete():
    assert divisions_csv_path() == ROOT / "data" / "divisions.csv"
    assert len(villages("440605126")) == 39
    assert len(villages("440507013")) == 5
    assert len(villages("440104013")) == 15
    names = division_names()
    assert names["440605126"] == "里水镇" and names["440605"] == "南海区"


def test_divisions_env_var_overrides(tmp_path, monkeypatch):
    path = tmp_path / "d.csv"
    path.write_text(
        "code,name,level,parent_code,parent_name\n1,甲镇,town,0,乙区\n11,丙村委会,village,1,甲镇\n",
        encoding="utf-8",
    )
    monkeypatch.setenv(ENV_VAR, str(path))
    assert divisions_csv_path() == path
    assert list(villages("1")["name"]) == ["丙村委会"]
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "missing.csv"))
    with pytest.raises(FileNotFoundError):
        divisions_csv_path()


def test_unknown_sample_name():
    with pytest.raises(ValueError, match="lishui"):
        data.generate("guangzhou")


# -- facts ---------------------------------------------------------------------------------------


def test_lishui_facts(lishui):
    p = lishui.points
    assert len(p) == 170
    center = p[p["kind"] == "town_center"]
    assert len(center) == 1
    c = center.iloc[0]
    assert c["name"] == "里水镇党群服务中心"
    assert c["region_code"] == "440605126050"  # 金峰洲社区
    assert (c["rooms"], c["floor_area_m2"]) == (15, 2000.0)
    assert c["hours_text"] == "每天09:00-21:00"
    assert c["hours"]["weekly"] == {d: [["09:00", "21:00"]] for d in DAYS}
    assert set(c["services"]) == {
        "party",
        "government",
        "elderly_care",
        "migrants",
        "mass_orgs",
        "culture",
        "think_tank",
    }
    assert "时代·天境" in set(lishui.compounds["name"])
    counts = p["kind"].value_counts()
    assert counts["village_center"] == 39
    assert counts["station"] > 170 / 2
    for kind in ("admin_service", "civilization", "red_education"):
        assert counts[kind] >= 1
    # 金旗峰社区 manages 12 residential compounds
    assert (lishui.compounds["region_code"] == "440605126051").sum() == 12


@pytest.mark.parametrize("name", data.SAMPLES)
def test_regions_are_the_real_divisions(samples, name):
    r = samples[name].regions
    town = r[r["level"] == "town"]
    assert list(town["code"]) == [TOWN[name]]
    vill = r[r["level"] == "village"]
    expected = _csv_villages(TOWN[name])
    assert len(vill) == len(expected)
    assert dict(zip(vill["code"], vill["name"], strict=True)) == expected
    assert (vill["parent_code"] == TOWN[name]).all()


def test_longteng_facts(longteng):
    p = longteng.points
    assert len(p) == 33
    assert p["kind"].value_counts().to_dict() == {
        "town_center": 1,
        "village_center": 5,
        "station": 27,
    }
    assert p.loc[p["kind"] == "town_center", "name"].item() == "龙腾街道党群服务中心"
    assert len(longteng.compounds) == 36
    b = longteng.branches
    assert len(b) == 6
    covered = {c for codes in b["compound_codes"] for c in codes}
    assert len(covered) == 32
    assert covered <= set(longteng.compounds["code"])
    assert sum(len(c) for c in b["compound_codes"]) == 32  # no compound in two branches
    assert (b["seat_compound_code"] == b["compound_codes"].map(lambda c: c[0])).all()
    g = longteng.grids
    assert len(g) == 12
    assert g["has_branch"].sum() == 4
    assert (g["kind"] == "governance").all()
    assert g["workers"].sum() == 12


#: 梅花村街道's 15 communities (divisions.csv, written out here on purpose)
MEIHUACUN_COMMUNITIES = {
    "440104013001": "福今社区居民委员会",
    "440104013002": "梅花村社区居民委员会",
    "440104013003": "水均社区居民委员会",
    "440104013004": "共和西社区居民委员会",
    "440104013005": "西元岗社区居民委员会",
    "440104013006": "共和社区居民委员会",
    "440104013007": "共和东社区居民委员会",
    "440104013008": "共和苑社区居民委员会",
    "440104013009": "中山一社区居民委员会",
    "440104013010": "东兴南社区居民委员会",
    "440104013011": "东兴中社区居民委员会",
    "440104013012": "梅东社区居民委员会",
    "440104013013": "东风二社区居民委员会",
    "440104013014": "环市东社区居民委员会",
    "440104013015": "杨箕社区居民委员会",
}


def test_meihuacun_facts(meihuacun):
    r = meihuacun.regions
    town = r[r["level"] == "town"]
    assert town[["code", "name", "parent_code"]].values.tolist() == [
        ["440104013", "梅花村街道", "440104"]
    ]
    vill = r[r["level"] == "village"]
    assert dict(zip(vill["code"], vill["name"], strict=True)) == MEIHUACUN_COMMUNITIES
    p = meihuacun.points
    assert p["kind"].value_counts().to_dict() == {
        "town_center": 1,
        "village_center": 15,
        "station": 30,
    }
    # the street center (003_*.txt): 杨箕雄镇大街20号, about 2,000 m², 7 functions;
    # it houses the 杨箕社区 committee
    c = p[p["kind"] == "town_center"].iloc[0]
    assert c["name"] == "梅花村街道党群服务中心"
    assert c["address"] == "梅花村街道杨箕社区杨箕雄镇大街20号"
    assert c["floor_area_m2"] == 2000.0
    assert c["region_code"] == "440104013015"
    assert c["services"] == [
        "party",
        "government",
        "elderly_care",
        "migrants",
        "mass_orgs",
        "culture",
        "think_tank",
    ]
    assert c["phone"].startswith("020-")
    # one center per community, in it
    vc = p[p["kind"] == "village_center"]
    assert sorted(vc["region_code"]) == sorted(MEIHUACUN_COMMUNITIES)
    assert all(
        n == f"{MEIHUACUN_COMMUNITIES[code].removesuffix('居民委员会')}党群服务中心"
        for n, code in zip(vc["name"], vc["region_code"], strict=True)
    )
    # every point inside the street (as stored, and 5 m inside in metres)
    town_geom = town.geometry.item()
    assert shapely.covers(town_geom, p.geometry.values).all()
    town_m = _metric(town, "meihuacun").geometry.item()
    pm = _metric(p, "meihuacun").geometry.values
    assert shapely.contains(town_m.buffer(-5.0), pm).all()
    # a dense inner-city street: many compounds, 共和苑 among them
    k = meihuacun.compounds
    assert len(k) == 70
    assert k.loc[k["name"] == "共和苑", "region_code"].tolist() == ["440104013008"]
    assert len(meihuacun.buildings) >= 1000
    # 3 grids a community; branches: at most 2 a community, no compound twice
    g = meihuacun.grids
    assert g.groupby("region_code").size().to_dict() == dict.fromkeys(MEIHUACUN_COMMUNITIES, 3)
    assert g["workers"].between(1, 2).all()
    b = meihuacun.branches
    assert b.groupby("region_code").size().max() <= 2
    members = [c for codes in b["compound_codes"] for c in codes]
    assert len(members) == len(set(members))
    assert 0.8 <= len(members) / len(k) < 1.0
    pop = k.set_index("code")["population"]
    for region, seats in b.groupby("region_code")["seat_compound_code"]:
        best = pop[k.set_index("code")["region_code"] == region].nlargest(len(seats))
        assert set(seats) == set(best.index)
    # deterministic with the seed; another seed, another street of the same make
    _assert_same(meihuacun, data.generate("meihuacun"))
    other = data.generate("meihuacun", seed=7)
    assert len(other.points) == 46 and len(other.compounds) == 70
    assert not other.points.geometry.geom_equals(meihuacun.points.geometry).all()


@pytest.mark.parametrize("name", WITH_GRIDS)
def test_branch_seats_define_the_branch_grids(samples, name):
    s = samples[name]
    g = _metric(s.grids, name)
    k = _metric(s.compounds, name).set_index("code")
    seats = shapely.point_on_surface(k.loc[s.branches["seat_compound_code"]].geometry.values)
    seat_grids = set()
    for pt in seats:
        hit = g[g.contains(pt)]
        assert len(hit) == 1
        seat_grids.add(hit["code"].item())
    assert seat_grids == set(g.loc[g["has_branch"], "code"])


@pytest.mark.parametrize("name", WITH_GRIDS)
def test_grids_partition_communities_and_hold_compounds(samples, name):
    """Every compound's point on surface lies in one grid cell of its community
    (Meihuacun's cells are drawn after the compounds, which may straddle two)."""
    s = samples[name]
    g = _metric(s.grids, name)
    r = _metric(s.regions, name).set_index("code")
    for code, cells in g.groupby("region_code"):
        union = shapely.union_all(cells.geometry.values)
        assert abs(union.area - r.loc[code].geometry.area) / union.area < 1e-3
    k = _metric(s.compounds, name)
    reps = shapely.point_on_surface(k.geometry.values)
    for pt, region in zip(reps, k["region_code"], strict=True):
        hit = g[g.covers(pt)]
        assert len(hit) == 1 and hit["region_code"].item() == region


# -- geometry ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", data.SAMPLES)
def test_frames_are_valid_wgs84_and_synthetic(samples, name):
    s = samples[name]
    assert s.synthetic is True
    for frame in FRAMES:
        df = getattr(s, frame)
        assert df.crs is not None and df.crs.to_epsg() == 4326, frame
        assert df["synthetic"].all(), frame
        geoms = df.geometry.values
        assert shapely.is_valid(geoms).all(), frame
        assert not shapely.is_empty(geoms).any(), frame
    assert s.branches.empty or s.branches["synthetic"].all()
    assert len(s.water) >= 1 and s.water["name"].str.len().gt(0).all()


@pytest.mark.parametrize(
    "name,lo,hi", [("lishui", 140, 160), ("longteng", 8, 12), ("meihuacun", 2.5, 3.5)]
)
def test_villages_partition_the_town(samples, name, lo, hi):
    r = _metric(samples[name].regions, name)
    town = r[r["level"] == "town"].geometry.item()
    vill = r[r["level"] == "village"].geometry.values
    assert lo <= town.area / 1e6 <= hi
    union = shapely.union_all(vill)
    assert abs(union.area - town.area) / town.area < 1e-3
    # pairwise overlaps: the parts' areas add up to the union's
    assert (shapely.area(vill).sum() - union.area) / town.area < 1e-6
    assert shapely.symmetric_difference(union, town).area / town.area < 1e-3


@pytest.mark.parametrize(
    "name,lo,hi",
    [("lishui", 480_000, 520_000), ("longteng", 60_000, 90_000), ("meihuacun", 95_000, 110_000)],
)
def test_population(samples, name, lo, hi):
    s = samples[name]
    b, k = s.buildings, s.compounds
    assert lo <= b["population"].sum() <= hi
    per = (
        b.dropna(subset=["compound_code"])
        .groupby("compound_code")[["population", "households"]]
        .sum()
    )
    k = k.set_index("code")
    assert (per["population"].reindex(k.index, fill_value=0) == k["population"]).all()
    assert (per["households"].reindex(k.index, fill_value=0) == k["households"]).all()
    ratio = b["population"].sum() / b["households"].sum()
    assert 2.3 <= ratio <= 2.9
    assert b["compound_code"].isna().sum() > 0  # village-core houses outside compounds


def test_lishui_sizes(lishui):
    assert 200 <= len(lishui.compounds) <= 500
    assert len(lishui.buildings) >= 20_000
    assert 10_000 <= len(lishui.edges) <= 40_000


@pytest.mark.parametrize("name", data.SAMPLES)
def test_compounds_and_buildings_are_consistent(samples, name):
    s = samples[name]
    k = _metric(s.compounds, name)
    kg = k.geometry.values
    # compounds do not overlap, lie in one region each and stay off the water
    assert abs(shapely.area(kg).sum() - shapely.union_all(kg).area) < 1.0
    r = _metric(s.regions, name).set_index("code")
    assert all(r.loc[c].geometry.covers(g) for c, g in zip(k["region_code"], kg, strict=True))
    water = shapely.union_all(_metric(s.water, name).geometry.values)
    assert not shapely.intersects(kg, water).any()
    # every compound building lies inside its compound
    b = _metric(s.buildings, name)
    inb = b.dropna(subset=["compound_code"])
    owner = k.set_index("code").loc[inb["compound_code"]].geometry.values
    assert shapely.contains(owner, inb.geometry.values).all()
    assert not shapely.intersects(b.geometry.values, water).any()


@pytest.mark.parametrize("name", data.SAMPLES)
def test_points(samples, name):
    s = samples[name]
    p = s.points
    assert p["code"].is_unique and p["name"].is_unique
    assert set(p["kind"]) <= {k.value for k in PointKind}
    services = {v.value for v in Service}
    assert all(set(x) <= services and len(x) > 0 for x in p["services"])
    for h, text in zip(p["hours"], p["hours_text"], strict=True):
        assert h == hours_dict(text)
        assert set(h) == {"always_open", "closed_on_holidays", "weekly", "text", "parsed"}
        assert set(h["weekly"]) <= DAYS
    assert p["phone"].str.fullmatch(AREA_CODE[name] + r"-8\d{7}").all()
    assert p["address"].str.startswith(TOWN_NAME[name]).all()
    assert all(x is None or 1 <= x <= 5 for x in p["stars"])
    # every point is covered by its region (EPSG:4326, as stored)
    r = s.regions.set_index("code")
    region = r.loc[p["region_code"]].geometry.values
    assert shapely.covers(region, p.geometry.values).all()
    # on land, and close to the walking network
    pm = _metric(p, name).geometry.values
    water = shapely.union_all(_metric(s.water, name).geometry.values)
    assert not shapely.intersects(pm, water).any()
    edges = _metric(s.edges, name).geometry.values
    _, dist = shapely.STRtree(edges).query_nearest(pm, return_distance=True, all_matches=False)
    assert dist.max() <= 300.0
    assert (dist <= 150.0).mean() >= 0.9


# -- network -------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", data.SAMPLES)
def test_network_topology(samples, name):
    s = samples[name]
    nodes, edges = s.nodes, s.edges
    assert nodes["node_id"].is_unique
    assert set(edges["highway"]) <= {
        "primary",
        "secondary",
        "tertiary",
        "residential",
        "service",
        "footway",
        "path",
        "bridge",
    }
    xy = pd.DataFrame(
        shapely.get_coordinates(nodes.geometry.values), columns=["x", "y"], index=nodes["node_id"]
    )
    start = shapely.get_coordinates(shapely.get_point(edges.geometry.values, 0))
    end = shapely.get_coordinates(shapely.get_point(edges.geometry.values, -1))
    assert np.array_equal(start, xy.loc[edges["source"]].to_numpy())
    assert np.array_equal(end, xy.loc[edges["target"]].to_numpy())
    assert (edges["source"] != edges["target"]).all()
    # edges meet only at shared nodes
    g = _metric(edges, name).geometry.values
    tree = shapely.STRtree(g)
    assert tree.query(g, predicate="crosses").shape[1] == 0
    assert tree.query(g, predicate="overlaps").shape[1] == 0
    length = shapely.length(g)
    assert length.min() > 0
    assert ((length >= 30) & (length <= 200)).mean() >= 0.8
    # one big connected component
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    ids = {n: i for i, n in enumerate(nodes["node_id"])}
    a = edges["source"].map(ids).to_numpy()
    b = edges["target"].map(ids).to_numpy()
    n = len(nodes)
    _, label = connected_components(
        coo_matrix((np.ones(len(a)), (a, b)), shape=(n, n)), directed=False
    )
    assert np.bincount(label).max() / n >= 0.95


@pytest.mark.parametrize("name", data.SAMPLES)
def test_rivers_are_crossed_only_on_bridges(samples, name):
    s = samples[name]
    water = shapely.union_all(_metric(s.water, name).geometry.values)
    e = _metric(s.edges, name)
    wet = shapely.intersects(e.geometry.values, water)
    assert not (wet & ~e["bridge"].to_numpy()).any()
    assert e["bridge"].sum() > 0
    assert (wet | ~e["bridge"].to_numpy()).all()  # every bridge spans water


# -- codes and determinism -----------------------------------------------------------------------


def test_codes_unique_and_prefixed(samples):
    seen: set[str] = set()
    for name, prefix in PREFIX.items():
        s = samples[name]
        codes = [
            *s.points["code"],
            *s.compounds["code"],
            *s.buildings["code"],
            *s.grids["code"],
            *s.branches["code"],
        ]
        assert len(codes) == len(set(codes))
        assert all(c.startswith(prefix) for c in codes)
        assert not seen & set(codes)
        seen |= set(codes)
    assert (
        samples["lishui"].points["code"].iloc[0],
        samples["longteng"].grids["code"].iloc[0],
        samples["longteng"].branches["code"].iloc[0],
    ) == ("LS-0001", "LT-G01", "LT-PB1")


def _assert_same(a: Sample, b: Sample) -> None:
    for frame in (*FRAMES, "branches"):
        pd.testing.assert_frame_equal(getattr(a, frame), getattr(b, frame), check_exact=True)


@pytest.mark.parametrize("name", data.SAMPLES)
def test_same_seed_same_sample(samples, name):
    _assert_same(samples[name], data.generate(name))


def test_other_seed_other_sample(longteng):
    other = data.generate("longteng", seed=7)
    assert len(other.points) == 33 and len(other.compounds) == 36
    assert not other.regions.geometry.geom_equals(longteng.regions.geometry).all()
