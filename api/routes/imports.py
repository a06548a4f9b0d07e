"""``POST /api/v1/imports``: a planner uploads a file; the answer is the import report.

Multipart form fields: ``file`` (the upload: CSV, XLSX, GeoJSON, GeoPackage,
zipped Shapefile, KML), ``kind`` (``points``, ``regions``, ``grids``,
``compounds``, ``buildings``, ``branches``), and optionally ``crs``, ``sheet``,
``dry_run``, ``skip_invalid``, ``fix_swapped``, ``make_valid``, ``trust_crs`` and a
``mapping`` file.  Needs a ``planner`` token; every row must lie in the
token's regions.  The same rules as ``servicemap import`` apply (see
:mod:`geo.io.importer`): one transaction, nothing written when a row is
invalid unless ``skip_invalid``.

Answers: 200 with the report (``rejects_content_base64`` holds the rejected
rows as a file when ``skip_invalid`` dropped some); 422 ``problem+json`` with
``errors`` (every problem: file, sheet, row, column, value, expected, kind)
and the ``report`` when nothing was written.

``POST /api/v1/imports/population``: a town office's table of village census
totals (七普 常住人口) for one ``region`` the token may edit, matched to its
villages and spread over their buildings (:mod:`geo.population`); the same
answers, the report with ``matched``, ``unmatched`` and ``spread``.
"""

# no ``from __future__ import annotations``: FastAPI reads the annotations as objects.

import re
import tempfile
from enum import StrEnum
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, UploadFile
from fastapi.responses import JSONResponse
from sqlalchemy.engine import Connection

from api import examples as ex
from api.auth import forbidden
from api.deps import SettingsDep, get_conn, require_planner
from api.problems import HTTP_TITLES, problem
from geo.errors import ImportRejected
from geo.io.importer import ENTITY_NAMES, ImportOptions, import_file
from geo.population import import_village_population
from geo.tokens import Principal

router = APIRouter(prefix="/api/v1", tags=["imports"])

ImportKind = StrEnum("ImportKind", {name: name for name in ENTITY_NAMES})


def _safe_name(name: str | None, default: str) -> str:
    """The upload's base name, without directories or control characters."""
    base = Path((name or "").replace("\\", "/")).name
    base = re.sub(r"[\x00-\x1f/]", "", base).strip() or default
    return base[:200]


@router.post(
    "/imports", operation_id="import_file",
    summary="Import a planner's file (validated, one transaction); answers the import report",
    description="Multipart upload of `file` (CSV, XLSX, GeoJSON, GeoPackage, zipped Shapefile, "
                "KML) holding `kind` rows; `crs` says its coordinate system (Amap/Tencent "
                "picks: `gcj02`, Baidu: `bd09`), stored as WGS-84; without it the file's hints "
                "(高德 in its title ...) or the points' distances to the streets and buildings "
                "decide, the report's `crs_source`/`crs_reason`/`crs_evidence` say how, and a "
                "`crs` the distances clearly contradict is refused unless `trust_crs`. "
                "Validated and written in one transaction: `dry_run` only checks, "
                "`skip_invalid` writes the valid rows and returns the rejected ones. Needs a "
                "planner token whose regions hold every row (`regions`: admin); 422 with every "
                "problem when nothing was written.",
    responses={200: {"content": {"application/json": {"example": ex.IMPORT_REPORT}}},
               422: {"description": "Nothing written: every problem with its row and column",
                     "content": {"application/problem+json": {}}}})
