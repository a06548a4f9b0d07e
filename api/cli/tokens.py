"""``servicemap token create|list|revoke``: API tokens for planners and viewers.

    servicemap token create --role planner --region 440507013 --name "龙腾街道规划"
    servicemap token create --role member --region 440104013 --subject member:MH-M0001
    servicemap token list [--all]
    servicemap token revoke <id or prefix>

The secret is printed once by ``create`` and never stored (only its SHA-256
hash and a short prefix are).
"""

from __future__ import annotations

import json

from api.cli.common import open_engine, say
from api.settings import Settings
from geo.io.sheets import text_table
from geo.tokens import ROLES, create_token, list_tokens, revoke_token


def register(sub) -> None:
    p = sub.add_parser("token", help="API tokens (roles viewer < member < planner < admin, "
                                     "scoped to regions)")
    actions = p.add_subparsers(dest="action", required=True)
    c = actions.add_parser("create", help="create a token and print its secret once")
    c.add_argument("--role", required=True, choices=ROLES)
    c.add_argument("--region", action="append", required=True, metavar="CODE",
                   help="division code the token may act on (and everything below it); "
                        "repeat for several")
    c.add_argument("--name", help="who or what holds it (default: role and regions)")
    c.add_argument("--note")
    c.add_argument("--subject", metavar="member:CODE|org:CODE",
                   help="whom a member token acts for: a party member or organisation "
                        "(required with --role member)")
    c.add_argument("--json", action="store_true", help="print JSON")
    c.set_defaults(func=cmd_token_create)
    ls = actions.add_parser("list", help="list tokens (never their secrets)")
    ls.add_argument("--all", action="store_true", help="include revoked tokens")
    ls.add_argument("--json", action="store_true", help="print JSON")
    ls.set_defaults(func=cmd_token_list)
    r = actions.add_parser("revoke", help="revoke a token by id or prefix")
    r.add_argument("token", help="the id or the prefix shown by `token list`")
    r.set_defaults(func=cmd_token_revoke)


def cmd_token_create(args, settings: Settings) -> int:
    from sqlalchemy import text

    engine = open_engine(settings, migrate=True)
    regions = [r.strip() for arg in args.region for r in arg.split(",") if r.strip()]
    name = args.name or f"{args.role}@{','.join(regions)}"
    with engine.begin() as conn:
        secret, info = create_token(conn, name=name, role=args.role, regions=regions,
                                    note=args.note, subject=args.subject)
        known = set(conn.execute(text("SELECT code FROM regions WHERE code = ANY(:c)"),
                                 {"c": info.regions}).scalars())
    if args.json:
        say(json.dumps({"id": info.id, "token": secret, "prefix": info.prefix,
                        "name": info.name, "role": info.role, "regions": info.regions,
                        "subject": info.subject},
                       ensure_ascii=False))
    else:
        say(f"token {info.id} created: {info.name} ({info.role}; regions "
            f"{', '.join(info.regions)})")
        say("")
        say(f"    {secret}")
        say("")
        say("Copy it now: it is shown only once (send it as `Authorization: Bearer <token>`).")
    for code in info.regions:
        if code not in known:
            say(f"warning: region {code} is not in the database (yet)")
    return 0


def cmd_token_list(args, settings: Settings) -> int:
    engine = open_engine(settings, migrate=True)
    with engine.connect() as conn:
        tokens = list_tokens(conn, include_revoked=args.all)
    if args.json:
        say(json.dumps([{
            "id": t.id, "prefix": t.prefix, "name": t.name, "role": t.role,
            "regions": t.regions, "note": t.note,
            "created_at": t.created_at.isoformat() if t.created_at else None,
            "last_used_at": t.last_used_at.isoformat() if t.last_used_at else None,
            "revoked_at": t.revoked_at.isoformat() if t.revoked_at else None,
        } for t in tokens], ensure_ascii=False))
        return 0
    if not tokens:
        say("no tokens")
        return 0
    say(text_table([{
        "id": t.id, "prefix": t.prefix, "role": t.role, "regions": ",".join(t.regions),
        "last used": t.last_used_at.strftime("%Y-%m-%d %H:%M") if t.last_used_at else "never",
        "name": f"{t.name}  [revoked]" if t.revoked_at else t.name,
    } for t in tokens], right=("id",)))
    return 0


def cmd_token_revoke(args, settings: Settings) -> int:
    engine = open_engine(settings, migrate=True)
    with engine.begin() as conn:
        info = revoke_token(conn, args.token)
    say(f"token {info.id} ({info.prefix}, {info.name}) revoked")
    return 0
