"""Writing an import: the upsert of the kept rows (:func:`geo.store.upsert.upsert`),
a branch's covered compounds, the population source of buildings whose file
gave their population (``imported``), invalidation of moved points' circles,
the audit entry, and the file of rejected rows."""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from sqlalchemy import text
from sqlalchemy.engine import Connection

from geo.entities import Entity
from geo.io.importer.assemble import Rows
from geo.io.importer.report import ImportReport
from geo.io.importer.run import Run
from geo.io.sheets import Sheet, csv_bytes, xlsx_bytes
from geo.io.tables import RawTable
from geo.store.audit import write_audit
from geo.store.upsert import Upserted, upsert
from geo.store.versions import drop_circles

__all__ = ["AUDIT_MAX_CODES", "audit", "rejects", "transaction", "write"]

#: At most this many codes per action are listed in the audit entry.
AUDIT_MAX_CODES = 1000


def write(conn: Connection, spec: Entity, rows: Rows, keep: np.ndarray,
          timings: dict[str, float]) -> Upserted:
    """Upsert the kept rows; returns the inserted, updated and moved codes.

    Moved service points get ``version + 1`` (in the upsert) and lose their
    stored service circles (:func:`geo.store.versions.drop_circles`), as for a
    single edit.
    """
    idx = np.flatnonzero(keep)
    out = upsert(conn, spec, {c: v[idx] for c, v in rows.values.items()},
                 coalesce=rows.coalesce, timings=timings)
    drop_circles(conn, out.moved)
    if spec.name == "building" and "population" in rows.values:
        changed = _mark_imported_population(conn, rows.values["code"][idx])
        done = set(out.inserted) | set(out.updated)
        out.updated.extend(c for c in changed if c not in done)
    if rows.compound_sets is not None:
        changed = _write_branch_compounds(conn, rows.values["code"][idx], rows.compound_sets[idx])
        done = set(out.inserted) | set(out.updated)
        out.updated.extend(c for c in changed if c not in done)
    return out


def _mark_imported_population(conn: Connection, codes: np.ndarray) -> list[str]:
    """Buildings whose population a planner's file gave (its population column;
    an empty cell is the registry's default 0) record ``population_source =
    'imported'``; returns the codes whose source changed."""
    return [str(c) for c in conn.execute(text(
        "UPDATE buildings SET population_source = 'imported' WHERE code = ANY(:c) "
        "AND population_source IS DISTINCT FROM 'imported' RETURNING code"),
        {"c": [str(c) for c in codes]}).scalars()]


def _write_branch_compounds(conn: Connection, codes: np.ndarray, sets: np.ndarray) -> list[str]:
    wanted = {str(c): set(s or []) for c, s in zip(codes, sets, strict=True)}
    current: dict[str, set[str]] = {c: set() for c in wanted}
    for r in conn.execute(text("SELECT branch_code, compound_code FROM branch_compounds "
                               "WHERE branch_code = ANY(:c)"), {"c": list(wanted)}):
        current[str(r.branch_code)].add(str(r.compound_code))
    changed = []
    for code, want in wanted.items():
        have = current[code]
        if want == have:
            continue
        changed.append(code)
        gone = sorted(have - want)
        if gone:
            conn.execute(text("DELETE FROM branch_compounds WHERE branch_code = :b "
                              "AND compound_code = ANY(:c)"), {"b": code, "c": gone})
        for cc in sorted(want - have):
            conn.execute(text("INSERT INTO branch_compounds (branch_code, compound_code) "
                              "VALUES (:b, :c)"), {"b": code, "c": cc})
    return changed


def audit(conn: Connection, report: ImportReport, actor: str, inserted: list[str],
           updated: list[str]) -> None:
    after = {
        "file": report.file, "sheet": report.sheet, "format": report.format,
        "crs": report.crs, "rows_read": report.rows_read, "rows_rejected": report.rows_rejected,
        "inserted": report.inserted, "updated": report.updated, "unchanged": report.unchanged,
        "inserted_codes": inserted[:AUDIT_MAX_CODES], "updated_codes": updated[:AUDIT_MAX_CODES],
        "codes_truncated": len(inserted) > AUDIT_MAX_CODES or len(updated) > AUDIT_MAX_CODES,
    }
    write_audit(conn, actor=actor, action="import", entity=report.table, after=after)


def rejects(raw: RawTable, run: Run, path: str | Path | None) -> tuple[bytes, str]:
    """The rejected rows, in the input's family of formats, with a 错误原因 column."""
    idx = np.flatnonzero(run.bad)
    frame = raw.frame.iloc[idx].copy()
    frame.insert(0, "原行号", raw.row_numbers[idx])
    frame["错误原因"] = ["；".join(run.reasons.get(int(i), [])) for i in idx]
    stem = Path(raw.file).stem
    if raw.is_gis:
        import geopandas as gpd

        geoms = raw.geometry[idx] if raw.geometry is not None else None
        gdf = gpd.GeoDataFrame(frame.reset_index(drop=True), geometry=list(geoms)
                               if geoms is not None else None, crs=raw.file_crs)
        name = f"{stem}_rejected.geojson"
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / name
            gdf.to_file(out, driver="GeoJSON", engine="pyogrio")
            content = out.read_bytes()
    else:
        sheet = Sheet("被拒绝的行", frame.to_dict("records"),
                      columns=[str(c) for c in frame.columns])
        if raw.format == "xlsx":
            name = f"{stem}_rejected.xlsx"
            content = xlsx_bytes([sheet])
        else:
            name = f"{stem}_rejected.csv"
            content = csv_bytes([sheet], newline="\n")
    if path is not None:
        Path(path).write_bytes(content)
    return content, name


@contextlib.contextmanager
def transaction(conn: Connection) -> Iterator[None]:
    """One transaction: a new one, or a savepoint inside the caller's."""
    if conn.in_transaction():
        with conn.begin_nested():
            yield
    else:
        with conn.begin():
            yield
