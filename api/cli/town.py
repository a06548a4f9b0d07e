"""``servicemap town create``: a real town from public data in one command.

    servicemap town create --region 440605126 --osm guangdong.osm.pbf \\
        --points 阵地.xlsx [--villages 村居.zip] [--population 七普.xlsx] [--bbox W,S,E,N]

In order, each step in its own transaction (a step that fails stops the command
with its one-line error; the steps before it stay, and running the command again
redoes them idempotently):

1. the village boundaries (``--villages``, any format ``import regions`` reads);
2. the town's area: the union of its villages, else its own boundary, else
   ``--bbox`` (a town that is not in the database yet is made from the box);
3. streets (with a halo), buildings and facilities cut out of the extract, streaming;
4. the positions (``--points``; the coordinate system from the file, a hint in it,
   or the evidence of the streets);
5. the census population per village (``--population``) spread over the
   residential buildings;
6. the service circles, then the town's coverage, printed with what could not be
   done (dropped footprints, rejected rows, unmatched village names).

``servicemap up`` runs the same when ``SERVICEMAP_TOWN_OSM`` (and the other
``SERVICEMAP_TOWN_*`` settings) are set and the database holds no positions.
"""

from __future__ import annotations

import sys
from pathlib import Path

from sqlalchemy import text

from api.cli.common import cli_actor, open_engine, say, step
from api.cli.network import parse_bbox, run_circles
from api.settings import Settings
from geo.errors import ImportRejected, InvalidInput, Problem

__all__ = ["create_town", "register"]


def register(sub) -> None:
    town = sub.add_parser("town", help="a real town from public data (OSM extract, "
                                       "positions, village boundaries and population)")
    tsub = town.add_subparsers(dest="town_command", required=True)
    p = tsub.add_parser("create", help="cut the town out of an OSM extract, import its "
                                       "positions, spread population, compute circles "
                                       "and coverage")
    p.add_argument("--region", required=True,
                   help="the town's division code (9 digits), e.g. 440605126")
    p.add_argument("--name", help="the town's name when it is not in the database yet")
    p.add_argument("--osm", required=True, type=Path, help="OSM extract (.osm.pbf, any size)")
    p.add_argument("--points", type=Path, help="the positions (CSV, XLSX, GeoJSON …)")
    p.add_argument("--villages", type=Path, help="village boundaries (SHP zip, GeoJSON …)")
    p.add_argument("--population", type=Path,
                   help="census population per village (XLSX/CSV: 村居名称/区划代码/常住人口)")
    p.add_argument("--bbox", help="W,S,E,N when the town has no boundary in the database")
    p.add_argument("--halo", type=float, default=1000.0,
                   help="streets this many metres around the town too (default 1000)")
    p.add_argument("--crs", help="coordinate system of --points (default: sniffed)")
    p.set_defaults(func=cmd_town_create)


def _region_known(engine, code: str) -> tuple[bool, bool]:
    """Whether the region exists, and whether it (or a child) has a boundary."""
    with engine.connect() as conn:
        row = conn.execute(text("""
            SELECT EXISTS (SELECT 1 FROM regions WHERE code = :c) AS known,
                   EXISTS (SELECT 1 FROM regions WHERE (code = :c OR parent_code = :c)
                                                 AND geom IS NOT NULL) AS bounded"""),
            {"c": code}).one()
    return bool(row.known), bool(row.bounded)


def _town_name(code: str, name: str | None) -> str:
    """The town's name: given, else from the division codes shipped with the
    product (``data/divisions.csv``), else its code."""
    if name:
        return name
    from data.divisions import division_names

    return division_names().get(code, code)


def _town_row(engine, code: str, name: str | None, bbox=None) -> None:
    """The town's own row: without a boundary (its villages will be its area), or
    with the box as its boundary; a box also bounds a town that has none yet."""
    if len(code) != 9 or not code.isdigit():
        raise InvalidInput("区划代码不正确", [Problem(
            "镇街的区划代码应为 9 位数字", column="--region", value=code,
            expected="如 440605126（里水镇）")])
    box = dict(zip(("w", "s", "e", "n"), bbox, strict=True)) if bbox is not None else None
    with engine.begin() as conn:
        conn.execute(text(f"""
            INSERT INTO regions (code, name, level, geom, properties)
            VALUES (:c, :nm, 'town',
                    {"ST_Multi(ST_MakeEnvelope(:w, :s, :e, :n, 4326))" if box else "NULL"},
                    CAST(:p AS jsonb))
            ON CONFLICT (code) DO UPDATE SET geom = EXCLUDED.geom
            WHERE regions.geom IS NULL AND EXCLUDED.geom IS NOT NULL"""),
            {"c": code, "nm": _town_name(code, name),
             "p": '{"source": "bbox"}' if box else "{}", **(box or {})})


