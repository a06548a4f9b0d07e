"""Backups of the database: ``pg_dump`` custom format, restored in one
transaction (``servicemap backup FILE`` / ``servicemap restore FILE``).

* :func:`backup` dumps the whole database as the owner role (tables, data,
  geometry, triggers, functions) into ``FILE``: written to a temporary file
  beside it, flushed to disk and renamed, so ``FILE`` is either the previous
  backup or a complete new one.
* :func:`restore` replaces the database's contents with a backup's in one
  transaction (``pg_restore --single-transaction --clean``): a failure — a
  damaged or truncated file, a lost connection — leaves the database as it
  was. The extensions are not touched (PostGIS and pgRouting belong to the
  cluster's superuser and must already be installed, as ``servicemap db
  start`` does), nor is PostGIS's ``spatial_ref_sys`` (the product uses only
  the EPSG systems PostGIS ships); ownership and grants are the restoring owner's, and the
  reader's grants are made again. A backup of an older schema is migrated
  to the current one. Every data version is moved past both the backup's and
  the replaced one, so no cache of a running server serves pre-restore data.

``pg_dump``/``pg_restore`` come from the PostgreSQL binaries the cluster
uses (:func:`geo.store.cluster.find_pg_bindir`); the password reaches them
in the environment, never on a command line.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from geo.errors import BackupError, ConfigurationError
from geo.store.cluster import find_pg_bindir

__all__ = ["BackupInfo", "backup", "restore"]


@dataclass(frozen=True)
class BackupInfo:
    """What a backup or a restore did."""

    path: Path
    bytes: int
    tables: int
    rows: int


def _libpq(url: str) -> tuple[list[str], dict[str, str]]:
    """Connection options for the PostgreSQL tools, and the environment
    carrying the password."""
    u = make_url(url)
    args = ["--host", u.host or "127.0.0.1", "--port", str(u.port or 5432),
            "--username", u.username or "", "--dbname", u.database or ""]
    env = dict(os.environ)
    if u.password is not None:
        env["PGPASSWORD"] = str(u.password)
    env["PGCONNECT_TIMEOUT"] = "10"
    return args, env


def _tool(name: str) -> str:
    path = find_pg_bindir() / name
    if not path.exists():
        raise ConfigurationError(f"在 {path.parent} 中未找到与 initdb 配套的 {name}")
    return str(path)


def _counts(url: str) -> tuple[int, int]:
    """Tables of the product and their rows (exact counts)."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            tables = conn.execute(text(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                "AND tableowner = current_user ORDER BY tablename")).scalars().all()
            rows = sum(conn.execute(text(f'SELECT count(*) FROM "{t}"')).scalar_one()
                       for t in tables)
    finally:
        engine.dispose()
    return len(tables), int(rows)


def _fail(what: str, r: subprocess.CompletedProcess) -> BackupError:
    lines = [ln for ln in (r.stderr or "").splitlines() if ln.strip()]
    reason = lines[0] if lines else f"退出状态 {r.returncode}"
    if len(lines) > 1:
        reason += f"（另有 {len(lines) - 1} 行）"
    return BackupError(f"{what}：{reason}")


def backup(url: str, path: Path, *, log: Callable[[str], None] = print) -> BackupInfo:
    """Dump the database at ``url`` into ``path`` (custom format, compressed)."""
    path = Path(path)
    if path.is_dir():
        raise BackupError(f"{path} 是目录，请指定备份文件名")
    path.parent.mkdir(parents=True, exist_ok=True)
    args, env = _libpq(url)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
    os.close(fd)
    try:
        r = subprocess.run([_tool("pg_dump"), *args, "--format=custom", "--compress=6",
                            "--file", tmp], env=env, capture_output=True, text=True)
        if r.returncode != 0:
            raise _fail(f"备份数据库 {make_url(url).database} 失败", r)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    finally:
        Path(tmp).unlink(missing_ok=True)
    tables, rows = _counts(url)
    info = BackupInfo(path, path.stat().st_size, tables, rows)
    log(f"backup written: {path} ({info.bytes / 1e6:.1f} MB; {tables} tables, {rows} rows)")
    return info


def _toc(path: Path) -> str:
    """The backup's table of contents without the extensions (and their
    comments) and PostGIS's own table, which stay the superuser's."""
    r = subprocess.run([_tool("pg_restore"), "--list", str(path)], capture_output=True,
                       text=True)
    if r.returncode != 0:
        raise _fail(f"{path} 不是可读取的备份文件", r)
    kept = []
    for line in r.stdout.splitlines():
        body = line.split(";", 1)[-1]
        if " EXTENSION " in f" {body} " or " spatial_ref_sys " in f" {body} ":
            continue
        kept.append(line)
    return "\n".join(kept) + "\n"


def restore(url: str, path: Path, *, log: Callable[[str], None] = print) -> BackupInfo:
    """Replace the database at ``url`` with the backup in ``path``, in one
    transaction; then migrate it and grant the reader (see module doc)."""
    from geo.store.migrate import upgrade

    path = Path(path)
    if not path.is_file():
        raise BackupError(f"备份文件 {path} 不存在")
    toc = _toc(path)
    before = _versions(url)
    args, env = _libpq(url)
    with tempfile.NamedTemporaryFile("w", suffix=".toc", delete=False) as f:
        f.write(toc)
        listing = f.name
    try:
        r = subprocess.run([_tool("pg_restore"), *args, "--single-transaction", "--clean",
                            "--if-exists", "--no-owner", "--no-acl", "--exit-on-error",
                            "--use-list", listing, str(path)],
                           env=env, capture_output=True, text=True)
    finally:
        os.unlink(listing)
    if r.returncode != 0:
        raise _fail(f"从 {path} 恢复失败，数据库未做任何修改", r)
    upgrade(url)
    _move_versions_past(url, before)
    tables, rows = _counts(url)
    info = BackupInfo(path, path.stat().st_size, tables, rows)
    log(f"restored {path} into {make_url(url).database} ({tables} tables, {rows} rows)")
    return info


def _versions(url: str) -> dict[str, int]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            if conn.execute(text("SELECT to_regclass('public.data_versions')")).scalar() is None:
                return {}
            return {r.name: int(r.version) for r in conn.execute(
                text("SELECT name, version FROM data_versions"))}
    finally:
        engine.dispose()


def _move_versions_past(url: str, before: dict[str, int]) -> None:
    """Every data version above both the restored and the replaced value."""
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            rows = conn.execute(text("SELECT name, version FROM data_versions")).all()
            for name, version in rows:
                conn.execute(text("UPDATE data_versions SET version = :v, changed_at = now() "
                                  "WHERE name = :n"),
                             {"n": name, "v": max(int(version), before.get(name, 0)) + 1})
    finally:
        engine.dispose()