def create_import(
    principal: Annotated[Principal, Depends(require_planner)],
    conn: Annotated[Connection, Depends(get_conn)],
    settings: SettingsDep,
    file: Annotated[UploadFile, File(description="CSV, XLSX, GeoJSON, GeoPackage, zipped "
                                                 "Shapefile (.zip) or KML")],
    kind: Annotated[ImportKind, Form(description="what the file holds")],
    crs: Annotated[str | None, Form(description="wgs84, gcj02, bd09, cgcs2000, or a projected "
                                                "EPSG:4547 for metres (default: from the file, "
                                                "its hints or the distances to the streets and "
                                                "buildings, else wgs84)")] = None,
    sheet: Annotated[str | None, Form(description="XLSX sheet or GeoPackage layer")] = None,
    dry_run: Annotated[bool, Form(description="validate and count, write nothing")] = False,
    skip_invalid: Annotated[bool, Form(description="write valid rows, return the rejected "
                                                   "ones as a file")] = False,
    fix_swapped: Annotated[bool, Form(description="swap obviously swapped lng/lat")] = False,
    make_valid: Annotated[bool, Form(description="repair invalid polygons")] = False,
    trust_crs: Annotated[bool, Form(description="import in the declared (or hinted) system "
                                                "even when the distances to the streets and "
                                                "buildings clearly say another (a warning "
                                                "instead of a refusal)")] = False,
    mapping: Annotated[UploadFile | None, File(description="mapping file (TOML/JSON)")] = None,
) -> JSONResponse:
    if kind.value == "regions" and not principal.has_role("admin"):
        raise forbidden("行政区划边界只能由管理员（admin）导入：它们决定每个令牌能编辑的地面")
    with tempfile.TemporaryDirectory(prefix="servicemap-import-") as tmp:
        name = _safe_name(file.filename, "upload")
        path = Path(tmp) / name
        path.write_bytes(file.file.read())
        mapping_path = None
        if mapping is not None and mapping.filename:
            mapping_path = Path(tmp) / ("mapping-" + _safe_name(mapping.filename, "mapping.toml"))
            mapping_path.write_bytes(mapping.file.read())
        opts = ImportOptions(crs=crs or None, sheet=sheet or None, mapping=mapping_path,
                             dry_run=dry_run, skip_invalid=skip_invalid, fix_swapped=fix_swapped,
                             make_valid=make_valid, trust_crs=trust_crs, actor=principal.actor,
                             scope=tuple(principal.regions), area=settings.area_box())
        try:
            report = import_file(conn, kind.value, path, name=name, options=opts)
        except ImportRejected as exc:
            body = exc.report.as_dict()
            return problem(422, exc.code, HTTP_TITLES[422], exc.message,
                           errors=body["errors"], report=body)
    return JSONResponse(report.as_dict(include_rejects=True),
                        headers={"Cache-Control": "no-store"})


@router.post(
    "/imports/population", operation_id="import_village_population",
    summary="Import village census totals (七普 常住人口) and spread them over the buildings",
    description="Multipart upload of `file`, a CSV or XLSX table with one row per village or "
                "community of `region` (headers such as 村居名称, 区划代码, 常住人口, 年份; a "
                "title row above them is fine). Rows are matched to the region's villages by "
                "code, else by name (「XX村」 = 「XX村委会」, 「XX社区」 = 「XX社区居委会」); "
                "the totals are stored and spread over each village's residential buildings "
                "in proportion to floor area (whole people, each village adding up to its "
                "total). One transaction: a name no village matches refuses the file unless "
                "`skip_unmatched`; a count that is not a whole number (「约3000」, 「-5」, "
                "empty) always does. Needs a planner token whose regions hold `region`; 422 "
                "with every problem when nothing was written.",
    responses={200: {"content": {"application/json": {"example": ex.POPULATION_IMPORT}}},
               422: {"description": "Nothing written: every problem with its row and column, "
                                    "and the unmatched names",
                     "content": {"application/problem+json": {}}}})
def create_population_import(
    principal: Annotated[Principal, Depends(require_planner)],
    conn: Annotated[Connection, Depends(get_conn)],
    file: Annotated[UploadFile, File(description="CSV or XLSX: 村居名称/区划代码, 常住人口, "
                                                 "年份")],
    region: Annotated[str, Form(pattern=r"^\d{6,12}$", description=(
        "division code of the town (or village) whose villages the rows name"))],
    skip_unmatched: Annotated[bool, Form(description=(
        "store the rows that match a village and report the rest"))] = False,
    year: Annotated[int | None, Form(ge=1949, le=2100, description=(
        "census year of rows without a 年份 column"))] = None,
    sheet: Annotated[str | None, Form(description="XLSX sheet")] = None,
    dry_run: Annotated[bool, Form(description="check and work out, write nothing")] = False,
) -> JSONResponse:
    if not principal.can_edit(region):
        raise forbidden(f"令牌的区域范围（{', '.join(principal.regions)}）不包含 {region}")
    with tempfile.TemporaryDirectory(prefix="servicemap-import-") as tmp:
        name = _safe_name(file.filename, "upload.csv")
        path = Path(tmp) / name
        path.write_bytes(file.file.read())
        try:
            report = import_village_population(
                conn, path, name=name, region=region, skip_unmatched=skip_unmatched,
                year=year, sheet=sheet or None, dry_run=dry_run, actor=principal.actor)
        except ImportRejected as exc:
            body = exc.report.as_dict()
            return problem(422, exc.code, HTTP_TITLES[422], exc.message,
                           errors=body["errors"], report=body)
    return JSONResponse(report.as_dict(), headers={"Cache-Control": "no-store"})
