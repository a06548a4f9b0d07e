"""Pydantic models of the API's requests and responses.

Response models document the bodies (OpenAPI) and let tests validate them;
the hot public routes serialise plain dictionaries built by :mod:`geo` and
do not re-validate at run time. Request models check the shape of a body
(types, enums, unknown fields); :mod:`geo.editing` then checks the meaning
(region scope, location in the town, self-intersections, SQL-looking text)
with the field rules (:mod:`geo.rules`). The planner's request bodies and
stored records are generated from the entity registry (:mod:`geo.entities`):
one field there is one field here. Length limits and ranges are read from
:mod:`geo.rules`; kinds and service tags are plain strings here because the
rules also accept their Chinese names (``党群服务站``, ``党务``).
"""

import copy
import re
from datetime import datetime
from typing import Annotated, Any, Generic, Literal, Optional, TypeVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    WithJsonSchema,
    create_model,
)

from geo import rules, vocab
from geo.entities import ENTITIES, Entity
from geo.entities import Field as EntityField
from geo.vocab import GridKind, PointKind, Service

CODE_PATTERN = rules.CODE_RE.pattern
REGION_PATTERN = r"^\d{6,12}$"
HHMM_PATTERN = r"^([01]\d|2[0-4]):[0-5]\d$"

OutputCrs = Literal["wgs84", "gcj02", "bd09"]
InputCrs = Literal["wgs84", "gcj02", "bd09", "cgcs2000"]
DayKey = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
#: Numbers and booleans of request bodies as JSON types them: pydantic's lax
#: mode would take ``"5"`` or ``true`` for a number and ``"yes"`` for a boolean,
#: which the OpenAPI (``number``, ``boolean``) does not allow.
def _json_integer(value: Any) -> Any:
    # JSON Schema counts 117.0 as an integer; a boolean is none
    if isinstance(value, float) and value.is_integer() and abs(value) < 2 ** 63:
        return int(value)
    return value


Number = Annotated[float, Strict(), Field(allow_inf_nan=False)]
Integer = Annotated[int, Strict(), BeforeValidator(_json_integer)]


def integer(lo: int | None = None, hi: int | None = None) -> Any:
    """:data:`Integer` within ``lo..hi``, the bounds inside the type so the
    OpenAPI states them (``minimum``/``maximum``)."""
    return Annotated[int, Strict(), Field(ge=lo, le=hi), BeforeValidator(_json_integer)]
Boolean = Annotated[bool, Strict()]
Coordinate = Number
Position = Annotated[list[Coordinate], Field(min_length=2, max_length=3)]

_LISHUI_CENTER = [113.1792, 23.1985]


# --------------------------------------------------------------------------
# problems
# --------------------------------------------------------------------------
class ProblemField(BaseModel):
    """One problem of a request: which field, what is wrong, what was expected."""

    model_config = ConfigDict(extra="allow")
    field: str | None = Field(None, description="where: `query.kind`, `body.geometry` ...")
    message: str = Field(description="what is wrong (Chinese)")
    value: Any = Field(None, description="the offending value (shortened)")
    expected: str | None = None


class Problem(BaseModel):
    """RFC 9457 problem details; every 4xx/5xx answer has this body and the media
    type `application/problem+json`. `type` is stable; `title` is Chinese."""

    model_config = ConfigDict(extra="allow", json_schema_extra={"examples": [{
        "type": "https://servicemap.example/problems/validation",
        "title": "请求参数不正确", "status": 422, "detail": "参数校验失败",
        "errors": [{"field": "query.kind", "message": "取值应为 'town_center'、'village_center'、"
                    "'admin_service'、'civilization'、'red_education'、'station'、'other' 之一",
                    "value": "castle", "code": "literal_error"}]}]})
    type: str
    title: str
    status: int
    detail: str | None = None
    errors: list[ProblemField] | None = None


# --------------------------------------------------------------------------
# GeoJSON geometries
# --------------------------------------------------------------------------
class PointGeometry(BaseModel):
    type: Literal["Point"]
    coordinates: list[float] = Field(min_length=2, max_length=3)


class PolygonGeometry(BaseModel):
    type: Literal["Polygon"]
    coordinates: list[list[list[float]]]


class MultiPolygonGeometry(BaseModel):
    type: Literal["MultiPolygon"]
    coordinates: list[list[list[list[float]]]]


