"""Sample towns: deterministic synthetic data around real division codes.

``generate("lishui")`` (里水镇, Foshan), ``generate("longteng")`` (龙腾街道,
Shantou) and ``generate("meihuacun")`` (梅花村街道, Guangzhou) build a
:class:`data.sample.Sample`; the generators are imported only when called, so
importing this package is cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from data.sample import Sample

#: Names accepted by :func:`generate`.
SAMPLES: tuple[str, ...] = ("lishui", "longteng", "meihuacun")
DEFAULT_SEED = 20261122


def generate(name: str, *, seed: int = DEFAULT_SEED) -> Sample:
    """Generate a synthetic sample town.

    Parameters
    ----------
    name : str
        ``"lishui"`` (里水镇), ``"longteng"`` (龙腾街道) or ``"meihuacun"`` (梅花村街道).
    seed : int, optional
        Seed of ``numpy.random.default_rng``; the same seed gives identical output.

    Returns
    -------
    data.sample.Sample
        Frames in EPSG:4326, every row flagged ``synthetic``.

    Raises
    ------
    ValueError
        If ``name`` is not one of :data:`SAMPLES`.
    """
    if name == "lishui":
        from data import lishui

        return lishui.generate(seed)
    if name == "longteng":
        from data import longteng

        return longteng.generate(seed)
    if name == "meihuacun":
        from data import meihuacun

        return meihuacun.generate(seed)
    raise ValueError(f"unknown sample {name!r}: expected one of {', '.join(SAMPLES)}")
