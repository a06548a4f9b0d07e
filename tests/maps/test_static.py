"""Static images for articles: decoded and checked (size, under 1 MB, the
circle colour where a circle lies), the font rules, and the CLI."""

from __future__ import annotations

import io

import numpy as np
import pytest
import shapely
from PIL import Image
from sqlalchemy import text

from geo.errors import ConfigurationError, InvalidInput
from maps import fonts
from maps.static import MAX_BYTES, render_static
from maps.style import CIRCLE, rgb
from tests.maps.conftest import LISHUI, LONGTENG

URL = "http://127.0.0.1:8000/maps/resident?region=440605126"


@pytest.fixture(scope="module")
def lishui_images(samples_engine, map_circles):
    with samples_engine.connect() as c:
        with_circles = render_static(c, region=LISHUI, url=URL)
        without = render_static(c, region=LISHUI, url=URL, circles=False)
    return with_circles, without


def test_png_for_an_article(lishui_images, artifacts):
    img, _ = lishui_images
    (artifacts / "static-lishui.png").write_bytes(img.data)
    assert img.media_type == "image/png"
    assert len(img.data) < MAX_BYTES
    im = Image.open(io.BytesIO(img.data))
    assert im.format == "PNG" and im.size == (1080, img.height)
    assert 1000 < img.height < 2200


def test_circle_colour_at_known_positions(lishui_images, samples_engine):
    """Inside a circle the pixel is the basemap pixel blended with the circle
    fill at its opacity: with = without × (1 − a) + fill × a."""
    img, base = lishui_images
    a = CIRCLE["fill_opacity"]
    fill = np.array(rgb(CIRCLE["fill"]), dtype=float)
    with_px = np.asarray(Image.open(io.BytesIO(img.data)).convert("RGB"), dtype=float)
    base_px = np.asarray(Image.open(io.BytesIO(base.data)).convert("RGB"), dtype=float)
    with samples_engine.connect() as c:
        u, e = c.execute(text(
            "SELECT ST_AsBinary(ST_Union(geom)), ST_AsBinary(ST_Collect(ST_Boundary(geom))) "
            "FROM service_circles WHERE minutes = 10 AND profile = 'elderly'")).one()
        union, edges = shapely.from_wkb(bytes(u)), shapely.from_wkb(bytes(e))
        pts = c.execute(text("SELECT ST_X(geom), ST_Y(geom) FROM service_points")).all()
        town = shapely.from_wkb(bytes(c.execute(text(
            "SELECT ST_AsBinary(geom) FROM regions WHERE code = :c"), {"c": LISHUI}).scalar()))
    marker_px = np.array([img.pixel(x, y) for x, y in pts])
    left, top, right, bottom = img.map_box

    def under_a_label(x: float, y: float) -> bool:  # names are drawn over the circles
        return any(b[0] - 4 <= x - left <= b[2] + 4 and b[1] - 4 <= y - top <= b[3] + 4
                   for b in (lab.box for lab in img.labels))
    checked = 0
    rng = np.random.default_rng(1)
    for _ in range(30000):
        x = rng.uniform(left + 120, right - 120)
        y = rng.uniform(top + 120, bottom - 80)
        if np.min(np.hypot(marker_px[:, 0] - x, marker_px[:, 1] - y)) < 16 or \
                under_a_label(x, y):
            continue
        # the location under this pixel (invert the map's projection numerically);
        # inside the town (outside it, a white veil lies over circles and basemap)
        lng, lat = _pixel_to_lnglat(img, x, y)
        p = shapely.Point(lng, lat)
        if town.boundary.distance(p) < 0.0005 or not town.contains(p):
            continue
        # away from every circle's outline (outlines are drawn inside other circles too)
        if not union.contains(p) or edges.distance(p) < 0.0003:   # ≈ 2 px at 15 m/px
            continue
        xi, yi = int(x), int(y)
        expected = base_px[yi, xi] * (1 - a) + fill * a
        assert np.max(np.abs(with_px[yi, xi] - expected)) <= 8, (x, y)
        checked += 1
        if checked >= 25:
            break
    assert checked >= 25
    # and outside every circle the two images agree
    same = 0
    for _ in range(3000):
        x = rng.uniform(left + 120, right - 120)
        y = rng.uniform(top + 120, bottom - 80)
        lng, lat = _pixel_to_lnglat(img, x, y)
        p = shapely.Point(lng, lat)
        if union.contains(p) or edges.distance(p) < 0.0005 or under_a_label(x, y):
            continue
        assert np.max(np.abs(with_px[int(y), int(x)] - base_px[int(y), int(x)])) <= 8
        same += 1
        if same >= 20:
            break
    assert same >= 20


