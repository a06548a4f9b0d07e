"""Tests for geo.crs: WGS-84 / GCJ-02 / BD-09 / CGCS2000 conversions."""

from __future__ import annotations

import math

import numpy as np
import pyproj
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import (
    GeometryCollection,
    LineString,
    MultiPolygon,
    Point,
    Polygon,
)

from geo import crs

# --------------------------------------------------------------------------
# published control points
# --------------------------------------------------------------------------
# googollee/eviltransform test vectors (python/test.py and go/transform_test.go,
# identical in every language port), given as (wgsLat, wgsLng, gcjLat, gcjLng).
EVILTRANSFORM_WGS_GCJ = [
    (31.1774276, 121.5272106, 31.17530398364597, 121.531541859215),  # Shanghai
    (22.543847, 113.912316, 22.540796131694766, 113.9171764808363),  # Shenzhen
    (39.911954, 116.377817, 39.91334545536069, 116.38404722455657),  # Beijing
]

# wandergis/coordtransform README (npm "coordtransform"; same values in the
# coordTransform_py, coordtransform-rs and hutool ports), input (116.404, 39.915)
# read as the source system of each function, (lng, lat) order.
CT_INPUT = (116.404, 39.915)
CT_WGS84_TO_GCJ02 = (116.41024449916938, 39.91640428150164)
CT_GCJ02_TO_BD09 = (116.41036949371029, 39.92133699351021)
# The README's bd09togcj02 uses the customary one-step *approximate* inverse, so
# an exact inverse agrees with it only to ~1e-6 degrees.
CT_BD09_TO_GCJ02_APPROX = (116.39762729119315, 39.90865673957631)
# ShangjinTang/GeoCraft README (PyPI "geocraft"): a forward composition.
GEOCRAFT_WGS84_TO_BD09 = (116.41662724378733, 39.922699552216216)

STATED_BOUND_DEG = crs.INVERSE_TOLERANCE_DEG  # 1e-9 degrees
STATED_BOUND_M = 1e-4  # 1e-9 degrees is about 0.11 mm


def _close_deg(a: tuple[float, float], b: tuple[float, float], tol: float) -> bool:
    return abs(a[0] - b[0]) <= tol and abs(a[1] - b[1]) <= tol


@pytest.mark.parametrize(("wlat", "wlng", "glat", "glng"), EVILTRANSFORM_WGS_GCJ)
def test_eviltransform_forward(wlat: float, wlng: float, glat: float, glng: float) -> None:
    got = crs.wgs84_to_gcj02(wlng, wlat)
    assert _close_deg(got, (glng, glat), 1e-12)


@pytest.mark.parametrize(("wlat", "wlng", "glat", "glng"), EVILTRANSFORM_WGS_GCJ)
def test_eviltransform_inverse(wlat: float, wlng: float, glat: float, glng: float) -> None:
    lng, lat = crs.gcj02_to_wgs84(glng, glat)
    # eviltransform's own "exact" inverse only promises 0.5 m; ours is iterative.
    assert crs.haversine_m(lng, lat, wlng, wlat) < 1e-3
    assert _close_deg((lng, lat), (wlng, wlat), 1e-8)


def test_coordtransform_readme_forward() -> None:
    assert _close_deg(crs.wgs84_to_gcj02(*CT_INPUT), CT_WGS84_TO_GCJ02, 1e-12)
    assert _close_deg(crs.gcj02_to_bd09(*CT_INPUT), CT_GCJ02_TO_BD09, 1e-12)
    assert _close_deg(crs.wgs84_to_bd09(*CT_INPUT), GEOCRAFT_WGS84_TO_BD09, 1e-12)


