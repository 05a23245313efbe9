"""Stripped photo thumbnails (Telegram's header-less tiny JPEGs) for channel avatars.

Clients rebuild the JPEG by prepending a fixed header (quantization and standard Huffman tables, 4:2:0
sampling) to the entropy-coded data. We encode images made of flat 16x16 tiles, where every 8x8 block
has only a DC coefficient, so a few lines of baseline JPEG encoding suffice.
"""

from functools import lru_cache

from telethon import utils

_HEADER = utils.stripped_photo_to_jpg(b'\x01\x00\x00')[:-2]
TILE = 16


def _segment(marker: int, start: int = 0) -> tuple[int, bytes]:
    index = _HEADER.index(bytes((0xFF, marker)), start)
    length = int.from_bytes(_HEADER[index + 2:index + 4], 'big')
    return index, _HEADER[index + 4:index + 2 + length]


def _tables() -> tuple[dict, dict]:
    quant: dict[int, int] = {}
    start = 0
    while True:
        try:
            start, body = _segment(0xDB, start)
        except ValueError:
            break
        quant[body[0] & 0x0F] = body[1]  # the DC step is all a flat block needs
        start += 2
    huffman: dict[int, dict[int, tuple[int, int]]] = {}
    start = 0
    while True:
        try:
            start, body = _segment(0xC4, start)
        except ValueError:
            break
        counts, values = body[1:17], body[17:]
        codes: dict[int, tuple[int, int]] = {}
        code = position = 0
        for length, count in enumerate(counts, start=1):
            for _ in range(count):
                codes[values[position]] = (code, length)
                code += 1
                position += 1
            code <<= 1
        huffman[body[0]] = codes
        start += 2
    return quant, huffman


_QUANT, _HUFFMAN = _tables()


class _Bits:
    def __init__(self) -> None:
        self.out = bytearray()
        self.acc = 0
        self.count = 0

    def put(self, value: int, length: int) -> None:
        for shift in range(length - 1, -1, -1):
            self.acc = (self.acc << 1) | ((value >> shift) & 1)
            self.count += 1
            if self.count == 8:
                self.out.append(self.acc)
                if self.acc == 0xFF:
                    self.out.append(0)
                self.acc = self.count = 0

    def flush(self) -> bytes:
        if self.count:
            self.put((1 << (8 - self.count)) - 1, 8 - self.count)
        return bytes(self.out)


def _ycbcr(rgb: tuple[int, int, int]) -> tuple[float, float, float]:
    r, g, b = rgb
    return (0.299 * r + 0.587 * g + 0.114 * b,
            128 - 0.168736 * r - 0.331264 * g + 0.5 * b,
            128 + 0.5 * r - 0.418688 * g - 0.081312 * b)


def stripped_thumb(tiles: list[list[tuple[int, int, int]]]) -> bytes:
    """A stripped thumbnail of rows of flat-coloured 16x16 tiles (RGB)."""
    return bytes((1, len(tiles) * TILE, len(tiles[0]) * TILE)) + scan(tiles)


def scan(tiles: list[list[tuple[int, int, int]]]) -> bytes:
    """The entropy-coded data of an image of flat 16x16 tiles, for the standard header's tables."""
    bits = _Bits()
    previous = [0, 0, 0]
    for row in tiles:
        for rgb in row:
            for component, value in enumerate(_ycbcr(rgb)):
                table = 0 if component == 0 else 1
                dc = round(8 * (value - 128) / _QUANT[table])
                for _ in range(4 if component == 0 else 1):
                    diff = dc - previous[component]
                    previous[component] = dc
                    size = abs(diff).bit_length()
                    bits.put(*_HUFFMAN[table][size])
                    if size:
                        bits.put(diff if diff > 0 else diff + (1 << size) - 1, size)
                    bits.put(*_HUFFMAN[0x10 | table][0])  # end of block: no AC coefficients
    return bits.flush()


@lru_cache(maxsize=1024)
def avatar(seed: int) -> bytes:
    """A 2x2-tile avatar whose colours follow from the seed."""
    def colour(n: int) -> tuple[int, int, int]:
        return ((seed * 97 + n * 61) % 256, (seed * 57 + n * 113) % 256, (seed * 31 + n * 181) % 256)

    return stripped_thumb([[colour(0), colour(1)], [colour(2), colour(0)]])
