"""One-time codes to a resident's phone, through a pluggable sender.

Residents have no accounts: a wish or a rating is submitted with a mobile
number and a six-digit code sent to it (``purpose`` says for what: ``wish``,
``rating`` or ``manage`` — accepting a claimant, confirming, withdrawing). The
database keeps only keyed hashes of phones and codes (:func:`phone_hash`, key
in ``app_secrets``, never readable by the web's reader role); a code lives
``otp_ttl_s`` seconds, is spent after ``otp_attempts`` wrong tries or one
right one, and a phone gets at most ``otp_per_phone_hour`` codes an hour and
one per ``otp_resend_s``.

The sender
    :class:`Sender` is the whole interface of an SMS gateway: ``send(phone,
    message)`` raising on failure. :class:`ConsoleSender` (the default) writes
    the message to the log and keeps it in an in-memory outbox (tests and
    local use read the code there). Set ``SERVICEMAP_OTP_SENDER=module:callable``
    for a gateway: the callable takes the settings and returns a Sender.
"""

from __future__ import annotations

import hashlib
import hmac
import importlib
import logging
import secrets
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

from geo.errors import ConfigurationError, InvalidInput, Problem, RateLimited
from geo.rules import check_mobile

__all__ = ["PURPOSES", "ConsoleSender", "Sender", "WrongCode", "make_sender",
           "normalise_phone", "phone_hash", "phone_hasher", "request_code", "verify_code",
           "with_code"]

T = TypeVar("T")

log = logging.getLogger("servicemap.otp")

PURPOSES = {"wish": "提交心愿", "rating": "评价阵地", "manage": "管理我的心愿"}


class Sender(Protocol):
    """Delivers a text message to a mobile number (an SMS gateway)."""

    def send(self, phone: str, message: str) -> None: ...


@dataclass
class Sent:
    phone: str
    message: str
    code: str


class ConsoleSender:
    """Writes each message to the log (``servicemap.otp``) and keeps the last
    ``keep`` in :attr:`outbox` (newest last)."""

    def __init__(self, keep: int = 200) -> None:
        self.outbox: deque[Sent] = deque(maxlen=keep)

    def send(self, phone: str, message: str) -> None:
        code = "".join(ch for ch in message.split("验证码", 1)[-1][:12] if ch.isdigit())[:6]
        self.outbox.append(Sent(phone, message, code))
        log.warning("one-time code for %s****%s: %s", phone[:3], phone[-4:], message)

    def last_code(self, phone: str) -> str | None:
        """The code last sent to ``phone`` (tests, local use)."""
        for s in reversed(self.outbox):
            if s.phone == phone:
                return s.code
        return None


def make_sender(spec: str, settings: Any = None) -> Sender:
    """The sender named by ``spec``: ``console`` or ``module:callable``."""
    if spec == "console":
        return ConsoleSender()
    module, _, name = spec.partition(":")
    try:
        factory = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError, ValueError) as e:
        raise ConfigurationError(f"SERVICEMAP_OTP_SENDER={spec!r} 无法加载：{e}") from None
    return factory(settings)


def _key(conn: Connection) -> bytes:
    value = conn.execute(text("SELECT value FROM app_secrets WHERE name = 'phone_key'")
                         ).scalar_one_or_none()
    if value is None:
        raise ConfigurationError("数据库缺少 phone_key（请运行 servicemap db migrate）")
    return value.encode()


def _hmac(key: bytes, value: str) -> str:
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()


def phone_hasher(conn: Connection) -> Callable[[str], str]:
    """The keyed hash of normalised mobile numbers, the key read once (bulk loads)."""
    key = _key(conn)
    return lambda phone: _hmac(key, phone)


def phone_hash(conn: Connection, phone: str) -> str:
    """The keyed hash (HMAC-SHA256, hex) of a normalised mobile number."""
    return _hmac(_key(conn), phone)


def normalise_phone(phone: Any, *, field: str = "phone") -> str:
    got, p = check_mobile(phone, field=field)
    if p is not None:
        raise InvalidInput(f"{field}：{p.message}", [p])
    return got


