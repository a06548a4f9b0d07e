"""The coverage tests moved to ``tests/geo/coverage/`` (a module per module of
``geo.coverage``); the tiny town lives in :mod:`tests.geo.coverage.town`.

Transitional: ``tests/geo/test_siting.py`` imports the tiny town from here.
"""

from tests.geo.coverage.town import TOWN, build_tiny_town  # noqa: F401
