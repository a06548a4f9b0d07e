"""Loading a generated sample town into PostGIS (``servicemap load-sample``), and
throwaway databases holding samples (benchmarks, demos)."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
from sqlalchemy import text
from sqlalchemy.engine import Engine

from data.sample import Sample
from geo.store.copy import column_or, copy_rows, ewkb_hex
from geo.store.network import write_network
from geo.store.versions import set_meta


def _codes(df) -> list[str]:
    return [str(c) for c in df["code"]]


def _delete_residents(conn, sample: Sample) -> None:
    """Remove the residents' rows this sample replaces (children first)."""
    wishes = _codes(sample.wishes)
    for sql, codes in (
        ("DELETE FROM wish_events WHERE wish_code = ANY(:c)", wishes),
        ("DELETE FROM wish_claims WHERE wish_code = ANY(:c)", wishes),
        ("DELETE FROM wishes WHERE code = ANY(:c)", wishes),
        ("DELETE FROM ratings WHERE point_code = ANY(:c)", _codes(sample.points)),
        ("DELETE FROM activities WHERE code = ANY(:c)", _codes(sample.activities)),
        ("DELETE FROM members WHERE code = ANY(:c)", _codes(sample.members)),
        ("DELETE FROM party_orgs WHERE code = ANY(:c)", _codes(sample.orgs)),
    ):
        if codes:
            conn.execute(text(sql), {"c": codes})


def _write_residents(conn, sample: Sample) -> dict[str, int]:
    """Write the residents' frames; phones are hashed here, in the transaction,
    with the database's key (a rating keeps only the hash, a wish both)."""
    from data.residents import events
    from geo.residents.otp import phone_hasher

    hash_phone = phone_hasher(conn)

    def hashed(phone) -> str | None:
        return hash_phone(phone) if isinstance(phone, str) and phone else None

    counts: dict[str, int] = {}
    o = sample.orgs
    counts["orgs"] = copy_rows(conn, "party_orgs", [
        "code", "name", "kind", "region_code", "branch_code", "synthetic",
    ], zip(o["code"], o["name"], o["kind"], o["region_code"], column_or(o, "branch_code"),
           o["synthetic"], strict=True))
    m = sample.members
    counts["members"] = copy_rows(conn, "members", [
        "code", "region_code", "org_code", "private", "synthetic",
    ], zip(m["code"], m["region_code"], m["org_code"], m["private"], m["synthetic"],
           strict=True))
    w = sample.wishes
    times = ("posted_at", "published_at", "claimed_at", "fulfilled_at", "confirmed_at",
             "closed_at")
    counts["wishes"] = copy_rows(conn, "wishes", [
        "code", "kind", "title", "text", "public_text", "category", "region_code", "point_code",
        "grid_code", "compound_code", "geom", "budget_yuan", "channel", "state",
        "resident_score", "phone_hash", "private", "entered_by", *times, "synthetic",
    ], zip(w["code"], w["kind"], w["title"], w["text"], w["public_text"], w["category"],
           w["region_code"], w["point_code"], w["grid_code"], w["compound_code"],
           ewkb_hex(w.geometry) if len(w) else [], w["budget_yuan"], w["channel"], w["state"],
           w["resident_score"], [hashed((p or {}).get("phone")) for p in w["private"]],
           w["private"], w["entered_by"], *(w[t] for t in times), w["synthetic"],
           strict=True))
    c = sample.claims
    counts["claims"] = copy_rows(conn, "wish_claims", [
        "wish_code", "member_code", "org_code", "claimed_at", "accepted_at", "fulfilled_at",
        "withdrawn_at", "points", "synthetic",
    ], zip(c["wish_code"], c["member_code"], c["org_code"], c["claimed_at"], c["accepted_at"],
           c["fulfilled_at"], c["withdrawn_at"], c["points"], c["synthetic"], strict=True))
    e = events(w, c)
    counts["wish_events"] = copy_rows(conn, "wish_events", list(e.columns),
                                      e.itertuples(index=False, name=None))
    a = sample.activities
    counts["activities"] = copy_rows(conn, "activities", [
        "code", "point_code", "title", "theme", "starts_at", "ends_at", "capacity", "signups",
        "attendance", "synthetic",
    ], zip(a["code"], a["point_code"], a["title"], a["theme"], a["starts_at"], a["ends_at"],
           a["capacity"], a["signups"], a["attendance"], a["synthetic"], strict=True))
    r = sample.ratings
    counts["ratings"] = copy_rows(conn, "ratings", [
        "point_code", "period", "score", "comment", "phone_hash", "created_at", "synthetic",
    ], zip(r["point_code"], r["period"], r["score"], r["comment"],
           [hashed(p) for p in r["phone"]], r["created_at"], r["synthetic"], strict=True))
    return counts



