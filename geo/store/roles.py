"""Database roles: least privilege.

Three roles, each doing one thing:

* the cluster's **superuser** (``servicemap``, made by ``initdb``) creates the
  database, the PostGIS and pgRouting extensions and the two roles below, and
  hands the database over (:func:`ensure_roles`, :func:`hand_over`). Nothing of
  the product connects as it afterwards.
* **owner** (``servicemap_owner``, no superuser, no CREATEDB/CREATEROLE) owns
  the database, its ``public`` schema and every table, view, sequence and
  function of the product. Migrations run as it, and so do the paths that
  write: the CLI and the planner API.
* **reader** (``servicemap_reader``, every transaction read-only) serves the
  web app's public read paths: anonymous GETs, tiles, pages and the
  nearest-by-walk snapshot. It may ``SELECT`` only, and not what is private:
  not ``api_tokens``, ``audit_log``, ``otp_codes`` or ``app_secrets`` at all,
  and not the columns of personal data (the ``private`` column of every entity
  that has one; a wish's own words, exact location and phone hash; a rating's
  phone hash and comment) or who saved a coverage snapshot
  (:func:`hidden_columns`). A public route that reached for
  them would fail instead of leaking them.

:func:`grant_reader` (run by the owner after every migration, idempotent)
grants the reader exactly that; a database without a reader role (an external
one set up by hand) is left alone.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

from geo.entities import ENTITIES

__all__ = ["HIDDEN_TABLES", "OWNER", "READER", "ensure_roles", "grant_reader",
           "hand_over", "hidden_columns"]

OWNER = "servicemap_owner"
READER = "servicemap_reader"

#: tables the reader may not read at all
HIDDEN_TABLES: tuple[str, ...] = ("api_tokens", "audit_log", "alembic_version", "otp_codes",
                                  "app_secrets")


def hidden_columns() -> dict[str, tuple[str, ...]]:
    """Columns of readable tables the reader may not read: personal data and
    the token that saved a coverage snapshot (its public answer shows a role)."""
    out = {e.table: ("private",) for e in ENTITIES.values() if e.private}
    out["coverage_snapshots"] = ("actor",)
    out["scenarios"] = ("actor",)
    # a wish's own words, exact location (a home), phone hash and who typed it in
    out["wishes"] = ("private", "text", "geom", "phone_hash", "entered_by")
    out["wish_events"] = ("actor", "reason")
    out["ratings"] = ("phone_hash", "comment")
    return out


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def grant_reader(conn: Connection, reader: str = READER) -> bool:
    """Grant ``reader`` ``SELECT`` on the tables of schema ``public`` that the
    current user owns, except :data:`HIDDEN_TABLES` and
    :func:`hidden_columns` (everything else revoked first). Returns False,
    doing nothing, when the role does not exist."""
    if conn.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": reader}).first() \
            is None:
        return False
    hidden = hidden_columns()
    r = _ident(reader)
    conn.execute(text(f"GRANT USAGE ON SCHEMA public TO {r}"))
    tables = conn.execute(text("""
        SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND c.relkind IN ('r', 'v', 'm', 'p')
          AND pg_get_userbyid(c.relowner) = current_user
        ORDER BY c.relname""")).scalars().all()
    for table in tables:
        t = _ident(table)
        conn.execute(text(f"REVOKE ALL ON {t} FROM {r}"))
        if table in HIDDEN_TABLES:
            continue
        if table not in hidden:
            conn.execute(text(f"GRANT SELECT ON {t} TO {r}"))
            continue
        columns = conn.execute(text("""
            SELECT attname FROM pg_attribute
            WHERE attrelid = CAST(:t AS regclass) AND attnum > 0 AND NOT attisdropped
            ORDER BY attnum"""), {"t": f"public.{t}"}).scalars().all()
        visible = [c for c in columns if c not in hidden[table]]
        # column grants: a table-wide REVOKE leaves earlier column grants in place
        conn.execute(text(f"REVOKE SELECT ({', '.join(map(_ident, columns))}) ON {t} "
                          f"FROM {r}"))
        conn.execute(text(f"GRANT SELECT ({', '.join(map(_ident, visible))}) ON {t} TO {r}"))
    return True


# ------------------------------------------------- set up by the superuser
def ensure_roles(admin: Any, *, owner_password: str, reader_password: str) -> None:
    """Create (or reset) the owner and reader roles with these passwords.
    ``admin``: an autocommit psycopg connection of the cluster's superuser."""
    from psycopg import sql

    for role, password in ((OWNER, owner_password), (READER, reader_password)):
        exists = admin.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone()
        verb = sql.SQL("ALTER ROLE" if exists else "CREATE ROLE")
        admin.execute(sql.SQL(
            "{} {} WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION "
            "NOBYPASSRLS PASSWORD {}").format(verb, sql.Identifier(role),
                                              sql.Literal(password)))
    admin.execute(sql.SQL("ALTER ROLE {} SET default_transaction_read_only = on")
                  .format(sql.Identifier(READER)))


def hand_over(admin: Any, db_conn: Any, db_name: str) -> None:
    """Make the owner role own database ``db_name``, its ``public`` schema and
    every object of the product in it (a cluster made before the roles
    existed had them owned by the superuser); let the reader connect.
    ``admin``: the superuser on any database; ``db_conn``: the superuser on
    ``db_name`` (both autocommit psycopg connections)."""
    from psycopg import sql

    owner, reader, db = sql.Identifier(OWNER), sql.Identifier(READER), sql.Identifier(db_name)
    admin.execute(sql.SQL("ALTER DATABASE {} OWNER TO {}").format(db, owner))
    admin.execute(sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(db))
    admin.execute(sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(db, reader))
    db_conn.execute(sql.SQL("ALTER SCHEMA public OWNER TO {}").format(owner))
    # objects of schema public owned by another role and not part of an
    # extension (PostGIS's and pgRouting's stay the superuser's)
    rows = db_conn.execute("""
        SELECT CASE c.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW'
                              WHEN 'S' THEN 'SEQUENCE' ELSE 'TABLE' END, c.relname, NULL
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm', 'S')
          AND pg_get_userbyid(c.relowner) <> %(owner)s
          AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
                          AND d.objid = c.oid AND d.deptype IN ('e', 'a', 'i'))
        UNION ALL
        SELECT 'FUNCTION', p.proname, pg_get_function_identity_arguments(p.oid)
        FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE n.nspname = 'public' AND pg_get_userbyid(p.proowner) <> %(owner)s
          AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass
                          AND d.objid = p.oid AND d.deptype = 'e')
        """, {"owner": OWNER}).fetchall()
    for kind, name, args in rows:
        target = sql.Identifier(name)
        if kind == "FUNCTION":
            target = sql.SQL("{}({})").format(target, sql.SQL(args))
        db_conn.execute(sql.SQL("ALTER {} {} OWNER TO {}").format(sql.SQL(kind), target, owner))
