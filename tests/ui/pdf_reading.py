"""The text of a PDF as a reader's copy or search sees it: each page's content stream, its glyph codes mapped to
characters through the fonts' ToUnicode tables.

PySide6-Essentials has no QtPdf, and the project adds no dependency for a test, so this reads the structure Qt's
PDF writer produces (Type0 fonts with Identity-H codes and a ToUnicode CMap, Flate-compressed streams, indirect
objects). Qt positions every glyph on its own (no space glyphs at line ends), so compare text with whitespace
removed and ligatures spelled out: `squeeze()`.
"""

from __future__ import annotations

import re
import unicodedata
import zlib
from pathlib import Path

_OBJ = re.compile(rb"(?m)^(\d+) 0 obj\b(.*?)\bendobj", re.S)
_REF = rb"(\d+) 0 R"
_HEX = re.compile(rb"<([0-9A-Fa-f]*)>")


def _objects(data: bytes) -> dict[int, bytes]:
    return {int(m.group(1)): m.group(2) for m in _OBJ.finditer(data)}


def _stream(body: bytes) -> bytes:
    head, _, rest = body.partition(b"stream")
    rest = rest[2:] if rest.startswith(b"\r\n") else rest[1:]
    if b"/FlateDecode" in head:
        return zlib.decompressobj().decompress(rest)
    return rest.rsplit(b"endstream", 1)[0]


def _cmap(text: bytes) -> dict[int, str]:
    def chars(hex_text: bytes) -> str:
        return bytes.fromhex(hex_text.decode()).decode("utf-16-be")

    table: dict[int, str] = {}
    for block in re.findall(rb"beginbfchar(.*?)endbfchar", text, re.S):
        codes = _HEX.findall(block)
        for src, dst in zip(codes[::2], codes[1::2], strict=True):
            table[int(src, 16)] = chars(dst)
    for block in re.findall(rb"beginbfrange(.*?)endbfrange", text, re.S):
        for m in re.finditer(rb"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>\s*(\[[^\]]*\]|<[0-9A-Fa-f]+>)", block):
            low, high, dst = int(m.group(1), 16), int(m.group(2), 16), m.group(3)
            if dst.startswith(b"["):
                for offset, each in enumerate(_HEX.findall(dst)):
                    table[low + offset] = chars(each)
            else:
                first = bytes.fromhex(dst[1:-1].decode())
                for offset in range(high - low + 1):
                    last = int.from_bytes(first[-2:], "big") + offset
                    table[low + offset] = (first[:-2] + last.to_bytes(2, "big")).decode("utf-16-be")
    return table


_TOKEN = re.compile(rb"<([0-9A-Fa-f]*)>|\[([^\]]*)\]|/(\S+)|([-+]?(?:\d+\.?\d*|\.\d+))|([A-Za-z*'\"]+)")


