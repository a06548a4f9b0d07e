"""Planner routes (token): read with personal data, create, update, move,
soft-delete and restore service points, compounds, buildings, grid cells and
party branches.

Reads need a ``viewer`` token; writes a ``planner`` token whose regions hold
the row before and after the edit. Every write is validated like an import,
audited (who, when, before, after) and invalidates what it makes stale.
"""

# no ``from __future__ import annotations``: the routes are built in a loop and
# FastAPI reads their annotations as objects.

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from sqlalchemy.engine import Engine

from api import examples as ex
from api import schemas as s
from api.caching import encode_json
from api.deps import SettingsDep, get_engine, require_planner, require_viewer
from geo import editing
from geo.tokens import Principal

router = APIRouter(prefix="/api/v1", tags=["planner"])

NO_STORE = {"Cache-Control": "no-store"}
PRIVATE = {"Cache-Control": "private, no-store", "Vary": "Authorization"}

Viewer = Annotated[Principal, Depends(require_viewer)]
Planner = Annotated[Principal, Depends(require_planner)]
EngineDep = Annotated[Engine, Depends(get_engine)]
Repair = Annotated[bool, Query(description="repair an invalid polygon with PostGIS "
                                           "`ST_MakeValid` instead of refusing it")]


@dataclass(frozen=True)
class EntityRoutes:
    slug: str        # URL segment: /api/v1/<slug>
    entity: str      # key of geo.editing.ENTITIES
    one: str         # operation id stem (singular)
    many: str        # operation id stem (plural)
    label: str       # Chinese
    create: Any
    replace: Any
    patch: Any
    move: Any        # None: no geometry
    record: Any


ENTITY_ROUTES = (
    EntityRoutes("points", "point", "point", "points", "服务阵地", s.PointCreate, s.PointReplace,
                 s.PointPatch, s.PointMove, s.PointRecord),
    EntityRoutes("compounds", "compound", "compound", "compounds", "住宅小区", s.CompoundCreate,
                 s.CompoundReplace, s.CompoundPatch, s.AreaMove, s.CompoundRecord),
    EntityRoutes("buildings", "building", "building", "buildings", "楼栋", s.BuildingCreate,
                 s.BuildingReplace, s.BuildingPatch, s.AreaMove, s.BuildingRecord),
    EntityRoutes("grid-cells", "grid_cell", "grid_cell", "grid_cells", "网格", s.GridCellCreate,
                 s.GridCellReplace, s.GridCellPatch, s.AreaMove, s.GridCellRecord),
    EntityRoutes("branches", "branch", "branch", "branches", "党支部", s.BranchCreate,
                 s.BranchReplace, s.BranchPatch, None, s.BranchRecord),
)


def _json(content: Any, *, status: int = 200, headers: dict[str, str] | None = None,
          media_type: str = "application/json") -> Response:
    return Response(encode_json(content), status_code=status, media_type=media_type,
                    headers=headers or NO_STORE)


def _drop_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_none(v) for v in value]
    return value


def _dump(body: Any, *, partial: bool) -> dict[str, Any]:
    data = body.model_dump(mode="json", exclude_unset=partial)
    if isinstance(data.get("private"), dict):
        data["private"] = _drop_none(data["private"])
    if isinstance(data.get("geometry"), dict):
        data["geometry"] = _drop_none(data["geometry"])
    return data


def _edited(result: editing.EditResult, *, status: int = 200,
            location: str | None = None) -> Response:
    headers = dict(NO_STORE)
    if location:
        headers["Location"] = location
    return _json({"action": result.action, "audit_id": result.audit_id,
                  "feature": result.feature, "changed": result.changed,
                  "warnings": result.warnings, "invalidated": result.invalidated},
                 status=status, headers=headers)


