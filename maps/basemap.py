"""Basemaps a page may lie on, and which one it gets by default.

========== ======= ===============================================================
key        datum   tiles
========== ======= ===============================================================
offline    WGS-84  the product's own raster tiles drawn from PostGIS
                   (``/tiles/basemap/{z}/{x}/{y}.png``): works with no internet
osm        WGS-84  OpenStreetMap
tianditu   WGS-84  天地图 vector map + Chinese annotation (CGCS2000 ≈ WGS-84; needs a
                   key: ``Settings.tianditu_key`` / ``SERVICEMAP_TIANDITU_KEY``)
amap       GCJ-02  高德地图
tencent    GCJ-02  腾讯地图
========== ======= ===============================================================

Over a GCJ-02 basemap every overlay (points, circles, the user's location) is
converted to GCJ-02 for display; the data stay WGS-84.

Synthetic sample data default to the offline basemap: a real basemap under
synthetic geometry would show streets that do not match the sample's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from geo.errors import InvalidInput, Problem
from maps.settings import MapSettings

__all__ = ["BASEMAP_KEYS", "Basemap", "available_basemaps", "choose_basemap", "tianditu_key"]

BASEMAP_KEYS: tuple[str, ...] = ("offline", "osm", "tianditu", "amap", "tencent")


@dataclass(frozen=True)
class Basemap:
    """A tile basemap for Leaflet."""

    key: str
    title: str
    url: str
    attribution: str
    crs: str  # datum of the tiles' coordinates: "wgs84" or "gcj02"
    online: bool
    max_zoom: int = 19
    subdomains: str = "abc"
    #: an extra transparent layer drawn above (Tianditu's annotation)
    labels_url: str | None = None
    tms: bool = False

    def folium_kwargs(self) -> dict[str, Any]:
        return {"tiles": self.url, "attr": self.attribution, "name": self.title,
                "max_zoom": self.max_zoom, "max_native_zoom": min(self.max_zoom, 18),
                "subdomains": self.subdomains, "overlay": False, "control": True}


def tianditu_key(settings: MapSettings) -> str | None:
    """The Tianditu key (``SERVICEMAP_TIANDITU_KEY``), None when unset or empty."""
    return settings.tianditu_key or None


def available_basemaps(settings: MapSettings, *, prefix: str = "",
                       version: str | None = None) -> dict[str, Basemap]:
    """The basemaps this installation can offer, by key (Tianditu only with a key).

    ``prefix`` is the app's root path; ``version`` the offline basemap's data
    version (in its tile URLs, so browsers refetch after a change).
    """
    v = f"?v={version}" if version else ""
    out = {
        "offline": Basemap("offline", "离线底图",
                           f"{prefix}/tiles/basemap/{{z}}/{{x}}/{{y}}.png{v}",
                           "ServiceMap 离线底图（数据来自本系统数据库）", "wgs84", online=False,
                           subdomains=""),
        "osm": Basemap("osm", "OpenStreetMap",
                       "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
                       '&copy; <a href="https://www.openstreetmap.org/copyright">'
                       "OpenStreetMap</a> 贡献者", "wgs84", online=True, subdomains=""),
        "amap": Basemap("amap", "高德地图",
                        "https://webrd0{s}.is.autonavi.com/appmaptile?lang=zh_cn&size=1"
                        "&scale=1&style=8&x={x}&y={y}&z={z}",
                        "&copy; 高德地图 AutoNavi", "gcj02", online=True, max_zoom=18,
                        subdomains="1234"),
        "tencent": Basemap("tencent", "腾讯地图",
                           "https://rt{s}.map.gtimg.com/tile?z={z}&x={x}&y={-y}"
                           "&styleid=1000&scene=0&version=347",
                           "&copy; 腾讯地图 Tencent", "gcj02", online=True, max_zoom=18,
                           subdomains="0123"),
    }
    key = tianditu_key(settings)
    if key:
        wmts = ("https://t{s}.tianditu.gov.cn/{layer}_w/wmts?SERVICE=WMTS&REQUEST=GetTile"
                "&VERSION=1.0.0&LAYER={layer}&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles"
                "&TILECOL={{x}}&TILEROW={{y}}&TILEMATRIX={{z}}&tk={key}")
        out["tianditu"] = Basemap(
            "tianditu", "天地图", wmts.format(s="{s}", layer="vec", key=key),
            "&copy; 天地图 国家地理信息公共服务平台", "wgs84", online=True, max_zoom=18,
            subdomains="01234567", labels_url=wmts.format(s="{s}", layer="cva", key=key))
    return {k: out[k] for k in BASEMAP_KEYS if k in out}


def choose_basemap(requested: str | None, *, synthetic: bool, settings: MapSettings,
                   prefix: str = "", version: str | None = None) -> tuple[Basemap, list[Basemap]]:
    """The basemap of a page and the alternatives its layer control offers.

    Parameters
    ----------
    requested
        A key of :data:`BASEMAP_KEYS`, or None for the default: ``offline``
        for synthetic data or when ``settings.default_basemap`` is unset,
        else that setting.
    synthetic
        Whether the data shown are synthetic samples.

    Returns
    -------
    (Basemap, list of Basemap)
        The chosen basemap and the others of the same datum (a layer control
        can switch between them without moving the overlays).

    Raises
    ------
    InvalidInput
        Unknown key, or Tianditu without a key.
    """
    found = available_basemaps(settings, prefix=prefix, version=version)
    key = requested or ("offline" if synthetic
                        else settings.default_basemap or "offline")
    if key not in found:
        expected = ", ".join(found)
        why = ("天地图需要密钥：请设置 SERVICEMAP_TIANDITU_KEY" if key == "tianditu"
               else "未知的底图")
        raise InvalidInput(why, [Problem(why, column="basemap", value=key, expected=expected)])
    chosen = found[key]
    others = [b for b in found.values() if b.crs == chosen.crs and b.key != key
              and (not synthetic or not b.online or requested is not None)]
    return chosen, others
