"""The CJK font every raster drawing uses: Noto Sans CJK SC from Debian's
``fonts-noto-cjk`` package.

A missing font is a clear :class:`geo.errors.ConfigurationError` naming the
package, never an image with tofu boxes (□) in place of Chinese text;
:func:`missing_glyphs` tells which characters a font cannot draw.
"""

from __future__ import annotations

import os
import re
from functools import lru_cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from geo.errors import ConfigurationError

__all__ = ["FONT_DIRS", "TEXT_PATTERN", "TEXT_RANGES", "font", "font_path", "missing_glyphs",
           "outside_text_ranges"]

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

#: What a title or caption drawn into an image may hold (Noto Sans CJK SC has a
#: glyph for every one; a test checks): ASCII and Latin-1, common punctuation
#: (dashes, quotes, …, ‰, ※), circled numbers, CJK symbols and punctuation,
#: CJK ideographs (the unified block and extension A) and full-width forms.
TEXT_RANGES: tuple[tuple[int, int], ...] = (
    (0x20, 0x7E), (0xA0, 0xFF), (0x2010, 0x2016), (0x2018, 0x201A), (0x201C, 0x201E),
    (0x2020, 0x2022), (0x2026, 0x2026), (0x2030, 0x2030), (0x2032, 0x2033),
    (0x203B, 0x203B), (0x2460, 0x24FF), (0x3000, 0x303F), (0x3400, 0x4DB5),
    (0x4E00, 0x9FEF), (0xFF01, 0xFF5E), (0xFFE0, 0xFFE6))
#: :data:`TEXT_RANGES` as a JSON Schema pattern (what the OpenAPI declares)
TEXT_PATTERN = "^[" + "".join(f"\\u{a:04x}-\\u{b:04x}" for a, b in TEXT_RANGES) + "]*$"
_TEXT = re.compile(TEXT_PATTERN)


def outside_text_ranges(text: str) -> list[str]:
    """The characters of ``text`` outside :data:`TEXT_RANGES`, once each."""
    if _TEXT.match(text):
        return []
    return [ch for ch in dict.fromkeys(text)
            if not any(a <= ord(ch) <= b for a, b in TEXT_RANGES)]


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
            raise ConfigurationError(f"{FONT_ENV}={override} 不是字体文件")
        return p
    for name in (_FILES.get(weight, _FILES["regular"]), _FILES["regular"]):
        for d in FONT_DIRS:
            if (d / name).is_file():
                return d / name
    raise ConfigurationError(
        "未找到中文字体：请安装 Debian 软件包 fonts-noto-cjk"
        f"（apt-get install fonts-noto-cjk；已在 {', '.join(str(d) for d in FONT_DIRS)} "
        f"中查找 {_FILES['regular']}），或把 {FONT_ENV} 设为一个中日韩（CJK）字体文件")


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
