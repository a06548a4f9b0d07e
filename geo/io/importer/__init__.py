"""Importing planners' files: validation, coordinate conversion, atomic upsert, report.

:func:`import_file` reads a file (:mod:`geo.io.tables`), maps its columns to
the entity's fields (:mod:`geo.io.columns`, from the registry
:mod:`geo.entities`), validates every row with the field rules
(:func:`geo.rules.check_column`), converts coordinates to WGS-84
(:mod:`geo.crs`), and upserts the valid rows by ``code`` in **one transaction**
(:func:`geo.store.upsert.upsert`),
recording the import in ``audit_log``.  It returns an :class:`ImportReport`
(machine-readable :meth:`ImportReport.as_dict`, Chinese
:meth:`ImportReport.to_text`) or raises :class:`ImportRejected` (an
:class:`geo.errors.InvalidInput` carrying the report) when nothing may be written.

Rules
-----
* File-level problems (unreadable file, missing column, two columns for one
  field, bad mapping file, unknown ``crs``) always reject the whole file.
* A row with an error is *rejected*.  Without ``skip_invalid`` one rejected
  row means nothing is written; with it the valid rows are written and the
  rejected ones (with a ``错误原因`` column) are written to a rejects file.
* ``dry_run`` validates and computes the would-be counts inside a savepoint
  that is rolled back: the database is left exactly as it was.
* Rows are upserted by ``code`` with ``INSERT ... ON CONFLICT (code) DO UPDATE
  ... WHERE <row differs>``: only the fields present in the file are written,
  so importing the same file twice reports ``0 updated / N unchanged``.
  Geometries that differ by less than :data:`GEOMETRY_TOLERANCE_DEG` count as
  the same (a round trip through GCJ-02/BD-09 is exact only to 1e-9 degrees).
  ``service_points.version`` is bumped when a point's location changes.
* Warnings never reject a row: swapped longitude/latitude fixed with
  ``fix_swapped`` (without it a swapped row is an error: a latitude of 113 is
  not storable), points outside their region (or outside every region),
  points within :data:`OVERLAP_DISTANCE_M` of each other or of an existing
  point, opening hours kept as text, invalid polygons repaired with
  ``make_valid``, regions assigned from the location, generated codes.

Coordinates
-----------
Input systems: ``wgs84``, ``gcj02``, ``bd09``, ``cgcs2000`` (see :mod:`geo.crs`;
GCJ-02/BD-09 are inverted iteratively to within 1e-9 degrees, about 0.1 mm,
and CGCS2000 is identical to WGS-84 by definition at this accuracy).  For GIS
files the declared CRS (``.prj``, GeoPackage) is used: projected coordinates
(e.g. CGCS2000 3-degree Gauss-Kruger) are first unprojected to their
geographic CRS with PROJ.  ``crs`` overrides a file declaring EPSG:4326 (a
GeoJSON drawn on Amap is GCJ-02 although it claims WGS-84) but conflicts with
a file declaring CGCS2000 or a projected CRS.  ``crs`` may also name a
projected CRS (``EPSG:4547``) for a file in metres without ``.prj``.

A file that declares nothing is read by its hints (高德 in its title, 百度
in a header ...) or, for points, by the distances to the town's streets and
buildings in each possible system; a declaration (or hint) that those
distances clearly contradict refuses the file unless ``trust_crs``; without
hint or clear evidence it is read as WGS-84 with a warning
(:mod:`geo.io.importer.sniff`).  The report says which system was used and
why (``crs_source``, ``crs_reason``, ``crs_evidence``).

Modules: ``report`` (options and report), ``cells`` (cell texts), ``run`` (one
run's problems and fields through their rules), ``references`` (regions and
compounds), ``geometry`` (coordinate systems, points, polygons), ``sniff``
(hints, evidence and the decision on an input's system), ``assemble``
(rows of each entity), ``scope`` (a token's regions), ``write`` (upsert,
audit, rejects file).
"""

from __future__ import annotations

import time
from pathlib import Path

from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