def request_code(conn: Connection, phone: Any, purpose: str, sender: Sender,
                 settings: Any) -> dict[str, Any]:
    """Send a new code to ``phone`` for ``purpose``; the caller commits.

    Raises
    ------
    InvalidInput
        Not a mobile number, unknown purpose.
    RateLimited
        Too soon after the last code, or too many this hour.
    """
    phone = normalise_phone(phone)
    if purpose not in PURPOSES:
        raise InvalidInput("未知的验证码用途", [Problem(
            "未知的用途", column="purpose", value=purpose, expected="、".join(PURPOSES),
            kind="unknown_purpose")])
    key = _key(conn)
    h = _hmac(key, phone)
    # one code request at a time per phone (two at once would both pass the limits)
    conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:h))"), {"h": h})
    row = conn.execute(text(
        "SELECT count(*) AS n, "
        "  max(created_at) AS last, "
        "  extract(epoch FROM now() - max(created_at)) AS since "
        "FROM otp_codes WHERE phone_hash = :h AND created_at > now() - interval '1 hour'"),
        {"h": h}).one()
    if row.n and row.since is not None and row.since < settings.otp_resend_s:
        wait = int(settings.otp_resend_s - row.since) + 1
        raise RateLimited(f"验证码已发送，请 {wait} 秒后再试", retry_after=wait)
    if row.n >= settings.otp_per_phone_hour:
        raise RateLimited("该手机号一小时内获取验证码次数过多，请稍后再试", retry_after=3600)
    code = f"{secrets.randbelow(1_000_000):06d}"
    conn.execute(text(
        "INSERT INTO otp_codes (phone_hash, purpose, code_hash, expires_at) "
        "VALUES (:h, :p, :c, now() + make_interval(secs => :ttl))"),
        {"h": h, "p": purpose, "c": _hmac(key, f"{phone}:{code}"), "ttl": settings.otp_ttl_s})
    minutes = max(1, settings.otp_ttl_s // 60)
    sender.send(phone, f"【服务地图】您正在{PURPOSES[purpose]}，验证码{code}，"
                       f"{minutes}分钟内有效。如非本人操作请忽略。")
    return {"sent": True, "expires_in_s": settings.otp_ttl_s,
            "phone": f"{phone[:3]}****{phone[-4:]}"}


def verify_code(conn: Connection, phone: Any, code: Any, purpose: str,
                settings: Any) -> str:
    """Spend the code sent to ``phone`` for ``purpose``; returns the phone's hash.

    The newest unexpired, unused code counts. A wrong code raises
    :class:`WrongCode`, whose try must outlive the caller's rolled-back
    transaction: :func:`with_code` records it in a transaction of its own.
    Raises :class:`InvalidInput` (``wrong_code``/``expired_code``) naming ``code``.
    """
    phone = normalise_phone(phone)
    c = "" if code is None else str(code).strip()
    if not (len(c) == 6 and c.isdigit()):
        raise InvalidInput("验证码应为 6 位数字", [Problem(
            "验证码格式不对", column="code", value=c[:12], expected="6 位数字",
            kind="invalid_code")])
    key = _key(conn)
    h = _hmac(key, phone)
    row = conn.execute(text(
        "SELECT id, code_hash, attempts FROM otp_codes "
        "WHERE phone_hash = :h AND purpose = :p AND used_at IS NULL AND expires_at > now() "
        "  AND attempts < :max ORDER BY created_at DESC LIMIT 1 FOR UPDATE"),
        {"h": h, "p": purpose, "max": settings.otp_attempts}).one_or_none()
    if row is None:
        raise InvalidInput("验证码已过期或已使用，请重新获取", [Problem(
            "验证码已过期或已使用", column="code", expected="重新获取的验证码",
            kind="expired_code")])
    if not hmac.compare_digest(row.code_hash, _hmac(key, f"{phone}:{c}")):
        left = settings.otp_attempts - row.attempts - 1
        raise WrongCode(f"验证码不正确（还可再试 {left} 次）" if left > 0
                        else "验证码不正确，已失效，请重新获取", otp_id=row.id)
    conn.execute(text("UPDATE otp_codes SET used_at = now() WHERE id = :i"), {"i": row.id})
    return h


class WrongCode(InvalidInput):
    """A wrong code: its try is recorded although the request fails."""

    def __init__(self, message: str, *, otp_id: int) -> None:
        super().__init__(message, [Problem("验证码不正确", column="code",
                                           expected="短信中的 6 位数字", kind="wrong_code")])
        self.otp_id = otp_id


def with_code(engine: Engine, phone: Any, code: Any, purpose: str, settings: Any,
              write: Callable[[Connection, str], T]) -> T:
    """Spend the code and run ``write(conn, phone_hash)`` in one transaction:
    nothing is written with a wrong or expired code, and a right code is
    spent only when the write commits. A wrong try is recorded in a
    transaction of its own."""
    try:
        with engine.begin() as conn:
            return write(conn, verify_code(conn, phone, code, purpose, settings))
    except WrongCode as e:
        with engine.begin() as conn:
            conn.execute(text("UPDATE otp_codes SET attempts = attempts + 1 WHERE id = :i"),
                         {"i": e.otp_id})
        raise