AreaGeometry = Annotated[PolygonGeometry | MultiPolygonGeometry, Field(discriminator="type")]
AnyGeometry = Annotated[PointGeometry | PolygonGeometry | MultiPolygonGeometry,
                        Field(discriminator="type")]


class PointGeometryIn(BaseModel):
    """A GeoJSON Point: `[longitude, latitude]` in the body's `crs`."""

    model_config = ConfigDict(extra="forbid",
                              json_schema_extra={"examples": [{"type": "Point",
                                                               "coordinates": _LISHUI_CENTER}]})
    type: Literal["Point"]
    coordinates: Position
    bbox: list[Coordinate] | None = None


class PolygonIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: Literal["Polygon"]
    coordinates: Annotated[list[Annotated[list[Position], Field(min_length=4)]],
                           Field(min_length=1)]
    bbox: list[Coordinate] | None = None


class MultiPolygonIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: Literal["MultiPolygon"]
    coordinates: Annotated[list[Annotated[list[Annotated[list[Position], Field(min_length=4)]],
                                          Field(min_length=1)]], Field(min_length=1)]
    bbox: list[Coordinate] | None = None


AreaGeometryIn = Annotated[PolygonIn | MultiPolygonIn, Field(discriminator="type")]


# --------------------------------------------------------------------------
# opening hours
# --------------------------------------------------------------------------
class Hours(BaseModel):
    """Structured opening hours (China time). A closed day is absent from `weekly`."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "always_open": False, "closed_on_holidays": True,
        "weekly": {"mon": [["08:30", "12:00"], ["14:30", "17:30"]]},
        "text": "周一至周五 8:30-12:00 14:30-17:30，节假日休息", "parsed": True}]})
    always_open: bool
    closed_on_holidays: bool
    weekly: dict[str, list[list[str]]]
    text: str
    parsed: bool
    workday: list[list[str]] | None = Field(
        None, description="hours on official working days (工作日): these follow China's "
                          "holiday calendar, make-up working weekend days included")


class HoursIn(BaseModel):
    """Opening hours to store: intervals `[open, close)` as `HH:MM`, China time."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "weekly": {"mon": [["09:00", "21:00"]], "sat": [["09:00", "12:00"]]},
        "closed_on_holidays": True}]})
    always_open: Boolean = False
    closed_on_holidays: Boolean = False
    weekly: dict[DayKey, list[tuple[Annotated[str, Field(pattern=HHMM_PATTERN)],
                                    Annotated[str, Field(pattern=HHMM_PATTERN)]]]] = {}
    workday: list[tuple[Annotated[str, Field(pattern=HHMM_PATTERN)],
                        Annotated[str, Field(pattern=HHMM_PATTERN)]]] | None = Field(
        None, description="hours on official working days (工作日), which follow the "
                          "holiday calendar")
    text: str | None = Field(None, max_length=rules.HOURS_TEXT_MAX_LEN)
    parsed: Boolean | None = Field(None, description="ignored (accepted for round trips)")


# --------------------------------------------------------------------------
# public: points
# --------------------------------------------------------------------------
class PointProperties(BaseModel):
    code: str
    name: str
    kind: PointKind
    kind_label: str = Field(description="Chinese label of the kind")
    region_code: str | None
    region_name: str | None
    address: str | None
    hours: Hours | None
    hours_text: str | None
    hours_label: str = Field(description="opening hours rendered in Chinese")
    open_now: bool | None = Field(description="open at the request time (or `at`), China "
                                              "time, by the opening hours and China's "
                                              "holiday calendar; null when the hours are "
                                              "unknown")
    next_open: str | None = Field(None, description="when closed: the next opening (China "
                                  "time, ISO 8601) within 14 days; else null")
    services: list[str]
    service_labels: list[str]
    rooms: int | None
    floor_area_m2: float | None
    stars: int | None
    phone: str | None = Field(description="the position's public office phone")
    synthetic: bool


class PointFeature(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "type": "Feature", "crs": "wgs84", "id": "LS-P-0001",
        "geometry": {"type": "Point", "coordinates": _LISHUI_CENTER},
        "properties": {"code": "LS-P-0001", "name": "里水镇党群服务中心",
                       "kind": "town_center", "kind_label": "镇街党群服务中心",
                       "region_code": "440605126050", "region_name": "金峰洲社区",
                       "address": "里水镇金峰洲", "hours": None, "hours_text": "每天 9:00-21:00",
                       "hours_label": "每天 09:00-21:00", "open_now": True,
                       "services": ["party", "government"], "service_labels": ["党务", "政务"],
                       "rooms": 15, "floor_area_m2": 2000.0, "stars": 5,
                       "phone": "0757-85600000", "synthetic": True}}]})
    type: Literal["Feature"]
    crs: OutputCrs | None = Field(None, description="coordinate system of the geometry "
                                                    "(a single point's answer)")
    id: str
    geometry: PointGeometry
    properties: PointProperties


