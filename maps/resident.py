"""The resident map (居民版地图): phone first, Simplified Chinese.

Markers by kind (distinct colour and character) in clusters; a card with
name, kind, address, opening hours and whether it is open now (China time,
evaluated in the browser so a cached page stays right), services, a ``tel:``
link and walking-navigation links to Amap and Tencent Maps with GCJ-02
coordinates; locate-me with the nearest positions by walking distance
(``/api/v1/nearest``); search by name or address; a filter by service; the
10-minute circle of the selected point (``/api/v1/isochrones``). The
residents' side: the position's residents' rating on its card with a "评价"
form, this week's activities at the position and near me (with ``.ics``
links), and a "我要许愿" form; both forms confirm the phone with a one-time
code (``/api/v1/residents/codes``).

The same page, stripped of its title, is the embeddable ``/embed/resident``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy.engine import Connection

from geo.crs import from_wgs84
from geo.holidays import calendar_json
from geo.hours import CHINA_TZ
from geo.points import query_points
from geo.residents.ratings import MIN_SHOWN, point_ratings
from geo.vocab import WISH_CATEGORY_ZH
from maps.basemap import choose_basemap
from maps.pages import AppScript, add_basemaps, finish_html, local_map
from maps.scope import Scope, resolve_scope
from maps.settings import MapSettings
from maps.style import BADGE_SYNTHETIC, CIRCLE, kinds_json, services_json

__all__ = ["resident_config", "resident_html", "resident_points"]

#: Largest number of points one page carries.
MAX_POINTS = 20000
_KEEP = ("code", "name", "kind", "kind_label", "address", "hours", "hours_label", "services",
         "service_labels", "phone", "region_name", "stars", "rooms", "floor_area_m2")


def resident_points(conn: Connection, region: str) -> list[dict[str, Any]]:
    """The points of a region as compact dicts for the page: public attributes,
    ``lng``/``lat`` in WGS-84 and ``gcj02`` ``[lng, lat]`` for navigation."""
    feats = query_points(conn, region=region, limit=MAX_POINTS).features
    if not feats:
        return []
    lng = np.array([f["geometry"]["coordinates"][0] for f in feats])
    lat = np.array([f["geometry"]["coordinates"][1] for f in feats])
    glng, glat = from_wgs84(lng, lat, "gcj02")
    rated = point_ratings(conn, [f["properties"]["code"] for f in feats])
    out = []
    for f, x, y, gx, gy in zip(feats, lng, lat, np.atleast_1d(glng), np.atleast_1d(glat),
                               strict=True):
        p = {k: f["properties"].get(k) for k in _KEEP}
        p.update(rated.get(p["code"], {"ratings": 0, "rating": None}))
        p.update(lng=round(float(x), 7), lat=round(float(y), 7),
                 gcj02=[round(float(gx), 7), round(float(gy), 7)])
        out.append(p)
    return out


def resident_places(conn: Connection, region: str) -> list[list[Any]]:
    """Compounds and villages of a region as ``[kind, name, lng, lat]`` (WGS-84),
    for "my place" when the browser cannot locate the resident."""
    from sqlalchemy import text

    from maps.layers import source_sql

    rows = conn.execute(text(source_sql("resident_places")), {"code": region}).all()
    return [[r.what, r.name, round(float(r.lng), 6), round(float(r.lat), 6)] for r in rows]


def _display_bounds(scope: Scope, crs: str) -> list[list[float]] | None:
    if scope.bbox is None:
        return None
    w, s, e, n = scope.bbox
    if crs == "gcj02":
        xs, ys = from_wgs84(np.array([w, e]), np.array([s, n]), "gcj02")
        w, e, s, n = float(xs[0]), float(xs[1]), float(ys[0]), float(ys[1])
    return [[s, w], [n, e]]


def resident_config(conn: Connection, scope: Scope, *, crs: str, minutes: float,
                    prefix: str = "", point: str | None = None, service: str | None = None,
                    embed: bool = False) -> dict[str, Any]:
    """Everything the page's script needs (JSON-serialisable)."""
    points = resident_points(conn, scope.code)
    present = {s for p in points for s in (p["services"] or [])}
    return {
        "title": f"{scope.name}党群服务地图",
        "region": scope.code,
        "crs": crs,
        "minutes": int(minutes) if float(minutes).is_integer() else minutes,
        "points": points,
        "kinds": kinds_json(),
        "services": [s for s in services_json() if s["value"] in present],
        "service": service or "",
        "circle": {k: CIRCLE[k] for k in ("fill", "fill_opacity", "stroke", "stroke_opacity",
                                          "weight")},
        "synthetic": scope.synthetic,
        "badge": BADGE_SYNTHETIC,
        "bounds": _display_bounds(scope, crs),
        "selected": point,
        "embed": embed,
        "nearestK": 3,
        "places": resident_places(conn, scope.code),
        # China's holidays and make-up working days, for the open/closed state
        # the page works out in the browser (geo.hours does the same on the server)
        "calendar": calendar_json(datetime.now(CHINA_TZ).year - 1),
        "urls": {"isochrone": f"{prefix}/api/v1/isochrones", "nearest": f"{prefix}/api/v1/nearest",
                 "codes": f"{prefix}/api/v1/residents/codes", "wishes": f"{prefix}/api/v1/wishes",
                 "activities": f"{prefix}/api/v1/activities", "points": f"{prefix}/api/v1/points",
                 "wall": f"{prefix}/maps/wishes?region={scope.code}"},
        # the residents' side: wishes, ratings, this week's activities
        "categories": [{"value": k, "label": v} for k, v in WISH_CATEGORY_ZH.items()],
        "ratingMinShown": MIN_SHOWN,
    }