def test_coordtransform_readme_inverses() -> None:
    # exact inverses of the published forward pairs
    assert _close_deg(crs.gcj02_to_wgs84(*CT_WGS84_TO_GCJ02), CT_INPUT, 1e-10)
    assert _close_deg(crs.bd09_to_gcj02(*CT_GCJ02_TO_BD09), CT_INPUT, 1e-10)
    assert _close_deg(crs.bd09_to_wgs84(*GEOCRAFT_WGS84_TO_BD09), CT_INPUT, 1e-10)
    # published approximate BD inverse: within its ~1e-6 degree accuracy only,
    # and our result is the better one (forward maps it back onto the input).
    exact = crs.bd09_to_gcj02(*CT_INPUT)
    assert _close_deg(exact, CT_BD09_TO_GCJ02_APPROX, 2e-6)
    assert not _close_deg(exact, CT_BD09_TO_GCJ02_APPROX, 1e-8)
    assert _close_deg(crs.gcj02_to_bd09(*exact), CT_INPUT, 1e-10)
    err_published = np.subtract(crs.gcj02_to_bd09(*CT_BD09_TO_GCJ02_APPROX), CT_INPUT)
    assert np.abs(err_published).max() > 1e-8


# --------------------------------------------------------------------------
# independent re-implementation of the published formula (scalar, math only)
# --------------------------------------------------------------------------
def _ref_wgs_to_gcj(lng: float, lat: float) -> tuple[float, float]:
    """GCJ-02 written from the published constants, in a different style."""
    if not (72.004 <= lng <= 137.8347 and 0.8293 <= lat <= 55.8271):
        return lng, lat
    a, ee = 6378245.0, 0.00669342162296594323
    x, y = lng - 105.0, lat - 35.0

    def series(t: float, c: tuple[float, float, float, float]) -> float:
        # (c0 sin(pi t) + c1 sin(pi t / 3) + c2 sin(pi t / 12) + c3 sin(pi t / 30)) * 2/3
        terms = (
            c[0] * math.sin(math.pi * t),
            c[1] * math.sin(math.pi * t / 3),
            c[2] * math.sin(math.pi * t / 12),
            c[3] * math.sin(math.pi * t / 30),
        )
        return sum(terms) * 2 / 3

    wiggle = (20 * math.sin(6 * math.pi * x) + 20 * math.sin(2 * math.pi * x)) * 2 / 3
    north = (
        (-100 + 2 * x + 3 * y + 0.2 * y**2 + 0.1 * x * y + 0.2 * abs(x) ** 0.5)
        + wiggle
        + series(y, (20, 40, 160, 320))
    )
    east = (
        (300 + x + 2 * y + 0.1 * x**2 + 0.1 * x * y + 0.1 * abs(x) ** 0.5)
        + wiggle
        + series(x, (20, 40, 150, 300))
    )
    phi = math.radians(lat)
    w = 1 - ee * math.sin(phi) ** 2
    meridional = a * (1 - ee) / w**1.5  # radius of curvature M
    normal = a / math.sqrt(w)  # radius of curvature N
    dlat = math.degrees(north / meridional)
    dlng = math.degrees(east / (normal * math.cos(phi)))
    return lng + dlng, lat + dlat


def _ref_gcj_to_bd(lng: float, lat: float) -> tuple[float, float]:
    if not (72.004 <= lng <= 137.8347 and 0.8293 <= lat <= 55.8271):
        return lng, lat
    k = math.pi * 3000 / 180
    z = complex(lng, lat)
    r = abs(z) + 2e-5 * math.sin(lat * k)
    theta = math.atan2(lat, lng) + 3e-6 * math.cos(lng * k)
    return r * math.cos(theta) + 0.0065, r * math.sin(theta) + 0.006


china_lng = st.floats(min_value=73.5, max_value=135.0, allow_nan=False)
china_lat = st.floats(min_value=18.0, max_value=53.5, allow_nan=False)


@settings(max_examples=300, deadline=None)
@given(china_lng, china_lat)
def test_forward_matches_independent_reference(lng: float, lat: float) -> None:
    assert _close_deg(crs.wgs84_to_gcj02(lng, lat), _ref_wgs_to_gcj(lng, lat), 1e-11)
    g = _ref_wgs_to_gcj(lng, lat)
    assert _close_deg(crs.gcj02_to_bd09(*g), _ref_gcj_to_bd(*g), 1e-11)


def test_reference_matches_control_points() -> None:
    for wlat, wlng, glat, glng in EVILTRANSFORM_WGS_GCJ:
        assert _close_deg(_ref_wgs_to_gcj(wlng, wlat), (glng, glat), 1e-11)
    assert _close_deg(_ref_gcj_to_bd(*CT_INPUT), CT_GCJ02_TO_BD09, 1e-11)