class PointCollection(BaseModel):
    """A page of service points. `numberMatched` counts all points matching the
    filters; coordinates are in `crs`."""

    type: Literal["FeatureCollection"]
    crs: OutputCrs
    at: str = Field(description="instant (China time, ISO 8601) of `open_now`")
    calendar_known: bool = Field(description="whether China's holiday calendar knows the "
                                             "year of `at` (false: weekly hours only)")
    features: list[PointFeature]
    numberMatched: int
    numberReturned: int
    limit: int
    offset: int


class NearestProperties(BaseModel):
    rank: int = Field(ge=1, description="1 = nearest")
    code: str
    name: str
    kind: str
    address: str | None
    walk_distance_m: float = Field(ge=0, description="walking metres, off-network legs included")
    walk_minutes: float = Field(ge=0, description="at `speed_kmh`")
    speed_kmh: float
    method: Literal["network", "straight_line"] = Field(
        description="`straight_line` when the location or the point is off the network")
    open_now: bool | None = Field(description="open at `query.at` (holiday calendar "
                                              "included); null when the hours are unknown")
    hours_label: str = Field(description="opening hours in Chinese")
    next_open: str | None = Field(description="when closed: the next opening (China time, "
                                              "ISO 8601) within 14 days")


class NearestFeature(BaseModel):
    type: Literal["Feature"]
    geometry: PointGeometry
    properties: NearestProperties


class NearestQuery(BaseModel):
    lng: float
    lat: float
    crs: OutputCrs
    k: int
    profile: str
    at: str = Field(description="instant of the results' state (China time)")
    calendar_known: bool = Field(description="whether the holiday calendar knows the year "
                                             "of `at`")
    kind: str | None = None
    service: str | None = None
    open_now: bool | None = None


class NearestCollection(BaseModel):
    """The `k` service points nearest by walking, nearest first; coordinates in `crs`."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "type": "FeatureCollection",
        "features": [{"type": "Feature",
                      "geometry": {"type": "Point", "coordinates": _LISHUI_CENTER},
                      "properties": {"rank": 1, "code": "LS-P-0001", "name": "里水镇党群服务中心",
                                     "kind": "town_center", "address": "里水镇金峰洲",
                                     "walk_distance_m": 312.4, "walk_minutes": 5.2,
                                     "speed_kmh": 3.6, "method": "network",
                                     "open_now": False, "hours_label": "每天 09:00-21:00",
                                     "next_open": "2026-12-02T09:00:00+08:00"}}],
        "crs": "wgs84",
        "query": {"lng": 113.153, "lat": 23.195, "crs": "wgs84", "k": 1,
                  "profile": "elderly", "at": "2026-12-01T22:00:00+08:00",
                  "calendar_known": True}}]})
    type: Literal["FeatureCollection"]
    crs: OutputCrs = Field(description="coordinate system of the features and the query")
    features: list[NearestFeature]
    query: NearestQuery


# --------------------------------------------------------------------------
# public: service circles
# --------------------------------------------------------------------------
class IsochroneProperties(BaseModel):
    """A service circle's parameters and how it was made."""

    point_code: str | None = Field(None, description="the service point (GET)")
    point_name: str | None = Field(None, description="its name (stored circles)")
    lng: float | None = Field(None, description="the location asked for, in `crs` (POST)")
    lat: float | None = Field(None, description="the location asked for, in `crs` (POST)")
    minutes: float = Field(description="walking minutes")
    profile: str = Field(description="walking profile (`standard`, `adult`, `elderly`, "
                                     "`custom`)")
    speed_kmh: float | None = Field(description="walking speed")
    budget_m: float = Field(ge=0, description="walking metres of the budget")
    method: Literal["network", "straight_line"] = Field(
        description="`straight_line` when the location is off every walking network")
    walk_off_m: float | None = Field(None, description="metres walked off the network at "
                                                      "each end of a path")
    snap_distance_m: float | None = Field(None, description="metres from the location to "
                                                           "the network")
    reached_length_m: float | None = Field(None, description="network metres reached "
                                                            "(computed circles)")
    input_version: str | None = Field(None, description="inputs the stored circle was made "
                                                        "from")
    computed_at: str | None = Field(None, description="when it was stored (ISO 8601)")
    stored: bool = Field(description="read from the stored circles (false: computed now)")
    stale: bool | None = Field(None, description="the point or the network changed since")


