"""The planner's notebook runs top to bottom on the lishui sample (as in CI)."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from sqlalchemy import text

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "coverage_report.ipynb"


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
    assert "folium" in outputs or "leaflet" in outputs.lower()  # the map rendered
    assert "population covered" in outputs
    with samples_engine.connect() as c:  # snapshots were rolled back
        assert c.execute(text("SELECT count(*) FROM coverage_snapshots")).scalar() == 0
