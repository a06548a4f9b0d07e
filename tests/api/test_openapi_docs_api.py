"""The OpenAPI document explains itself to a developer reading ``/docs`` (say,
one wiring the town's WeChat mini-program): every operation has a description,
every JSON answer an example, and every example is valid against its schema
(``$ref`` resolved against the document's components)."""

from __future__ import annotations

import pytest
from jsonschema import Draft202012Validator

#: shortest description that says more than the summary's few words
MIN_DESCRIPTION = 40
METHODS = ("get", "put", "post", "patch", "delete", "head", "options")


@pytest.fixture(scope="module")
def spec(rw_client) -> dict:
    r = rw_client.get("/openapi.json")
    assert r.status_code == 200
    return r.json()


def _operations(spec: dict):
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if method in METHODS:
                yield f"{method.upper()} {path}", op


def _is_json(media_type: str) -> bool:
    base = media_type.split(";")[0].strip()
    return base == "application/json" or base.endswith("+json")


def _resolved(spec: dict, schema: dict) -> dict:
    """The component schema a ``$ref`` names (the schema itself without one)."""
    while isinstance(schema, dict) and "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema or {}


def _media_examples(media: dict) -> list:
    """The example values of a media type (``example`` and ``examples``' values)."""
    found = [media["example"]] if "example" in media else []
    found += [e["value"] for e in (media.get("examples") or {}).values() if "value" in e]
    return found


def _has_example(spec: dict, media: dict) -> bool:
    schema = _resolved(spec, media.get("schema") or {})
    return bool(_media_examples(media)) or "example" in schema or bool(schema.get("examples"))


def _errors(spec: dict, schema: dict, value) -> list[str]:
    """Why ``value`` is not valid against ``schema`` (refs into the spec's components)."""
    validator = Draft202012Validator({**schema, "components": spec.get("components", {})})
    return [f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message[:200]}"
            for e in validator.iter_errors(value)]


def _success(op: dict) -> dict[str, dict]:
    return {code: resp for code, resp in op.get("responses", {}).items() if code[0] == "2"}


def test_every_operation_has_a_description(spec):
    short = [f"{name}: {op.get('description', '')!r}" for name, op in _operations(spec)
             if len((op.get("description") or "").strip()) < MIN_DESCRIPTION]
    assert not short, f"{len(short)} operations without a description of at least " \
                      f"{MIN_DESCRIPTION} characters:\n" + "\n".join(short)


def test_every_json_answer_has_an_example(spec):
    missing, checked = [], 0
    for name, op in _operations(spec):
        for code, resp in _success(op).items():
            for media_type, media in (resp.get("content") or {}).items():
                if not _is_json(media_type):
                    continue  # HTML pages, PNG and JPEG images, CSV and Excel files
                checked += 1
                if not _has_example(spec, media):
                    missing.append(f"{name} {code} {media_type}")
    assert checked >= 60, checked  # the check is not vacuous
    assert not missing, f"{len(missing)} JSON answers without an example:\n" + "\n".join(missing)


def _all_examples(spec: dict):
    """(where, schema, example) of every example on a JSON media type of a response
    or request body, and of every component schema's ``examples``."""
    for name, op in _operations(spec):
        bodies = [(f"{name} {code}", resp) for code, resp in op.get("responses", {}).items()]
        if "requestBody" in op:
            bodies.append((f"{name} body", op["requestBody"]))
        for where, body in bodies:
            for media_type, media in (body.get("content") or {}).items():
                if not _is_json(media_type) or not media.get("schema"):
                    continue  # schema-less
                for example in _media_examples(media):
                    yield f"{where} {media_type}", media["schema"], example
    for cname, schema in spec["components"]["schemas"].items():
        for example in schema.get("examples") or []:
            yield f"components/schemas/{cname}", {"$ref": f"#/components/schemas/{cname}"}, \
                example


def test_every_example_is_valid_against_its_schema(spec):
    invalid, checked = [], 0
    for where, schema, example in _all_examples(spec):
        checked += 1
        invalid += [f"{where}: {e}" for e in _errors(spec, schema, example)]
    assert checked >= 60, checked
    assert not invalid, f"{len(invalid)} problems:\n" + "\n".join(invalid[:50])


def test_the_schema_check_catches_a_wrong_example(spec):
    """The validation above resolves ``$ref`` and does refuse what breaks a schema."""
    problem = {"$ref": "#/components/schemas/Problem"}
    assert _errors(spec, problem, {"type": "x", "title": "未找到", "status": 404}) == []
    assert _errors(spec, problem, {"type": "x", "title": "未找到", "status": "404"})
    assert _errors(spec, problem, {"title": "未找到", "status": 404})
    ops = dict(_operations(spec))
    edit = ops["POST /api/v1/points"]["responses"]["201"]["content"]["application/json"]
    wrong = {**edit["example"], "action": "castle"}
    assert _errors(spec, edit["schema"], wrong)