# --------------------------------------------------------------------------
# properties across mainland China
# --------------------------------------------------------------------------
@settings(max_examples=500, deadline=None)
@given(china_lng, china_lat)
def test_gcj_round_trip_within_bound(lng: float, lat: float) -> None:
    back = crs.gcj02_to_wgs84(*crs.wgs84_to_gcj02(lng, lat))
    assert crs.haversine_m(back[0], back[1], lng, lat) < STATED_BOUND_M
    assert _close_deg(back, (lng, lat), STATED_BOUND_DEG)


@settings(max_examples=500, deadline=None)
@given(china_lng, china_lat)
def test_gcj_inverse_residual_within_bound(lng: float, lat: float) -> None:
    # read the point as GCJ-02: forward(inverse(g)) must give g back
    w = crs.gcj02_to_wgs84(lng, lat)
    assert _close_deg(crs.wgs84_to_gcj02(*w), (lng, lat), STATED_BOUND_DEG)


@settings(max_examples=500, deadline=None)
@given(china_lng, china_lat)
def test_bd_round_trip_within_bound(lng: float, lat: float) -> None:
    back = crs.bd09_to_wgs84(*crs.wgs84_to_bd09(lng, lat))
    assert crs.haversine_m(back[0], back[1], lng, lat) < STATED_BOUND_M
    assert _close_deg(back, (lng, lat), STATED_BOUND_DEG)
    back_g = crs.bd09_to_gcj02(*crs.gcj02_to_bd09(lng, lat))
    assert _close_deg(back_g, (lng, lat), STATED_BOUND_DEG)


@settings(max_examples=500, deadline=None)
@given(china_lng, china_lat)
def test_forward_offset_magnitude(lng: float, lat: float) -> None:
    g = crs.wgs84_to_gcj02(lng, lat)
    assert 10.0 < crs.haversine_m(lng, lat, *g) < 1000.0
    b = crs.wgs84_to_bd09(lng, lat)
    assert 10.0 < crs.haversine_m(lng, lat, *b) < 2000.0


def test_typical_offset_in_guangdong() -> None:
    # Foshan / Guangzhou area: GCJ-02 shifts a few hundred metres (roughly SE-NW)
    lng, lat = np.meshgrid(np.linspace(112.5, 114.0, 16), np.linspace(22.5, 23.9, 15))
    d = crs.haversine_m(lng, lat, *crs.wgs84_to_gcj02(lng, lat))
    assert 100.0 < d.min() and d.max() < 700.0


outside_points = st.one_of(
    st.tuples(st.floats(-180, 72.0), st.floats(-90, 90)),
    st.tuples(st.floats(137.9, 180), st.floats(-90, 90)),
    st.tuples(st.floats(-180, 180), st.floats(-90, 0.8)),
    st.tuples(st.floats(-180, 180), st.floats(55.9, 90)),
)


#: every conversion between the three systems
CONVERSIONS = (crs.wgs84_to_gcj02, crs.gcj02_to_wgs84, crs.gcj02_to_bd09, crs.bd09_to_gcj02,
               crs.wgs84_to_bd09, crs.bd09_to_wgs84)


@settings(max_examples=300, deadline=None)
@given(outside_points)
def test_identity_outside_china(p: tuple[float, float]) -> None:
    for fn in CONVERSIONS:
        assert fn(*p) == p


def test_identity_outside_china_examples() -> None:
    for p in [(2.3522, 48.8566), (-74.006, 40.7128), (151.2093, -33.8688), (103.8, 1.35 - 1)]:
        assert crs.wgs84_to_gcj02(*p) == p
        assert crs.bd09_to_wgs84(*p) == p


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(china_lng, china_lat), min_size=1, max_size=20))
def test_vectorised_equals_scalar(points: list[tuple[float, float]]) -> None:
    lng = np.array([p[0] for p in points])
    lat = np.array([p[1] for p in points])
    for fn in CONVERSIONS:
        vec = fn(lng, lat)
        assert isinstance(vec[0], np.ndarray) and vec[0].shape == lng.shape
        for i, p in enumerate(points):
            sc = fn(*p)
            assert isinstance(sc[0], float)
            # numpy may use different SIMD code paths for arrays and scalars
            assert _close_deg((vec[0][i], vec[1][i]), sc, 1e-12)