def _pixel_to_lnglat(img, x: float, y: float) -> tuple[float, float]:
    # two reference pixels give the (linear in Mercator) mapping
    from maps.render import lnglat_to_merc, merc_to_lnglat

    (x0, y0), (x1, y1) = img.pixel(113.10, 23.15), img.pixel(113.20, 23.23)
    mx, my = lnglat_to_merc(np.array([113.10, 113.20]), np.array([23.15, 23.23]))
    fx = mx[0] + (x - x0) * (mx[1] - mx[0]) / (x1 - x0)
    fy = my[0] + (y - y0) * (my[1] - my[0]) / (y1 - y0)
    lng, lat = merc_to_lnglat(fx, fy)
    return float(lng), float(lat)


def test_qr_code_and_title_are_drawn(lishui_images):
    img, _ = lishui_images
    im = Image.open(io.BytesIO(img.data)).convert("L")
    w, h = im.size
    qr = np.asarray(im.crop((w - 40 - 190, h - 230, w - 40, h - 40)))
    # a QR code: many pure black and pure white modules
    assert (qr < 40).mean() > 0.25 and (qr > 215).mean() > 0.25
    title = np.asarray(im.crop((40, 20, 540, 90)))
    assert (title < 128).mean() > 0.03      # dark red title strokes


def test_jpg_and_width(samples_engine, map_circles, artifacts):
    with samples_engine.connect() as c:
        img = render_static(c, region=LONGTENG, fmt="jpg", width=800, url=URL)
    (artifacts / "static-longteng.jpg").write_bytes(img.data)
    im = Image.open(io.BytesIO(img.data))
    assert im.format == "JPEG" and im.size[0] == 800 and len(img.data) < MAX_BYTES


def test_font_has_the_glyphs_and_tofu_is_refused(samples_engine):
    assert fonts.missing_glyphs("里水镇党群服务地图 10分钟 示例数据 扫码查看在线地图") == []
    assert fonts.missing_glyphs("里水\U0001F600") == ["\U0001F600"]
    with samples_engine.connect() as c, pytest.raises(InvalidInput) as e:
        render_static(c, region=LONGTENG, title="龙腾\U0001F600")
    assert "\U0001F600" in str(e.value.problems[0].value)


def test_the_font_draws_every_character_a_title_may_hold():
    """What the OpenAPI allows in a title (``TEXT_PATTERN``) the installed font
    draws, all 28,000-odd characters; what it refuses is refused before drawing."""
    import re

    allowed = "".join(chr(c) for a, b in fonts.TEXT_RANGES for c in range(a, b + 1))
    assert len(allowed) > 27000
    assert re.fullmatch(fonts.TEXT_PATTERN, allowed)
    assert fonts.missing_glyphs(allowed) == []
    # next to the ranges: characters the font lacks, or that the pattern leaves out
    for ch in ("\u9ff0", "\u4db6", "\u2017", "\uff00", "\U0001F600", "й", "\u3041"):
        assert not re.fullmatch(fonts.TEXT_PATTERN, ch)
        assert fonts.outside_text_ranges("里水" + ch) == [ch]


def test_missing_font_is_a_clear_error(samples_engine, monkeypatch, tmp_path):
    monkeypatch.setattr(fonts, "FONT_DIRS", (tmp_path,))
    monkeypatch.delenv(fonts.FONT_ENV, raising=False)
    fonts.font.cache_clear()
    try:
        with pytest.raises(ConfigurationError, match="fonts-noto-cjk"):
            fonts.font_path()
        with samples_engine.connect() as c, pytest.raises(ConfigurationError):
            render_static(c, region=LONGTENG)
    finally:
        fonts.font.cache_clear()


def test_bad_requests(samples_engine):
    with samples_engine.connect() as c:
        with pytest.raises(InvalidInput):
            render_static(c, width=100)
        with pytest.raises(InvalidInput):
            render_static(c, fmt="gif")


def test_cli_render_static(samples_url, map_circles, tmp_path, monkeypatch, capsys):
    from api.cli import main

    monkeypatch.setenv("SERVICEMAP_DATABASE_URL", samples_url)
    out = tmp_path / "longteng.png"
    assert main(["render", "static", "--region", LONGTENG, "--out", str(out),
                 "--url", "https://map.example"]) == 0
    assert "https://map.example/maps/resident?region=440507013" in capsys.readouterr().out
    im = Image.open(out)
    assert im.size[0] == 1080 and out.stat().st_size < MAX_BYTES
    assert main(["render", "static", "--region", "999999", "--out", str(out),
                 "--url", "https://map.example"]) == 1
    assert "未找到编码为 '999999' 的区划" in capsys.readouterr().err