from geo import crs as crsmod
from geo.entities import entity as entity_of
from geo.entities import importable
from geo.errors import ImportRejected, Problem, TableError
from geo.io.columns import MappingFile, load_mapping, map_columns, score_header
from geo.io.importer.assemble import assemble, required_columns
from geo.io.importer.geometry import OVERLAP_DISTANCE_M, resolve_crs
from geo.io.importer.references import load_regions
from geo.io.importer.report import ImportOptions, ImportReport
from geo.io.importer.run import Run
from geo.io.importer.scope import check_scope
from geo.io.importer.sniff import check_lnglat, prepare_projected, projected_crs, settle_crs
from geo.io.importer.write import audit, rejects, transaction, write
from geo.io.tables import cell_text, normalize_label, read_table
from geo.rules import LAT_RANGE, LNG_RANGE
from geo.store.upsert import GEOMETRY_TOLERANCE_DEG, Upserted

__all__ = [
    "ENTITY_NAMES",
    "GEOMETRY_TOLERANCE_DEG",
    "LAT_RANGE",
    "LNG_RANGE",
    "OVERLAP_DISTANCE_M",
    "ImportOptions",
    "ImportReport",
    "import_file",
]

#: Importable entities (their import keys), in dependency order.
ENTITY_NAMES: tuple[str, ...] = tuple(e.plural for e in importable())
_KML_STYLE = frozenset({"timestamp", "begin", "end", "altitudemode", "tessellate", "extrude",
                        "visibility", "draworder", "icon", "snippet"})