def test_shapes_lists_broadcasting_and_nan() -> None:
    lng = np.array([[113.0, 114.0], [np.nan, 10.0]])
    lat = np.array([[23.0, 22.5], [23.0, 10.0]])
    out_lng, out_lat = crs.gcj02_to_wgs84(lng, lat)
    assert out_lng.shape == (2, 2)
    assert np.isnan(out_lng[1, 0]) and out_lat[1, 0] == 23.0
    assert (out_lng[1, 1], out_lat[1, 1]) == (10.0, 10.0)
    # inputs are not modified
    assert lng[0, 0] == 113.0
    # lists and broadcasting a scalar latitude
    b_lng, b_lat = crs.wgs84_to_bd09([113.0, 113.5], 23.0)
    assert b_lng.shape == (2,) and b_lat.shape == (2,)


# --------------------------------------------------------------------------
# generic conversions, CGCS2000 and geometries
# --------------------------------------------------------------------------
def test_to_from_wgs84_dispatch() -> None:
    p = (113.12, 23.02)
    assert crs.to_wgs84(*p, "wgs84") == p
    assert crs.from_wgs84(*p, "cgcs2000") == p
    assert crs.to_wgs84(*p, "gcj02") == crs.gcj02_to_wgs84(*p)
    assert crs.to_wgs84(*p, "bd09") == crs.bd09_to_wgs84(*p)
    assert crs.from_wgs84(*p, "gcj02") == crs.wgs84_to_gcj02(*p)
    assert crs.from_wgs84(*p, "bd09") == crs.wgs84_to_bd09(*p)
    # spelling variants
    assert crs.from_wgs84(*p, "GCJ-02") == crs.wgs84_to_gcj02(*p)
    assert crs.to_wgs84(*p, "BD09LL") == crs.bd09_to_wgs84(*p)
    assert crs.to_wgs84(*p, "EPSG:4490") == p
    assert crs.convert(*p, "gcj02", "bd09") == crs.gcj02_to_bd09(*p)
    assert _close_deg(crs.convert(*p, "bd09", "cgcs2000"), crs.bd09_to_wgs84(*p), 0.0)


def test_unknown_crs_lists_valid_names() -> None:
    with pytest.raises(ValueError) as exc:
        crs.to_wgs84(113.0, 23.0, "epsg:3857")
    for name in ("wgs84", "gcj02", "bd09", "cgcs2000"):
        assert name in str(exc.value)
    with pytest.raises(ValueError):
        crs.from_wgs84(113.0, 23.0, "mercator")


def test_cgcs2000_is_identity_in_pyproj() -> None:
    t = pyproj.Transformer.from_crs("EPSG:4490", "EPSG:4326", always_xy=True)
    lng = np.array([113.1224, 73.6, 134.9, 110.0])
    lat = np.array([23.0213, 39.5, 48.3, 18.3])
    x, y = t.transform(lng, lat)
    np.testing.assert_array_equal(x, lng)
    np.testing.assert_array_equal(y, lat)
    assert crs.to_wgs84(lng, lat, "cgcs2000")[0].tolist() == lng.tolist()


def test_transform_geometry_all_types() -> None:
    shell = [(113.0, 23.0), (113.2, 23.0), (113.2, 23.2), (113.0, 23.2), (113.0, 23.0)]
    hole = [(113.05, 23.05), (113.1, 23.05), (113.1, 23.1), (113.05, 23.05)]
    poly = Polygon(shell, [hole])
    geoms = [
        Point(113.1, 23.1),
        LineString([(113.0, 23.0), (113.5, 23.5)]),
        poly,
        MultiPolygon([poly, Polygon([(114, 22), (114.1, 22), (114.1, 22.1)])]),
        GeometryCollection([Point(113.1, 23.1), poly]),
    ]
    for g in geoms:
        out = crs.transform_geometry(g, "wgs84", "gcj02")
        assert out.geom_type == g.geom_type
        src = shapely.get_coordinates(g)
        dst = shapely.get_coordinates(out)
        exp = np.column_stack(crs.wgs84_to_gcj02(src[:, 0], src[:, 1]))
        np.testing.assert_allclose(dst, exp, rtol=0, atol=1e-12)
        back = crs.transform_geometry(out, "gcj02", "wgs84")
        np.testing.assert_allclose(shapely.get_coordinates(back), src, rtol=0, atol=1e-9)
    assert len(crs.transform_geometry(poly, "wgs84", "bd09").interiors) == 1


