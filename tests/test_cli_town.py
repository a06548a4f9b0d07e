"""``servicemap town create`` on a synthetic extract in Guangdong six towns wide:
the town is cut out, its positions imported, circles and coverage computed; bad
input stops with one line and leaves the database as it was; ``servicemap up``
does the same from ``SERVICEMAP_TOWN_*`` settings."""

from __future__ import annotations

import csv
import json
import math
import os
import subprocess

import geopandas as gpd
import pytest
import shapely
from sqlalchemy import create_engine, text

from data.osm_synthetic import write_synthetic_extract
from tests.test_cli_osm import CLI, ROOT, _run


def _positions(path, bbox, rows):
    w, s, e, n = bbox
    with open(path, "w", newline="", encoding="utf-8-sig") as f:
        c = csv.writer(f)
        c.writerow(["编码", "名称", "类型", "经度", "纬度"])
        for i, (fx, fy) in enumerate(rows):
            c.writerow([f"P{i}", f"阵地{i}", "党群服务站", f"{w + (e - w) * fx:.6f}",
                        f"{s + (n - s) * fy:.6f}"])


def _counts(url):
    eng = create_engine(url)
    try:
        with eng.connect() as c:
            return tuple(c.execute(text(
                "SELECT (SELECT count(*) FROM regions), (SELECT count(*) FROM buildings), "
                "(SELECT count(*) FROM network_edges), (SELECT count(*) FROM service_points), "
                "(SELECT count(*) FROM facilities)")).one())
    finally:
        eng.dispose()


