"""The CJK font every raster drawing uses: Noto Sans CJK SC from Debian's
``fonts-noto-cjk`` package.

A missing font is a clear :class:`geo.errors.ConfigurationError` naming the
package, never an image with tofu boxes (□) in place of Chinese text;
:func:`missing_glyphs` tells which characters a font cannot draw.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from geo.errors import ConfigurationError

__all__ = ["FONT_DIRS", "font", "font_path", "missing_glyphs"]

#: Where Debian's fonts-noto-cjk puts the collections.
FONT_DIRS: tuple[Path, ...] = (
    Path("/usr/share/fonts/opentype/noto"),
    Path("/usr/share/fonts/noto-cjk"),
    Path("/usr/share/fonts/google-noto-cjk"),
)
_FILES = {"regular": "NotoSansCJK-Regular.ttc", "bold": "NotoSansCJK-Bold.ttc"}
#: Face of the collection holding Simplified Chinese glyph forms (JP, KR, SC, TC, HK).
_SC_FACE = "Noto Sans CJK SC"
#: Environment variable naming another font file (TTF/OTF/TTC with CJK glyphs).
FONT_ENV = "SERVICEMAP_CJK_FONT"


def font_path(weight: str = "regular") -> Path:
    """Path of the Noto Sans CJK collection of ``weight`` (``regular``/``bold``).

    Bold falls back to regular when only the regular file is installed.

    Raises
    ------
    geo.errors.ConfigurationError
        When no CJK font is installed: install the Debian package
        ``fonts-noto-cjk`` or set ``SERVICEMAP_CJK_FONT`` to a font file.
    """
    override = os.environ.get(FONT_ENV)
    if override:
        p = Path(override)
        if not p.is_file():
            raise ConfigurationError(f"{FONT_ENV}={override} is not a font file")
        return p
    for name in (_FILES.get(weight, _FILES["regular"]), _FILES["regular"]):
        for d in FONT_DIRS:
            if (d / name).is_file():
                return d / name
    raise ConfigurationError(
        "no Chinese font found: install the Debian package fonts-noto-cjk "
        f"(apt-get install fonts-noto-cjk; looked for {_FILES['regular']} in "
        f"{', '.join(str(d) for d in FONT_DIRS)}) or set {FONT_ENV} to a CJK font file")


def _face_index(path: Path) -> int:
    if path.suffix.lower() != ".ttc":
        return 0
    for i in range(16):
        try:
            f = ImageFont.truetype(str(path), 12, index=i)
        except OSError:
            break
        if f.getname()[0] == _SC_FACE:
            return i
    return 0


@lru_cache(maxsize=64)
def font(size: int, weight: str = "regular") -> ImageFont.FreeTypeFont:
    """Noto Sans CJK SC at ``size`` pixels (cached)."""
    path = font_path(weight)
    return ImageFont.truetype(str(path), size, index=_index(path))


@lru_cache(maxsize=8)
def _index(path: Path) -> int:
    return _face_index(path)


def _bitmap(f: ImageFont.FreeTypeFont, ch: str) -> bytes:
    img = Image.new("L", (f.size * 2, f.size * 2), 0)
    ImageDraw.Draw(img).text((f.size // 2, f.size // 2), ch, font=f, fill=255)
    return img.tobytes()


def missing_glyphs(text: str, f: ImageFont.FreeTypeFont | None = None) -> list[str]:
    """Characters of ``text`` the font draws as its "missing glyph" box (tofu).

    Compares each character's bitmap with that of a private-use character no
    font maps (U+10FFFD). Whitespace is ignored.
    """
    f = f or font(24)
    notdef = _bitmap(f, "\U0010fffd")
    out: list[str] = []
    for ch in dict.fromkeys(text):
        if ch.isspace():
            continue
        if _bitmap(f, ch) == notdef:
            out.append(ch)
    return out