def import_file(conn: Connection, entity: str, path: str | Path, *, name: str | None = None,
                options: ImportOptions | None = None) -> ImportReport:
    """Validate a planner's file and upsert it in one transaction.

    Parameters
    ----------
    conn : sqlalchemy.engine.Connection
        Connection to the ServiceMap database.  Without an open transaction a
        new one is begun and committed; inside the caller's transaction the
        import runs in a savepoint (the caller commits).
    entity : str
        ``points``, ``regions``, ``grids``, ``compounds``, ``buildings``,
        ``branches``, ``orgs`` (party organisations), ``members`` (party
        members; a file's name and mobile columns become personal data) or
        ``activities`` (a position's code, title, start and end).
    path : str or pathlib.Path
        The file: ``.csv``, ``.xlsx``, ``.geojson``/``.json``, ``.gpkg``, ``.shp``
        or zipped shapefile ``.zip``, ``.kml``.
    name : str, optional
        Name shown in messages (an upload's original name); default ``path``'s.
    options : ImportOptions, optional
        Coordinate system, sheet, mapping file, dry run, skip invalid ...

    Returns
    -------
    ImportReport
        Counts, column mapping, warnings and (with ``skip_invalid``) the errors
        of the rejected rows.  Stored geometries are WGS-84 (EPSG:4326).

    Raises
    ------
    ImportRejected
        When nothing was written: a file-level problem, or any row error
        without ``skip_invalid``.  ``exc.report`` holds the full report.
    ValueError
        For an unknown ``entity``.
    """
    t0 = time.perf_counter()
    opts = options or ImportOptions()
    if entity not in ENTITY_NAMES:
        raise ValueError(f"unknown entity {entity!r}; expected one of {', '.join(ENTITY_NAMES)}")
    spec = entity_of(entity)
    shown = name or Path(path).name
    report = ImportReport(file=shown, entity=spec.plural, table=spec.table,
                          dry_run=opts.dry_run)

    def reject() -> ImportRejected:
        report.duration_s = time.perf_counter() - t0
        return ImportRejected(report)

    requested: str | None = None
    projected = None
    if opts.crs:
        try:
            requested = crsmod.normalize_crs_name(opts.crs)
        except ValueError:
            projected = projected_crs(opts.crs)
            if projected is None:
                report.errors.append(Problem(
                    message=f"不认识的坐标系 '{opts.crs}'", file=shown, value=opts.crs,
                    expected="wgs84、gcj02、bd09、cgcs2000，或投影坐标系的 EPSG 代码"
                             "（如 EPSG:4547）", kind="unknown_crs"))
    mapping: MappingFile | None = None
    if opts.mapping is not None:
        mapping, problems = load_mapping(opts.mapping, spec)
        report.errors.extend(problems)
        if mapping and mapping.crs:
            try:
                mapping.crs = crsmod.normalize_crs_name(mapping.crs)
            except ValueError:
                report.errors.append(Problem(
                    message=f"映射文件中的坐标系 '{mapping.crs}' 不认识", file=mapping.path,
                    value=mapping.crs, expected="wgs84、gcj02、bd09 或 cgcs2000",
                    kind="invalid_mapping_file"))
    if report.errors:
        raise reject()
    t_read = time.perf_counter()
    try:
        raw = read_table(path, name=shown, sheet=opts.sheet or (mapping.sheet if mapping else None),
                         score_header=score_header(spec, mapping),
                         header_row=opts.header_row or (mapping.header_row if mapping else None))
    except TableError as exc:
        report.errors.append(exc.problem)
        raise reject() from None
    report.timings["read"] = time.perf_counter() - t_read
    report.format, report.sheet, report.encoding = raw.format, raw.sheet, raw.encoding
    report.header_rows = list(raw.header_rows)
    report.rows_read = len(raw.frame)
    for note in raw.notes:
        report.warnings.append(Problem(message=note, file=shown, sheet=raw.sheet,
                                       kind="read_note"))
    cmap = map_columns([str(c) for c in raw.frame.columns], spec, mapping, file=shown,
                       sheet=raw.sheet)
    # columns that hold nothing (and KML's styling fields) are not worth reporting
    for col in list(cmap.unused):
        blank = all(cell_text(v) is None for v in raw.frame[col].tolist())
        if blank or (raw.format == "kml" and normalize_label(col) in _KML_STYLE):
            cmap.unused.remove(col)
            cmap.ignored.append(col)
    report.columns = cmap.entries
    report.unused_columns = cmap.unused
    report.ignored_columns = cmap.ignored
    report.errors.extend(cmap.problems)
    run = Run(conn, raw, spec, cmap, mapping, opts, report)
    report.errors.extend(required_columns(run))
    if report.errors:
        raise reject()
    if cmap.unused and not spec.keeps_properties:
        report.warnings.append(Problem(
            message=f"未使用的列：{'、'.join(cmap.unused)}（{spec.label}不保存其他属性）",
            file=shown,
            sheet=raw.sheet, kind="unused_columns"))

    with transaction(conn):
        t_check = time.perf_counter()
        if projected is not None:
            requested = prepare_projected(run, projected)
        else:
            check_lnglat(run)
        if report.errors:
            raise reject()
        in_crs = settle_crs(run, resolve_crs(run, requested), projected=projected)
        if report.errors:
            raise reject()
        rows = assemble(run, load_regions(conn), in_crs)
        if opts.scope is not None:
            check_scope(run, rows, opts.scope)
        n_file_errors = sum(1 for p in report.errors if p.row is None)
        report.timings["validate"] = time.perf_counter() - t_check
        report.rows_rejected = int(run.bad.sum())
        report.rows_valid = report.rows_read - report.rows_rejected
        if n_file_errors or (report.rows_rejected and not opts.skip_invalid):
            raise reject()
        keep = ~run.bad
        if report.rows_rejected:
            target = opts.rejects_path
            report.rejects, report.rejects_name = rejects(raw, run, target)
            report.rejects_file = str(target) if target is not None else None
        written = Upserted()
        if keep.any():
            try:
                if opts.dry_run:
                    savepoint = conn.begin_nested()
                    try:
                        written = write(conn, spec, rows, keep, report.timings)
                    finally:
                        savepoint.rollback()
                else:
                    written = write(conn, spec, rows, keep, report.timings)
            except DBAPIError as exc:
                detail = str(getattr(exc, "orig", exc)).strip().splitlines()[0][:300]
                report.errors.append(Problem(
                    message=f"数据库拒绝写入，已全部撤销：{detail}", file=shown, sheet=raw.sheet,
                    kind="database_rejected", expected="符合数据库约束的数据"))
                raise reject() from None
        report.inserted, report.updated = len(written.inserted), len(written.updated)
        moved = written.moved
        if moved:
            verb = "将" if opts.dry_run else "已"
            report.warnings.append(Problem(
                message=f"{len(moved)} 个阵地的位置有变化，版本号{verb}加一，其服务圈{verb}删除、"
                        "需重新计算（servicemap isochrones）",
                file=shown, sheet=raw.sheet, value=len(moved), kind="circles_invalidated"))
        report.unchanged = int(keep.sum()) - report.inserted - report.updated
        if not opts.dry_run:
            report.written = True
            audit(conn, report, opts.actor, written.inserted, written.updated)
    report.duration_s = time.perf_counter() - t0
    return report
