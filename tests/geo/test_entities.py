"""The entity registry agrees with the migrated schema: every field's column
exists, its server default is the registry's default, and every column of an
entity's table is a field or a column the system manages; import headers name
one field each; labels round-trip through an export header."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import text

from geo.entities import ENTITIES, entity, importable
from geo.vocab import normalize_label

#: columns every table may have that no planner or file sets
MANAGED = {"id", "synthetic", "created_at", "updated_at", "deleted_at", "properties",
           "geom", "version", "source_crs",
           # buildings: what the OSM import reads and the population spreading records
           "osm_type", "osm_id", "building_type", "levels", "height_m", "repair",
           "population_source"}
#: NOT NULL columns without a default that an import derives when a file leaves them out
DERIVED = {("regions", "level")}  # from the length of the division code


def _columns(conn, table: str) -> dict[str, tuple[str | None, bool]]:
    rows = conn.execute(text(
        "SELECT column_name, column_default, is_nullable = 'NO' AS not_null "
        "FROM information_schema.columns WHERE table_name = :t"), {"t": table}).all()
    return {r.column_name: (r.column_default, r.not_null) for r in rows}


def _default_sql(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "'{}'"
    if isinstance(value, dict):
        return "'" + json.dumps(value) + "'"
    if isinstance(value, str):
        return f"'{value}'"
    return str(value)


@pytest.mark.parametrize("name", list(ENTITIES))
def test_registry_matches_the_schema(conn, name):
    e = ENTITIES[name]
    cols = _columns(conn, e.table)
    assert cols, e.table
    fields = {f.column: f for f in e.fields if f.column}
    assert set(fields) <= set(cols), set(fields) - set(cols)
    assert set(cols) - set(fields) <= MANAGED | {"private"}, set(cols) - set(fields) - MANAGED
    for column, f in fields.items():
        default, not_null = cols[column]
        if f.default is not None:
            # the server default says what the registry's default says
            assert default is not None and default.split("::")[0] == _default_sql(f.default), \
                (column, default, f.default)
        stamped = (default or "").startswith("now()")  # a time the server stamps
        if not_null and column != "code" and not f.required and not stamped \
                and (e.table, column) not in DERIVED:
            assert f.default is not None, f"{e.table}.{column} is NOT NULL without a default"
    assert ("deleted_at" in cols) == e.soft_delete
    assert ("updated_at" in cols) == e.updated_at
    assert ("version" in cols) == e.versioned
    assert ("private" in cols) == e.private
    assert ("geom" in cols) == (e.geometry is not None)


def test_every_header_names_one_field_of_its_entity():
    for e in importable():
        seen: dict[str, str] = {}
        for f in e.import_fields:
            for h in f.headers:
                key = normalize_label(h)
                assert seen.setdefault(key, f.import_name) == f.import_name, (e.name, h)


def test_lookups_by_name_key_slug_and_table():
    assert entity("grid_cell") is entity("grids") is entity("grid-cells") is entity("grid_cells")
    assert entity("point").field("rooms").label == "功能室数量"
    # a file's 开放时间 column is the text; the structured hours are the API's
    assert entity("points").import_field("hours").name == "hours_text"
    assert entity("point").field("hours").importable is False
    assert [e.plural for e in importable()] == ["points", "regions", "grids", "compounds",
                                                "buildings", "branches", "orgs", "members",
                                                "activities"]


def test_the_documented_columns_are_the_registry():
    from pathlib import Path

    from geo.entities import columns_markdown

    doc = (Path(__file__).resolve().parents[2] / "docs" / "data-formats.md").read_text(
        encoding="utf-8")
    block = doc.split("<!-- columns:")[1].split("-->", 1)[1].split("<!-- /columns -->")[0]
    assert block.strip() == columns_markdown().strip(), \
        "docs/data-formats.md is out of date: paste `python -m geo.entities` into it"
