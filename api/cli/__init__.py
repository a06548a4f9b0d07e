"""The ``servicemap`` command: one module per family of sub-commands, each with
``register(subparsers)`` setting ``func(args, settings) -> int``; the shared
helpers (printing, opening the database) are in :mod:`api.cli.common`."""

from __future__ import annotations

import argparse
import sys

from api.cli import (
    coverage,
    db,
    io,
    maps,
    network,
    population,
    province,
    residents,
    tokens,
    town,
    up,
)
from api.settings import Settings
from geo.errors import ServiceMapError

#: the modules adding sub-commands, in the order ``--help`` lists them
COMMANDS = (db, up, town, province, io, network, population, tokens, maps, coverage,
            residents)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="servicemap", description="ServiceMap 党群服务地图")
    sub = p.add_subparsers(dest="command", required=True)
    for module in COMMANDS:
        module.register(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings = Settings()
    try:
        return args.func(args, settings) or 0
    except ServiceMapError as exc:
        print(f"servicemap: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
