"""The in-memory shape of a sample town, shared by the generators and the loader.

Every frame is a GeoDataFrame in EPSG:4326 (WGS-84 longitude/latitude) except
``branches`` and the residents' frames other than ``wishes`` (plain DataFrames).
Column contracts:

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

The residents' side (:mod:`data.residents`; empty frames with these columns when a
sample has none). References are codes; instants are tz-aware (Asia/Shanghai);
personal data (synthetic) only in ``private`` and the ratings' ``phone``:

orgs        code, name, kind (geo.vocab.OrgKind value), region_code, branch_code
            (str|None: the party branch of a kind "branch" organisation), synthetic
members     code, region_code, org_code, private (dict: name, phone), synthetic
wishes      (GeoDataFrame) code, kind ("wish"|"project"), title, text (the resident's
            own words, no names), public_text (the moderated text of the wall),
            category (geo.vocab.WishCategory value), region_code (village), point_code,
            grid_code, compound_code (str|None: the grid cell and compound covering
            the location), budget_yuan (decimal.Decimal with one decimal, projects
            only; else None), channel (geo.vocab.Channel value), state
            (geo.vocab.WishState value), resident_score (Int64, NA unless confirmed),
            private (dict: name, phone, address; empty for projects), entered_by
            (str|None), posted_at, published_at, claimed_at, fulfilled_at,
            confirmed_at, closed_at (NaT where the wish has not got there), synthetic,
            geometry (Point: the home, or where a project is carried out). The loader
            stores ``phone_hash`` (geo.residents.otp.phone_hash of private["phone"])
            and one wish_events row per step (post, publish, claim, accept, fulfil,
            confirm) at the instants of the wish and its claims.
claims      wish_code, member_code (str|None), org_code (str|None: the member's
            organisation, or the claiming organisation of a project), claimed_at,
            accepted_at, fulfilled_at, withdrawn_at (NaT when not), points (int),
            synthetic
activities  code, point_code, title, theme, starts_at, ends_at, capacity (int),
            signups (int), attendance (Int64, NA for activities not held yet), synthetic
ratings     point_code, period ("2026Q4"), score (1–5), comment (str|None), phone
            (str: hashed by the loader, never stored), created_at, synthetic
"""

from __future__ import annotations

from dataclasses import dataclass, field

import geopandas as gpd
import pandas as pd

ORG_COLUMNS = ("code", "name", "kind", "region_code", "branch_code", "synthetic")
MEMBER_COLUMNS = ("code", "region_code", "org_code", "private", "synthetic")
WISH_COLUMNS = ("code", "kind", "title", "text", "public_text", "category", "region_code",
                "point_code", "grid_code", "compound_code", "budget_yuan", "channel", "state",
                "resident_score", "private", "entered_by", "posted_at", "published_at",
                "claimed_at", "fulfilled_at", "confirmed_at", "closed_at", "synthetic")
WISH_TIMES = ("posted_at", "published_at", "claimed_at", "fulfilled_at", "confirmed_at",
              "closed_at")
CLAIM_COLUMNS = ("wish_code", "member_code", "org_code", "claimed_at", "accepted_at",
                 "fulfilled_at", "withdrawn_at", "points", "synthetic")
ACTIVITY_COLUMNS = ("code", "point_code", "title", "theme", "starts_at", "ends_at", "capacity",
                    "signups", "attendance", "synthetic")
RATING_COLUMNS = ("point_code", "period", "score", "comment", "phone", "created_at",
                  "synthetic")


def empty_frame(columns: tuple[str, ...]) -> pd.DataFrame:
    """An empty DataFrame with ``columns``."""
    return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})


def empty_wishes() -> gpd.GeoDataFrame:
    """An empty wishes frame (GeoDataFrame of Points in EPSG:4326)."""
    return gpd.GeoDataFrame(empty_frame(WISH_COLUMNS), geometry=gpd.GeoSeries([], crs=4326),
                            crs=4326)


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
    orgs: pd.DataFrame = field(default_factory=lambda: empty_frame(ORG_COLUMNS))
    members: pd.DataFrame = field(default_factory=lambda: empty_frame(MEMBER_COLUMNS))
    wishes: gpd.GeoDataFrame = field(default_factory=empty_wishes)
    claims: pd.DataFrame = field(default_factory=lambda: empty_frame(CLAIM_COLUMNS))
    activities: pd.DataFrame = field(default_factory=lambda: empty_frame(ACTIVITY_COLUMNS))
    ratings: pd.DataFrame = field(default_factory=lambda: empty_frame(RATING_COLUMNS))
