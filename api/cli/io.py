"""``servicemap import`` and ``servicemap export``: planners' files in and out.

::

    servicemap import points 里水镇阵地.xlsx --crs gcj02 [--sheet 阵地清单] [--dry-run]
    servicemap import grids 网格.zip                     # CGCS2000 from the .prj
    servicemap import grids 网格.zip --crs EPSG:4547     # the same without .prj
    servicemap import points 阵地.xlsx --trust-crs       # as declared despite the streets
    servicemap import points 阵地.csv --skip-invalid     # rejected rows -> 阵地_rejected.csv
    servicemap import population 常住人口.xlsx --region 440605126 [--skip-unmatched]
    servicemap export points 阵地.xlsx --crs gcj02 --region 440605126

``import`` prints the Chinese report (``--json``: the machine-readable one) and
exits 0 when the file was imported (or validated, with ``--dry-run``), 1 when
nothing was written because of errors.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from api.cli.common import cli_actor, open_engine, say
from api.settings import Settings
from geo.errors import ImportRejected
from geo.io.export import EXPORT_FORMATS, EXPORT_LAYERS, export_layer
from geo.io.importer import ENTITY_NAMES, ImportOptions, ImportReport, import_file


def register(sub) -> None:
    """Add the ``import`` and ``export`` sub-commands."""
    imp = sub.add_parser(
        "import", help="import a planner's file (CSV, XLSX, GeoJSON, GeoPackage, zipped "
                       "Shapefile, KML): validated, in one transaction, with a report")
    imp.add_argument("entity", choices=[*ENTITY_NAMES, "osm", "population"],
                     help="what the file holds (osm: streets, buildings and facilities "
                          "from an .osm.pbf extract of any size; population: village census "
                          "totals, spread over the buildings)")
    imp.add_argument("file", help="the file (.csv .xlsx .geojson .gpkg .zip/.shp .kml)")
    imp.add_argument("--crs", help="coordinate system of the file: wgs84, gcj02 (Amap/Tencent), "
                                   "bd09 (Baidu), cgcs2000, or a projected EPSG:4547 for metres "
                                   "(default: from the file, its hints or the distances to the "
                                   "streets and buildings, else wgs84)")
    imp.add_argument("--trust-crs", action="store_true",
                     help="import in the declared (or hinted) system even when the distances "
                          "to the streets and buildings say another (then only a warning)")
    imp.add_argument("--sheet", help="XLSX sheet, or GeoPackage/zipped-shapefile layer")
    imp.add_argument("--mapping", help="mapping file (TOML/JSON): header -> field, defaults")
    imp.add_argument("--header-row", type=int, help="1-based header row (skips detection)")
    imp.add_argument("--dry-run", action="store_true", help="validate and count, write nothing")
    imp.add_argument("--skip-invalid", action="store_true",
                     help="write the valid rows; rejected rows go to a file")
    imp.add_argument("--rejects", help="where to write rejected rows "
                                       "(default: <file>_rejected.<ext> next to the file)")
    imp.add_argument("--fix-swapped", action="store_true",
                     help="swap longitude and latitude where they are obviously swapped")
    imp.add_argument("--make-valid", action="store_true",
                     help="repair invalid polygons instead of rejecting them")
    imp.add_argument("--actor", help="who imports, for the audit log (default: OS user)")
    imp.add_argument("--json", action="store_true", help="print the report as JSON")
    imp.add_argument("--bbox", help="osm only: cut W,S,E,N (WGS-84 degrees) out of the extract")
    imp.add_argument("--region",
                     help="osm: cut this region's boundary out of the extract (its division "
                          "code; the regions must be imported first); population: the town "
                          "whose villages the table lists")
    imp.add_argument("--halo", type=float, default=1000.0,
                     help="osm only: streets this many metres around the area too (default "
                          "1000: residents at the border walk to the neighbour's station)")
    imp.add_argument("--no-buildings", action="store_true",
                     help="osm only: streets (and facilities) only")
    imp.add_argument("--no-facilities", action="store_true",
                     help="osm only: skip the public facilities")
    imp.add_argument("--dataset", help="osm only: network dataset name (default: file stem)")
    imp.add_argument("--skip-unmatched", action="store_true",
                     help="population only: store the rows that match a village and report "
                          "the rest (default: refuse the file)")
    imp.add_argument("--year", type=int, help="population only: census year of rows "
                                              "without a 年份 (e.g. 2020)")
    imp.set_defaults(func=cmd_import)

    exp = sub.add_parser("export", help="export a layer to CSV, XLSX, GeoJSON or GeoPackage")
    exp.add_argument("layer", choices=EXPORT_LAYERS)
    exp.add_argument("file", help="output file; the extension gives the format")
    exp.add_argument("--format", choices=EXPORT_FORMATS, help="override the extension")
    exp.add_argument("--crs", default="wgs84",
                     help="output coordinate system: wgs84 (default), gcj02, bd09, cgcs2000")
    exp.add_argument("--region", help="division-code prefix, e.g. 440605126 (Lishui)")
    exp.add_argument("--encoding", default="utf-8-sig",
                     help="CSV encoding: utf-8-sig (default, opens in Excel) or gbk")
    exp.add_argument("--minutes", type=float, default=10.0,
                     help="service-circle budget of the coverage layer (default 10)")
    exp.set_defaults(func=cmd_export)


def _print(report: ImportReport, as_json: bool) -> None:
    if as_json:
        say(json.dumps(report.as_dict(), ensure_ascii=False, indent=2))
    else:
        say(report.to_text())


def _save_rejects(report: ImportReport, source: Path) -> None:
    if report.rejects is None or report.rejects_file or not report.rejects_name:
        return
    for folder in (source.parent, Path.cwd()):
        target = folder / report.rejects_name
        try:
            target.write_bytes(report.rejects)
        except OSError:
            continue
        report.rejects_file = str(target)
        return


def cmd_import(args, settings: Settings) -> int:
    """Run ``servicemap import``; 0 when imported (or validated), 1 when refused."""
    if args.entity == "osm":
        from api.cli.network import cmd_import_osm

        return cmd_import_osm(args, settings)
    if args.entity == "population":
        from api.cli.population import cmd_import_population

        return cmd_import_population(args, settings)
    engine = open_engine(settings, migrate=True)
    opts = ImportOptions(crs=args.crs, sheet=args.sheet, mapping=args.mapping,
                         dry_run=args.dry_run, skip_invalid=args.skip_invalid,
                         fix_swapped=args.fix_swapped, make_valid=args.make_valid,
                         actor=cli_actor(args), rejects_path=args.rejects,
                         header_row=args.header_row, area=settings.area_box(),
                         trust_crs=args.trust_crs)
    source = Path(args.file)
    try:
        with engine.connect() as conn:
            report = import_file(conn, args.entity, source, options=opts)
    except ImportRejected as exc:
        _print(exc.report, args.json)
        errors = exc.report.errors
        if len(errors) == 1 and errors[0].row is None:  # one file-level problem: say it
            why = " ".join(errors[0].message.split())
            print(f"servicemap: error: {exc.report.file} 未导入：{why}", file=sys.stderr)
        else:
            print(f"servicemap: error: {exc.report.file} 未导入（{len(errors)} 个错误）",
                  file=sys.stderr)
        return 1
    _save_rejects(report, source)
    _print(report, args.json)
    return 0


def cmd_export(args, settings: Settings) -> int:
    """Run ``servicemap export``."""
    engine = open_engine(settings, start=True)
    with engine.connect() as conn:
        result = export_layer(conn, args.layer, args.file, fmt=args.format, crs=args.crs,
                              region=args.region, encoding=args.encoding, minutes=args.minutes)
    say(f"已导出 {result.rows} 行 {result.layer} 到 {result.path}"
        f"（{result.format.upper()}，坐标系 {result.crs}）")
    for note in result.notes:
        say(f"  注意：{note}")
    return 0