def _page_text(stream: bytes, fonts: dict[bytes, dict[int, str]]) -> str:
    """The glyphs a page shows, in drawing order: a glyph whose baseline lies outside the clip rectangle in force is
    left out (Qt draws the lines next to a page break on both pages and clips them away on one)."""
    offset = [0.0, 0.0]  # translations (1 0 0 1 e f cm) in force, added up
    clip: tuple[float, float] | None = None  # (top, bottom) in the page's coordinates
    saved: list[tuple[list[float], tuple[float, float] | None]] = []
    path_ys: list[float] = []
    font: dict[int, str] = {}
    line = [0.0, 0.0]  # the text line's origin (Td moves it)
    tm = (1.0, 0.0, 0.0, 1.0, 0.0, 0.0)
    numbers: list[float] = []
    text: list[str] = []

    def visible() -> bool:
        a, _b, _c, d, e, f = tm
        y = d * line[1] + f + offset[1]
        return clip is None or clip[0] <= y <= clip[1]

    for m in _TOKEN.finditer(stream):
        hex_text, array, name, number, op = m.groups()
        if number is not None:
            numbers.append(float(number))
            continue
        if name is not None:
            last_name = name
            continue
        if hex_text is not None or array is not None:
            shown = [hex_text] if hex_text is not None else _HEX.findall(array)
            continue
        if op == b"q":
            saved.append((list(offset), clip))
        elif op == b"Q" and saved:
            offset, clip = saved.pop()
        elif op == b"cm" and len(numbers) >= 6 and numbers[-6:-2] == [1.0, 0.0, 0.0, 1.0]:
            offset = [offset[0] + numbers[-2], offset[1] + numbers[-1]]
        elif op in (b"m", b"l") and len(numbers) >= 2:
            path_ys.append(numbers[-1] + offset[1])
        elif op in (b"W", b"W*") and path_ys:
            top, bottom = min(path_ys), max(path_ys)
            clip = (top, bottom) if clip is None else (max(top, clip[0]), min(bottom, clip[1]))
        elif op == b"n":
            path_ys = []
        elif op == b"BT":
            line, tm = [0.0, 0.0], (1.0, 0.0, 0.0, 1.0, 0.0, 0.0)
        elif op == b"ET":
            text.append("\n")
        elif op == b"Tf":
            font = fonts.get(last_name, {})
        elif op == b"Tm" and len(numbers) >= 6:
            tm, line = tuple(numbers[-6:]), [0.0, 0.0]
        elif op in (b"Td", b"TD") and len(numbers) >= 2:
            line = [line[0] + numbers[-2], line[1] + numbers[-1]]
        elif op in (b"Tj", b"TJ") and visible():
            for each in shown:
                codes = bytes.fromhex(each.decode())
                for i in range(0, len(codes) - 1, 2):
                    text.append(font.get(int.from_bytes(codes[i:i + 2], "big"), "\ufffd"))
        numbers = []
    return "".join(text)


def pdf_pages(path: str | Path) -> list[str]:
    """The text of each page of the PDF at `path`."""
    data = Path(path).read_bytes()
    assert data.startswith(b"%PDF-"), "not a PDF"
    objects = _objects(data)

    def deref(body: bytes, key: bytes) -> bytes:
        m = re.search(rb"/" + key + rb"\s*" + _REF, body)
        return objects[int(m.group(1))] if m else body

    pages_root = next(b for b in objects.values() if re.search(rb"/Type\s*/Pages\b", b))
    kids = [int(n) for n in re.findall(_REF, re.search(rb"/Kids\s*\[(.*?)\]", pages_root, re.S).group(1))]
    pages = []
    for number in kids:
        page = objects[number]
        resources = deref(page, b"Resources")
        fonts_block = re.search(rb"/Font\s*<<(.*?)>>", resources, re.S).group(1)
        fonts = {}
        for name, ref in re.findall(rb"/(\S+?)\s+" + _REF, fonts_block):
            to_unicode = re.search(rb"/ToUnicode\s*" + _REF, objects[int(ref)])
            fonts[name] = _cmap(_stream(objects[int(to_unicode.group(1))])) if to_unicode else {}
        contents = re.search(rb"/Contents\s*(\[.*?\]|" + _REF + rb")", page, re.S).group(1)
        pages.append("".join(_page_text(_stream(objects[int(ref)]), fonts) for ref in re.findall(_REF, contents)))
    return pages


def pdf_text(path: str | Path, *, page_numbers: bool = False) -> str:
    """All the text of the PDF at `path`, without the page number that ends each page unless `page_numbers`."""
    pages = pdf_pages(path)
    if not page_numbers:
        pages = [re.sub(r"\n\s*\d+\s*$", "\n", page.rstrip("\n")) for page in pages]
    return "\n".join(pages)


def squeeze(text: str) -> str:
    """`text` without any whitespace (Qt maps its space glyph to a tab and draws no space where a line wraps), with
    ligatures spelled out (NFKC: the glyph 'ﬁ' reads as 'fi')."""
    return "".join(unicodedata.normalize("NFKC", text).split())
