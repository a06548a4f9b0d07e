"""Static assets served by the app itself, so no page fetches anything from the
internet: vendored Leaflet 1.9.4 (BSD-2-Clause) and Leaflet.markercluster
1.5.3 (MIT) from their npm packages, and the product's own JS/CSS.

Files are read once from ``maps/static`` into memory and served from a fixed
list (no path from a request ever reaches the file system). URLs carry a
content hash (``?v=``) so browsers may cache them for a long time.
"""

from __future__ import annotations

import mimetypes
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from geo.cache import etag_of

__all__ = ["Asset", "asset", "asset_url", "assets", "leaflet_css", "leaflet_js"]

#: URL path under which the assets are served.
STATIC_PATH = "/maps/static"

_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
          ".png": "image/png", ".svg": "image/svg+xml", ".txt": "text/plain; charset=utf-8"}


@dataclass(frozen=True)
class Asset:
    """One static file: its bytes, media type and ETag (:func:`geo.cache.etag_of`)."""

    path: str
    data: bytes
    media_type: str
    etag: str


@lru_cache(maxsize=1)
def assets() -> dict[str, Asset]:
    """Every file under ``maps/static`` by relative path (``vendor/leaflet/leaflet.js``)."""
    root = resources.files("maps").joinpath("static")
    out: dict[str, Asset] = {}

    def walk(node, prefix: str) -> None:
        for child in node.iterdir():
            rel = f"{prefix}{child.name}"
            if child.is_dir():
                walk(child, rel + "/")
            elif not child.name.startswith("."):
                data = child.read_bytes()
                suffix = "." + child.name.rsplit(".", 1)[-1] if "." in child.name else ""
                media = _TYPES.get(suffix) or mimetypes.guess_type(child.name)[0] \
                    or "application/octet-stream"
                out[rel] = Asset(rel, data, media, etag_of(data))

    walk(root, "")
    return out


def asset(path: str) -> Asset | None:
    """The asset at ``path`` (relative to ``maps/static``), or None."""
    return assets().get(path)


def asset_url(path: str, prefix: str = "") -> str:
    """Root-relative URL of an asset with its content hash for cache busting.

    ``prefix`` is the app's root path when it is served below one.
    """
    a = assets()[path]
    return f"{prefix}{STATIC_PATH}/{path}?v={a.etag.split(chr(34))[1][:10]}"


def leaflet_js(prefix: str = "") -> list[tuple[str, str]]:
    """Folium ``default_js`` pointing at the vendored Leaflet (instead of CDNs)."""
    return [("leaflet", asset_url("vendor/leaflet/leaflet.js", prefix))]


def leaflet_css(prefix: str = "") -> list[tuple[str, str]]:
    """Folium ``default_css`` pointing at the vendored Leaflet (instead of CDNs)."""
    return [("leaflet_css", asset_url("vendor/leaflet/leaflet.css", prefix))]