def resident_html(conn: Connection, settings: MapSettings, *, region: str | None = None,
                  basemap: str | None = None, point: str | None = None,
                  service: str | None = None, embed: bool = False, prefix: str = "",
                  basemap_version: str | None = None) -> str:
    """The resident map page of ``region`` (default: the town with most points).

    Parameters
    ----------
    settings
        :class:`maps.settings.MapSettings` (walking budget, Tianditu key).
    basemap
        A key of :data:`maps.basemap.BASEMAP_KEYS`; default offline for
        synthetic data.
    point
        Code of a point whose card opens at load.
    service
        Preselected service filter.
    embed
        The minimal page for a WeChat web-view or an iframe (no title bar).
    prefix
        Root path of the app (URLs of tiles, assets and the API).
    basemap_version
        Data version of the offline basemap (cache busting of its tiles).

    Raises
    ------
    geo.errors.NotFound
        Unknown region.
    geo.errors.InvalidInput
        Unknown basemap, or Tianditu without a key.
    """
    scope = resolve_scope(conn, region)
    chosen, others = choose_basemap(basemap, synthetic=scope.synthetic, settings=settings,
                                    prefix=prefix, version=basemap_version)
    cfg = resident_config(conn, scope, crs=chosen.crs,
                          minutes=settings.default_minutes, prefix=prefix,
                          point=point, service=service, embed=embed)
    if scope.bbox:
        w, s, e, n = scope.bbox
        center = ((s + n) / 2, (w + e) / 2)
    else:
        center = (23.19, 113.15)
    fig, m = local_map(cfg["title"], center=center, prefix=prefix)
    if add_basemaps(m, chosen, others):
        import folium

        folium.LayerControl(position="bottomright", collapsed=True).add_to(m)
    AppScript("resident", cfg, prefix=prefix,
              js=["vendor/markercluster/leaflet.markercluster.js", "servicemap.js"],
              css=["vendor/markercluster/MarkerCluster.css",
                   "vendor/markercluster/MarkerCluster.Default.css", "servicemap.css"]).add_to(m)
    return finish_html(fig)
