"""The wish wall page (心愿墙): published wishes and projects of a region, for
residents' phones — no script, large text, no identity.

What it shows comes from :func:`geo.residents.wishes.public_wall` and
:func:`geo.residents.wishes.public_summary` (read by the web's reader role,
which cannot read a resident's name, phone, address, own words or home):
the street's figures (wishes, claimed, claiming members; projects, amounts,
organisations), a filter by category, and the wishes themselves with the
moderated text, village and grid cell, month and number of claimants.
"""

from __future__ import annotations

from html import escape
from typing import Any
from urllib.parse import urlencode

from sqlalchemy.engine import Connection

from geo.residents.wishes import public_summary, public_wall
from geo.vocab import WISH_CATEGORY_ZH
from maps.assets import asset_url
from maps.scope import resolve_scope
from maps.style import BADGE_SYNTHETIC

__all__ = ["wall_html"]

_STATE_CLASS = {"published": "open", "claimed": "claimed", "fulfilled": "done",
                "confirmed": "done"}


def _yuan(v: float) -> str:
    return f"{v:,.1f}".rstrip("0").rstrip(".") if v % 1 else f"{v:,.0f}"


def _figure(n: Any, label: str) -> str:
    return (f'<div class="wl-fig"><b>{escape(str(n))}</b><span>{escape(label)}</span></div>')


def wall_html(conn: Connection, region: str | None, *, category: str | None = None,
              prefix: str = "") -> str:
    """The page of ``region`` (default: the main town), optionally one category."""
    scope = resolve_scope(conn, region)
    wall = public_wall(conn, scope.code, category=category, limit=300)
    s = public_summary(conn, scope.code)
    w, p = s["wishes"], s["projects"]
    here = f"{prefix}/maps/wishes"
    chips = [("", "全部")] + list(WISH_CATEGORY_ZH.items())
    present = {c["category"] for c in s["by_category"]}
    links = []
    for value, label in chips:
        if value and value not in present:
            continue
        q = {"region": scope.code, **({"category": value} if value else {})}
        cur = (category or "") == value
        links.append(f'<a class="wl-chip{" on" if cur else ""}" href="{escape(here)}?'
                     f'{escape(urlencode(q))}"{" aria-current=page" if cur else ""}>'
                     f"{escape(label)}</a>")
    items = []
    for it in wall["items"]:
        place = " · ".join(x for x in (it["region_name"], it["grid_name"]) if x)
        money = (f'<span class="wl-money">金额 ¥{_yuan(it["budget_yuan"])}</span>'
                 if it["budget_yuan"] is not None else "")
        claims = f"已有 {it['claims']} 位党员或党组织认领" if it["claims"] else "等待认领"
        items.append(
            '<li class="wl-item">'
            f'<div class="wl-tags"><span class="wl-kind">{escape(it["kind_zh"])}</span>'
            f'<span class="wl-cat">{escape(it["category_zh"])}</span>'
            f'<span class="wl-state {_STATE_CLASS.get(it["state"], "")}">'
            f'{escape(it["state_zh"])}</span></div>'
            f'<h2 class="wl-title">{escape(it["title"])}</h2>'
            + (f'<p class="wl-text">{escape(it["public_text"])}</p>'
               if it["public_text"] and it["public_text"] != it["title"] else "")
            + f'<p class="wl-meta">{escape(place)}<br>{escape(it["month"])} · '
              f'{escape(claims)} {money}</p></li>')
    empty = ('<p class="wl-empty">这里还没有公开的心愿。</p>' if not items else "")
    badge = (f'<span class="wl-badge">{escape(BADGE_SYNTHETIC)}</span>' if scope.synthetic
             else "")
    resident = f"{prefix}/maps/resident?{urlencode({'region': scope.code})}"
    more = ('<p class="wl-note">只显示最近的 300 条。</p>' if wall["truncated"] else "")
    css = asset_url("wishes.css", prefix)
    title = f"{scope.name}心愿墙"
    return (
        '<!DOCTYPE html>\n<html lang="zh-CN"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1.0">'
        '<link rel="icon" href="data:,">'
        f"<title>{escape(title)}</title>"
        f'<link rel="stylesheet" href="{escape(css)}"></head><body>'
        '<main class="wl" data-ready="1">'
        f'<header class="wl-head"><h1>{escape(title)}</h1>{badge}</header>'
        '<p class="wl-intro">居民点单、村（社区）下单、党员接单：这里是经审核公开的微心愿和微项目。'
        "不显示许愿人的姓名、电话和住址。</p>"
        '<section class="wl-figs" aria-label="心愿统计">'
        + _figure(w["total"], "个微心愿") + _figure(w["claimed"], "个已认领")
        + _figure(w["claimant_members"], "名党员认领")
        + _figure(p["total"], "个微项目") + _figure(f"¥{_yuan(p['budget_yuan'])}", "项目金额")
        + _figure(p["claimant_orgs"], "个党组织认领")
        + "</section>"
        f'<nav class="wl-chips" aria-label="按类别查看">{"".join(links)}</nav>'
        f'<ul class="wl-list">{"".join(items)}</ul>{empty}{more}'
        f'<p class="wl-actions"><a class="wl-btn" href="{escape(resident)}">我也要许愿'
        "（打开服务地图）</a></p>"
        "</main></body></html>")
