"""The tiny town of :mod:`tests.geo.coverage.town` and the longteng sample."""

from __future__ import annotations

import pytest

from tests.geo.coverage.town import build_tiny_town


@pytest.fixture
def tiny(conn):
    build_tiny_town(conn)
    return conn


@pytest.fixture(scope="module")
def longteng(samples_engine):
    with samples_engine.connect() as c:
        yield c