class IsochroneFeature(BaseModel):
    """A service circle as a GeoJSON Feature; coordinates in `crs`."""

    type: Literal["Feature"]
    crs: OutputCrs = Field(description="coordinate system of the polygon and `lng`/`lat`")
    geometry: AreaGeometry
    properties: IsochroneProperties


#: an answer of the isochrone routes (OpenAPI example)
ISOCHRONE_EXAMPLE = {
    "type": "Feature", "crs": "gcj02",
    "geometry": {"type": "Polygon", "coordinates": [[
        [113.1842, 23.1958], [113.1891, 23.1960], [113.1889, 23.2003],
        [113.1840, 23.2001], [113.1842, 23.1958]]]},
    "properties": {"point_code": "LS-0001", "minutes": 10, "profile": "elderly",
                   "speed_kmh": 3.6, "budget_m": 600.0, "method": "network",
                   "walk_off_m": 25.0, "snap_distance_m": 12.3, "reached_length_m": 4210.0,
                   "stored": False, "stale": False}}


# --------------------------------------------------------------------------
# public: regions
# --------------------------------------------------------------------------
class RegionRef(BaseModel):
    code: str
    name: str
    level: str


class RegionNode(BaseModel):
    code: str
    name: str
    level: str
    level_label: str
    parent_code: str | None
    synthetic: bool
    points: int = Field(description="service points in the region and below")
    children: list["RegionNode"]


class RegionTree(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"regions": [{
        "code": "440605", "name": "南海区", "level": "county", "level_label": "区县",
        "parent_code": None, "synthetic": False, "points": 170, "children": []}]}]})
    regions: list[RegionNode]


class RegionProperties(BaseModel):
    code: str
    name: str
    level: str
    level_label: str
    parent_code: str | None
    synthetic: bool
    area_km2: float | None
    points: int
    ancestors: list[RegionRef]
    children: list[RegionRef]


class RegionFeature(BaseModel):
    type: Literal["Feature"]
    crs: OutputCrs = Field(description="coordinate system of the outline and `bbox`")
    id: str
    bbox: list[float] | None
    geometry: AreaGeometry | None
    properties: RegionProperties


class Health(BaseModel):
    status: Literal["ok"]
    database: str | None = None


# --------------------------------------------------------------------------
# planner: stored records
# --------------------------------------------------------------------------
class PersonContact(BaseModel):
    """A person (personal data: shown to planners of the region only)."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=100)
    phone: str | None = Field(None, max_length=rules.PHONE_MAX_LEN)
    address: str | None = Field(None, max_length=200)
    note: str | None = Field(None, max_length=200)


class GridCellPrivate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "workers": [{"name": "陈某某", "phone": "138-0000-0000"}]}]})
    workers: list[PersonContact] = Field(default_factory=list, max_length=200)
    note: str | None = Field(None, max_length=500)


class BranchPrivate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    secretary: PersonContact | None = None
    members: integer(rules.RANGES["members"].lo, rules.RANGES["members"].hi) | None = None
    member_households: list[PersonContact] = Field(
        default_factory=list, max_length=1000, description="党员中心户 (party-member households)")
    note: str | None = Field(None, max_length=500)


class _Record(BaseModel):
    entity: str
    code: str
    synthetic: bool | None = None
    deleted_at: str | None = None
    created_at: str | None = None
    updated_at: str | None = None


#: Stored columns of a record beyond the registry's fields, by entity.
_RECORD_EXTRAS: dict[str, dict[str, Any]] = {
    "point": {"source_crs": (str | None, None),
              "version": (int | None, Field(None, description="bumped on every move")),
              "properties": (dict[str, Any] | None, None)},
    "building": {"region_code": (str | None, Field(None, description=(
        "the compound's region, else the village containing the footprint")))},
}


def _record_type(f: EntityField) -> Any:
    """The JSON type of a stored field's value."""
    if f.kind == "number":
        return int if rules.RANGES[f.name].integer else float
    if f.kind == "stars":
        return int
    if f.kind == "bool":
        return bool
    if f.kind in ("services", "compounds"):
        return list[str]
    if f.kind in ("hours", "private"):
        return dict[str, Any]
    return str


