"""Cutting one town out of a large OpenStreetMap extract, streaming.

A province or country extract (hundreds of MB to GB) never has to fit in memory:
:func:`cut_extract` reads it in passes with pyosmium and writes a small,
reference-complete PBF of the area, which the readers of this package then read
whole. Why pyosmium and not ``osmium extract`` (osmium-tool): the same library
already reads the features, the cut needs no Debian package beyond the Python
wheel, and the passes below keep only id sets and the area's objects.

Passes (``complete_ways`` strategy, as ``osmium extract`` calls it)
------------------------------------------------------------------
1. relations: the member ways of multipolygon relations that are buildings or
   facilities (their outer ways are often untagged), kept as an id set;
2. nodes: the ids of the nodes inside the area (a bounding-box test in Python, then
   shapely's vectorised point-in-polygon on chunks of candidates);
3. ways: streets, buildings, facilities and those member ways with at least one
   node inside, and all their nodes (also outside the area, so no street or
   footprint is cut open);
4. relations: the multipolygons with a kept member;
5. completion: every way of a kept relation and its nodes;
6. writing: one pass, in the file's order.

Memory holds the area's objects' ids and the member ids of the file's building
multipolygons (Python sets: pyosmium's own id sets and id filters are dense bit sets
that take 0.6 GB for a thousand ids spread over the node id range), and one chunk
of candidate nodes, whatever the size of the file; ``bench/osm_cut.py`` measures
peak RSS on extracts 1x to 50x the town.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import osmium
import shapely
from shapely.geometry.base import BaseGeometry

from geo.errors import NetworkImportError

__all__ = ["CUT_KEYS", "Cut", "cut_extract", "extract_bounds", "check_pbf"]

#: Keys of the ways and relations a town needs: streets, buildings, facilities.
CUT_KEYS: tuple[str, ...] = ("highway", "building", "amenity", "social_facility",
                             "healthcare", "shop", "leisure", "office")

_CHUNK = 200_000


@dataclass(frozen=True)
class Cut:
    """What :func:`cut_extract` wrote."""

    path: Path
    nodes_inside: int
    nodes: int
    ways: int
    relations: int
    seconds: float
    source_bytes: int

    def as_dict(self) -> dict:
        return {"path": str(self.path), "nodes_inside": self.nodes_inside,
                "nodes": self.nodes, "ways": self.ways, "relations": self.relations,
                "seconds": round(self.seconds, 2), "source_bytes": self.source_bytes}


def _fail(path: Path, exc: BaseException) -> NetworkImportError:
    return NetworkImportError(
        f"无法读取 OSM 文件 {str(path)!r}（{type(exc).__name__}: {exc}）："
        "文件可能不完整或不是 .osm.pbf，请重新下载该提取文件")


def check_pbf(path: str | os.PathLike[str]) -> Path:
    """The path of a readable OSM PBF, else a one-line :class:`NetworkImportError`
    that names the file (missing, empty, not a PBF, truncated header)."""
    path = Path(path)
    if not path.is_file():
        raise NetworkImportError(f"OSM PBF 文件 {str(path)!r} 不存在")
    if path.stat().st_size == 0:
        raise NetworkImportError(f"OSM PBF 文件 {str(path)!r} 是空文件，请重新下载")
    with open(path, "rb") as f:
        head = f.read(64)
    # a PBF starts with a 4-byte length and the blob header "OSMHeader"
    if b"OSMHeader" not in head:
        raise NetworkImportError(
            f"{str(path)!r} 不是 OSM PBF 文件（开头没有 OSMHeader）："
            "请使用 .osm.pbf 格式的提取文件（如 Geofabrik 的 guangdong-latest.osm.pbf）")
    return path


def extract_bounds(path: str | os.PathLike[str]) -> tuple[float, float, float, float] | None:
    """The bounding box the extract's header declares (W, S, E, N), or ``None``."""
    try:
        reader = osmium.io.Reader(str(path), osmium.osm.NOTHING)
        try:
            box = reader.header().box()
        finally:
            reader.close()
    except Exception as exc:  # noqa: BLE001 - osmium raises RuntimeError and others
        raise _fail(Path(path), exc) from exc
    if not box.valid():
        return None
    return (box.bottom_left.lon, box.bottom_left.lat, box.top_right.lon, box.top_right.lat)


def _is_multipolygon(rel) -> bool:
    return rel.tags.get("type") == "multipolygon"


