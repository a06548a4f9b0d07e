"""Tokens (hashed, shown once, revocable) and the auth matrix: role × region ×
method. 401 without a valid token, 403 for a missing role or region."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from geo.errors import InvalidInput, NotFound
from geo.tokens import (
    Principal,
    authenticate,
    create_token,
    list_tokens,
    region_in_scope,
    revoke_token,
)
from tests.api.conftest import bearer

pytestmark = pytest.mark.reliability

ROOT = Path(__file__).resolve().parents[2]


# -- geo.tokens ---------------------------------------------------------------
def test_tokens_are_stored_hashed_and_shown_once(conn):
    secret, info = create_token(conn, name="龙腾规划", role="planner", regions=["440507013"])
    assert secret.startswith("smt_") and len(secret) > 40
    stored = conn.execute(text("SELECT * FROM api_tokens WHERE id = :i"), {"i": info.id}).one()
    assert stored.token_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in json.dumps([str(v) for v in stored])
    assert stored.prefix == secret[:12] and stored.regions == ["440507013"]
    assert stored.last_used_at is None
    p = authenticate(conn, secret)
    assert p == Principal(name="龙腾规划", role="planner", regions=("440507013",),
                          token_id=info.id, prefix=info.prefix)
    assert conn.execute(text("SELECT last_used_at FROM api_tokens WHERE id = :i"),
                        {"i": info.id}).scalar_one() is not None
    assert authenticate(conn, secret + "x") is None
    assert authenticate(conn, "") is None
    assert [t.id for t in list_tokens(conn)] == [info.id]
    revoked = revoke_token(conn, info.prefix)
    assert revoked.revoked_at is not None
    assert authenticate(conn, secret) is None
    assert list_tokens(conn) == [] and len(list_tokens(conn, include_revoked=True)) == 1
    with pytest.raises(NotFound):
        revoke_token(conn, "smt_nothing")


def test_token_validation(conn):
    with pytest.raises(InvalidInput) as e:
        create_token(conn, name=" ", role="owner", regions=["abc", "4405"])
    assert {p.column for p in e.value.problems} == {"name", "role", "regions"}
    with pytest.raises(InvalidInput):
        create_token(conn, name="x", role="viewer", regions=[])


def test_region_scope_includes_descendants():
    assert region_in_scope("440507013001", ["440507013"])
    assert region_in_scope("440507013", ["440507013"])
    assert not region_in_scope("440605126004", ["440507013"])
    assert not region_in_scope("440507", ["440507013"])
    assert not region_in_scope(None, ["44"])
    p = Principal(name="x", role="planner", regions=("440507013",))
    assert p.can_edit("440507013005") and not p.can_edit("440605126")
    v = Principal(name="v", role="viewer", regions=("440507013",))
    assert v.can_read("440507013005") and not v.can_edit("440507013005")
    assert not v.can_see_private("440507013005")


# -- the CLI ------------------------------------------------------------------
def test_token_cli_create_list_revoke(db_url, tmp_path, monkeypatch, capsys):
    from api.cli import main

    for k in list(os.environ):
        if k.startswith("SERVICEMAP_"):
            monkeypatch.delenv(k)
    monkeypatch.setenv("SERVICEMAP_DATABASE_URL", db_url)
    monkeypatch.setenv("SERVICEMAP_STATE_DIR", str(tmp_path / "state"))

    def run(*args) -> tuple[int, str, str]:
        code = main(["token", *args])
        out, err = capsys.readouterr()
        return code, out, err

    code, out, _ = run("create", "--role", "planner", "--region", "440507013", "--name",
                       "cli-test", "--json")
    assert code == 0
    made = json.loads(out.strip().splitlines()[0])
    assert made["role"] == "planner" and made["regions"] == ["440507013"]
    secret = made["token"]
    code, out, _ = run("list", "--json")
    assert code == 0 and secret not in out
    rows = [t for t in json.loads(out) if t["name"] == "cli-test"]
    assert rows and rows[0]["prefix"] == made["prefix"] and rows[0]["revoked_at"] is None
    code, out, _ = run("create", "--role", "viewer", "--region", "440605126,440507013")
    assert code == 0 and "shown only once" in out and "smt_" in out
    assert run("list")[1].count("cli-test") == 1
    code, _, err = run("create", "--role", "planner", "--region", "Lishui")
    assert code == 1 and "区划代码" in err and "Traceback" not in err
    code, out, _ = run("revoke", made["prefix"])
    assert code == 0 and "revoked" in out
    assert "cli-test" not in run("list")[1]
    assert "[revoked]" in run("list", "--all")[1]
    code, _, err = run("revoke", "smt_nope")
    assert code == 1 and "Traceback" not in err


def test_token_cli_in_a_subprocess_prints_no_traceback(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("SERVICEMAP_")}
    env.update(SERVICEMAP_DATABASE_URL="postgresql://me:hunter2@127.0.0.1:1/x",
               PYTHONPATH=str(ROOT))
    r = subprocess.run([sys.executable, "-m", "api.cli", "token", "list"], cwd=tmp_path,
                       env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 1 and "Traceback" not in r.stderr and "hunter2" not in r.stderr


# -- the matrix ---------------------------------------------------------------
LT_COMPOUND, LS_COMPOUND = "LT-C0010", "LS-C0001"

#: token -> (may read Longteng, may read Lishui, may write Longteng, may write Lishui)
MATRIX = {
    None: (401, 401, 401, 401),
    "garbage": (401, 401, 401, 401),
    "revoked": (401, 401, 401, 401),
    "longteng_viewer": (200, 403, 403, 403),
    "longteng_planner": (200, 403, 200, 403),
    "lishui_planner": (403, 200, 403, 200),
    "admin": (200, 200, 200, 200),
}


def _headers(tokens, who):
    if who is None:
        return {}
    if who == "garbage":
        return bearer("smt_not-a-token")
    return bearer(tokens[who])


@pytest.mark.parametrize("who", list(MATRIX))
def test_auth_matrix(rw_client, rw_engine, tokens, who):
    h = _headers(tokens, who)
    read_lt, read_ls, write_lt, write_ls = MATRIX[who]
    for code, read, write in ((LT_COMPOUND, read_lt, write_lt), (LS_COMPOUND, read_ls, write_ls)):
        r = rw_client.get(f"/api/v1/planner/compounds/{code}", headers=h)
        assert r.status_code == read, (who, code, "GET", r.text)
        if read == 401:
            assert r.headers["www-authenticate"].startswith("Bearer")
        with rw_engine.connect() as c:
            households, geometry = c.execute(text(
                "SELECT households, ST_AsGeoJSON(geom)::json FROM compounds WHERE code = :c"),
                {"c": code}).one()
        r = rw_client.patch(f"/api/v1/compounds/{code}", headers=h,
                            json={"households": households + 1})
        assert r.status_code == write, (who, code, "PATCH", r.text)
        if write == 200:
            r = rw_client.put(f"/api/v1/compounds/{code}", headers=h, json={
                **{k: v for k, v in r.json()["feature"]["properties"].items()
                   if k in ("name", "region_code", "population")},
                "households": households, "geometry": r.json()["feature"]["geometry"]})
            assert r.status_code == 200, r.text
        r = rw_client.delete(f"/api/v1/compounds/{code}", headers=h)
        assert r.status_code == write, (who, code, "DELETE", r.text)
        r = rw_client.post(f"/api/v1/compounds/{code}/restore", headers=h)
        assert r.status_code == write, (who, code, "restore", r.text)
        r = rw_client.put(f"/api/v1/compounds/{code}/geometry", headers=h,
                          json={"geometry": geometry})
        assert r.status_code == write, (who, code, "move", r.text)
        for resp in (r,):
            assert resp.headers["content-type"].startswith(
                "application/problem+json" if resp.status_code >= 400 else "application/json")
    # create in each town
    for town, region, status in (("LT", "440507013002", write_lt),
                                 ("LS", "440605126004", write_ls)):
        r = rw_client.post("/api/v1/branches", headers=h, json={
            "code": f"{town}-AUTH-{(who or 'none').upper()}", "name": "矩阵测试支部",
            "region_code": region})
        assert r.status_code == (201 if status == 200 else status), (who, town, "POST", r.text)


def test_public_routes_need_no_token_and_ignore_it(rw_client, tokens):
    assert rw_client.get("/api/v1/points", params={"limit": 1}).status_code == 200
    r = rw_client.get("/api/v1/points", params={"limit": 1},
                      headers=bearer(tokens["longteng_viewer"]))
    assert r.status_code == 200


def test_malformed_authorization_header(rw_client):
    r = rw_client.get("/api/v1/auth/whoami", headers={"Authorization": "Basic dTpw"})
    assert r.status_code == 401 and r.json()["type"].endswith("/unauthorized")
    assert r.json()["title"] == "未认证"
