"""``servicemap population spread`` and ``servicemap import population``: village
census totals (七普 常住人口) and their spread over the buildings.

::

    servicemap import population 里水镇常住人口.xlsx --region 440605126 [--skip-unmatched]
    servicemap population spread [--region 440605126]     # again, e.g. after new buildings

Both print what was done (villages matched, people spread, buildings used,
villages that could not be placed, names that matched no village) and exit 0,
or 1 when nothing was written.
"""

from __future__ import annotations

import json
import sys

from api.cli.common import cli_actor, open_engine, say
from api.settings import Settings
from geo.errors import ImportRejected


def register(sub) -> None:
    """Add the ``population`` sub-commands (``import population`` is in
    :mod:`api.cli.io`)."""
    p = sub.add_parser("population", help="village census totals spread over the buildings")
    ps = p.add_subparsers(dest="population_command", required=True)
    s = ps.add_parser("spread", help="spread the stored village totals over the buildings "
                                     "again (e.g. after new buildings were imported)")
    s.add_argument("--region", help="division code of a town or village (default: every "
                                    "village with a census total)")
    s.add_argument("--dry-run", action="store_true", help="work it out, write nothing")
    s.add_argument("--actor", help="who spreads, for the audit log (default: OS user)")
    s.add_argument("--json", action="store_true", help="print the report as JSON")
    s.set_defaults(func=cmd_spread)


def cmd_spread(args, settings: Settings) -> int:
    """Run ``servicemap population spread``."""
    from geo.population import spread_population

    engine = open_engine(settings, migrate=True)
    with engine.connect() as conn:
        report = spread_population(conn, args.region, actor=cli_actor(args),
                                   dry_run=args.dry_run)
    if args.json:
        say(json.dumps(report.as_dict(), ensure_ascii=False, indent=2))
    else:
        say(report.to_text())
        if args.dry_run:
            say("演练模式（--dry-run）：数据库未做任何修改")
    return 0


def cmd_import_population(args, settings: Settings) -> int:
    """Run ``servicemap import population FILE``: 0 when imported, 1 when refused."""
    from geo.population import import_village_population

    engine = open_engine(settings, migrate=True)
    try:
        with engine.connect() as conn:
            report = import_village_population(
                conn, args.file, region=args.region, skip_unmatched=args.skip_unmatched,
                year=args.year, sheet=args.sheet, header_row=args.header_row,
                dry_run=args.dry_run, actor=cli_actor(args))
    except ImportRejected as exc:
        if args.json:
            say(json.dumps(exc.report.as_dict(), ensure_ascii=False, indent=2, default=str))
        else:
            say(exc.report.to_text())
        print(f"servicemap: error: {exc.message}", file=sys.stderr)
        return 1
    if args.json:
        say(json.dumps(report.as_dict(), ensure_ascii=False, indent=2, default=str))
    else:
        say(report.to_text())
    return 0
