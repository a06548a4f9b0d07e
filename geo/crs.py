"""Chinese web-map coordinate systems: WGS-84, GCJ-02, BD-09 and CGCS2000.

Every coordinate in this module is a geographic longitude/latitude pair in
decimal degrees, given in ``(lng, lat)`` order (x before y, as in shapely and
GeoJSON).  All point functions are vectorised: they accept Python scalars or
array-likes of any (broadcastable) shape and return floats for scalar input and
``numpy.ndarray`` otherwise.  NaN in, NaN out.

Coordinate systems
------------------
``wgs84``
    WGS-84 (EPSG:4326): GPS, OpenStreetMap, most foreign web maps.
``gcj02``
    GCJ-02, the "Mars" obfuscation mandated by the Chinese State Bureau of
    Surveying and Mapping (Amap/Gaode, Tencent, Apple Maps in China, Google
    Maps ``.cn``).  It is WGS-84 plus a deliberately non-linear offset of
    typically 100-700 m computed with the published obfuscation formula
    (Krasovsky ellipsoid ``a = 6378245.0``, ``ee = 0.00669342162296594323``
    and the ``transformlat``/``transformlng`` trigonometric series).
``bd09``
    BD-09 (Baidu ``BD09LL``): GCJ-02 with a second closed-form offset
    (polar-coordinate perturbation with the constant ``3000 * pi / 180`` and
    a shift of ``(+0.0065, +0.006)`` degrees).
``cgcs2000``
    China Geodetic Coordinate System 2000 geographic coordinates (EPSG:4490),
    used by official Chinese surveying data (e.g. 天地图 Tianditu).  CGCS2000
    and WGS-84 (in its current G-realisations) differ by centimetres, far
    below web-map accuracy, so by definition this module treats them as
    *identical*.  PROJ agrees: its EPSG:4490 -> EPSG:4326 operation is the
    "Ballpark geographic offset" (``+proj=noop``), which the test-suite checks.

Outside mainland China
----------------------
The obfuscation only applies inside the customary rough bounding box of
China, :data:`CHINA_BBOX` = 72.004-137.8347 E, 0.8293-55.8271 N (the box used
by virtually every public implementation).  Outside it, GCJ-02 == WGS-84, and
BD-09 == WGS-84 as well (Baidu documents that its services use WGS-84
coordinates overseas).  The rule is evaluated on the *input* point of each
function: the WGS-84 point for the forward GCJ-02 transform, the GCJ-02 point
for the forward BD-09 transform and the given (GCJ-02 / BD-09) point for the
inverses.  Note the box is rough: it includes e.g. Mongolia, the Korean
peninsula and parts of South-East Asia, where providers may not offset.

Inverse transforms and their accuracy
-------------------------------------
GCJ-02 and BD-09 have no closed-form inverse.  Instead of the common one-step
approximation ``w = g - delta(g)`` (errors of up to a few metres) the inverses
here solve ``f(w) = g`` by fixed-point iteration ``w <- w - (f(w) - g)``,
started at ``w = g``, until the update is below ``1e-9`` degrees in both
components or 30 iterations have been made.  Because the offset varies slowly
(the entries of its Jacobian are below about 1e-2) each step shrinks the
error by more than two orders of magnitude: GCJ-02 converges in 4-5 steps
from the 100-700 m initial error, BD-09 (started from the customary
approximate inverse, itself good to ~2e-6 degrees) in 2-3 steps.

Measured on 4 x 10^6 uniformly random points in lng 73.5-135 E,
lat 18-53.5 N plus 10^6 points within ~1e-5 degrees of lng 105 E (where the
``sqrt(|lng - 105|)`` term of the series is least smooth), in degrees
(max of the lng and lat error) and metres (haversine):

* ``gcj02_to_wgs84(wgs84_to_gcj02(p))``: max 6.1e-12 degrees (6e-7 m) on the
  uniform sample, 5.4e-11 degrees (7e-6 m) next to lng 105 E;
* ``bd09_to_wgs84(wgs84_to_bd09(p))``: max 1.9e-11 degrees (2e-6 m), and
  5.6e-11 degrees (7e-6 m) next to lng 105 E.

The bound stated for callers is **1e-9 degrees (about 0.1 mm)**,
i.e. the stopping tolerance, well below 1e-7 degrees (about 1 cm).  Only
points within a few hundred metres of the bounding-box edge (where the
forward transform is discontinuous) may not round-trip.

Import-validation helpers
-------------------------
:func:`looks_swapped` flags points whose longitude and latitude were
probably swapped, :func:`metric_crs_for` picks a UTM zone for metric
computations and :func:`haversine_m` measures great-circle distances in
metres.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

import numpy as np
import pyproj
import shapely

__all__ = [
    "BBOX_PATTERN",
    "CHINA_BBOX",
    "CRS_NAMES",
    "bd09_to_gcj02",
    "bd09_to_wgs84",
    "convert",
    "from_wgs84",
    "gcj02_to_bd09",
    "gcj02_to_wgs84",
    "haversine_m",
    "in_china_bbox",
    "looks_swapped",
    "metric_crs_for",
    "parse_bbox",
    "normalize_crs_name",
    "to_wgs84",
    "transform_geometry",
    "wgs84_to_bd09",
    "wgs84_to_gcj02",
]

#: Rough bounding box of mainland China ``(min_lng, min_lat, max_lng, max_lat)``
#: in degrees, inside which GCJ-02/BD-09 offsets are applied.
CHINA_BBOX: tuple[float, float, float, float] = (72.004, 0.8293, 137.8347, 55.8271)

#: Canonical coordinate-system names accepted by :func:`to_wgs84` & co.
CRS_NAMES: tuple[str, ...] = ("wgs84", "gcj02", "bd09", "cgcs2000")

# Published GCJ-02 constants (Krasovsky 1940 ellipsoid).
_GCJ_A = 6378245.0
_GCJ_EE = 0.00669342162296594323
# BD-09 constant.
_X_PI = math.pi * 3000.0 / 180.0
_BD_DLNG = 0.0065
_BD_DLAT = 0.006

#: Stopping tolerance of the iterative inverses, degrees.
INVERSE_TOLERANCE_DEG = 1e-9
#: Maximum number of fixed-point iterations of the inverses.
INVERSE_MAX_ITER = 30

#: Mean Earth radius (IUGG), metres, used by :func:`haversine_m`.
EARTH_RADIUS_M = 6371008.8

_ALIASES = {
    "wgs84": "wgs84",
    "epsg4326": "wgs84",
    "gps": "wgs84",
    "gcj02": "gcj02",
    "gcj": "gcj02",
    "mars": "gcj02",
    "bd09": "bd09",
    "bd09ll": "bd09",
    "baidu": "bd09",
    "cgcs2000": "cgcs2000",
    "epsg4490": "cgcs2000",
}


# --------------------------------------------------------------------------
# array helpers
# --------------------------------------------------------------------------
def _prepare(lng: Any, lat: Any) -> tuple[np.ndarray, np.ndarray, bool]:
    """Broadcast inputs to float64 arrays (copies) and remember scalar-ness."""
    lng_a = np.asarray(lng, dtype=np.float64)
    lat_a = np.asarray(lat, dtype=np.float64)
    scalar = lng_a.ndim == 0 and lat_a.ndim == 0
    lng_b, lat_b = np.broadcast_arrays(lng_a, lat_a)
    return np.array(lng_b, dtype=np.float64), np.array(lat_b, dtype=np.float64), scalar


def _finish(lng: np.ndarray, lat: np.ndarray, scalar: bool) -> tuple[Any, Any]:
    if scalar:
        return float(lng), float(lat)
    return lng, lat


def _in_china(convert: Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]],
              lng: Any, lat: Any) -> tuple[Any, Any]:
    """Apply ``convert`` (flat arrays in, flat arrays out) to the points inside
    :data:`CHINA_BBOX`; points outside are returned unchanged (the Chinese
    systems equal WGS-84 abroad). Scalars in, floats out."""
    lng_a, lat_a, scalar = _prepare(lng, lat)
    flat_lng, flat_lat = lng_a.reshape(-1), lat_a.reshape(-1)
    inside = in_china_bbox(flat_lng, flat_lat)
    out_lng, out_lat = flat_lng.copy(), flat_lat.copy()
    out_lng[inside], out_lat[inside] = convert(flat_lng[inside], flat_lat[inside])
    return _finish(out_lng.reshape(lng_a.shape), out_lat.reshape(lat_a.shape), scalar)


_LNG = r"-?(?:180(?:\.0+)?|(?:1[0-7]\d|\d{1,2})(?:\.\d+)?)"
_LAT = r"-?(?:90(?:\.0+)?|[0-8]?\d(?:\.\d+)?)"
#: A bounding box as text, as every request and file names one:
#: ``lng,lat,lng,lat`` — two opposite corners in degrees, plain decimals,
#: longitudes within ±180 and latitudes within ±90 (the OpenAPI declares it).
BBOX_PATTERN = f"^{_LNG},{_LAT},{_LNG},{_LAT}$"
_BBOX = re.compile(BBOX_PATTERN)


def parse_bbox(text: str, *, column: str = "bbox") -> tuple[float, float, float, float]:
    """A :data:`BBOX_PATTERN` box as ``(west, south, east, north)``: the two
    corners in either order (a box may be as thin as a line).

    Raises :class:`geo.errors.InvalidInput` naming the value otherwise.
    """
    from geo.errors import InvalidInput, Problem

    if not isinstance(text, str) or not _BBOX.match(text):
        raise InvalidInput("bbox 不正确", [Problem(
            "bbox 应为两个对角的经纬度：经度,纬度,经度,纬度（十进制度数）", column=column,
            value=str(text)[:100],
            expected="如 113.10,23.15,113.25,23.25；经度 ±180、纬度 ±90 以内")])
    x0, y0, x1, y1 = (float(v) for v in text.split(","))
    return min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)


def in_china_bbox(
    lng: Any, lat: Any, *, bbox: tuple[float, float, float, float] = CHINA_BBOX
) -> Any:
    """Whether points lie inside the (inclusive) China bounding box.

    Parameters
    ----------
    lng, lat : float or array_like
        Longitude and latitude in degrees (any of the supported CRS; the box is
        far coarser than the offsets between them).
    bbox : tuple of float, optional
        ``(min_lng, min_lat, max_lng, max_lat)`` in degrees, default
        :data:`CHINA_BBOX`.

    Returns
    -------
    bool or numpy.ndarray of bool
        ``True`` inside the box; NaN coordinates give ``False``.
    """
    lng_a = np.asarray(lng, dtype=np.float64)
    lat_a = np.asarray(lat, dtype=np.float64)
    min_lng, min_lat, max_lng, max_lat = bbox
    inside = (lng_a >= min_lng) & (lng_a <= max_lng) & (lat_a >= min_lat) & (lat_a <= max_lat)
    if np.ndim(inside) == 0:
        return bool(inside)
    return inside


def _gcj_offset(lng: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """GCJ-02 obfuscation offset ``(dlng, dlat)`` in degrees at WGS-84 ``(lng, lat)``.

    No bounding-box check.  This is the published formula (``transformlat``,
    ``transformlng`` and the Krasovsky-ellipsoid scaling to degrees).
    """
    x = lng - 105.0
    y = lat - 35.0
    pi = math.pi
    shared = (20.0 * np.sin(6.0 * x * pi) + 20.0 * np.sin(2.0 * x * pi)) * 2.0 / 3.0
    sqrt_abs_x = np.sqrt(np.abs(x))
    dlat = (
        -100.0
        + 2.0 * x
        + 3.0 * y
        + 0.2 * y * y
        + 0.1 * x * y
        + 0.2 * sqrt_abs_x
        + shared
        + (20.0 * np.sin(y * pi) + 40.0 * np.sin(y / 3.0 * pi)) * 2.0 / 3.0
        + (160.0 * np.sin(y / 12.0 * pi) + 320.0 * np.sin(y * pi / 30.0)) * 2.0 / 3.0
    )
    dlng = (
        300.0
        + x
        + 2.0 * y
        + 0.1 * x * x
        + 0.1 * x * y
        + 0.1 * sqrt_abs_x
        + shared
        + (20.0 * np.sin(x * pi) + 40.0 * np.sin(x / 3.0 * pi)) * 2.0 / 3.0
        + (150.0 * np.sin(x / 12.0 * pi) + 300.0 * np.sin(x / 30.0 * pi)) * 2.0 / 3.0
    )
    radlat = lat / 180.0 * pi
    magic = np.sin(radlat)
    magic = 1.0 - _GCJ_EE * magic * magic
    sqrt_magic = np.sqrt(magic)
    dlat = (dlat * 180.0) / ((_GCJ_A * (1.0 - _GCJ_EE)) / (magic * sqrt_magic) * pi)
    dlng = (dlng * 180.0) / (_GCJ_A / sqrt_magic * np.cos(radlat) * pi)
    return dlng, dlat


def _gcj_forward_raw(lng: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    dlng, dlat = _gcj_offset(lng, lat)
    return lng + dlng, lat + dlat


def _bd_forward_raw(lng: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """GCJ-02 -> BD-09 closed form, no bounding-box check."""
    z = np.hypot(lng, lat) + 0.00002 * np.sin(lat * _X_PI)
    theta = np.arctan2(lat, lng) + 0.000003 * np.cos(lng * _X_PI)
    return z * np.cos(theta) + _BD_DLNG, z * np.sin(theta) + _BD_DLAT


def _bd_inverse_approx(lng: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The customary approximate BD-09 -> GCJ-02 inverse (error ~1e-6 degrees)."""
    x = lng - _BD_DLNG
    y = lat - _BD_DLAT
    z = np.hypot(x, y) - 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * _X_PI)
    return z * np.cos(theta), z * np.sin(theta)