def test_town_create_from_a_large_extract(pg_cluster, tmp_path):
    url = pg_cluster.create_database("sm_town_create")
    x = write_synthetic_extract(tmp_path / "guangdong.osm.pbf", tiles=6, streets=20)
    bbox = ",".join(f"{v:.7f}" for v in x.town_bbox)
    pts = tmp_path / "阵地.csv"
    _positions(pts, x.town_bbox, [(0.2, 0.2), (0.5, 0.5), (0.8, 0.3), (0.3, 0.8)])

    # bad input first: a box the extract does not hold; positions outside the area
    r = _run(url, "town", "create", "--region", "440605126", "--osm", str(x.path),
             "--bbox", "110.0,21.0,110.1,21.1", cwd=tmp_path)
    assert r.returncode == 1 and "Traceback" not in r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "guangdong.osm.pbf" in lines[0] and "不包含该地区" in lines[0]
    assert _counts(url) == (0, 0, 0, 0, 0)
    r = _run(url, "town", "create", "--region", "440605126", "--osm", str(x.path), cwd=tmp_path)
    assert r.returncode == 1 and "--villages" in r.stderr and "--bbox" in r.stderr
    assert _counts(url) == (0, 0, 0, 0, 0)

    r = _run(url, "town", "create", "--region", "440605126", "--name", "里水镇",
             "--osm", str(x.path), "--points", str(pts), "--bbox", bbox, cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    regions, buildings, edges, points, facilities = _counts(url)
    # tile 0 only: its buildings and its community centre, not the other five towns'
    assert (regions, buildings, points, facilities) == (1, x.town_buildings, 4, 1)
    assert "4 个服务圈" in r.stdout and f"/ {x.town_buildings} 栋建筑" in r.stdout

    # the printed coverage is the one `servicemap coverage` gives
    cov = _run(url, "coverage", "--format", "json", cwd=tmp_path)
    totals = json.loads(cov.stdout)["totals"]
    assert f"覆盖 {totals['buildings_covered']} / {totals['buildings']} 栋建筑" in r.stdout
    assert 0 < totals["buildings_covered"] < totals["buildings"] == x.town_buildings

    # the streets reach into the 1 km halo: the next town's streets that enter it
    # (500 m east) are kept whole, the third town's (2.4 km east) are not
    eng = create_engine(url)
    with eng.connect() as c:
        ext = c.execute(text("SELECT ST_XMax(ST_Extent(geom)) FROM network_edges")).scalar()
    eng.dispose()
    deg = 1 / (111_320 * math.cos(math.radians(23.0)))  # of longitude per metre
    tile1_east = 113.0 + 2 * 19 * 100 * deg + 500 * deg
    assert ext == pytest.approx(tile1_east, abs=1e-6)

    # again, with one position moved out of the operating area (China): refused, kept
    w, _, e, _ = x.town_bbox
    far = (60.0 - w) / (e - w)  # longitude 60 E
    _positions(pts, x.town_bbox, [(0.2, 0.2), (0.5, 0.5), (0.8, 0.3), (far, 0.8)])
    before = _counts(url)
    r = _run(url, "town", "create", "--region", "440605126", "--osm", str(x.path),
             "--points", str(pts), cwd=tmp_path)
    assert r.returncode == 1
    assert "阵地.csv 未导入" in r.stderr.strip().splitlines()[-1]
    assert _counts(url) == before


def test_up_builds_the_town_from_settings(pg_cluster, tmp_path):
    url = pg_cluster.create_database("sm_town_up")
    x = write_synthetic_extract(tmp_path / "gd.osm.pbf", tiles=3, streets=12)
    pts = tmp_path / "pts.csv"
    _positions(pts, x.town_bbox, [(0.3, 0.3), (0.7, 0.6)])
    env = {k: v for k, v in os.environ.items() if not k.startswith("SERVICEMAP_")}
    env.update(PYTHONPATH=str(ROOT), SERVICEMAP_DATABASE_URL=url,
               SERVICEMAP_TOWN_REGION="440605126", SERVICEMAP_TOWN_OSM=str(x.path),
               SERVICEMAP_TOWN_POINTS=str(pts),
               SERVICEMAP_TOWN_BBOX=",".join(f"{v:.7f}" for v in x.town_bbox))
    r = subprocess.run(CLI + ["up", "--no-serve"], cwd=tmp_path, env=env, capture_output=True,
                       text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "a real town: 440605126" in r.stdout and "sample" not in r.stdout.split("real town")[1]
    assert _counts(url)[1:4:2] == (x.town_buildings, 2)
    out = tmp_path / "b.geojson"
    assert _run(url, "export", "buildings", str(out), cwd=tmp_path).returncode == 0
    got = gpd.read_file(out)
    assert shapely.box(*x.town_bbox).contains(shapely.union_all(got.geometry.to_numpy()))


def test_town_create_with_villages_and_census_population(pg_cluster, tmp_path):
    """The town office's files: two villages (the town itself not loaded yet), the
    census table with a title row and committee names, one position. Each
    village's people land on its buildings exactly; coverage says its source; the
    facility of the extract is a siting candidate."""
    url = pg_cluster.create_database("sm_town_census")
    x = write_synthetic_extract(tmp_path / "gd.osm.pbf", tiles=4, streets=20)
    w, s, e, n = x.town_bbox
    mid = (w + e) / 2
    feats = [{"type": "Feature",
              "properties": {"区划代码": code, "名称": name, "上级代码": "440605126"},
              "geometry": {"type": "Polygon",
                           "coordinates": [[[a, s], [b, s], [b, n], [a, n], [a, s]]]}}
             for code, name, (a, b) in [("440605126001", "沙涌村", (w, mid)),
                                        ("440605126002", "河村社区", (mid, e))]]
    villages = tmp_path / "村居.geojson"
    villages.write_text(json.dumps({"type": "FeatureCollection", "features": feats},
                                   ensure_ascii=False), encoding="utf-8")
    pop = tmp_path / "七普.csv"
    with open(pop, "w", newline="", encoding="utf-8-sig") as f:
        c = csv.writer(f)
        c.writerow(["里水镇第七次全国人口普查村居常住人口"])
        c.writerow(["村居名称", "常住人口"])
        c.writerow(["沙涌村委会", "3,120"])
        c.writerow(["河村社区居委会", "4877"])
    pts = tmp_path / "阵地.csv"
    _positions(pts, x.town_bbox, [(0.2, 0.5)])
    r = _run(url, "town", "create", "--region", "440605126", "--osm", str(x.path),
             "--villages", str(villages), "--points", str(pts), "--population", str(pop),
             cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "440605126 里水镇" in r.stdout  # its name from the shipped division codes
    assert "/ 7997 人（人口来源：普查分摊）" in r.stdout
    cov = json.loads(_run(url, "coverage", "--format", "json", cwd=tmp_path).stdout)
    assert cov["population_source"]["source"] == "census"
    assert {v["name"]: v["population"] for v in cov["by_region"]} == {"沙涌村": 3120,
                                                                     "河村社区": 4877}
    assert cov["totals"]["buildings"] == x.town_buildings
    site = _run(url, "site", "--candidates", "facilities", "--k", "1", "--format", "json",
                cwd=tmp_path)
    assert site.returncode == 0, site.stderr
    got = json.loads(site.stdout)
    chosen = got["greedy"]["sites"]
    assert len(chosen) == 1 and chosen[0]["source"] == "facility"
    assert chosen[0]["name"] == "Centre 0（社区中心）" and chosen[0]["population_new"] > 0

