"""The planner's notebook runs top to bottom on the lishui sample (as in CI),
and what it shows needs no internet: its map is a PNG drawn by the product's
own renderer, and no output names a URL of another host."""

from __future__ import annotations

import base64
import io
import re
from pathlib import Path
from urllib.parse import urlparse

import nbformat
import pytest
from nbclient import NotebookClient
from sqlalchemy import text

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "coverage_report.ipynb"
ARTIFACTS = ROOT / "test-artifacts"
URL = re.compile(r"https?://[^\s\"'<>()\\]+", re.I)
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


@pytest.fixture
def database(samples_url, samples_engine, monkeypatch):
    """The samples database for the kernel; the circles the notebook computes are
    removed afterwards (the notebook rolls back its own snapshots)."""
    monkeypatch.setenv("SERVICEMAP_DATABASE_URL", samples_url)
    yield samples_url
    with samples_engine.begin() as c:
        c.execute(text("DELETE FROM service_circles"))


def _text(cell) -> str:
    parts = []
    for out in cell.get("outputs", []):
        if "text" in out:
            parts.append(out["text"])
        for key in ("text/plain", "text/html"):
            if key in out.get("data", {}):
                parts.append(out["data"][key])
    return "\n".join(parts)


def test_coverage_report_notebook_executes(database, samples_engine):
    nb = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(nb, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(ROOT)}}).execute()
    outputs = "\n".join(_text(c) for c in nb.cells if c.cell_type == "code")
    assert "里水镇" in outputs and "circles reach" in outputs
    assert "exact: optimal" in outputs and "greedy: heuristic" in outputs
    _check_map(nb)
    _check_offline(nb)
    assert "population covered" in outputs
    with samples_engine.connect() as c:  # snapshots were rolled back
        assert c.execute(text("SELECT count(*) FROM coverage_snapshots")).scalar() == 0


def _outputs(nb) -> list[dict]:
    return [out for c in nb.cells if c.cell_type == "code" for out in c.get("outputs", [])]


def _check_map(nb) -> None:
    """The map is one PNG of the size the cell prints, with the basemap, the
    circles and the hexagons drawn (not a blank canvas)."""
    from PIL import Image

    pngs = [out["data"]["image/png"] for out in _outputs(nb) if "image/png" in out.get("data", {})]
    assert len(pngs) == 1
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "notebook-map.png").write_bytes(base64.b64decode(pngs[0]))
    printed = re.search(r"map: (\d+) x (\d+) px; (\d+) hexagons", _all_text(nb))
    assert printed, "the map cell prints its size"
    img = Image.open(io.BytesIO(base64.b64decode(pngs[0])))
    assert img.format == "PNG" and img.size == (int(printed[1]), int(printed[2]))
    assert int(printed[3]) > 0
    colours = img.convert("RGB").getcolors(maxcolors=1 << 20)
    assert colours is not None and len(colours) > 500    # basemap, fills, text: many shades
    # the proposed sites' green (#1b7a3a) is drawn
    assert any(abs(r - 0x1b) + abs(g - 0x7a) + abs(b - 0x3a) < 12 for _, (r, g, b) in colours)


def _all_text(nb) -> str:
    parts = []
    for out in _outputs(nb):
        if "text" in out:
            parts.append(out["text"])
        for key, value in out.get("data", {}).items():
            if not key.startswith("image/"):
                parts.append(value if isinstance(value, str) else str(value))
        if "traceback" in out:
            parts.extend(out["traceback"])
    return "\n".join(parts)


def _check_offline(nb) -> None:
    """No output (text, HTML, JavaScript, JSON, …) names an http(s) URL of a host
    other than this machine: nothing the notebook shows loads from the internet."""
    found = {m.group(0) for m in URL.finditer(_all_text(nb))}
    outside = sorted(u for u in found if (urlparse(u).hostname or "") not in LOOPBACK)
    assert outside == [], outside


def test_the_offline_check_sees_a_remote_map():
    """The check above fails on the notebook's former Leaflet map (its HTML
    named Leaflet's CDN and the OSM tile server)."""
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(outputs=[
        nbformat.v4.new_output("display_data", data={
            "text/html": '<iframe srcdoc="&lt;script src=&quot;https://cdn.jsdelivr.net/npm/'
                         'leaflet@1.9.3/dist/leaflet.js&quot;&gt;"></iframe>',
            "text/plain": "<folium.folium.Map at 0x7f>"})])])
    with pytest.raises(AssertionError, match="cdn.jsdelivr.net"):
        _check_offline(nb)
    local = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(outputs=[
        nbformat.v4.new_output("stream", name="stdout", text="served on http://127.0.0.1:8000/docs")])])
    _check_offline(local)