def _register(e: EntityRoutes) -> None:
    Code = Annotated[str, Path(pattern=s.CODE_PATTERN, description=f"{e.label}编码")]
    Record = e.record
    Create, Replace, Patch, Move = e.create, e.replace, e.patch, e.move
    base = f"/{e.slug}"
    # the English words of the descriptions (the summaries are Chinese)
    noun = e.one.replace("_", " ").replace("branch", "party branch")
    private = ("; personal data (`private`) only for planners and admins of its region"
               if "private" in Record.model_fields else "")
    where = ("" if Move is None else " `geometry` is GeoJSON in the body's `crs` (`wgs84` "
             "default, `gcj02`, `bd09`, `cgcs2000`), stored as WGS-84.")
    circles = "; it loses its stored service circles" if e.entity == "point" else ""

    @router.get(f"/planner{base}", operation_id=f"planner_list_{e.many}",
                response_model=s.RecordCollection[Record],
                summary=f"{e.label}（含个人信息、含已删除，限令牌区划）",
                description=f"Rows ({e.label}) in the token's regions (viewer token), "
                            "optionally below `region`, paged by `limit` (default 100, "
                            "capped at the server's maximum) and `offset`. Personal data "
                            "(`private`) only for planners of the row's region; "
                            "`include_deleted` lists soft-deleted rows too (restorable).",
                responses=ex.answer(ex.record_collection(e.entity, LIST_TOTALS[e.entity])))
    def list_rows(request: Request, principal: Viewer, engine: EngineDep,
                  region: Annotated[str | None, Query(pattern=s.REGION_PATTERN)] = None,
                  include_deleted: bool = False, crs: s.OutputCrs = "wgs84",
                  limit: Annotated[int, Query(ge=1)] = 100,
                  offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0) -> Response:
        limit = min(limit, request.app.state.settings.page_max)
        with engine.connect() as conn:
            features, total = editing.list_entities(
                conn, e.entity, viewer=principal, region=region,
                include_deleted=include_deleted, crs=crs, limit=limit, offset=offset)
        return _json({"type": "FeatureCollection", "crs": crs, "features": features,
                      "numberMatched": total, "numberReturned": len(features),
                      "limit": limit, "offset": offset}, headers=PRIVATE)

    @router.get(f"/planner{base}/{{code}}", operation_id=f"planner_get_{e.one}",
                response_model=s.RecordFeature[Record],
                summary=f"一个{e.label}（含个人信息，限令牌区划）",
                description=f"One {noun} ({e.label}) by its code, with every stored field"
                            f"{'' if Move is None else ' and its geometry in `crs`'}, "
                            "soft-deleted ones too (`deleted_at`). Needs a viewer token "
                            f"whose regions hold the row{private}.",
                responses=ex.answer(ex.record_feature(e.entity)))
    def get_row(code: Code, principal: Viewer, engine: EngineDep,
                crs: s.OutputCrs = "wgs84") -> Response:
        with engine.connect() as conn:
            feature = editing.get_entity(conn, e.entity, code, viewer=principal, crs=crs)
        return _json({"type": feature["type"], "crs": crs,
                      **{k: v for k, v in feature.items() if k != "type"}}, headers=PRIVATE)

    @router.post(base, operation_id=f"create_{e.one}", status_code=201,
                 response_model=s.EditResponse[Record], summary=f"新建{e.label}",
                 description=f"Creates a {noun} ({e.label}) from the body, validated like a "
                             "file import (every problem at once: 422; a taken code: 409) "
                             "and audited; answers 201 with the row and `Location`. Needs a "
                             f"planner token whose regions hold the new row.{where}",
                 responses=ex.answer(ex.edit(e.entity, "create"), status=201))
    def create_row(body: Create, principal: Planner, engine: EngineDep,
                   settings: SettingsDep, repair: Repair = False) -> Response:
        data = _dump(body, partial=False)
        with engine.begin() as conn:
            result = editing.create(conn, e.entity, data, actor=principal, repair=repair,
                                    area=settings.area_box())
        return _edited(result, status=201,
                       location=f"/api/v1/planner{base}/{result.feature['id']}")

    @router.put(f"{base}/{{code}}", operation_id=f"replace_{e.one}",
                response_model=s.EditResponse[Record],
                summary=f"整体替换{e.label}（未给出的字段取默认值）",
                description=f"Replaces every field of the {noun} `code`: fields left out "
                            "take their defaults. Validated and audited like a create; "
                            "`action: none` when nothing changed. Needs a planner token "
                            f"whose regions hold the row before and after.{where}",
                responses=ex.answer(ex.edit(e.entity, "update")))
    def replace_row(code: Code, body: Replace, principal: Planner, engine: EngineDep,
                    settings: SettingsDep, repair: Repair = False) -> Response:
        data = _dump(body, partial=False)
        if data.get("code") is None:
            data.pop("code", None)
        with engine.begin() as conn:
            result = editing.update(conn, e.entity, code, data, actor=principal,
                                    partial=False, repair=repair, area=settings.area_box())
        return _edited(result)

    @router.patch(f"{base}/{{code}}", operation_id=f"update_{e.one}",
                  response_model=s.EditResponse[Record],
                  summary=f"修改{e.label}的部分字段（含几何即为移动）",
                  description=f"Changes only the given fields of the {noun} `code`"
                              f"{'' if Move is None else ' (a `geometry` moves it)'}; "
                              "answers the row after the edit with the `changed` fields and "
                              "`warnings`. Needs a planner token whose regions hold the row "
                              f"before and after the edit.{where}",
                  responses=ex.answer(ex.edit(e.entity, "update")))
    def update_row(code: Code, body: Patch, principal: Planner, engine: EngineDep,
                   settings: SettingsDep, repair: Repair = False) -> Response:
        data = _dump(body, partial=True)
        with engine.begin() as conn:
            result = editing.update(conn, e.entity, code, data, actor=principal,
                                    partial=True, repair=repair, area=settings.area_box())
        return _edited(result)

    if Move is not None:
        @router.put(f"{base}/{{code}}/geometry", operation_id=f"move_{e.one}",
                    response_model=s.EditResponse[Record],
                    summary=f"移动{e.label}（新位置或新边界）",
                    description=(
                        "Moves the point to `geometry` (a GeoJSON Point): bumps its "
                        "`version` and deletes exactly its stored service circles "
                        "(`invalidated`)." if e.entity == "point" else
                        f"Replaces the outline of the {noun} `code` (Polygon or "
                        "MultiPolygon); `repair=true` mends a self-intersecting outline "
                        "with ST_MakeValid instead of refusing it.")
                    + " Needs a planner token whose regions hold the old and the new "
                      f"location.{where}",
                    responses=ex.answer(ex.edit(e.entity, "move")))
        def move_row(code: Code, body: Move, principal: Planner, engine: EngineDep,
                     settings: SettingsDep, repair: Repair = False) -> Response:
            data = _dump(body, partial=False)
            with engine.begin() as conn:
                result = editing.move(conn, e.entity, code, data["geometry"], actor=principal,
                                      crs=data.get("crs"), repair=repair,
                                      area=settings.area_box())
            return _edited(result)

    @router.delete(f"{base}/{{code}}", operation_id=f"delete_{e.one}",
                   response_model=s.EditResponse[Record],
                   summary=f"删除{e.label}（软删除，可恢复）",
                   description=f"Soft-deletes the {noun} `code`: it leaves public answers "
                               "and planner lists (`include_deleted=true` still lists it), "
                               f"keeps its code and can be restored{circles}. Needs a "
                               "planner token whose regions hold it.",
                   responses=ex.answer(ex.edit(e.entity, "delete")))
    def delete_row(code: Code, principal: Planner, engine: EngineDep) -> Response:
        with engine.begin() as conn:
            result = editing.delete(conn, e.entity, code, actor=principal)
        return _edited(result)

    @router.post(f"{base}/{{code}}/restore", operation_id=f"restore_{e.one}",
                 response_model=s.EditResponse[Record], summary=f"恢复已删除的{e.label}",
                 description=f"Brings back the soft-deleted {noun} `code` (audited as "
                             "`restore`): it is in public answers and lists again. Needs a "
                             "planner token whose regions hold it.",
                 responses=ex.answer(ex.edit(e.entity, "restore")))
    def restore_row(code: Code, principal: Planner, engine: EngineDep) -> Response:
        with engine.begin() as conn:
            result = editing.restore(conn, e.entity, code, actor=principal)
        return _edited(result)


#: rows matched in each entity's list example (the Longteng sample; points: Lishui)
LIST_TOTALS = {"point": 170, "compound": 36, "building": 161, "grid_cell": 12, "branch": 6}

for _e in ENTITY_ROUTES:
    _register(_e)


@router.get("/auth/whoami", operation_id="whoami", response_model=s.WhoAmI,
            summary="The token's name, role and regions",
            description="The name, role (`viewer` < `planner` < `admin`) and division codes "
                        "of the token sent (it acts on them and everything below them), and "
                        "its 12-character prefix as `servicemap token list` shows it. Any "
                        "valid token; `Cache-Control: private, no-store`.",
            responses=ex.answer(ex.WHOAMI))
def whoami(principal: Viewer) -> Response:
    return _json({"name": principal.name, "role": principal.role,
                  "regions": list(principal.regions), "prefix": principal.prefix},
                 headers=PRIVATE)