def _record_model(e: Entity, name: str) -> type[BaseModel]:
    """The stored row of an entity as planners read it (personal data included for
    planners of its region), from the entity registry."""
    fields: dict[str, Any] = {}
    for f in e.editable_fields:
        t = _record_type(f)
        if f.kind == "private":
            fields[f.name] = (t | None, Field(None, description=(
                "personal data; only for planners of the region")))
        elif (f.required and f.kind != "region") or (
                f.default is not None and f.kind in ("number", "bool", "grid_kind")):
            fields[f.name] = (t, Field(description=f.label))
        elif f.default is not None:
            fields[f.name] = (t, Field(f.default, description=f.label))
        else:
            fields[f.name] = (t | None, Field(None, description=f.label))
    fields.update(_RECORD_EXTRAS.get(e.name, {}))
    return create_model(name, __base__=_Record, **fields)


PointRecord = _record_model(ENTITIES["point"], "PointRecord")
CompoundRecord = _record_model(ENTITIES["compound"], "CompoundRecord")
BuildingRecord = _record_model(ENTITIES["building"], "BuildingRecord")
GridCellRecord = _record_model(ENTITIES["grid_cell"], "GridCellRecord")
BranchRecord = _record_model(ENTITIES["branch"], "BranchRecord")


P = TypeVar("P", bound=_Record)


class RecordFeature(BaseModel, Generic[P]):
    type: Literal["Feature"]
    crs: OutputCrs | None = Field(None, description="coordinate system of the geometry "
                                                    "(a single record's answer)")
    id: str
    geometry: AnyGeometry | None
    properties: P


class RecordCollection(BaseModel, Generic[P]):
    type: Literal["FeatureCollection"]
    crs: OutputCrs = Field(description="coordinate system of the geometries")
    features: list[RecordFeature[P]]
    numberMatched: int
    numberReturned: int
    limit: int
    offset: int


class EditResponse(BaseModel, Generic[P]):
    """The row after the edit, and what the edit did."""

    action: Literal["create", "update", "move", "delete", "restore", "none"]
    audit_id: int | None = Field(description="id of the audit-log entry (null: nothing changed)")
    feature: RecordFeature[P]
    changed: list[str]
    warnings: list[str]
    invalidated: dict[str, int] = Field(
        description="derived results dropped, e.g. `circles_deleted`, `point_version`")


#: a calendar date: month lengths and the Gregorian leap years (no 02-30, no
#: 2026-02-29), so that every text the pattern admits is a real day
DATE_PATTERN = (r"(?!0000)(\d{4}-((0[13578]|1[02])-(0[1-9]|[12]\d|3[01])"
                r"|(0[469]|11)-(0[1-9]|[12]\d|30)|02-(0[1-9]|1\d|2[0-8]))"
                r"|(\d\d(0[48]|[2468][048]|[13579][26])|([02468][048]|[13579][26])00)-02-29)")
#: an ISO 8601 instant as clients write it: date, ``T``, hours and minutes,
#: optional seconds and fraction, optional offset (``Z``, ``+08:00``)
INSTANT_PATTERN = (r"^" + DATE_PATTERN +
                   r"T([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d{1,6})?)?"
                   r"(Z|[+-]([01]\d|2[0-3]):[0-5]\d)?$")
_INSTANT = re.compile(INSTANT_PATTERN)


def _instant(value: Any) -> Any:
    if not (isinstance(value, str) and _INSTANT.match(value)):
        raise ValueError("应为 ISO 8601 时间，如 2026-12-01T09:30 或 2026-12-01T09:30:00+08:00")
    return value


#: a query's instant: only the ISO 8601 text of ``INSTANT_PATTERN`` (no Unix
#: seconds, no bare dates), as the OpenAPI declares it
Instant = Annotated[datetime, BeforeValidator(_instant), WithJsonSchema({
    "type": "string", "pattern": INSTANT_PATTERN,
    "examples": ["2026-12-01T09:30", "2026-12-01T09:30:00+08:00"]})]


class WhoAmI(BaseModel):
    name: str
    role: Literal["viewer", "planner", "admin"]
    regions: list[str]
    prefix: str | None


# --------------------------------------------------------------------------
# planner: request bodies
# --------------------------------------------------------------------------
Code = Annotated[str, Field(pattern=CODE_PATTERN)]
RegionCode = Annotated[str, Field(pattern=REGION_PATTERN)]
PointKindIn = Annotated[str, Field(
    min_length=1, max_length=100, examples=["station", "党群服务站"],
    description="point kind: " + " | ".join(k.value for k in PointKind)
                + " or its Chinese name (" + vocab.KIND_EXPECTED + ")")]