def _import(engine, entity: str, path: Path, settings: Settings, crs: str | None = None):
    from geo.io.importer import ImportOptions, import_file

    opts = ImportOptions(crs=crs, actor=cli_actor(None), area=settings.area_box())
    with engine.connect() as conn:
        try:
            report = import_file(conn, entity, path, options=opts)
        except ImportRejected as exc:
            say(exc.report.to_text())
            raise
    say(report.to_text())
    return report


def create_town(engine, settings: Settings, *, region: str, osm: Path,
                points: Path | None = None, villages: Path | None = None,
                population: Path | None = None, bbox=None, name: str | None = None,
                halo_m: float = 1000.0, crs: str | None = None) -> dict:
    """Run the steps of the module docstring; returns what each step did."""
    from geo.coverage import CoverageParams, analyse, reach_coverage
    from geo.io.osm import import_osm

    done: dict = {"region": region}
    known, _ = _region_known(engine, region)
    if villages is not None and not known:
        # the villages name the town as their parent: it comes first (no boundary: its
        # villages are its area)
        _town_row(engine, region, name)
        say(f"    town {region} {_town_name(region, name)} added (its boundary: its villages)")
    if villages is not None:
        with step(f"importing the village boundaries {villages.name}"):
            done["villages"] = _import(engine, "regions", villages, settings).as_dict()
    known, bounded = _region_known(engine, region)
    if not bounded and bbox is None:
        raise InvalidInput(f"区划 {region} 没有边界", [Problem(
            "无法确定要从 OSM 文件中裁剪的范围：请给出村居边界（--villages）或范围框（--bbox）",
            column="--region", value=region, expected="--villages FILE 或 --bbox W,S,E,N")])
    with step(f"cutting the town out of {osm.name}: streets, buildings, facilities"):
        use_bbox = None if bounded else bbox
        done["osm"] = import_osm(engine, osm, region=None if use_bbox else region,
                                 bbox=use_bbox, halo_m=halo_m, default_region=False, log=say)
    if not bounded:
        _town_row(engine, region, name, bbox)
        say(f"    town {region}: its boundary is the box {bbox} (none was loaded)")
    if points is not None:
        with step(f"importing the positions {points.name}"):
            done["points"] = _import(engine, "points", points, settings, crs=crs).as_dict()
    if population is not None:
        with step(f"spreading the census population {population.name}"):
            done["population"] = _spread(engine, population, region)
    with step("computing the service circles"):
        run_circles(engine, settings)
    with engine.connect() as conn:
        params = CoverageParams(minutes=settings.default_minutes,
                                profile=settings.default_profile).validated()
        cov = reach_coverage(analyse(conn, region, params), by_point=False).as_dict()
    t = cov["totals"]
    done["coverage"] = t
    o = done["osm"]
    source = (cov.get("population_source") or {}).get("label_zh", "")
    say(f"==> {t['name']}：{cov['circles']['count']} 个服务圈，覆盖 {t['buildings_covered']} / "
        f"{t['buildings']} 栋建筑，{t['population_covered']} / {t['population']} 人"
        + (f"（{source}）" if source else ""))
    say(f"    OSM：{o['edges']} 条街道，{(o['buildings'] or {}).get('inserted', 0)} 栋新建筑，"
        f"{len(o['repaired'])} 个轮廓已修复，{len(o['dropped'])} 个无法组成轮廓（编号见报告），"
        f"设施 {sum(o['facilities'].values())} 处")
    return done


def _spread(engine, path: Path, region: str) -> dict:
    """The census population per village (one transaction), spread over the town's
    residential buildings by floor area (:mod:`geo.population`)."""
    from geo.population import import_village_population

    with engine.connect() as conn:
        try:
            report = import_village_population(conn, path, region=region,
                                               actor=cli_actor(None))
        except ImportRejected as exc:
            say(exc.report.to_text())
            raise
    say(report.to_text())
    return report.as_dict()


def cmd_town_create(args, settings: Settings) -> int:
    engine = open_engine(settings, migrate=True)
    try:
        create_town(engine, settings, region=args.region, osm=args.osm, points=args.points,
                    villages=args.villages, population=args.population,
                    bbox=parse_bbox(args.bbox), name=args.name, halo_m=args.halo,
                    crs=args.crs)
    except ImportRejected as exc:
        print(f"servicemap: error: {exc.report.file} 未导入（{len(exc.report.errors)} 个错误），"
              "之前的步骤已保存；改正后重新运行即可", file=sys.stderr)
        return 1
    return 0
