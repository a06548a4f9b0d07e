"""The operating area is data: from the settings, the regions, the network, else
China; imports and edits refuse what lies outside it and test swapped
coordinates against it; GCJ-02 stays refused outside China."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sqlalchemy import text

from geo import editing, rules
from geo.errors import ImportRejected, InvalidInput
from geo.io.importer import ImportOptions, import_file
from geo.regions import operating_area
from geo.settings import StoreSettings, parse_area
from geo.tokens import Principal

HELSINKI = (24.92, 60.16, 24.96, 60.18)


def test_area_from_an_extent():
    assert rules.area_from_extent(None, "regions") is rules.CHINA
    # Lishui lies in China: the area is China itself
    assert rules.area_from_extent((113.0, 23.0, 113.2, 23.2), "regions") is rules.CHINA
    a = rules.area_from_extent(HELSINKI, "regions")
    assert len(a.boxes) == 1 and np.allclose(a.boxes[0], (24.82, 60.06, 25.06, 60.28))
    assert a.source == "regions" and not a.is_china
    # inside (10 km margin) and outside
    assert a.contains([24.94, 24.83, 25.07], [60.17, 60.07, 60.17]).tolist() == [True, True,
                                                                                 False]
    # swapped: (60.17, 24.94) is outside as given and inside when swapped
    assert a.swapped([60.17, 24.94], [24.94, 60.17]).tolist() == [True, False]
    assert "工作范围" in a.expected_zh() and "24.82" in a.expected_zh()
    # an extent reaching into China keeps China too (Hong Kong to Vietnam)
    b = rules.area_from_extent((105.0, 20.0, 114.3, 22.6), "regions")
    assert b is rules.CHINA
    c = rules.area_from_extent((100.0, 1.0, 110.0, 10.0), "network")
    assert rules.CHINA_BOX in c.boxes and len(c.boxes) == 2


def test_parse_area_and_the_setting():
    assert parse_area("24.9, 60.1, 25.0, 60.2") == (24.9, 60.1, 25.0, 60.2)
    for bad in ("1,2,3", "25,60,24,61", "a,b,c,d", "0,0,0,0"):
        with pytest.raises(ValueError):
            parse_area(bad)
    assert StoreSettings(operating_area="24,60,25,61").area_box() == (24.0, 60.0, 25.0, 61.0)
    assert StoreSettings().area_box() is None
    with pytest.raises(ValueError, match="operating_area|operating area"):
        StoreSettings(operating_area="25,61,24,60")


def _points_file(tmp_path, rows, name="p.geojson"):
    feats = [{"type": "Feature", "geometry": {"type": "Point", "coordinates": [x, y]},
              "properties": {"code": c, "name": f"点 {c}", "kind": "station"}}
             for c, x, y in rows]
    p = tmp_path / name
    p.write_text(json.dumps({"type": "FeatureCollection", "features": feats}), encoding="utf-8")
    return p


def _count(conn) -> int:
    return conn.execute(text("SELECT count(*) FROM service_points")).scalar_one()


def test_imports_follow_the_regions_loaded(conn, tmp_path):
    """Nothing loaded: China; a town in Helsinki loaded: Helsinki's area, where a
    point in Helsinki is accepted, one in Tallinn refused, a swapped one caught,
    and GCJ-02 refused outside China."""
    assert operating_area(conn) is rules.CHINA
    pts = _points_file(tmp_path, [("H1", 24.94, 60.17)])
    with pytest.raises(ImportRejected) as err:
        import_file(conn, "points", pts)
    assert any("超出中国范围" in p.message for p in err.value.report.errors)
    conn.execute(text(
        "INSERT INTO regions (code, name, level, geom) VALUES ('990000001', 'Helsinki', "
        "'town', ST_Multi(ST_MakeEnvelope(24.92, 60.16, 24.96, 60.18, 4326)))"))
    area = operating_area(conn)
    assert area.source == "regions" and area.contains(24.94, 60.17)
    rep = import_file(conn, "points", pts)
    assert rep.inserted == 1 and _count(conn) == 1
    far = _points_file(tmp_path, [("T1", 24.75, 59.44)], "tallinn.geojson")  # Tallinn
    with pytest.raises(ImportRejected) as err:
        import_file(conn, "points", far)
    assert any(p.kind == "coordinates_out_of_range" and "工作范围" in p.message
               for p in err.value.report.errors)
    swapped = _points_file(tmp_path, [("S1", 60.17, 24.94)], "swapped.geojson")
    with pytest.raises(ImportRejected) as err:
        import_file(conn, "points", swapped)
    assert any(p.kind == "swapped_lnglat" for p in err.value.report.errors)
    with pytest.raises(ImportRejected) as err:
        import_file(conn, "points", _points_file(tmp_path, [("G1", 24.94, 60.17)], "g.geojson"),
                    options=ImportOptions(crs="gcj02"))
    assert any(p.kind == "crs_outside_china" for p in err.value.report.errors)
    # the setting wins over the regions: a box elsewhere refuses Helsinki
    with pytest.raises(ImportRejected):
        import_file(conn, "points", _points_file(tmp_path, [("H2", 24.95, 60.17)], "h2.geojson"),
                    options=ImportOptions(area=(100.0, 0.0, 110.0, 10.0)))
    assert _count(conn) == 1


def test_before_any_region_the_network_gives_the_area(conn):
    conn.execute(text("INSERT INTO network_nodes (id, dataset, geom) VALUES "
                      "(1, 'x', ST_SetSRID(ST_MakePoint(24.94, 60.17), 4326))"))
    area = operating_area(conn)
    assert area.source == "network" and area.contains(24.94, 60.17)
    assert operating_area(conn, (0.0, 0.0, 1.0, 1.0)).source == "settings"


def test_edits_follow_the_area(conn):
    conn.execute(text(
        "INSERT INTO regions (code, name, level, geom) VALUES ('990000001', 'Helsinki', "
        "'town', ST_Multi(ST_MakeEnvelope(24.92, 60.16, 24.96, 60.18, 4326)))"))
    admin = Principal(name="test", role="admin", regions=("990000001",))
    body = {"code": "E1", "name": "Palvelupiste", "kind": "station", "region_code": "990000001",
            "geometry": {"type": "Point", "coordinates": [24.94, 60.17]}}
    assert editing.create(conn, "point", body, actor=admin).feature["id"] == "E1"
    out = dict(body, code="E2", geometry={"type": "Point", "coordinates": [26.0, 60.17]})
    with pytest.raises(InvalidInput) as err:
        editing.create(conn, "point", out, actor=admin)
    assert any(p.message == "坐标超出工作范围" for p in err.value.problems)
    gcj = dict(body, code="E3")
    with pytest.raises(InvalidInput) as err:
        editing.create(conn, "point", gcj, actor=admin, crs="gcj02")
    assert any("中国境内" in p.message for p in err.value.problems)
    # with a configured area that leaves Helsinki out, the same point is refused
    with pytest.raises(InvalidInput):
        editing.create(conn, "point", dict(body, code="E4"), actor=admin,
                       area=(100.0, 0.0, 110.0, 10.0))
