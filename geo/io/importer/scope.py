"""Region scope of an import: a token may write only rows of its regions."""

from __future__ import annotations

import numpy as np
from sqlalchemy import text

from geo.io.importer.assemble import Rows
from geo.io.importer.run import Run
from geo.tokens import region_in_scope

__all__ = ["check_scope"]


def check_scope(run: Run, rows: Rows, scope: tuple[str, ...]) -> None:
    """Reject rows whose region (new or stored) lies outside ``scope``."""
    spec = run.spec
    codes = rows.values["code"]
    live = [str(c) for c, b in zip(codes, run.bad, strict=True) if c is not None and not b]
    if spec.region == "self":
        existing = {c: c for c in live}
        new_regions = codes
    elif spec.region == "compound":
        existing = {str(r.code): r.region_code for r in run.conn.execute(text(
            "SELECT b.code, c.region_code FROM buildings b LEFT JOIN compounds c "
            "ON c.code = b.compound_code WHERE b.code = ANY(:c)"), {"c": live})}
        comp = rows.values.get("compound_code")
        lookup: dict[str, str | None] = {}
        if comp is not None:
            wanted = sorted({str(c) for c in comp if c is not None})
            lookup = {str(r.code): r.region_code for r in run.conn.execute(text(
                "SELECT code, region_code FROM compounds WHERE code = ANY(:c)"), {"c": wanted})}
        new_regions = np.array([None if comp is None or comp[i] is None else lookup.get(comp[i])
                                for i in range(run.n)], dtype=object)
    else:
        existing = {str(r.code): r.region_code for r in run.conn.execute(text(
            f'SELECT code, region_code FROM "{spec.table}" WHERE code = ANY(:c)'), {"c": live})}
        new_regions = rows.values.get("region_code", np.full(run.n, None, dtype=object))
    shown = "、".join(scope)
    for i in range(run.n):
        c = codes[i]
        if c is None or run.bad[i]:
            continue
        old = existing.get(str(c))
        new = new_regions[i] if new_regions[i] is not None else old
        if str(c) in existing and not region_in_scope(old, scope):
            run.error(i, None, "forbidden_region",
                      f"的编码 {c} 已属于区划 {old or '（无）'}，不在您的编辑范围（{shown}）内",
                      value=str(c), expected=f"{shown} 及其下级区划中的数据")
        elif not region_in_scope(new, scope):
            run.error(i, None, "forbidden_region",
                      f"的所属区划 {new or '（无法确定）'} 不在您的编辑范围（{shown}）内",
                      value=new, expected=f"{shown} 及其下级区划中的数据")