def cut_extract(src: str | os.PathLike[str], area: BaseGeometry, *,
                dst: str | os.PathLike[str] | None = None,
                log: Callable[[str], None] | None = None) -> Cut:
    """Write the part of ``src`` that lies in ``area`` (EPSG:4326) to ``dst``.

    Parameters
    ----------
    src
        A ``.osm.pbf`` extract of any size.
    area
        The town (or its boundary with a halo), a polygon in WGS-84 degrees.
    dst
        Where to write the cut; a temporary ``.osm.pbf`` when ``None`` (the caller
        deletes it).
    log
        Progress lines.

    Raises
    ------
    NetworkImportError
        The file is missing, not a PBF or truncated, or no node of it lies in the
        area (the extract does not contain the town); the message names the file
        and the extract's declared bounds.
    """
    t0 = time.perf_counter()
    src = check_pbf(src)
    if area is None or area.is_empty:
        raise NetworkImportError(f"{str(src)!r}：裁剪范围为空")
    if dst is None:
        fd, name = tempfile.mkstemp(suffix=".osm.pbf", prefix="servicemap-cut-")
        os.close(fd)
        dst = name
    dst = Path(dst)
    shapely.prepare(area)
    x0, y0, x1, y1 = area.bounds
    inside: set[int] = set()
    try:
        # 1. member ways of building/facility multipolygons
        members: set[int] = set()
        for rel in osmium.FileProcessor(str(src), osmium.osm.RELATION).with_filter(
                osmium.filter.KeyFilter(*CUT_KEYS)):
            if _is_multipolygon(rel):
                members.update(m.ref for m in rel.members if m.type == "w")
        # 2. nodes inside the area
        ids: list[int] = []
        xs: list[float] = []
        ys: list[float] = []

        def flush() -> None:
            if ids:
                hit = shapely.contains_xy(area, np.asarray(xs), np.asarray(ys))
                inside.update(np.asarray(ids, dtype=np.int64)[hit].tolist())
                ids.clear()
                xs.clear()
                ys.clear()

        for node in osmium.FileProcessor(str(src), osmium.osm.NODE):
            loc = node.location
            if not loc.valid():
                continue
            lon, lat = loc.lon, loc.lat
            if x0 <= lon <= x1 and y0 <= lat <= y1:
                ids.append(node.id)
                xs.append(lon)
                ys.append(lat)
                if len(ids) >= _CHUNK:
                    flush()
        flush()
        if not inside:
            declared = extract_bounds(src)
            shown = ("文件声明的范围 " + ",".join(f"{v:.4f}" for v in declared)
                     if declared else "文件没有声明范围")
            raise NetworkImportError(
                f"OSM 文件 {str(src)!r} 不包含该地区：范围内没有任何节点（范围 {x0:.4f},"
                f"{y0:.4f},{x1:.4f},{y1:.4f}；{shown}），请换用包含该镇街的提取文件")
        # 3. ways with a node inside (and every node they need)
        ways: set[int] = set()
        needed: set[int] = set(inside)
        for way in osmium.FileProcessor(str(src), osmium.osm.WAY):
            tags = way.tags
            if not (way.id in members or any(k in tags for k in CUT_KEYS)):
                continue
            refs = [n.ref for n in way.nodes]
            if not inside.isdisjoint(refs):
                ways.add(way.id)
                needed.update(refs)
        # 4. multipolygons with a kept member, and their other member ways
        relations: set[int] = set()
        extra: set[int] = set()
        for rel in osmium.FileProcessor(str(src), osmium.osm.RELATION).with_filter(
                osmium.filter.KeyFilter(*CUT_KEYS)):
            if not _is_multipolygon(rel):
                continue
            mine = [m.ref for m in rel.members if m.type == "w"]
            if not ways.isdisjoint(mine):
                relations.add(rel.id)
                extra.update(w for w in mine if w not in ways)
        # 5. completion: the nodes of those other member ways
        if extra:
            for way in osmium.FileProcessor(str(src), osmium.osm.WAY):
                if way.id in extra:
                    needed.update(n.ref for n in way.nodes)
            ways |= extra
        # 6. writing, in the file's order (nodes, ways, relations)
        counts = {"n": 0, "w": 0, "r": 0}
        with osmium.SimpleWriter(str(dst), overwrite=True) as writer:
            for obj in osmium.FileProcessor(str(src)):
                if obj.is_node():
                    if obj.id in needed:
                        writer.add_node(obj)
                        counts["n"] += 1
                elif obj.is_way():
                    if obj.id in ways:
                        writer.add_way(obj)
                        counts["w"] += 1
                elif obj.is_relation() and obj.id in relations:
                    writer.add_relation(obj)
                    counts["r"] += 1
    except NetworkImportError:
        dst.unlink(missing_ok=True)
        raise
    except Exception as exc:  # noqa: BLE001 - osmium raises RuntimeError and others
        dst.unlink(missing_ok=True)
        raise _fail(src, exc) from exc
    cut = Cut(path=dst, nodes_inside=len(inside), nodes=counts["n"], ways=counts["w"],
              relations=counts["r"], seconds=time.perf_counter() - t0,
              source_bytes=src.stat().st_size)
    if log:
        log(f"cut {src.name}: {cut.nodes} nodes ({len(inside)} inside the area), {cut.ways} ways, "
            f"{cut.relations} relations in {cut.seconds:.1f} s")
    return cut
