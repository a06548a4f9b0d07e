"""Schemathesis against the live app (uvicorn on loopback) and its OpenAPI,
with every check schemathesis has (``--checks all``): every public route, and
every planner route with a planner token. No 5xx; no response that breaks its
documented schema, status, headers or media type; no undocumented method
answered or wrong ``Allow``; no auth ignored; schema-violating data always
refused, and schema-valid data never refused for its shape.

One check is sharpened rather than taken as is: schemathesis's
``positive_data_acceptance`` wants every schema-valid request accepted, but a
write may name a region that does not exist, a point outside China, or (with
the GB 50180 profile) minutes the standard has no distance for — rules over
stored data or between parameters that an OpenAPI cannot state. Those are
refused as domain problems (``type …/invalid-input``, each naming its field);
a schema-valid request refused as malformed (``…/validation``, the shape the
schema describes) is a failure.

Bounded: a few examples per operation (positive and negative data), in a
database of its own (only Longteng loaded) so that accepted writes touch no
other test.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import CHECKS as ALL_CHECKS
from schemathesis.checks import load_all_checks

from api.settings import Settings
from geo.tokens import create_token
from tests.api.conftest import LONGTENG
from tests.conftest import make_app, serve_in_thread

pytestmark = pytest.mark.reliability

#: examples per operation and generation mode (positive, negative)
READ_EXAMPLES = 8
WRITE_EXAMPLES = 4
DOMAIN_PROBLEM = "https://servicemap.example/problems/invalid-input"


class RefusedForShape(schemathesis.checks.Failure):
    """Schema-valid data refused as malformed."""


def schema_valid_data_is_never_refused_for_its_shape(ctx, response, case) -> None:
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive:
        return
    if response.status_code not in (400, 422):
        return
    # a map page refuses a domain problem (an unknown basemap key, no key for it)
    # with a Chinese HTML page that names its problem type
    def header(name: str) -> str:
        value = response.headers.get(name) or ""
        return value[0] if isinstance(value, list) else value

    if header("content-type").startswith("text/html") and \
            header("x-problem-type") == DOMAIN_PROBLEM:
        return
    try:
        problem = response.json()
    except ValueError:
        problem = {}
    if response.status_code == 422 and problem.get("type") == DOMAIN_PROBLEM and all(
            e.get("field") or e.get("column") for e in problem.get("errors", [{}])):
        return  # a rule over stored data or between parameters, naming its field
    raise RefusedForShape(operation=case.operation.label, title="Schema-valid data refused",
                          message=f"{response.status_code} {problem.get('type')}: "
                                  f"{str(problem.get('errors') or problem)[:300]}")


#: every check schemathesis has, ``positive_data_acceptance`` sharpened as above
load_all_checks()
CHECKS = [c for c in ALL_CHECKS.get_all() if c.__name__ != "positive_data_acceptance"] + [
    schema_valid_data_is_never_refused_for_its_shape]
assert len(CHECKS) >= 14  # schemathesis's 14 checks (one sharpened)


@pytest.fixture(scope="module")
def live_url(fuzz_engine):
    with serve_in_thread(make_app(Settings(cache_ttl_s=0), fuzz_engine)) as url:
        yield url


@pytest.fixture(scope="module")
def fuzz_token(fuzz_engine) -> str:
    with fuzz_engine.begin() as c:
        secret, _ = create_token(c, name="fuzz", role="planner", regions=[LONGTENG])
    return secret


@pytest.fixture(scope="module")
def api_schema(live_url):
    return schemathesis.openapi.from_url(f"{live_url}/openapi.json")


def _fuzz(operation, mode, headers, examples: int) -> list[str]:
    """Run one operation's examples; returns the failures (empty: all passed)."""
    failures: list[str] = []

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=examples, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate])
    def run(case):
        try:
            case.call_and_validate(headers=headers, checks=CHECKS, timeout=30)
        except (Exception, BaseExceptionGroup) as exc:  # collect, then report them all
            failures.append(f"{operation.label} [{mode.value}]: {str(exc)[:800]}")
            raise

    try:
        run()
    except Unsatisfiable:
        pass  # no negative data exists for an operation without inputs
    except (Exception, BaseExceptionGroup):  # reported through ``failures``
        if not failures:
            raise
    return failures[:1]


def _run(api_schema, token: str, select) -> tuple[int, list[str]]:
    failures: list[str] = []
    operations = [op for op in (r.ok() for r in api_schema.get_all_operations())
                  if select(op.path)]
    for operation in operations:
        secured = bool(operation.definition.raw.get("security"))
        headers = {"Authorization": f"Bearer {token}"} if secured else None
        examples = READ_EXAMPLES if operation.method.upper() == "GET" else WRITE_EXAMPLES
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            failures += _fuzz(operation, mode, headers, examples)
    return len(operations), failures


#: the public and planner routes of this module's issue (points, regions, planner
#: writes, auth, health); every other route of the app is fuzzed by the second test
OWN = ("/api/v1/points", "/api/v1/regions", "/api/v1/planner/", "/api/v1/compounds",
       "/api/v1/buildings", "/api/v1/grid-cells", "/api/v1/branches", "/api/v1/auth/",
       "/healthz", "/readyz")


def _own(path: str) -> bool:
    return path.startswith(OWN)


def test_openapi_fuzz_points_regions_planner(api_schema, fuzz_token):
    """Public points/regions and every planner operation (with a planner token):
    zero 5xx, zero bodies, statuses or media types that break the OpenAPI."""
    count, failures = _run(api_schema, fuzz_token, _own)
    assert count >= 45
    assert not failures, "\n\n".join(failures)


def test_openapi_fuzz_all_other_routes(api_schema, fuzz_token):
    """Every other operation of the app's OpenAPI (isochrones, coverage, maps ...),
    with the same checks and the planner token where a route asks for one."""
    count, failures = _run(api_schema, fuzz_token, lambda path: not _own(path))
    assert count >= 1
    assert not failures, "\n\n".join(failures)
