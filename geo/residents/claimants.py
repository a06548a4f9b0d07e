"""Who claims wishes: party organisations (branches, 双报到 units, committees)
and party members, registered by the staff of their region; a member's name
and phone are personal data (``members.private``), never in public answers.
A member token (:mod:`geo.tokens`) then acts for one of them."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

from geo.entities import entity
from geo.errors import Conflict, Forbidden, InvalidInput, NotFound, Problem
from geo.rules import check_mobile, check_text, check_value
from geo.store.audit import write_audit
from geo.tokens import Principal
from geo.vocab import ORG_KIND_ZH

__all__ = ["list_claimants", "save_member", "save_org"]


def _check(name: str, fields: tuple[str, ...], body: dict[str, Any],
           problems: list[Problem]) -> dict[str, Any]:
    spec = entity(name)
    for k in sorted(set(body) - set(fields)):
        problems.append(Problem("未知字段", column=k, expected="、".join(fields),
                                kind="unknown_field"))
    out: dict[str, Any] = {}
    for k in fields:
        fname = {"region": "region_code", "org": "org_code", "branch": "branch_code"}.get(k, k)
        if not spec.has(fname):
            continue
        f = spec.field(fname)
        if f.kind == "region":
            v = body.get(k)
            if v is None:
                problems.append(Problem("不能为空", column=k, expected="村居区划代码",
                                        kind="missing_value"))
            out[fname] = None if v is None else str(v).strip()
            continue
        got, ps = check_value(f, body.get(k))
        problems += [Problem(p.message, column=k, value=p.value, expected=p.expected,
                             kind=p.kind) for p in ps]
        out[fname] = got
    return out


def _region(conn: Connection, code: str | None, principal: Principal) -> None:
    if code is None:
        return
    if conn.execute(text("SELECT 1 FROM regions WHERE code = :c"), {"c": code}).first() is None:
        raise InvalidInput(f"未找到区划 {code}", [Problem(
            "未知区划", column="region", value=code, expected="已登记的村居代码",
            kind="unknown_region")])
    if not principal.can_edit(code):
        raise Forbidden(f"区划 {code} 不在您的权限范围内")


def save_org(conn: Connection, body: dict[str, Any], *, principal: Principal) -> dict[str, Any]:
    """Register a party organisation (``code``, ``name``, ``kind``, ``region``,
    optional ``branch``: its party branch); 409 for a code already used."""
    problems: list[Problem] = []
    v = _check("org", ("code", "name", "kind", "region", "branch"), body, problems)
    if problems:
        raise InvalidInput("党组织未保存：" + "；".join(f"{p.column}：{p.message}"
                                                 for p in problems[:3]), problems)
    _region(conn, v["region_code"], principal)
    if v.get("branch_code") and conn.execute(text(
            "SELECT 1 FROM party_branches WHERE code = :c"), {"c": v["branch_code"]}
    ).first() is None:
        raise InvalidInput("未找到党支部", [Problem("未知党支部", column="branch",
                                                    value=v["branch_code"],
                                                    kind="unknown_branch")])
    hit = conn.execute(text(
        "INSERT INTO party_orgs (code, name, kind, region_code, branch_code) "
        "VALUES (:code, :name, :kind, :region_code, :branch_code) "
        "ON CONFLICT (code) DO NOTHING RETURNING code"), v).first()
    if hit is None:
        raise Conflict(f"组织编码 {v['code']} 已被使用")
    write_audit(conn, actor=principal.actor, action="create", entity="org", code=v["code"],
                after=v)
    return {**v, "kind_zh": ORG_KIND_ZH[v["kind"]]}


def save_member(conn: Connection, body: dict[str, Any], *,
                principal: Principal) -> dict[str, Any]:
    """Register a party member (``code``, ``region``, ``org``; ``name`` and
    ``phone`` kept as personal data); 409 for a code already used."""
    problems: list[Problem] = []
    v = _check("member", ("code", "region", "org", "name", "phone"), body, problems)
    private: dict[str, str] = {}
    name, p = check_text(body.get("name"), field="name", max_len=30)
    if p:
        problems.append(p)
    elif name:
        private["name"] = name
    if body.get("phone") not in (None, ""):
        phone, p = check_mobile(body.get("phone"))
        if p:
            problems.append(p)
        else:
            private["phone"] = phone
    if problems:
        raise InvalidInput("党员未保存：" + "；".join(f"{p.column}：{p.message}"
                                                for p in problems[:3]), problems)
    _region(conn, v["region_code"], principal)
    if v.get("org_code"):
        org = conn.execute(text("SELECT region_code FROM party_orgs WHERE code = :c "
                                "AND deleted_at IS NULL"), {"c": v["org_code"]}).one_or_none()
        if org is None:
            raise InvalidInput("未找到党组织", [Problem("未知党组织", column="org",
                                                        value=v["org_code"],
                                                        kind="unknown_org")])
    hit = conn.execute(text(
        "INSERT INTO members (code, region_code, org_code, private) "
        "VALUES (:code, :region_code, :org_code, CAST(:p AS jsonb)) "
        "ON CONFLICT (code) DO NOTHING RETURNING code"),
        {**v, "p": json.dumps(private, ensure_ascii=False)}).first()
    if hit is None:
        raise Conflict(f"党员编号 {v['code']} 已被使用")
    # the audit log keeps who was registered, not their name or phone
    write_audit(conn, actor=principal.actor, action="create", entity="member", code=v["code"],
                after={"code": v["code"], "region_code": v["region_code"],
                       "org_code": v.get("org_code")})
    return {"code": v["code"], "region_code": v["region_code"], "org_code": v.get("org_code"),
            "private": private}


def list_claimants(conn: Connection, principal: Principal, region: str) -> dict[str, Any]:
    """Organisations and members of ``region`` with their claims and 积分
    (members' names and phones: staff of the region)."""
    if not principal.can_edit(region):
        raise Forbidden(f"区划 {region} 不在您的权限范围内")
    if conn.execute(text("SELECT 1 FROM regions WHERE code = :c"), {"c": region}).first() \
            is None:
        raise NotFound(f"未找到区划 {region}")
    orgs = conn.execute(text("""
        SELECT o.code, o.name, o.kind, o.region_code, o.branch_code,
               count(c.id) AS claims, COALESCE(sum(c.points), 0) AS points
        FROM party_orgs o LEFT JOIN wish_claims c ON c.org_code = o.code
             AND c.withdrawn_at IS NULL
        WHERE starts_with(o.region_code, :r) AND o.deleted_at IS NULL
        GROUP BY o.id ORDER BY o.code"""), {"r": region}).mappings().all()
    members = conn.execute(text("""
        SELECT m.code, m.region_code, m.org_code, m.private,
               count(c.id) AS claims, count(c.fulfilled_at) AS fulfilled,
               COALESCE(sum(c.points), 0) AS points
        FROM members m LEFT JOIN wish_claims c ON c.member_code = m.code
             AND c.withdrawn_at IS NULL
        WHERE starts_with(m.region_code, :r) AND m.deleted_at IS NULL
        GROUP BY m.id ORDER BY m.code"""), {"r": region}).mappings().all()
    return {"region": region,
            "orgs": [{**dict(o), "kind_zh": ORG_KIND_ZH[o["kind"]], "points": int(o["points"])}
                     for o in orgs],
            "members": [{**dict(m), "points": int(m["points"])} for m in members]}
