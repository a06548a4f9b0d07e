"""API tokens: roles, region scopes, creation, lookup and revocation.

A token is a random secret (:func:`secrets.token_urlsafe`) shown once when it is
created; the database keeps only its SHA-256 hash and a short prefix by which
operators recognise it in listings.  Each token has one role, ``viewer`` <
``member`` < ``planner`` < ``admin``, and is scoped to one or more division codes: a token
for ``440507013`` (Longteng street) may act on ``440507013`` and every code
below it (``440507013001`` ...), and on nothing else.

A ``member`` token acts for one party member or one party organisation (its
``subject``: ``member:<code>`` or ``org:<code>``): it reads what a viewer
reads and claims and fulfils wishes of its regions (:mod:`geo.residents`).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

from geo.errors import InvalidInput, NotFound, Problem

__all__ = [
    "ROLES",
    "Principal",
    "TokenInfo",
    "authenticate",
    "create_token",
    "hash_secret",
    "list_tokens",
    "region_in_scope",
    "revoke_token",
    "role_at_least",
]

#: Roles in increasing order of power.
ROLES: tuple[str, ...] = ("viewer", "member", "planner", "admin")
ROLE_ZH = {"viewer": "查看者", "member": "党员/党组织（认领心愿）", "planner": "规划编辑",
           "admin": "管理员"}
_SUBJECT_RE = re.compile(r"^(member|org):(\S{1,64})$")

#: Every secret starts with this, so a leaked one is recognisable in logs and scans.
SECRET_PREFIX = "smt_"
#: Characters of the secret kept in clear for listings (prefix included).
SHOWN_CHARS = 12
_REGION_RE = re.compile(r"^\d{2,12}$")
#: ``last_used_at`` is written at most this often per token (seconds).
TOUCH_EVERY_S = 60


def hash_secret(secret: str) -> str:
    """Hex SHA-256 of a token secret (what the database stores)."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def role_at_least(role: str, minimum: str) -> bool:
    """Whether ``role`` is ``minimum`` or more powerful."""
    return ROLES.index(role) >= ROLES.index(minimum)


def region_in_scope(region_code: str | None, scopes: Iterable[str]) -> bool:
    """Whether ``region_code`` is one of ``scopes`` or below one (prefix of the
    hierarchical division code). A row without region is in no scope."""
    if not region_code:
        return False
    return any(region_code.startswith(s) for s in scopes)


@dataclass(frozen=True)
class Principal:
    """Who makes a request: the holder of a valid, unrevoked token."""

    name: str
    role: str
    regions: tuple[str, ...]
    token_id: int | None = None
    prefix: str | None = None
    #: whom a member token acts for: ``member:<code>`` or ``org:<code>``
    subject: str | None = None

    @property
    def actor(self) -> str:
        """How the audit log names this principal."""
        return f"token:{self.prefix}:{self.name}" if self.prefix else self.name

    def has_role(self, minimum: str) -> bool:
        return role_at_least(self.role, minimum)

    def can_read(self, region_code: str | None) -> bool:
        """Any role may read (including personal data for planners) in its scope."""
        return region_in_scope(region_code, self.regions)

    def can_see_private(self, region_code: str | None) -> bool:
        """Personal data (grid workers, party-member households): planners and
        admins of that region only."""
        return self.has_role("planner") and region_in_scope(region_code, self.regions)

    def can_edit(self, region_code: str | None) -> bool:
        """Planners and admins may change rows of their regions (and below)."""
        return self.has_role("planner") and region_in_scope(region_code, self.regions)

    @property
    def claimant(self) -> tuple[str, str] | None:
        """``("member" | "org", code)`` of a member token, else None."""
        m = _SUBJECT_RE.match(self.subject or "")
        return (m.group(1), m.group(2)) if m else None


@dataclass
class TokenInfo:
    """A stored token as listings show it (never the secret)."""

    id: int
    name: str
    role: str
    regions: list[str]
    prefix: str
    note: str | None = None
    created_at: datetime | None = None
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None
    subject: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def active(self) -> bool:
        return self.revoked_at is None


def _validate(name: str, role: str, regions: Sequence[str],
              subject: str | None = None) -> list[str]:
    problems: list[Problem] = []
    if role == "member" and not _SUBJECT_RE.match(subject or ""):
        problems.append(Problem("党员令牌须指明代表的党员或党组织", column="subject",
                                value=subject, expected="member:<党员编号> 或 org:<组织编码>"))
    if role != "member" and subject:
        problems.append(Problem("只有党员令牌（member）代表党员或党组织", column="subject",
                                value=subject, expected="不填"))
    if not name or not name.strip() or len(name) > 200:
        problems.append(Problem("名称不能为空且不超过 200 个字符", column="name", value=name,
                                expected="非空的名称"))
    if role not in ROLES:
        problems.append(Problem("未知角色", column="role", value=role,
                                expected=" | ".join(ROLES)))
    clean: list[str] = []
    if not regions:
        problems.append(Problem("至少需要一个区划代码", column="regions",
                                expected="区划代码，如 440507013"))
    for r in regions:
        r = str(r).strip()
        if not _REGION_RE.match(r):
            problems.append(Problem("区划代码应为 2-12 位数字", column="regions", value=r,
                                    expected="区划代码，如 440507013"))
        elif r not in clean:
            clean.append(r)
    if problems:
        raise InvalidInput("无法创建令牌", problems)
    return clean