GridKindIn = Annotated[str, Field(
    min_length=1, max_length=100, examples=["governance", "党建网格"],
    description="grid kind: " + " | ".join(k.value for k in GridKind)
                + " or its Chinese name (" + vocab.GRID_KIND_EXPECTED + ")")]
ServiceIn = Annotated[str, Field(
    min_length=1, max_length=100, examples=["party", "党务"],
    description="service tag: " + " | ".join(k.value for k in Service)
                + " or its Chinese name (" + vocab.SERVICE_EXPECTED + ")")]




class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Located(_Body):
    crs: InputCrs = Field("wgs84", description="coordinate system of `geometry`")


#: Examples of request bodies, by entity.
_EXAMPLES: dict[str, dict[str, Any]] = {
    "point": {
        "code": "LS-NEW-001", "name": "鹤峰社区党群服务站", "kind": "station",
        "region_code": "440605126001", "crs": "gcj02",
        "geometry": {"type": "Point", "coordinates": [113.185, 23.196]},
        "hours_text": "周一至周五 9:00-17:30", "services": ["party", "elderly_care"],
        "phone": "0757-85600001"},
    "compound": {
        "code": "LT-C-NEW", "name": "龙腾新苑", "region_code": "440507013001",
        "households": 320, "population": 900,
        "geometry": {"type": "Polygon", "coordinates": [[[116.7, 23.37], [116.701, 23.37],
                                                         [116.701, 23.371], [116.7, 23.37]]]}},
}
_PRIVATE_MODELS: dict[str, type[BaseModel]] = {"grid_cell": GridCellPrivate,
                                                "branch": BranchPrivate}
_DESCRIPTIONS = {"hours_text": "parsed into `hours` when `hours` is absent"}


def _request_field(e: Entity, f: EntityField) -> tuple[Any, Any]:
    """The request type of a field (shape only: the field rules check the meaning)."""
    doc = f.label + (f"; {_DESCRIPTIONS[f.name]}" if f.name in _DESCRIPTIONS else "")
    if f.kind in ("text", "hours_text", "phone"):
        limit = rules.PHONE_MAX_LEN if f.kind == "phone" else f.max_len
        if f.required:
            return Annotated[str, Field(min_length=1, max_length=limit)], Field(description=doc)
        return str | None, Field(None, max_length=limit, description=doc)
    if f.kind in ("point_kind", "grid_kind"):
        kind_in = PointKindIn if f.kind == "point_kind" else GridKindIn
        if f.required:
            return kind_in, Field(description=doc)
        return kind_in, Field(f.default, description=doc)
    if f.kind == "region":
        return RegionCode, Field(description=doc)
    if f.kind == "services":
        return list[ServiceIn], Field(default_factory=list, max_length=4 * len(Service),
                                      description=doc)
    if f.kind in ("number", "stars"):
        r = rules.RANGES[f.name]
        if r.integer:
            t = integer(r.lo, r.hi)
            if f.default is None:
                return t | None, Field(None, description=doc)
            return t, Field(f.default, description=doc)
        if f.default is None:
            return Number | None, Field(None, ge=r.lo, le=r.hi, description=doc)
        return Number, Field(f.default, ge=r.lo, le=r.hi, description=doc)
    if f.kind == "bool":
        return Boolean, Field(bool(f.default), description=doc)
    if f.kind == "hours":
        return HoursIn | None, Field(None, description=doc)
    if f.kind == "compound":
        return Code | None, Field(None, description=doc)
    if f.kind == "compounds":
        return list[Code], Field(default_factory=list, max_length=1000, description=doc)
    if f.kind == "private":
        return _PRIVATE_MODELS[e.name] | None, Field(None, description=doc)
    raise AssertionError(f"{e.name}.{f.name}: no request type for kind {f.kind!r}")


def _fields_model(e: Entity, name: str) -> type[BaseModel]:
    """The fields of a request body of an entity, from the entity registry; entities
    with a geometry take it (GeoJSON) and its ``crs``."""
    fields: dict[str, Any] = {f.name: _request_field(e, f) for f in e.editable_fields}
    base: type[BaseModel] = _Body
    if e.geometry:
        base = _Located
        fields["geometry"] = (PointGeometryIn if e.geometry == "Point" else AreaGeometryIn,
                              Field(description=f"{e.label}的位置（GeoJSON，坐标系见 crs）"))
    if e.name in _EXAMPLES:
        base = type(f"_{name}Base", (base,), {"model_config": ConfigDict(
            extra="forbid", json_schema_extra={"examples": [_EXAMPLES[e.name]]})})
    return create_model(name, __base__=base, **fields)