def _invert(
    forward: Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]],
    target_lng: np.ndarray,
    target_lat: np.ndarray,
    start_lng: np.ndarray,
    start_lat: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Solve ``forward(w) == target`` by fixed-point iteration ``w <- w - (f(w) - g)``.

    Iterates only the points that have not yet converged; stops per point when
    both components of the update are below :data:`INVERSE_TOLERANCE_DEG`, and
    overall after :data:`INVERSE_MAX_ITER` iterations.
    """
    w_lng = start_lng.copy()
    w_lat = start_lat.copy()
    active = np.flatnonzero(np.isfinite(w_lng) & np.isfinite(w_lat))
    for _ in range(INVERSE_MAX_ITER):
        if active.size == 0:
            break
        f_lng, f_lat = forward(w_lng[active], w_lat[active])
        d_lng = f_lng - target_lng[active]
        d_lat = f_lat - target_lat[active]
        w_lng[active] -= d_lng
        w_lat[active] -= d_lat
        converged = (np.abs(d_lng) < INVERSE_TOLERANCE_DEG) & (
            np.abs(d_lat) < INVERSE_TOLERANCE_DEG
        )
        active = active[~converged]
    return w_lng, w_lat


# --------------------------------------------------------------------------
# public point transforms
# --------------------------------------------------------------------------
def wgs84_to_gcj02(lng: Any, lat: Any) -> tuple[Any, Any]:
    """Convert WGS-84 to GCJ-02 with the published obfuscation formula.

    Parameters
    ----------
    lng, lat : float or array_like
        WGS-84 (EPSG:4326) longitude and latitude, degrees.

    Returns
    -------
    lng, lat : float or numpy.ndarray
        GCJ-02 longitude and latitude, degrees.  Points outside
        :data:`CHINA_BBOX` are returned unchanged.
    """
    return _in_china(_gcj_forward_raw, lng, lat)


def gcj02_to_wgs84(lng: Any, lat: Any) -> tuple[Any, Any]:
    """Convert GCJ-02 to WGS-84 by iterative inversion (error < 1e-9 degrees).

    Parameters
    ----------
    lng, lat : float or array_like
        GCJ-02 longitude and latitude, degrees.

    Returns
    -------
    lng, lat : float or numpy.ndarray
        WGS-84 (EPSG:4326) longitude and latitude, degrees, such that
        :func:`wgs84_to_gcj02` maps them back to the input within
        ``1e-9`` degrees.  Points outside :data:`CHINA_BBOX` are returned
        unchanged.
    """
    return _in_china(lambda g_lng, g_lat: _invert(_gcj_forward_raw, g_lng, g_lat, g_lng, g_lat),
                     lng, lat)


def gcj02_to_bd09(lng: Any, lat: Any) -> tuple[Any, Any]:
    """Convert GCJ-02 to BD-09 (Baidu ``BD09LL``) with the closed-form formula.

    Parameters
    ----------
    lng, lat : float or array_like
        GCJ-02 longitude and latitude, degrees.

    Returns
    -------
    lng, lat : float or numpy.ndarray
        BD-09 longitude and latitude, degrees.  Points outside
        :data:`CHINA_BBOX` are returned unchanged (Baidu uses WGS-84 abroad).
    """
    return _in_china(_bd_forward_raw, lng, lat)


def bd09_to_gcj02(lng: Any, lat: Any) -> tuple[Any, Any]:
    """Convert BD-09 to GCJ-02: approximate inverse refined by iteration.

    Parameters
    ----------
    lng, lat : float or array_like
        BD-09 (Baidu ``BD09LL``) longitude and latitude, degrees.

    Returns
    -------
    lng, lat : float or numpy.ndarray
        GCJ-02 longitude and latitude, degrees, such that
        :func:`gcj02_to_bd09` maps them back to the input within ``1e-9``
        degrees.  Points outside :data:`CHINA_BBOX` are returned unchanged.
    """
    return _in_china(lambda b_lng, b_lat: _invert(_bd_forward_raw, b_lng, b_lat,
                                                  *_bd_inverse_approx(b_lng, b_lat)),
                     lng, lat)


def wgs84_to_bd09(lng: Any, lat: Any) -> tuple[Any, Any]:
    """Convert WGS-84 to BD-09 (via GCJ-02).

    Parameters
    ----------
    lng, lat : float or array_like
        WGS-84 (EPSG:4326) longitude and latitude, degrees.

    Returns
    -------
    lng, lat : float or numpy.ndarray
        BD-09 longitude and latitude, degrees.
    """
    return gcj02_to_bd09(*wgs84_to_gcj02(lng, lat))


def bd09_to_wgs84(lng: Any, lat: Any) -> tuple[Any, Any]:
    """Convert BD-09 to WGS-84 (via GCJ-02, both steps iterative).

    Parameters
    ----------
    lng, lat : float or array_like
        BD-09 (Baidu ``BD09LL``) longitude and latitude, degrees.

    Returns
    -------
    lng, lat : float or numpy.ndarray
        WGS-84 (EPSG:4326) longitude and latitude, degrees.
    """
    return gcj02_to_wgs84(*bd09_to_gcj02(lng, lat))


def _identity(lng: Any, lat: Any) -> tuple[Any, Any]:
    lng_a, lat_a, scalar = _prepare(lng, lat)
    return _finish(lng_a, lat_a, scalar)


_TO_WGS84: dict[str, Callable[[Any, Any], tuple[Any, Any]]] = {
    "wgs84": _identity,
    "cgcs2000": _identity,  # CGCS2000 == WGS-84 at web-map accuracy (see module doc)
    "gcj02": gcj02_to_wgs84,
    "bd09": bd09_to_wgs84,
}
_FROM_WGS84: dict[str, Callable[[Any, Any], tuple[Any, Any]]] = {
    "wgs84": _identity,
    "cgcs2000": _identity,
    "gcj02": wgs84_to_gcj02,
    "bd09": wgs84_to_bd09,
}


def normalize_crs_name(crs: str) -> str:
    """Canonical name (one of :data:`CRS_NAMES`) for a coordinate-system name.

    Case, ``-``, ``_``, ``:`` and spaces are ignored, so ``"WGS-84"``,
    ``"GCJ_02"``, ``"BD09LL"``, ``"EPSG:4326"`` and ``"EPSG:4490"`` are accepted.

    Parameters
    ----------
    crs : str
        Coordinate-system name.

    Returns
    -------
    str
        ``"wgs84"``, ``"gcj02"``, ``"bd09"`` or ``"cgcs2000"``.

    Raises
    ------
    ValueError
        For an unknown name; the message lists the valid names.
    """
    key = "".join(ch for ch in str(crs).lower() if ch not in "-_: ")
    try:
        return _ALIASES[key]
    except KeyError:
        raise ValueError(
            f"unknown coordinate system {crs!r}; valid names: {', '.join(CRS_NAMES)}"
        ) from None


def to_wgs84(lng: Any, lat: Any, crs: str) -> tuple[Any, Any]:
    """Convert coordinates from ``crs`` to WGS-84.

    Parameters
    ----------
    lng, lat : float or array_like
        Longitude and latitude in ``crs``, degrees.
    crs : str
        ``"wgs84"``, ``"gcj02"``, ``"bd09"`` or ``"cgcs2000"`` (see
        :func:`normalize_crs_name` for accepted spellings).

    Returns
    -------
    lng, lat : float or numpy.ndarray
        WGS-84 (EPSG:4326) longitude and latitude, degrees.

    Raises
    ------
    ValueError
        For an unknown ``crs``.
    """
    return _TO_WGS84[normalize_crs_name(crs)](lng, lat)


def from_wgs84(lng: Any, lat: Any, crs: str) -> tuple[Any, Any]:
    """Convert WGS-84 coordinates to ``crs``.

    Parameters
    ----------
    lng, lat : float or array_like
        WGS-84 (EPSG:4326) longitude and latitude, degrees.
    crs : str
        Target: ``"wgs84"``, ``"gcj02"``, ``"bd09"`` or ``"cgcs2000"``.

    Returns
    -------
    lng, lat : float or numpy.ndarray
        Longitude and latitude in ``crs``, degrees.

    Raises
    ------
    ValueError
        For an unknown ``crs``.
    """
    return _FROM_WGS84[normalize_crs_name(crs)](lng, lat)


def convert(lng: Any, lat: Any, src: str, dst: str) -> tuple[Any, Any]:
    """Convert coordinates between any two supported systems.

    Parameters
    ----------
    lng, lat : float or array_like
        Longitude and latitude in ``src``, degrees.
    src, dst : str
        Source and target system names (see :data:`CRS_NAMES`).

    Returns
    -------
    lng, lat : float or numpy.ndarray
        Longitude and latitude in ``dst``, degrees.
    """
    src_n, dst_n = normalize_crs_name(src), normalize_crs_name(dst)
    if src_n == dst_n:
        return _identity(lng, lat)
    if (src_n, dst_n) == ("gcj02", "bd09"):
        return gcj02_to_bd09(lng, lat)
    if (src_n, dst_n) == ("bd09", "gcj02"):
        return bd09_to_gcj02(lng, lat)
    return from_wgs84(*to_wgs84(lng, lat, src_n), dst_n)


def transform_geometry(geometry: Any, src: str, dst: str) -> Any:
    """Convert shapely geometries between the supported systems.

    Works for every geometry type (points, lines, polygons with holes,
    multi-part geometries and collections) and for arrays of geometries; Z
    values are kept unchanged.  Each vertex is converted independently, so
    straight edges stay straight in the target system (fine for the
    sub-kilometre, smooth offsets involved).

    Parameters
    ----------
    geometry : shapely.Geometry or array_like of shapely.Geometry
        Geometry (or geometries) with ``(lng, lat)`` coordinates in ``src``,
        degrees.
    src, dst : str
        Source and target system names (see :data:`CRS_NAMES`).

    Returns
    -------
    shapely.Geometry or numpy.ndarray of shapely.Geometry
        New geometry (or array), coordinates in ``dst``, degrees.
    """
    src_n, dst_n = normalize_crs_name(src), normalize_crs_name(dst)

    def _apply(coords: np.ndarray) -> np.ndarray:
        out = np.array(coords, dtype=np.float64, copy=True)
        if out.shape[0]:
            out[:, 0], out[:, 1] = convert(out[:, 0], out[:, 1], src_n, dst_n)
        return out

    return shapely.transform(geometry, _apply, include_z=None)


# --------------------------------------------------------------------------
# validation helpers
# --------------------------------------------------------------------------
def looks_swapped(
    lng: Any, lat: Any, *, bbox: tuple[float, float, float, float] = CHINA_BBOX
) -> np.ndarray:
    """Flag points whose longitude and latitude were probably swapped.

    Parameters
    ----------
    lng, lat : float or array_like
        Coordinates as given (supposedly longitude and latitude), degrees.
    bbox : tuple of float, optional
        ``(min_lng, min_lat, max_lng, max_lat)`` of the expected area, degrees;
        default :data:`CHINA_BBOX`.  Pass a tighter box (e.g. Guangdong) for a
        sharper test.

    Returns
    -------
    numpy.ndarray of bool
        ``True`` where ``(lat, lng)`` lies inside ``bbox`` but ``(lng, lat)``
        does not.  Same shape as the broadcast inputs (0-d for scalars).
    """
    lng_a, lat_a, _ = _prepare(lng, lat)
    as_given = np.asarray(in_china_bbox(lng_a, lat_a, bbox=bbox), dtype=bool)
    swapped = np.asarray(in_china_bbox(lat_a, lng_a, bbox=bbox), dtype=bool)
    return swapped & ~as_given


def metric_crs_for(lng: Any, lat: Any) -> pyproj.CRS:
    """UTM (WGS-84) projected CRS of the zone containing the points' centroid.

    Parameters
    ----------
    lng, lat : float or array_like
        WGS-84 longitude and latitude, degrees (GCJ-02/BD-09 input gives the same
        zone except within a few hundred metres of a zone edge).  NaNs are
        ignored.

    Returns
    -------
    pyproj.CRS
        ``EPSG:326zz`` (northern hemisphere) or ``EPSG:327zz`` (southern) for
        the standard 6-degree zone ``zz`` of the mean coordinate; metres.  The
        Norway/Svalbard exceptions are not applied.  E.g. EPSG:32649 for Foshan.

    Raises
    ------
    ValueError
        When no finite coordinate is given.
    """
    lng_a, lat_a, _ = _prepare(lng, lat)
    ok = np.isfinite(lng_a) & np.isfinite(lat_a)
    if not ok.any():
        raise ValueError("metric_crs_for needs at least one finite coordinate")
    c_lng = float(np.mean(lng_a[ok]))
    c_lat = float(np.mean(lat_a[ok]))
    c_lng = ((c_lng + 180.0) % 360.0) - 180.0
    zone = min(int(math.floor((c_lng + 180.0) / 6.0)) + 1, 60)
    base = 32600 if c_lat >= 0 else 32700
    return pyproj.CRS.from_epsg(base + zone)


def haversine_m(lng1: Any, lat1: Any, lng2: Any, lat2: Any) -> Any:
    """Great-circle distance on a sphere of radius :data:`EARTH_RADIUS_M`.

    Parameters
    ----------
    lng1, lat1, lng2, lat2 : float or array_like
        Longitudes and latitudes of the two end points, degrees (same CRS).

    Returns
    -------
    float or numpy.ndarray
        Distance in metres (spherical approximation, error < 0.5 %).
    """
    arrays = np.broadcast_arrays(
        *(np.asarray(v, dtype=np.float64) for v in (lng1, lat1, lng2, lat2))
    )
    lam1, phi1, lam2, phi2 = (np.radians(a) for a in arrays)
    h = (
        np.sin((phi2 - phi1) / 2.0) ** 2
        + np.cos(phi1) * np.cos(phi2) * np.sin((lam2 - lam1) / 2.0) ** 2
    )
    d = 2.0 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))
    if d.ndim == 0:
        return float(d)
    return d