def _check_subject(conn: Connection, subject: str, regions: Sequence[str]) -> None:
    """The member or organisation exists and lies in the token's regions."""
    m = _SUBJECT_RE.match(subject)
    assert m is not None
    table, label = ("members", "党员") if m.group(1) == "member" else ("party_orgs", "党组织")
    region = conn.execute(text(
        f"SELECT region_code FROM {table} WHERE code = :c AND deleted_at IS NULL"),
        {"c": m.group(2)}).scalar_one_or_none()
    if region is None:
        raise InvalidInput(f"未找到{label} {m.group(2)!r}", [
            Problem(f"未找到{label}", column="subject", value=subject,
                    expected=f"已登记的{label}编号")])
    if not region_in_scope(region, regions):
        raise InvalidInput(f"{label} {m.group(2)} 属于 {region}，不在令牌的区划内", [
            Problem(f"{label}不在令牌的区划内", column="subject", value=subject,
                    expected="区划: " + "、".join(regions))])


def create_token(conn: Connection, *, name: str, role: str, regions: Sequence[str],
                 note: str | None = None, subject: str | None = None
                 ) -> tuple[str, TokenInfo]:
    """Create a token; returns ``(secret, info)``. The secret is not stored and
    cannot be shown again. A ``member`` token names its ``subject``
    (``member:<code>`` or ``org:<code>``, of its regions). The caller owns the
    transaction."""
    subject = subject.strip() if subject else None
    clean = _validate(name, role, regions, subject)
    if subject:
        _check_subject(conn, subject, clean)
    secret = SECRET_PREFIX + secrets.token_urlsafe(32)
    prefix = secret[:SHOWN_CHARS]
    row = conn.execute(text(
        "INSERT INTO api_tokens (name, note, role, regions, prefix, token_hash, subject) "
        "VALUES (:name, :note, :role, :regions, :prefix, :hash, :subject) "
        "RETURNING id, created_at"),
        {"name": name.strip(), "note": note, "role": role, "regions": clean, "prefix": prefix,
         "hash": hash_secret(secret), "subject": subject}).one()
    return secret, TokenInfo(id=row.id, name=name.strip(), role=role, regions=clean,
                             prefix=prefix, note=note, created_at=row.created_at,
                             subject=subject)


def authenticate(conn: Connection, secret: str) -> Principal | None:
    """The principal of an active token, or None for an unknown or revoked one.

    Records the use (``last_used_at``, at most once a minute per token); the
    caller commits.
    """
    if not secret or len(secret) > 200 or not secret.startswith(SECRET_PREFIX):
        return None
    row = conn.execute(text(
        "SELECT id, name, role, regions, prefix, subject, "
        "       last_used_at IS NULL OR last_used_at < now() - make_interval(secs => :every) "
        "       AS stale "
        "FROM api_tokens WHERE token_hash = :h AND revoked_at IS NULL"),
        {"h": hash_secret(secret), "every": TOUCH_EVERY_S}).one_or_none()
    if row is None:
        return None
    if row.stale:
        conn.execute(text("UPDATE api_tokens SET last_used_at = now() WHERE id = :id"),
                     {"id": row.id})
    return Principal(name=row.name, role=row.role, regions=tuple(row.regions),
                     token_id=row.id, prefix=row.prefix, subject=row.subject)


def _info(row: Any) -> TokenInfo:
    return TokenInfo(id=row.id, name=row.name, role=row.role, regions=list(row.regions),
                     prefix=row.prefix, note=row.note, created_at=row.created_at,
                     last_used_at=row.last_used_at, revoked_at=row.revoked_at,
                     subject=row.subject)


_COLUMNS = ("id, name, note, role, regions, prefix, created_at, last_used_at, revoked_at, "
            "subject")


def list_tokens(conn: Connection, *, include_revoked: bool = False) -> list[TokenInfo]:
    """Stored tokens, oldest first (revoked ones only when asked)."""
    where = "" if include_revoked else "WHERE revoked_at IS NULL"
    rows = conn.execute(text(f"SELECT {_COLUMNS} FROM api_tokens {where} ORDER BY id"))
    return [_info(r) for r in rows]


def revoke_token(conn: Connection, ident: str) -> TokenInfo:
    """Revoke the token with id ``ident`` or whose prefix is ``ident``.

    Raises :class:`NotFound` when none matches and :class:`InvalidInput` when a
    prefix matches several active tokens. Revoking a revoked token is a no-op.
    """
    ident = ident.strip()
    if ident.isdigit():
        rows = conn.execute(text(f"SELECT {_COLUMNS} FROM api_tokens WHERE id = :i"),
                            {"i": int(ident)}).all()
    else:
        rows = conn.execute(text(
            f"SELECT {_COLUMNS} FROM api_tokens WHERE starts_with(prefix, :p) "
            "OR starts_with(:p, prefix) ORDER BY revoked_at NULLS FIRST, id"),
            {"p": ident}).all()
        active = [r for r in rows if r.revoked_at is None]
        if len(active) > 1:
            raise InvalidInput(f"前缀 {ident!r} 对应多个令牌，请用编号", [
                Problem("前缀对应多个令牌", column="token", value=r.prefix) for r in active])
        rows = active or rows[:1]
    if not rows:
        raise NotFound(f"未找到令牌 {ident!r}")
    row = rows[0]
    if row.revoked_at is None:
        conn.execute(text("UPDATE api_tokens SET revoked_at = now() WHERE id = :id"),
                     {"id": row.id})
        row = conn.execute(text(f"SELECT {_COLUMNS} FROM api_tokens WHERE id = :i"),
                           {"i": row.id}).one()
    return _info(row)
