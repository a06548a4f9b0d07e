"""Drawing layers onto a :class:`maps.render.Canvas`: the offline basemap
(water, compounds, roads, boundaries, labels) and the thematic overlays
(circles, points, grids, compounds, coverage, regions).

The same functions draw raster tiles, static article images and the
mini-program ground overlay.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np
from sqlalchemy import text
from sqlalchemy.engine import Connection

from maps.layers import Features, fetch, source_sql
from maps.render import Canvas, merc_to_lnglat
from maps.style import (
    BASEMAP,
    CIRCLE,
    COMPOUND_UNCOVERED_RAMP,
    kind_style,
    ramp_colour,
    walk_colour,
)

__all__ = [
    "OVERLAYS",
    "canvas_bbox",
    "draw_basemap",
    "draw_circles",
    "draw_layer",
    "draw_points",
]


def canvas_bbox(canvas: Canvas, *, margin: float = 0.0) -> tuple[float, float, float, float]:
    """WGS-84 ``(west, south, east, north)`` of a canvas, grown by ``margin``
    (fraction of its width). GCJ-02 canvases get a box that surely contains
    the WGS-84 features drawn on them (the offset is under 1 km)."""
    x0, y0, x1, y1 = canvas.bounds
    m = (x1 - x0) * margin
    lng, lat = merc_to_lnglat(np.array([x0 - m, x1 + m]), np.array([y0 - m, y1 + m]))
    w, s, e, n = float(lng[0]), float(lat[0]), float(lng[1]), float(lat[1])
    if canvas.crs == "gcj02":
        pad = 0.01
        w, s, e, n = w - pad, s - pad, e + pad, n + pad
    return w, s, e, n


def _zoom(canvas: Canvas) -> float:
    from maps.render import zoom_for_resolution

    return zoom_for_resolution(canvas.resolution)


def _road_width(highway: str, z: float) -> tuple[str, float]:
    colour, factor = BASEMAP["road"].get(highway, BASEMAP["road"]["path"])
    width = factor * 7.0 * 2 ** (z - 15)
    return colour, float(min(22.0, max(0.6, width)))


def _place_labels(canvas: Canvas, rows: Iterable[Any], z: float) -> None:
    placed: list[tuple[float, float, float, float]] = []
    streets: set[tuple[str, int, int]] = set()
    styles = {
        "town": (16, BASEMAP["region_label"], "bold"),
        "village": (12 if z < 14 else 13, BASEMAP["region_label"], "regular"),
        "water": (11, BASEMAP["water_label"], "regular"),
        "compound": (11, BASEMAP["compound_label"], "regular"),
        "street": (13 if z < 16 else 14 if z < 17 else 16, BASEMAP["street_label"], "regular"),
    }
    for r in rows:
        if not r.name:
            continue
        size, colour, weight = styles.get(r.what, styles["compound"])
        x, y = canvas.pixel(r.lng, r.lat)
        # estimated box before drawing (CJK glyphs are about one em wide)
        w = size * len(r.name) / 2 + 3
        h = size / 2 + 3
        angle = getattr(r, "angle", None)
        name = r.name
        if r.what == "street" and angle is not None:
            # along the street, only where the name fits on it
            if 2 * w > 0.9 * float(r.span) / canvas.resolution:
                continue
            angle = (float(angle) + 90.0) % 180.0 - 90.0  # upright: never upside down
            if abs(angle) > 60:  # a north-south street: the characters stacked, upright
                name = "\n".join(name)
                angle = angle - 90.0 if angle > 0 else angle + 90.0
                w, h = h, w
            a = math.radians(angle)
            w, h = (abs(w * math.cos(a)) + abs(h * math.sin(a)),
                    abs(w * math.sin(a)) + abs(h * math.cos(a)))
        box = (x - w, y - h, x + w, y + h)
        if any(not (box[2] < b[0] or box[0] > b[2] or box[3] < b[1] or box[1] > b[3])
               for b in placed):
            continue
        if r.what == "street":
            # one name per street in each 384 px square of the whole map (the
            # same square in every tile: no name repeated at each tile's edge)
            cell = (r.name, math.floor((canvas.bounds[0] / canvas.resolution + x) / 384),
                    math.floor((y - canvas.bounds[3] / canvas.resolution) / 384))
            if cell in streets:
                continue
            streets.add(cell)
        placed.append(box)
        if r.what == "street" and angle is not None:
            canvas.text(x, y, name, size=size, colour=colour, weight=weight, angle=angle)
        else:
            canvas.text(x, y, r.name, size=size, colour=colour, weight=weight)


def draw_basemap(conn: Connection, canvas: Canvas, *, labels: bool = True,
                 skip_labels: Iterable[str] = ()) -> None:
    """Draw the offline basemap (本地离线底图) of the canvas' area.

    Layers from PostGIS, bottom to top: water, compounds (zoom ≥ 13), roads
    (cased, width by class and zoom), village and town boundaries, labels
    (town names below zoom 13, village names 12–16, water names, compound
    names from 16, street names along their streets from 15); ``skip_labels``
    leaves kinds of label (``"village"``, ``"town"``) to the caller.
    """
    z = _zoom(canvas)
    bbox = canvas_bbox(canvas, margin=0.08)
    water = fetch(conn, "water", bbox, zoom=z)
    canvas.fill(canvas.project(water.geoms), BASEMAP["water"],
                outline=BASEMAP["water_outline"], outline_width=0.8)
    if z >= 13:
        comp = fetch(conn, "compounds", bbox, zoom=z)
        canvas.fill(canvas.project(comp.geoms), BASEMAP["compound"],
                    outline=BASEMAP["compound_outline"] if z >= 15 else None,
                    outline_width=0.7)
    roads = fetch(conn, "roads", bbox, zoom=z)
    if len(roads):
        pix = canvas.project(roads.geoms)
        order = ["path", "footway", "service", "residential", "tertiary", "secondary",
                 "primary"]
        groups: dict[str, list[int]] = {}
        for i, p in enumerate(roads.props):
            groups.setdefault(p["highway"] if p["highway"] in BASEMAP["road"] else "path",
                              []).append(i)
        for hw in order:
            if hw in groups and z >= 13:
                _, w = _road_width(hw, z)
                canvas.lines(pix[groups[hw]], BASEMAP["road_casing"], width=w + 1.2)
        for hw in order:
            if hw in groups:
                colour, w = _road_width(hw, z)
                if z < 13:
                    colour = BASEMAP["road_casing"] if hw != "primary" else "#f0b878"
                canvas.lines(pix[groups[hw]], colour, width=w)
    regions = fetch(conn, "regions", bbox, zoom=z, clip=False)
    if len(regions):
        pix = canvas.project(regions.geoms)
        villages = [i for i, p in enumerate(regions.props) if p["level"] == "village"]
        towns = [i for i, p in enumerate(regions.props) if p["level"] != "village"]
        if z >= 11:
            canvas.lines(pix[villages], BASEMAP["region_outline"], width=1.0, opacity=0.7)
        canvas.lines(pix[towns], BASEMAP["town_outline"], width=2.2, opacity=0.8)
    if labels:
        w, s, e, n = canvas_bbox(canvas, margin=0.5)
        rows = conn.execute(text(source_sql("labels")),
                            {"z": z, "x0": w, "y0": s, "x1": e, "y1": n}).all()
        skip = set(skip_labels)
        _place_labels(canvas, [r for r in rows if r.what not in skip], z)


def draw_circles(canvas: Canvas, feats: Features, *, opacity: float | None = None) -> None:
    """Service circles: one translucent fill (overlaps not darkened) and, from
    zoom 13 (where a street-shaped circle's outline stays readable), outlines."""
    pix = canvas.project(feats.geoms)
    canvas.fill(pix, CIRCLE["fill"],
                opacity=CIRCLE["fill_opacity"] if opacity is None else opacity)
    if _zoom(canvas) >= 13:
        canvas.lines(pix, CIRCLE["stroke"], width=CIRCLE["weight"],
                     opacity=CIRCLE["stroke_opacity"])


def draw_points(canvas: Canvas, feats: Features, *, scale: float = 1.0) -> None:
    """Service points as discs in their kind's colour, most important on top."""
    order = sorted(range(len(feats)), key=lambda i: kind_style(feats.props[i]["kind"]).rank)
    for i in order:
        st = kind_style(feats.props[i]["kind"])
        g = feats.geoms[i]
        x, y = canvas.pixel(g.x, g.y)
        r = max(3.0, st.size / 5.0) * scale
        canvas.dot(x, y, r, st.colour, outline="#ffffff", outline_width=1.2 * scale)


def _draw_polygons_by(canvas: Canvas, feats: Features, colour_of, *, opacity: float,
                      outline: str | None, outline_width: float = 1.0) -> None:
    pix = canvas.project(feats.geoms)
    groups: dict[str, list[int]] = {}
    for i, p in enumerate(feats.props):
        groups.setdefault(colour_of(p), []).append(i)
    for colour, idx in groups.items():
        canvas.fill(pix[idx], colour, opacity=opacity, outline=outline,
                    outline_width=outline_width)


def _uncovered_colour(p: dict[str, Any]) -> str:
    return ramp_colour(p["population"] or 0, COMPOUND_UNCOVERED_RAMP)


#: How each overlay layer is drawn (name → function(canvas, features)).
OVERLAYS: dict[str, Any] = {
    "circles": draw_circles,
    "points": draw_points,
    "grids": lambda c, f: _draw_polygons_by(
        c, f, lambda p: "#1a9641" if p["has_branch"] else "#fdae61", opacity=0.25,
        outline="#555555"),
    "compounds": lambda c, f: _draw_polygons_by(
        c, f, lambda p: "#2b83ba" if p["has_branch"] else "#d7191c", opacity=0.35,
        outline="#444444", outline_width=0.6),
    "coverage": lambda c, f: _draw_polygons_by(
        c, f, lambda p: "#1a9641" if p["covered"] else _uncovered_colour(p), opacity=0.55,
        outline="#333333", outline_width=0.6),
    "regions": lambda c, f: c.lines(c.project(f.geoms), BASEMAP["town_outline"], width=1.5),
    "roads": lambda c, f: c.lines(c.project(f.geoms), "#888888", width=1.0),
    # H3 cells tile the plane: no outline, so the surface reads as one field
    "walktime": lambda c, f: _draw_polygons_by(
        c, f, lambda p: walk_colour(p["band"]), opacity=0.6, outline=None),
    "water": lambda c, f: c.fill(c.project(f.geoms), BASEMAP["water"]),
}


def draw_layer(conn: Connection, canvas: Canvas, name: str, *,
               params: dict[str, Any] | None = None) -> int:
    """Draw overlay layer ``name`` over the canvas' area; returns the feature count."""
    z = _zoom(canvas)
    margin = 0.1 if name == "points" else 0.05
    feats = fetch(conn, name, canvas_bbox(canvas, margin=margin), zoom=z, params=params)
    OVERLAYS[name](canvas, feats)
    return len(feats)