def test_transform_geometry_keeps_z_and_arrays() -> None:
    p3 = Point(113.1, 23.1, 12.5)
    out = crs.transform_geometry(p3, "bd09", "wgs84")
    assert out.has_z and out.z == 12.5
    arr = np.array([Point(113.1, 23.1), p3, Polygon(), None])
    res = crs.transform_geometry(arr, "wgs84", "gcj02")
    assert res.shape == (4,)
    assert not res[0].has_z and res[1].has_z
    assert res[2].is_empty and res[3] is None
    assert (res[0].x, res[0].y) == crs.wgs84_to_gcj02(113.1, 23.1)


# --------------------------------------------------------------------------
# validation helpers
# --------------------------------------------------------------------------
def test_looks_swapped() -> None:
    lng = np.array([113.12, 23.02, 2.35, 23.02, 45.0])
    lat = np.array([23.02, 113.12, 48.85, 30.0, 45.0])
    expected = [False, True, False, False, False]
    assert crs.looks_swapped(lng, lat).tolist() == expected
    assert bool(crs.looks_swapped(23.02, 113.12))
    # with an overlapping box, points inside it both ways are not flagged
    assert not bool(crs.looks_swapped(50.0, 60.0, bbox=(0.0, 0.0, 100.0, 100.0)))
    gd = (109.6, 20.2, 117.3, 25.5)  # Guangdong
    assert crs.looks_swapped([23.0], [113.0], bbox=gd).tolist() == [True]
    assert crs.looks_swapped([113.0], [23.0], bbox=gd).tolist() == [False]


@settings(max_examples=200, deadline=None)
@given(china_lng, china_lat)
def test_swapped_china_points_are_flagged(lng: float, lat: float) -> None:
    assert not bool(crs.looks_swapped(lng, lat))
    assert bool(crs.looks_swapped(lat, lng))


def test_metric_crs_for() -> None:
    assert crs.metric_crs_for(113.12, 23.02).to_epsg() == 32649  # Foshan
    assert crs.metric_crs_for([113.0, 113.4, np.nan], [22.8, 23.2, np.nan]).to_epsg() == 32649
    assert crs.metric_crs_for(126.6, 45.8).to_epsg() == 32652  # Harbin
    assert crs.metric_crs_for(87.6, 43.8).to_epsg() == 32645  # Urumqi
    assert crs.metric_crs_for(151.2, -33.9).to_epsg() == 32756  # Sydney
    assert crs.metric_crs_for(180.0, 10.0).to_epsg() == 32601
    assert crs.metric_crs_for(179.99, 10.0).to_epsg() == 32660
    assert crs.metric_crs_for(113.0, 23.0).axis_info[0].unit_name == "metre"
    with pytest.raises(ValueError):
        crs.metric_crs_for([np.nan], [np.nan])


def test_haversine_m() -> None:
    one_deg = math.radians(1.0) * crs.EARTH_RADIUS_M
    assert crs.haversine_m(113.0, 23.0, 113.0, 24.0) == pytest.approx(one_deg, rel=1e-12)
    assert crs.haversine_m(113.0, 23.0, 113.0, 23.0) == 0.0
    d = crs.haversine_m([0.0, 113.0], [0.0, 23.0], [180.0, 113.0], [0.0, 23.0])
    assert d[0] == pytest.approx(math.pi * crs.EARTH_RADIUS_M)
    # ~ agrees with the WGS-84 ellipsoid within 0.5 % (Guangzhou - Shenzhen)
    geod = pyproj.Geod(ellps="WGS84")
    _, _, ell = geod.inv(113.26, 23.13, 114.06, 22.54)
    assert crs.haversine_m(113.26, 23.13, 114.06, 22.54) == pytest.approx(ell, rel=5e-3)