def load_sample(engine: Engine, sample: Sample, *, log: Callable[[str], None] = print) -> dict:
    """Write ``sample`` into the database in one transaction.

    Rows whose codes the sample carries are replaced; the sample's walking
    network replaces the network dataset of the same name. The residents'
    side (organisations, members, wishes with their claims, activities,
    ratings of the sample's positions) is replaced too; phones are hashed here
    with the database's key (:func:`geo.residents.otp.phone_hash`) and every
    step a wish went through becomes a ``wish_events`` row (actor ``sample``).
    Returns counts.
    """
    t0 = time.perf_counter()
    counts: dict[str, int] = {}
    with engine.begin() as conn:
        # -- remove what this sample replaces (children first) -------------
        _delete_residents(conn, sample)
        conn.execute(text("DELETE FROM branch_compounds WHERE branch_code = ANY(:c)"),
                     {"c": list(sample.branches["code"])})
        conn.execute(text("DELETE FROM party_branches WHERE code = ANY(:c)"),
                     {"c": list(sample.branches["code"])})
        conn.execute(text("DELETE FROM service_points WHERE code = ANY(:c)"),
                     {"c": _codes(sample.points)})
        conn.execute(text("DELETE FROM buildings WHERE code = ANY(:c)"),
                     {"c": _codes(sample.buildings)})
        conn.execute(text("DELETE FROM compounds WHERE code = ANY(:c)"),
                     {"c": _codes(sample.compounds)})
        conn.execute(text("DELETE FROM grid_cells WHERE code = ANY(:c)"),
                     {"c": _codes(sample.grids)})
        conn.execute(text("DELETE FROM network_edges WHERE dataset = :d"), {"d": sample.name})
        conn.execute(text("DELETE FROM network_nodes WHERE dataset = :d"), {"d": sample.name})
        conn.execute(text("DELETE FROM water_areas WHERE synthetic AND name LIKE :p"),
                     {"p": f"{sample.name}:%"})
        # regions: upsert (other towns' rows may point at them); a parent outside
        # the sample (the county) is created without geometry when missing.
        known = set(sample.regions["code"])
        for parent in {str(x) for x in sample.regions["parent_code"].dropna()} - known:
            conn.execute(text(
                "INSERT INTO regions (code, name, level, synthetic) VALUES (:c, :n, 'county', "
                "false) ON CONFLICT (code) DO NOTHING"),
                {"c": parent, "n": county_name(parent)})
        regions = sample.regions.sort_values("level", key=lambda s: s.map(
            {"county": 0, "town": 1, "village": 2}))
        for row, geom in zip(regions.itertuples(index=False),
                             ewkb_hex(regions.geometry, multi=True), strict=True):
            conn.execute(text(
                "INSERT INTO regions (code, name, level, parent_code, geom, synthetic) "
                "VALUES (:code, :name, :level, :parent, ST_GeomFromEWKB(decode(:g, 'hex')), :syn) "
                "ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name, level = EXCLUDED.level, "
                "parent_code = EXCLUDED.parent_code, geom = EXCLUDED.geom, "
                "synthetic = EXCLUDED.synthetic, updated_at = now()"),
                {"code": row.code, "name": row.name, "level": row.level,
                 "parent": _parent(row), "g": geom, "syn": bool(sample.synthetic)})
        counts["regions"] = len(regions)
        # parents that are not in the sample (e.g. the county) must exist
        syn = sample.synthetic

        p = sample.points
        counts["points"] = copy_rows(conn, "service_points", [
            "code", "name", "kind", "region_code", "address", "geom", "hours", "hours_text",
            "services", "rooms", "floor_area_m2", "stars", "phone", "source_crs", "synthetic",
        ], zip(p["code"], p["name"], p["kind"], p["region_code"], column_or(p, "address"),
               ewkb_hex(p.geometry), column_or(p, "hours"), column_or(p, "hours_text"),
               column_or(p, "services", []), column_or(p, "rooms"), column_or(p, "floor_area_m2"),
               column_or(p, "stars"), column_or(p, "phone"), ["wgs84"] * len(p), [syn] * len(p),
               strict=True))
        g = sample.grids
        counts["grids"] = copy_rows(conn, "grid_cells", [
            "code", "name", "region_code", "kind", "workers", "has_branch", "geom", "synthetic",
        ], zip(g["code"], g["name"], g["region_code"], g["kind"], g["workers"],
               g["has_branch"], ewkb_hex(g.geometry, multi=True), [syn] * len(g), strict=True))
        c = sample.compounds
        counts["compounds"] = copy_rows(conn, "compounds", [
            "code", "name", "region_code", "households", "population", "geom", "synthetic",
        ], zip(c["code"], c["name"], c["region_code"], c["households"], c["population"],
               ewkb_hex(c.geometry, multi=True), [syn] * len(c), strict=True))
        b = sample.buildings
        # the generator made the population up: its source says so (coverage reports it)
        counts["buildings"] = copy_rows(conn, "buildings", [
            "code", "compound_code", "households", "population", "population_source", "geom",
            "synthetic",
        ], zip(b["code"], b["compound_code"].astype(object).where(b["compound_code"].notna(),
                                                                  None),
               b["households"], b["population"], ["sample"] * len(b),
               ewkb_hex(b.geometry, multi=True), [syn] * len(b), strict=True))
        br = sample.branches
        counts["branches"] = copy_rows(conn, "party_branches", [
            "code", "name", "region_code", "seat_compound_code", "synthetic",
        ], zip(br["code"], br["name"], br["region_code"], column_or(br, "seat_compound_code"),
               [syn] * len(br), strict=True))
        copy_rows(conn, "branch_compounds", ["branch_code", "compound_code"],
                  ((code, cc) for code, ccs in zip(br["code"], br["compound_codes"], strict=True)
                   for cc in ccs))
        counts["network_edges"] = write_network(conn, sample.nodes, sample.edges,
                                                dataset=sample.name)
        counts["network_nodes"] = len(sample.nodes)
        if len(sample.water):
            w = sample.water
            names = column_or(w, "name", "")
            copy_rows(conn, "water_areas", ["name", "geom", "synthetic"],
                      zip([f"{sample.name}:{n}" for n in names],
                          ewkb_hex(w.geometry, multi=True), [syn] * len(w), strict=True))
        # -- the residents' side: organisations, members, wishes, activities, ratings
        t1 = time.perf_counter()
        counts.update(_write_residents(conn, sample))
        residents_s = time.perf_counter() - t1
        set_meta(conn, f"sample:{sample.name}", {"synthetic": bool(syn), "counts": counts})
    log(f"loaded sample {sample.name}: " + ", ".join(f"{k} {v}" for k, v in counts.items())
        + f" ({time.perf_counter() - t0:.1f} s, residents' side {residents_s:.2f} s)")
    return counts