def _decode_qr(png: bytes) -> str:
    """The QR code's text, read by OpenCV's detector (independent of the
    ``qrcode`` package that drew it)."""
    import cv2

    arr = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_GRAYSCALE)
    text_, points, _ = cv2.QRCodeDetector().detectAndDecode(arr)
    assert points is not None, "no QR code found in the image"
    return text_


@pytest.mark.parametrize(("url", "reachable"), [
    ("http://127.0.0.1:8000/maps/resident", False),
    ("http://127.8.9.1/maps/resident", False),
    ("http://localhost:8000/maps/resident", False),
    ("http://[::1]:8000/maps/resident", False),
    ("http://192.168.1.20/maps/resident", False),
    ("http://10.0.0.5/maps/resident", False),
    ("http://172.20.0.5/maps/resident", False),
    ("http://169.254.3.4/maps/resident", False),
    ("http://mapserver/maps/resident", False),
    ("http://map.lan/maps/resident", False),
    ("https://map.lishui.example/maps/resident", True),
    ("http://172.32.0.5/maps/resident", True),     # just outside 172.16.0.0/12
    ("http://8.8.8.8/maps/resident", True),
])
def test_qr_targets_a_phone_cannot_open(url, reachable):
    from maps.static import qr_unreachable

    why = qr_unreachable(url)
    assert (why is None) == reachable, why
    if why:
        assert "SERVICEMAP_PUBLIC_URL" in why


def test_a_loopback_qr_is_drawn_with_a_warning_and_decodes(samples_engine, map_circles):
    url = "http://127.0.0.1:8000/maps/resident?region=440507013"
    with samples_engine.connect() as c:
        bad = render_static(c, region=LONGTENG, url=url)
        good = render_static(c, region=LONGTENG,
                             url="https://map.example/maps/resident?region=440507013")
    assert _decode_qr(bad.data) == url
    assert _decode_qr(good.data) == "https://map.example/maps/resident?region=440507013"
    assert good.warning is None and "127.0.0.1" in bad.warning
    # the red strip: the footer left of the code is mostly #b71c1c on the bad image only
    def red_share(img) -> float:
        im = np.asarray(Image.open(io.BytesIO(img.data)).convert("RGB")).astype(int)
        foot = im[img.map_box[3]:, :img.width - 40 - 200]
        return float((np.abs(foot - rgb("#b71c1c")).sum(axis=2) < 40).mean())
    assert red_share(bad) > 0.2 and red_share(good) < 0.02


