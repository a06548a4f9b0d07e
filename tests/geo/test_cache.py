"""geo.cache.VersionedCache: versions, bounds, single-flight builds; etag_of."""

from __future__ import annotations

import threading
import time

from geo.cache import VersionedCache, etag_of


def test_a_value_is_returned_only_for_its_version():
    c: VersionedCache[str] = VersionedCache(4)
    c.put("k", "v1", "a")
    assert c.get("k", "v1") == "a"
    assert c.get("k", "v2") is None  # built from older data: a miss
    assert c.lookup("k").version == "v1"  # but available as stale
    c.put("k", "v2", "b")
    assert len(c) == 1 and c.get("k", "v2") == "b" and c.get("k", "v1") is None
    assert (c.hits, c.misses) == (2, 2)


def test_least_recently_used_goes_first_by_count_and_by_bytes():
    c: VersionedCache[int] = VersionedCache(3, max_bytes=100)
    for k in "abc":
        c.put(k, 0, 1, size=10)
    c.get("a", 0)  # a is now the most recent
    c.put("d", 0, 1, size=10)  # count bound: b goes
    assert {k for k in "abcd" if c.lookup(k)} == {"a", "c", "d"}
    c.put("e", 0, 1, size=85)  # count and bytes (10 * 3 + 85 > 100): c, then a go
    assert {k for k in "acde" if c.lookup(k)} == {"d", "e"} and c.bytes == 95


def test_concurrent_misses_share_one_build():
    c: VersionedCache[int] = VersionedCache(2)
    builds = []

    def build() -> int:
        builds.append(1)
        time.sleep(0.05)
        return 42

    out: list[int] = []
    threads = [threading.Thread(target=lambda: out.append(c.get_or_build("k", 1, build)))
               for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert out == [42] * 8 and len(builds) == 1
    assert c.get_or_build("k", 2, lambda: 7) == 7  # a new version builds again


def test_etag_is_weak_and_follows_the_bytes():
    a, b = etag_of(b"x"), etag_of(b"y")
    assert a.startswith('W/"') and a.endswith('"') and a != b and a == etag_of(b"x")