def county_name(code: str) -> str:
    """Name of a division code from the bundled divisions table (the code if unknown)."""
    from data.divisions import division_names

    return division_names().get(code, code)


def _parent(row) -> str | None:
    p = getattr(row, "parent_code", None)
    if p is None or (isinstance(p, float) and np.isnan(p)):
        return None
    return str(p)


def scratch_sample_database(names: tuple[str, ...] = ("lishui",), *,
                            circles_minutes: float | None = None,
                            log: Callable[[str], None] = lambda m: None):
    """A throwaway local cluster holding the named samples (benchmarks, demos).

    Starts a :class:`geo.store.cluster.LocalCluster` in a new temporary directory,
    migrates it, loads each sample and, with ``circles_minutes``, computes the
    elderly-profile service circles. Returns ``(url, cluster)``; call
    ``cluster.destroy()`` when done.
    """
    import tempfile
    from pathlib import Path

    import data
    from geo.store.cluster import LocalCluster
    from geo.store.engine import make_engine
    from geo.store.migrate import upgrade

    state = Path(tempfile.mkdtemp(prefix="servicemap-scratch-"))
    cluster = LocalCluster(state, db_name="servicemap_scratch", log=log)
    cluster.start()
    url = cluster.url()
    upgrade(url)
    engine = make_engine(url)
    try:
        for name in names:
            load_sample(engine, data.generate(name), log=log)
        if circles_minutes is not None:
            from geo.circles import compute_circles

            with engine.begin() as conn:
                compute_circles(conn, [circles_minutes], profile="elderly", log=log)
    finally:
        engine.dispose()
    return url, cluster
