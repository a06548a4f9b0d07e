"""What a client reads when a request is refused: Chinese messages for every
field error (pydantic's English replaced by the project's table), the field
named where it was sent (``query.``, ``path.``, ``body.``), and pydantic's
error type kept as ``code`` for programs."""

from __future__ import annotations

import re

import pytest
from starlette.requests import Request

from api.problems import VALIDATION_MESSAGES, problem_errors, validation_error
from geo.errors import Problem

CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.mark.parametrize(("url", "field", "code", "message"), [
    ("/api/v1/nearest?lat=23.2", "query.lng", "missing", "缺少必填项"),
    ("/api/v1/nearest?lng=200&lat=23.2", "query.lng", "less_than_equal", "应小于或等于 180.0"),
    ("/api/v1/nearest?lng=abc&lat=23.2", "query.lng", "float_parsing", "应为数字"),
    ("/api/v1/nearest?lng=113.15&lat=23.2&k=0", "query.k", "greater_than_equal",
     "应大于或等于 1"),
    ("/api/v1/nearest?lng=113.15&lat=23.2&crs=xx", "query.crs", "literal_error",
     "取值应为 'wgs84'、'gcj02'、'bd09' 之一"),
    ("/api/v1/coverage?region=440605126&rule=nope", "query.rule", "literal_error",
     "取值应为 'centroid'、'intersects'、'within' 之一"),
    ("/maps/static.png?width=10", "query.width", "greater_than_equal", "应大于或等于 400"),
    ("/api/v1/nearest?lng=113.15&lat=23.2&regoin=1", "query.regoin", "extra_forbidden",
     "未知的查询参数"),
])
def test_field_errors_are_chinese_and_name_their_field(rw_client, url, field, code, message):
    r = rw_client.get(url)
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["title"] == "请求参数不正确" and CJK.search(body["detail"])
    errors = [e for e in body["errors"] if e["field"] == field]
    assert errors, body
    assert errors[0]["code"] == code and errors[0]["message"] == message
    assert "Input should" not in r.text and "Field required" not in r.text


def test_a_body_error_names_the_body_and_a_missing_value_is_null(rw_client):
    r = rw_client.post("/api/v1/isochrones", json={"lng": "x"})
    assert r.status_code == 422
    errors = {e["field"]: e for e in r.json()["errors"]}
    assert errors["body.lng"]["message"] == "应为数字" and errors["body.lng"]["value"] == "x"
    assert errors["body.lat"]["message"] == "缺少必填项" and errors["body.lat"]["value"] is None


def test_a_tile_address_problem_names_the_path(rw_client):
    r = rw_client.get("/tiles/circles/40/1/1.png")
    assert r.status_code == 422
    assert [e["field"] for e in r.json()["errors"]] == ["path.z"]
    r = rw_client.get("/tiles/circles/3/100/1.png")
    assert [e["field"] for e in r.json()["errors"]] == ["path.x"]


def _request(method: str, query: str = "", path_params: dict | None = None) -> Request:
    return Request({"type": "http", "method": method, "path": "/x", "headers": [],
                    "query_string": query.encode(), "path_params": path_params or {}})


def test_domain_problems_name_query_path_or_body():
    problems = [Problem("经度超出范围", column="lng", value=200),
                Problem("缩放级别超出范围", column="z", value=40),
                Problem("已写明位置", column="query.bbox", value="1")]
    get = problem_errors(problems, _request("GET", "lng=200", {"z": "40"}))
    assert [e["field"] for e in get] == ["query.lng", "path.z", "query.bbox"]
    post = problem_errors(problems, _request("POST", "", {}))
    assert [e["field"] for e in post] == ["body.lng", "body.z", "query.bbox"]
    post_query = problem_errors(problems[:1], _request("POST", "lng=1"))
    assert post_query[0]["field"] == "query.lng"


def test_every_message_template_is_chinese_and_fills_its_context():
    assert all(CJK.search(m) for m in VALIDATION_MESSAGES.values())
    e = validation_error({"type": "string_too_long", "loc": ("body", "name"), "msg": "x",
                          "input": "长" * 300, "ctx": {"max_length": 200}})
    assert e["message"] == "长度至多为 200 个字符" and e["field"] == "body.name"
    # a validator's own Chinese message, without pydantic's prefix
    e = validation_error({"type": "value_error", "loc": ("query", "at"),
                          "msg": "Value error, 应为 ISO 8601 时间", "input": "x"})
    assert e["message"] == "应为 ISO 8601 时间"
    # an error type the table does not know: Chinese still, and the type kept
    e = validation_error({"type": "complex_str_parsing", "loc": ("query", "z"),
                          "msg": "Input should be a valid complex string", "input": "q"})
    assert e["message"] == "取值不符合要求" and e["code"] == "complex_str_parsing"
