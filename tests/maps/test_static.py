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
    marker_px = np.array([img.pixel(x, y) for x, y in pts])
    left, top, right, bottom = img.map_box
    checked = 0
    rng = np.random.default_rng(1)
    for _ in range(30000):
        x = rng.uniform(left + 120, right - 120)
        y = rng.uniform(top + 120, bottom - 80)
        if np.min(np.hypot(marker_px[:, 0] - x, marker_px[:, 1] - y)) < 16:
            continue
        # the location under this pixel (invert the map's projection numerically)
        lng, lat = _pixel_to_lnglat(img, x, y)
        p = shapely.Point(lng, lat)
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
        if union.contains(p) or edges.distance(p) < 0.0005:
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
    assert "no region" in capsys.readouterr().err


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