def test_cli_refuses_a_qr_code_phones_cannot_open(samples_url, map_circles, tmp_path,
                                                   monkeypatch, capsys):
    from api.cli import main

    monkeypatch.setenv("SERVICEMAP_DATABASE_URL", samples_url)
    monkeypatch.delenv("SERVICEMAP_PUBLIC_URL", raising=False)
    out = tmp_path / "l.png"
    assert main(["render", "static", "--region", LONGTENG, "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert "127.0.0.1" in err and "SERVICEMAP_PUBLIC_URL" in err and not out.exists()
    assert main(["render", "static", "--region", LONGTENG, "--out", str(out),
                 "--allow-private-url"]) == 0
    assert "警告" in capsys.readouterr().out
    assert _decode_qr(out.read_bytes()).startswith("http://127.0.0.1:8000/maps/resident")


def test_static_image_answer_warns_without_a_public_url(samples_engine, map_circles):
    from fastapi.testclient import TestClient

    from api.settings import Settings
    from tests.conftest import make_app

    for public, warned in ((None, True), ("https://map.lishui.example", False)):
        app = make_app(Settings(public_url=public), samples_engine)
        with TestClient(app) as client:
            r = client.get(f"/maps/static.png?region={LONGTENG}&width=600")
        assert r.status_code == 200
        assert ("X-ServiceMap-Warning" in r.headers) == warned, r.headers
        # without a public URL (and "testserver" not an allowed host) the code
        # leads to the server's own address, which is the warned case
        assert _decode_qr(r.content).startswith(
            (public or "http://127.0.0.1:8000") + "/maps/resident")
        if warned:
            assert "127.0.0.1" in r.headers["X-ServiceMap-Warning"]


def _near(px: np.ndarray, colour: str, tol: int = 40) -> np.ndarray:
    return np.abs(px.astype(int) - np.array(rgb(colour))).sum(axis=-1) < tol


def test_the_town_image_names_its_villages_over_circles_and_dots(lishui_images,
                                                                 samples_engine):
    """Article image of a town: its villages' names at 30–36 px on a 1080 px
    image (12 px on a phone), short forms of the real names, never overlapping,
    drawn over circles and dots (the label colour is there in each box)."""
    from maps.static import VILLAGE_LABEL_MIN_PX, short_name
    from maps.style import BASEMAP

    img, _ = lishui_images
    with samples_engine.connect() as c:
        names = [r.name for r in c.execute(text(
            "SELECT name FROM regions WHERE level = 'village' AND starts_with(code, :c)"),
            {"c": LISHUI})]
    villages = [lab for lab in img.labels if lab.what == "village"]
    assert len(names) == 39
    assert len(villages) >= 0.75 * len(names), len(villages)
    assert {lab.text for lab in villages} <= {short_name(n) for n in names}
    assert short_name("胜利社区居委会") == "胜利社区" and short_name("和顺村委会") == "和顺村"
    assert short_name("妈屿居委会") == "妈屿社区" and short_name("里水") == "里水"
    assert all(lab.size >= VILLAGE_LABEL_MIN_PX for lab in villages)
    # the box a label's glyphs take is at least its size tall (halo included)
    assert all(lab.box[3] - lab.box[1] >= VILLAGE_LABEL_MIN_PX for lab in villages)
    for i, a in enumerate(img.labels):
        for b in img.labels[i + 1:]:
            assert a.box[2] <= b.box[0] or b.box[2] <= a.box[0] or \
                a.box[3] <= b.box[1] or b.box[3] <= a.box[1], (a.text, b.text)
    px = np.asarray(Image.open(io.BytesIO(img.data)).convert("RGB"))
    left, top = img.map_box[:2]
    for lab in villages:
        x0, y0, x1, y1 = (round(v) for v in lab.box)
        box = px[top + y0:top + y1, left + x0:left + x1]
        assert _near(box, BASEMAP["region_label"]).mean() > 0.08, lab.text
    center = [lab for lab in img.labels if lab.what == "center"]
    assert [lab.text for lab in center] == ["里水镇党群服务中心"] and center[0].size >= 34


def test_a_village_image_counts_names_and_outlines_only_its_village(samples_engine,
                                                                     map_circles):
    """Village image: the legend counts the village's own positions (as the
    subtitle does), neighbours in the frame are grey and "不计入"; every own
    position is named; the boundary is drawn in red and outside it is veiled."""
    import re

    from maps.static import BOUNDARY_COLOUR

    code = "440507013001"
    with samples_engine.connect() as c:
        own = c.execute(text("SELECT count(*) FROM service_points WHERE deleted_at IS NULL "
                             "AND starts_with(region_code, :c)"), {"c": code}).scalar()
        geom = shapely.from_wkb(bytes(c.execute(text(
            "SELECT ST_AsBinary(geom) FROM regions WHERE code = :c"), {"c": code}).scalar()))
        img = render_static(c, region=code, url="https://map.example/maps/resident")
        default = render_static(c, region=code, url=None, circles=False)
    assert own == 7
    counted = [int(re.search(r"（(\d+)）", e).group(1)) for e in img.legend if "（" in e
               and "不计入" not in e and not e.startswith("步行")]
    assert sum(counted) == own
    neighbours = [e for e in img.legend if "不计入" in e]
    assert len(neighbours) == 1 and int(re.search(r"（(\d+)", neighbours[0]).group(1)) > 0
    positions = [lab for lab in img.labels if lab.what == "position"]
    assert len(positions) == own
    assert "妈屿社区党群服务中心" in {lab.text for lab in positions}
    assert "长者服务党群服务站" in {lab.text for lab in positions}  # the village's name cut
    px = np.asarray(Image.open(io.BytesIO(default.data)).convert("RGB"))
    ring = geom.boundary
    on = [default.pixel(*ring.interpolate(f, normalized=True).coords[0])
          for f in np.linspace(0, 1, 80, endpoint=False)]
    inside_map = [(x, y) for x, y in on if default.map_box[0] + 3 < x < default.map_box[2] - 3
                  and default.map_box[1] + 3 < y < default.map_box[3] - 3]
    red = [_near(px[int(y) - 1:int(y) + 2, int(x) - 1:int(x) + 2], BOUNDARY_COLOUR, 60).any()
           for x, y in inside_map]
    assert len(inside_map) >= 40 and np.mean(red) > 0.8
    # the veil: outside the village the map is lighter than inside it
    left, top, right, bottom = default.map_box
    rng = np.random.default_rng(3)
    lum = {True: [], False: []}
    for _ in range(4000):
        x, y = rng.uniform(left + 5, right - 5), rng.uniform(top + 5, bottom - 5)
        lng, lat = _pixel_to_lnglat(default, x, y)
        p = shapely.Point(lng, lat)
        if ring.distance(p) < 0.0003:
            continue
        lum[geom.contains(p)].append(px[int(y), int(x)].mean())
    assert len(lum[True]) > 200 and len(lum[False]) > 200
    assert np.mean(lum[False]) > np.mean(lum[True]) + 8
