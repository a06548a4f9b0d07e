"""Settings of the maps (pydantic-settings, environment prefix ``SERVICEMAP_``)."""

from __future__ import annotations

from geo.settings import AnalysisSettings

__all__ = ["MapSettings"]


class MapSettings(AnalysisSettings):
    """What the pages, tiles and images need beyond the analyses.

    Attributes
    ----------
    tianditu_key
        Key of the Tianditu (天地图) basemap; without it the basemap is not offered.
    public_url
        The address residents reach the server at (QR codes and links in images);
        default: the address of the request.
    default_basemap
        ``offline``, ``osm``, ``tianditu``, ``amap`` or ``tencent``; default: the
        product's own offline basemap (always for synthetic samples).
    """

    tianditu_key: str | None = None
    public_url: str | None = None
    default_basemap: str | None = None