PointFields = _fields_model(ENTITIES["point"], "PointFields")
CompoundFields = _fields_model(ENTITIES["compound"], "CompoundFields")
BuildingFields = _fields_model(ENTITIES["building"], "BuildingFields")
GridCellFields = _fields_model(ENTITIES["grid_cell"], "GridCellFields")
BranchFields = _fields_model(ENTITIES["branch"], "BranchFields")


def _with_code(base: type[BaseModel], name: str, *, required: bool) -> type[BaseModel]:
    code: Any = (Code, ...) if required else (Code | None, None)
    return create_model(name, __base__=base, code=code)


def _partial(base: type[BaseModel], name: str) -> type[BaseModel]:
    """The model with every field optional (default None), constraints kept; a
    ``code`` may be given but must be the row's."""
    fields: dict[str, Any] = {"code": (Code | None, Field(None, description="cannot change"))}
    for fname, info in base.model_fields.items():
        f = copy.copy(info)
        f.default, f.default_factory = None, None
        f.annotation = Optional[info.annotation]  # noqa: UP045 - runtime construction
        fields[fname] = (f.annotation, f)
    return create_model(name, __base__=_Body, **fields)


class _GeometryMoveBase(_Body):
    crs: InputCrs = Field("wgs84", description="coordinate system of `geometry`")


class PointMove(_GeometryMoveBase):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "geometry": {"type": "Point", "coordinates": [113.18, 23.2]}, "crs": "wgs84"}]})
    geometry: PointGeometryIn


class AreaMove(_GeometryMoveBase):
    geometry: AreaGeometryIn


PointCreate = _with_code(PointFields, "PointCreate", required=True)
PointReplace = _with_code(PointFields, "PointReplace", required=False)
PointPatch = _partial(PointFields, "PointPatch")
CompoundCreate = _with_code(CompoundFields, "CompoundCreate", required=True)
CompoundReplace = _with_code(CompoundFields, "CompoundReplace", required=False)
CompoundPatch = _partial(CompoundFields, "CompoundPatch")
BuildingCreate = _with_code(BuildingFields, "BuildingCreate", required=True)
BuildingReplace = _with_code(BuildingFields, "BuildingReplace", required=False)
BuildingPatch = _partial(BuildingFields, "BuildingPatch")
GridCellCreate = _with_code(GridCellFields, "GridCellCreate", required=True)
GridCellReplace = _with_code(GridCellFields, "GridCellReplace", required=False)
GridCellPatch = _partial(GridCellFields, "GridCellPatch")
BranchCreate = _with_code(BranchFields, "BranchCreate", required=True)
BranchReplace = _with_code(BranchFields, "BranchReplace", required=False)
BranchPatch = _partial(BranchFields, "BranchPatch")


# --------------------------------------------------------------------------
# the residents' side (api.routes.residents); values are checked again by
# geo.residents with the field rules (Chinese messages naming the field)
# --------------------------------------------------------------------------
_MOBILE = Field(min_length=1, max_length=20, description="the resident's mobile number",
                examples=["13800138000"])
_OTP = Field(min_length=1, max_length=12, description="the one-time code sent to `phone`",
             examples=["204816"])


