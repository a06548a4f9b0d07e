"""Folium plumbing shared by the resident and planner pages: a map whose
Leaflet comes from the app itself, basemap layers, and the finished HTML."""

from __future__ import annotations

import json
import re
from typing import Any

import folium
from branca.element import Element, Figure, MacroElement
from folium.elements import JSCSSMixin
from jinja2 import Template

from maps.assets import asset_url, leaflet_css, leaflet_js
from maps.basemap import Basemap

__all__ = ["AppScript", "add_basemaps", "error_page", "finish_html", "local_map", "script_json"]


def local_map(title: str, *, center: tuple[float, float], zoom: int = 13,
              prefix: str = "", **kwargs: Any) -> tuple[Figure, folium.Map]:
    """A Folium map in its own figure, loading Leaflet from ``/maps/static``.

    ``center`` is ``(lat, lng)`` in the display datum; ``prefix`` the app's
    root path.
    """
    fig = Figure(title=title)
    m = folium.Map(location=list(center), zoom_start=zoom, tiles=None, control_scale=False,
                   zoom_control=False, max_zoom=19, **kwargs)
    # Folium's defaults point at CDNs (Leaflet, jQuery, Bootstrap, Font Awesome):
    # none is needed; Leaflet comes from the app.
    m.default_js = leaflet_js(prefix)
    m.default_css = leaflet_css(prefix)
    fig.header.add_child(Element('<link rel="icon" href="data:,">'), name="favicon")
    fig.add_child(m)
    return fig, m


def add_basemaps(m: folium.Map, chosen: Basemap, others: list[Basemap]) -> bool:
    """Add the chosen basemap (shown) and the alternatives (in the layer
    control); returns whether there is anything to switch between."""
    for b in [chosen, *others]:
        kw = b.folium_kwargs()
        if not b.online:
            kw["max_native_zoom"] = b.max_zoom
        folium.TileLayer(show=b is chosen, **kw).add_to(m)
        if b.labels_url and b is chosen:
            folium.TileLayer(tiles=b.labels_url, attr=b.attribution, name=f"{b.title}注记",
                             overlay=True, control=False, subdomains=b.subdomains,
                             max_zoom=b.max_zoom).add_to(m)
    return bool(others)


class AppScript(JSCSSMixin, MacroElement):
    """Loads the product's JS/CSS and calls ``ServiceMap.<entry>(map, config)``."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        window.smApp = ServiceMap.{{ this.entry }}(
            {{ this._parent.get_name() }}, {{ this.config_json }});
        {% endmacro %}
    """)

    def __init__(self, entry: str, config: dict[str, Any], *, prefix: str = "",
                 js: list[str] | None = None, css: list[str] | None = None) -> None:
        super().__init__()
        self._name = "AppScript"
        self.entry = entry
        self.config = config
        self.config_json = script_json(config)
        self.default_js = [(p, asset_url(p, prefix)) for p in (js or [])]
        self.default_css = [(p, asset_url(p, prefix)) for p in (css or [])]


def script_json(value: Any) -> str:
    """JSON safe inside a ``<script>`` element (UTF-8 kept; ``<``, ``>``, ``&``,
    U+2028/2029 escaped)."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    for ch, esc in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"),
                    ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(ch, esc)
    return text


def finish_html(fig: Figure) -> str:
    """The page's HTML (``lang="zh-CN"``; the viewport lets people zoom the page,
    which folium's template forbids: WCAG 1.4.4, and most residents are elderly)."""
    html = fig.render()
    html = re.sub(r'<meta name="viewport"[^>]*>',
                  '<meta name="viewport" content="width=device-width, initial-scale=1.0">',
                  html, count=1)
    return html.replace("<html>", '<html lang="zh-CN">', 1)


def error_page(title: str, detail: str, *, home: str, prefix: str = "") -> str:
    """A plain Chinese page for a map link that cannot be shown (an unknown
    region, a bad parameter): what went wrong and a way on, no raw JSON. No
    script; large text for phones."""
    from html import escape

    css = asset_url("servicemap.css", prefix)
    return (
        '<!DOCTYPE html>\n<html lang="zh-CN"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1.0">'
        '<link rel="icon" href="data:,">'
        f"<title>{escape(title)}</title>"
        f'<link rel="stylesheet" href="{escape(css)}"></head>'
        '<body style="margin:0;background:#f6f3ee;color:#1a1a1a">'
        '<main style="max-width:560px;margin:0 auto;padding:24px 18px;font-size:18px;'
        'line-height:1.6">'
        f'<h1 style="font-size:22px;color:#8e1b1b;margin:0 0 12px">{escape(title)}</h1>'
        f"<p>{escape(detail)}</p>"
        f'<p><a href="{escape(home)}" style="display:inline-block;min-height:44px;'
        'line-height:44px;padding:0 18px;border-radius:22px;background:#b71c1c;color:#fff;'
        'text-decoration:none;font-weight:700">打开服务地图</a></p>'
        "<p style=\"font-size:16px;color:#4a4a4a\">如果是别人发给您的链接，请告诉对方链接有误。"
        "</p></main></body></html>")
