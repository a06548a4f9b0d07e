"""The in-memory shape of a sample town, shared by the generators and the loader.

Every frame is a GeoDataFrame in EPSG:4326 (WGS-84 longitude/latitude) except
``branches`` (a plain DataFrame). Column contracts:

regions     code (str, national division code), name, level ("town"|"village"),
            parent_code (str|None), geometry (Polygon|MultiPolygon)
points      code, name, kind (geo.vocab.PointKind value), region_code, address,
            hours (dict, geo.hours structured form), hours_text (str),
            services (list[str] of geo.vocab.Service values), rooms (int|None),
            floor_area_m2 (float|None), stars (int|None), phone (str|None),
            geometry (Point)
grids       code, name, region_code, kind ("governance"|"party"), workers (int),
            has_branch (bool), geometry (Polygon)
compounds   code, name, region_code, households (int), population (int),
            geometry (Polygon)
buildings   code, compound_code (str|None), households (int), population (int),
            geometry (Polygon)
branches    code, name, region_code, compound_codes (list[str])
nodes       node_id (int), geometry (Point)
edges       source (int node_id), target (int node_id), highway (str), name (str or None:
            the road name addresses use, on arterials),
            geometry (LineString from source to target)
"""

from __future__ import annotations

from dataclasses import dataclass, field

import geopandas as gpd
import pandas as pd


@dataclass
class Sample:
    name: str
    regions: gpd.GeoDataFrame
    points: gpd.GeoDataFrame
    grids: gpd.GeoDataFrame
    compounds: gpd.GeoDataFrame
    buildings: gpd.GeoDataFrame
    branches: pd.DataFrame
    nodes: gpd.GeoDataFrame
    edges: gpd.GeoDataFrame
    water: gpd.GeoDataFrame = field(default_factory=lambda: gpd.GeoDataFrame(geometry=[], crs=4326))
    synthetic: bool = True