class CodeRequest(BaseModel):
    """Ask for a one-time code to a mobile number."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"phone": "13800138000", "purpose": "wish"}]})
    phone: str = _MOBILE
    purpose: Literal["wish", "rating", "manage"] = Field(
        description="`wish` (post a wish), `rating` (rate a position), `manage` (accept a "
                    "claimant, confirm, withdraw)")


class WishIn(BaseModel):
    """A wish a resident posts (with a one-time code) or staff enter for a resident."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "title": "希望有人教我用智能手机", "text": "想学会视频通话和挂号", "category": "elderly",
        "point": "MH-P001", "lng": 113.3012, "lat": 23.1365, "name": "陈阿姨",
        "phone": "13800138000", "code": "204816"}]})
    title: str = Field(min_length=1, max_length=200, description="the wish in a few words "
                       "(≤ 60 characters; shown on the wish wall once published)")
    text: str | None = Field(None, max_length=2000, description="details (≤ 500 characters; "
                             "staff and an accepted claimant only)")
    category: str | None = Field(None, max_length=40, description="a category slug or its "
                                 "Chinese label (为老助老, 关爱儿童 ...); default 其他")
    region: str | None = Field(None, pattern=REGION_PATTERN, description="the village "
                               "(division code); or give `point` or the location")
    point: str | None = Field(None, max_length=64, description="the position the wish is "
                              "brought to")
    lng: float | None = Field(None, description="where the help is needed, WGS-84 (kept "
                              "for staff; public answers show only the grid cell)")
    lat: float | None = Field(None, description="WGS-84 latitude")
    name: str | None = Field(None, max_length=100, description="how to address the resident")
    address: str | None = Field(None, max_length=400, description="the resident's address")
    phone: str | None = Field(None, max_length=20, description="the resident's mobile "
                              "(required when a resident posts)")
    code: str | None = Field(None, max_length=12, description="the one-time code sent to "
                             "`phone` (required when a resident posts)")
    kind: str | None = Field(None, max_length=20, description="`wish` or `project` "
                             "(staff only)")
    channel: str | None = Field(None, max_length=40, description="how the wish reached the "
                                "village (staff only; residents' are `online`)")
    budget_yuan: float | None = Field(None, description="a project's amount, yuan "
                                      "(staff only)")


class WishStepIn(BaseModel):
    """One step of the workflow on a wish."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"reason": "与社区服务无关"}, {"claim": 12}, {"score": 5, "phone": "13800138000",
                                                      "code": "204816"}]})
    reason: str | None = Field(None, max_length=400, description="why (a rejection needs it)")
    public_text: str | None = Field(None, max_length=2000, description="`publish`: the text "
                                    "shown on the wall (phones are masked)")
    claim: int | None = Field(None, ge=1, le=2**31 - 1, description="`accept`: the claim "
                              "the resident accepts")
    score: int | None = Field(None, description="`confirm`: the resident's score 1–5")
    phone: str | None = Field(None, max_length=20, description="a resident's step: the "
                              "wish's mobile")
    code: str | None = Field(None, max_length=12, description="a resident's step: the "
                             "one-time code (purpose `manage`)")


class RatingIn(BaseModel):
    """A resident's rating of a position (one per phone, position and period)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"score": 5, "comment": "工作人员很耐心", "phone": "13800138000", "code": "204816"}]})
    score: int = Field(description="1 to 5 stars")
    comment: str | None = Field(None, max_length=1000, description="≤ 200 characters "
                                "(staff only; never shown publicly)")
    phone: str = _MOBILE
    code: str = _OTP


class OrgIn(BaseModel):
    """A party organisation that claims wishes and projects."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "code": "MH-O30", "name": "广州市某局机关党委", "kind": "dual_report",
        "region": "440104013015"}]})
    code: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=200)
    kind: str | None = Field(None, max_length=20, description="branch (党支部, default), "
                             "dual_report (双报到单位党组织) or committee (党委、党总支)")
    region: str = Field(pattern=REGION_PATTERN, description="its village or town")
    branch: str | None = Field(None, max_length=64, description="the party branch it is")


class MemberIn(BaseModel):
    """A party member who claims wishes; name and phone are personal data."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "code": "MH-M0448", "region": "440104013015", "org": "MH-O30", "name": "〔姓名〕",
        "phone": "13800138000"}]})
    code: str = Field(min_length=1, max_length=64)
    region: str = Field(pattern=REGION_PATTERN)
    org: str | None = Field(None, max_length=64, description="the member's organisation")
    name: str | None = Field(None, max_length=100)
    phone: str | None = Field(None, max_length=20)


class ActivityIn(BaseModel):
    """An activity at a position (月月有活动): plan it, then record who came."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "point": "LT-0001", "title": "长者智能手机课堂", "theme": "长者关爱",
        "starts_at": "2026-12-12T09:30:00+08:00", "ends_at": "2026-12-12T11:00:00+08:00",
        "capacity": 40}]})
    point: str | None = Field(None, max_length=64, description="the position holding it")
    title: str | None = Field(None, max_length=400)
    theme: str | None = Field(None, max_length=400)
    starts_at: datetime | None = Field(None, description="ISO 8601; without an offset: "
                                       "Beijing time")
    ends_at: datetime | None = None
    capacity: int | None = Field(None, description="places (none: open)")
    signups: int | None = Field(None, description="people signed up")
    attendance: int | None = Field(None, description="person-times who came (afterwards)")
