"""Colours, icons and Simplified Chinese labels shared by every map.

One palette serves the Leaflet pages (sent to the browser as JSON), the raster
tiles and the static images, so a kind of position looks the same everywhere.
Colours are ``#rrggbb`` strings; :func:`rgb` and :func:`rgba` turn them into
Pillow tuples.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from geo.vocab import POINT_KIND_ZH, SERVICE_ZH, PointKind, Service

__all__ = [
    "BADGE_SYNTHETIC",
    "BASEMAP",
    "CIRCLE",
    "COMPOUND_UNCOVERED_RAMP",
    "COVERAGE_RAMP",
    "KIND_STYLES",
    "KindStyle",
    "SUPPLY_RAMP",
    "WALK_DELTA_RAMP",
    "WALK_RAMP",
    "WALK_UNREACHABLE",
    "WISH_OPEN_RAMP",
    "coverage_colour",
    "kind_style",
    "kinds_json",
    "rgb",
    "rgba",
    "services_json",
    "walk_band",
    "walk_colour",
]

#: The badge every map over synthetic sample data carries.
BADGE_SYNTHETIC = "示例数据"


@dataclass(frozen=True)
class KindStyle:
    """How one kind of service position is drawn."""

    kind: str
    label: str  # 中文名称
    colour: str  # marker fill, #rrggbb
    glyph: str  # one character drawn inside the marker
    size: int  # marker diameter in CSS pixels (the static image scales it)
    rank: int  # drawing order: higher ranks are drawn on top


KIND_STYLES: dict[str, KindStyle] = {
    s.kind: s
    for s in (
        KindStyle(PointKind.TOWN_CENTER.value, POINT_KIND_ZH[PointKind.TOWN_CENTER],
                  "#d62728", "镇", 34, 6),
        KindStyle(PointKind.VILLAGE_CENTER.value, POINT_KIND_ZH[PointKind.VILLAGE_CENTER],
                  "#ff7f0e", "村", 28, 5),
        KindStyle(PointKind.STATION.value, POINT_KIND_ZH[PointKind.STATION],
                  "#1f77b4", "站", 24, 1),
        KindStyle(PointKind.ADMIN_SERVICE.value, POINT_KIND_ZH[PointKind.ADMIN_SERVICE],
                  "#9467bd", "政", 26, 4),
        KindStyle(PointKind.CIVILIZATION.value, POINT_KIND_ZH[PointKind.CIVILIZATION],
                  "#2ca02c", "文", 26, 3),
        KindStyle(PointKind.RED_EDUCATION.value, POINT_KIND_ZH[PointKind.RED_EDUCATION],
                  "#8c564b", "红", 26, 2),
        KindStyle(PointKind.OTHER.value, POINT_KIND_ZH[PointKind.OTHER],
                  "#7f7f7f", "其", 22, 0),
    )
}


def kind_style(kind: str) -> KindStyle:
    """Style of a point kind (unknown kinds are drawn as "other")."""
    return KIND_STYLES.get(kind, KIND_STYLES[PointKind.OTHER.value])


def kinds_json() -> list[dict[str, Any]]:
    """Kind styles for the browser, in drawing order (most important first)."""
    return [asdict(s) for s in sorted(KIND_STYLES.values(), key=lambda s: -s.rank)]


def services_json() -> list[dict[str, str]]:
    """Service slugs with their Chinese labels, for the filter of the resident map."""
    return [{"value": s.value, "label": SERVICE_ZH[s]} for s in Service]


#: The service circle (服务圈): fill, fill opacity (0-1), outline, outline width (px).
CIRCLE: dict[str, Any] = {
    "fill": "#e4572e",
    "fill_opacity": 0.22,
    "stroke": "#c0392b",
    "stroke_opacity": 0.85,
    "weight": 1.5,
    "label": "10分钟党群服务圈",
}

#: The offline basemap (本地离线底图).
BASEMAP: dict[str, Any] = {
    "background": "#f4f1ea",
    "land_town": "#efece4",
    "water": "#a9d3e5",
    "water_outline": "#7fb5cf",
    "water_label": "#2f6f8f",
    "compound": "#e3ddd2",
    "compound_outline": "#c9bfae",
    "compound_label": "#6b5e4a",
    "region_outline": "#9a8fb0",
    "town_outline": "#6d5f8f",
    "region_label": "#4a4060",
    "street_label": "#4d4d4d",
    "road_casing": "#c2b8a6",
    "road": {
        "primary": ("#fcd6a4", 1.0),
        "secondary": ("#f7fabf", 0.85),
        "tertiary": ("#ffffff", 0.7),
        "residential": ("#ffffff", 0.5),
        "service": ("#ffffff", 0.35),
        "footway": ("#ffffff", 0.25),
        "path": ("#ffffff", 0.25),
    },
}

#: Share of population covered (0-1) → colour, for the coverage choropleth
#: (ColorBrewer BrBG, colour-blind safe: brown is low, teal is high). No red:
#: the service circles are red and the uncovered compounds pink to purple, and
#: both are drawn over the choropleth, so a red "low" would hide them.
COVERAGE_RAMP: list[tuple[float, str, str]] = [
    (0.0, "#a6611a", "< 40%"),
    (0.4, "#dfc27d", "40%–60%"),
    (0.6, "#f5f5f5", "60%–80%"),
    (0.8, "#80cdc1", "80%–95%"),
    (0.95, "#018571", "≥ 95%"),
]

#: Population of an uncovered compound → colour (graduated; purple = many people).
COMPOUND_UNCOVERED_RAMP: list[tuple[int, str, str]] = [
    (0, "#fbb4b9", "< 1,000 人"),
    (1000, "#f768a1", "1,000–3,000 人"),
    (3000, "#c51b8a", "3,000–6,000 人"),
    (6000, "#7a0177", "≥ 6,000 人"),
]


def coverage_colour(share: float | None) -> str:
    """Colour of a coverage share in ``[0, 1]`` (grey when unknown)."""
    if share is None:
        return "#cccccc"
    colour = COVERAGE_RAMP[0][1]
    for lower, c, _ in COVERAGE_RAMP:
        if share >= lower:
            colour = c
    return colour


#: Walking minutes to the nearest position → colour and legend label, for the
#: walking-time heatmap: blue within the GB 50180 5- and 10-minute tiers,
#: yellow to 15, orange and red beyond (a diverging ramp that reads without
#: red-green vision; ColorBrewer RdYlBu).
WALK_RAMP: list[tuple[float, str, str]] = [
    (0.0, "#2c7bb6", "5 分钟以内"),
    (5.0, "#abd9e9", "5–10 分钟"),
    (10.0, "#ffffbf", "10–15 分钟"),
    (15.0, "#fdae61", "15–20 分钟"),
    (20.0, "#d7191c", "20 分钟以上"),
]
#: Change of the walk in a scenario (minutes; negative: nearer) → colour and
#: label (ColorBrewer RdBu: blue nearer, red farther).
WALK_DELTA_RAMP: list[tuple[float, str, str]] = [
    (-1e9, "#2166ac", "近 5 分钟以上"),
    (-5.0, "#67a9cf", "近 1–5 分钟"),
    (-1.0, "#d1e5f0", "近 1 分钟以内"),
    (0.0, "#fddbc7", "远 1 分钟以内"),
    (1.0, "#ef8a62", "远 1–5 分钟"),
    (5.0, "#b2182b", "远 5 分钟以上"),
]

#: 2SFCA supply (m² of position floor area per 1000 residents within the
#: catchment) → colour and label (ColorBrewer YlGn: more is greener).
SUPPLY_RAMP: list[tuple[float, str, str]] = [
    (0.0, "#ffffcc", "< 75 m²/千人"),
    (75.0, "#c2e699", "75–150 m²/千人"),
    (150.0, "#78c679", "150–250 m²/千人"),
    (250.0, "#31a354", "250–400 m²/千人"),
    (400.0, "#006837", "≥ 400 m²/千人"),
]

#: Open wishes of a grid cell → colour and label, for the wishes choropleth
#: (ColorBrewer Blues: more waiting is darker; no red or purple, which the
#: circles and the uncovered compounds use).
WISH_OPEN_RAMP: list[tuple[int, str, str]] = [
    (0, "#eff3ff", "无在办心愿"),
    (1, "#bdd7e7", "1–2 个"),
    (3, "#6baed6", "3–5 个"),
    (6, "#3182bd", "6–10 个"),
    (11, "#08519c", "11 个以上"),
]

#: Colour and label of a place from which no position can be reached on foot.
WALK_UNREACHABLE: tuple[str, str] = ("#8c8c8c", "步行不可达")


def walk_band(minutes: float | None) -> str:
    """The legend label of a walking time (minutes; None: unreachable)."""
    if minutes is None or minutes != minutes or minutes == float("inf"):
        return WALK_UNREACHABLE[1]
    label = WALK_RAMP[0][2]
    for lower, _, lab in WALK_RAMP:
        if minutes >= lower:
            label = lab
    return label


def walk_colour(band: str) -> str:
    """The colour of a legend label of :func:`walk_band`."""
    for _, colour, lab in WALK_RAMP:
        if lab == band:
            return colour
    return WALK_UNREACHABLE[0]


def ramp_colour(value: float, ramp: list[tuple[Any, str, str]]) -> str:
    """Colour of ``value`` on a ``(lower bound, colour, label)`` ramp."""
    colour = ramp[0][1]
    for lower, c, _ in ramp:
        if value >= lower:
            colour = c
    return colour


def rgb(colour: str) -> tuple[int, int, int]:
    """``#rrggbb`` → ``(r, g, b)``."""
    c = colour.lstrip("#")
    return int(c[0:2], 16), int(c[2:4], 16), int(c[4:6], 16)


def rgba(colour: str, opacity: float = 1.0) -> tuple[int, int, int, int]:
    """``#rrggbb`` and an opacity in ``[0, 1]`` → ``(r, g, b, a)``."""
    return (*rgb(colour), max(0, min(255, round(opacity * 255))))
