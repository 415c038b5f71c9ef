"""Pure-Python BlurHash (https://blurha.sh) encoder and decoder.

The hub sends a BlurHash string with every image (``image["hash"]``); the bot renders it as a
placeholder while (or instead of) fetching the real preview. Civitai hashes use 4x4 components
(36 characters); the algorithm accepts 1..9 components on each axis.

* :func:`decode` turns a hash into a ``PIL.Image`` (RGB) of any size. Work is separable and uses
  lookup tables, so a 32x32 decode takes a few milliseconds.
* :func:`encode` computes a hash from a ``PIL.Image``. Large images are first reduced to at most
  ``ENCODE_MAX_SIDE`` pixels per side (the hash only keeps the lowest frequencies, so this barely
  changes the result and keeps the pure-Python loop fast).
* :func:`average_color` and :func:`is_valid` are cheap helpers (embed colours, validation).

Every malformed hash raises ``ValueError``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from PIL import Image

__all__ = ["ENCODE_MAX_SIDE", "average_color", "components", "decode", "encode", "is_valid"]

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz#$%*+,-.:;=?@[]^_{|}~"
_CHAR_VALUE = {c: i for i, c in enumerate(ALPHABET)}

#: ``encode`` downsizes images larger than this (per side) before computing components.
ENCODE_MAX_SIDE = 64

# sRGB byte -> linear float
_SRGB_TO_LINEAR = [(v / 255) / 12.92 if v / 255 <= 0.04045 else ((v / 255 + 0.055) / 1.055) ** 2.4 for v in range(256)]
# linear float (quantised to 1/_LUT_STEPS) -> sRGB byte
_LUT_STEPS = 4096


def _linear_to_srgb_exact(value: float) -> int:
    v = max(0.0, min(1.0, value))
    if v <= 0.0031308:
        return int(v * 12.92 * 255 + 0.5)
    return int((1.055 * v ** (1 / 2.4) - 0.055) * 255 + 0.5)


_LINEAR_TO_SRGB = bytes(_linear_to_srgb_exact(i / _LUT_STEPS) for i in range(_LUT_STEPS + 1))


def _decode83(text: str) -> int:
    value = 0
    for ch in text:
        digit = _CHAR_VALUE.get(ch)
        if digit is None:
            raise ValueError(f"invalid BlurHash character {ch!r}")
        value = value * 83 + digit
    return value


def _encode83(value: int, length: int) -> str:
    out = []
    for i in range(1, length + 1):
        digit = (value // 83 ** (length - i)) % 83
        out.append(ALPHABET[digit])
    return "".join(out)


def _sign_pow(value: float, exp: float) -> float:
    return math.copysign(abs(value) ** exp, value)


def components(blurhash: str) -> tuple[int, int]:
    """Return ``(x_components, y_components)`` of a hash; ``ValueError`` if malformed."""
    if not isinstance(blurhash, str):
        raise ValueError("BlurHash must be a string")
    if len(blurhash) < 6:
        raise ValueError("BlurHash must be at least 6 characters")
    size_flag = _decode83(blurhash[0])
    ny = size_flag // 9 + 1
    nx = size_flag % 9 + 1
    expected = 4 + 2 * nx * ny
    if len(blurhash) != expected:
        raise ValueError(f"BlurHash length {len(blurhash)} does not match {nx}x{ny} components ({expected})")
    return nx, ny


def _decode_colors(blurhash: str, punch: float) -> tuple[int, int, list[tuple[float, float, float]]]:
    nx, ny = components(blurhash)
    quant_max = _decode83(blurhash[1])
    max_value = (quant_max + 1) / 166 * punch
    dc = _decode83(blurhash[2:6])
    if dc > 0xFFFFFF:
        raise ValueError("BlurHash DC component out of range")
    colors = [(_SRGB_TO_LINEAR[dc >> 16], _SRGB_TO_LINEAR[(dc >> 8) & 255], _SRGB_TO_LINEAR[dc & 255])]
    for i in range(1, nx * ny):
        value = _decode83(blurhash[4 + i * 2 : 6 + i * 2])
        if value > 18 * 19 * 19 + 18 * 19 + 18:
            raise ValueError("BlurHash AC component out of range")
        qr, qg, qb = value // 361, (value // 19) % 19, value % 19
        colors.append(
            (
                _sign_pow((qr - 9) / 9, 2.0) * max_value,
                _sign_pow((qg - 9) / 9, 2.0) * max_value,
                _sign_pow((qb - 9) / 9, 2.0) * max_value,
            )
        )
    return nx, ny, colors


def is_valid(blurhash: object) -> bool:
    """True when ``blurhash`` is a well-formed hash."""
    try:
        _decode_colors(blurhash, 1.0)  # type: ignore[arg-type]
    except ValueError:
        return False
    return True


def average_color(blurhash: str) -> tuple[int, int, int]:
    """The hash's DC (average) colour as sRGB bytes; ``ValueError`` if malformed."""
    _decode_colors(blurhash, 1.0)
    dc = _decode83(blurhash[2:6])
    return dc >> 16, (dc >> 8) & 255, dc & 255


def decode(blurhash: str, width: int, height: int, punch: float = 1.0) -> Image.Image:
    """Render ``blurhash`` as an RGB image of ``width`` x ``height``.

    ``punch`` scales the AC components (contrast). Raises ``ValueError`` for a malformed hash or a
    non-positive size.
    """
    if not isinstance(width, int) or not isinstance(height, int) or width <= 0 or height <= 0:
        raise ValueError("width and height must be positive integers")
    if punch <= 0:
        raise ValueError("punch must be positive")
    nx, ny, colors = _decode_colors(blurhash, punch)

    cos_x = [[math.cos(math.pi * x * i / width) for x in range(width)] for i in range(nx)]
    cos_y = [[math.cos(math.pi * y * j / height) for y in range(height)] for j in range(ny)]
    lut = _LINEAR_TO_SRGB
    steps = _LUT_STEPS
    xs = range(width)
    out = bytearray(width * height * 3)
    pos = 0
    for y in range(height):
        # Collapse the y basis first: per x-component colour for this row.
        row_r = [0.0] * nx
        row_g = [0.0] * nx
        row_b = [0.0] * nx
        for j in range(ny):
            cy = cos_y[j][y]
            base = j * nx
            for i in range(nx):
                c = colors[base + i]
                row_r[i] += c[0] * cy
                row_g[i] += c[1] * cy
                row_b[i] += c[2] * cy
        terms = [(cos_x[i], row_r[i], row_g[i], row_b[i]) for i in range(nx)]
        for x in xs:
            r = g = b = 0.0
            for cx, tr, tg, tb in terms:
                f = cx[x]
                r += tr * f
                g += tg * f
                b += tb * f
            # clamp to [0, 1] and map through the lookup table
            ri = int((r if r > 0.0 else 0.0) * steps + 0.5)
            gi = int((g if g > 0.0 else 0.0) * steps + 0.5)
            bi = int((b if b > 0.0 else 0.0) * steps + 0.5)
            out[pos] = lut[ri if ri < steps else steps]
            out[pos + 1] = lut[gi if gi < steps else steps]
            out[pos + 2] = lut[bi if bi < steps else steps]
            pos += 3
    return Image.frombytes("RGB", (width, height), bytes(out))


def encode(image: Image.Image, x_components: int = 4, y_components: int = 3) -> str:
    """Compute the BlurHash of ``image`` with the given component counts (1..9 each)."""
    if not (1 <= x_components <= 9 and 1 <= y_components <= 9):
        raise ValueError("component counts must be between 1 and 9")
    img = image.convert("RGB") if image.mode != "RGB" else image
    width, height = img.size
    if width <= 0 or height <= 0:
        raise ValueError("image is empty")
    if max(width, height) > ENCODE_MAX_SIDE:
        scale = ENCODE_MAX_SIDE / max(width, height)
        img = img.resize((max(1, round(width * scale)), max(1, round(height * scale))), Image.Resampling.BOX)
        width, height = img.size

    data = img.tobytes()
    lin = _SRGB_TO_LINEAR
    n = width * height
    red = [lin[v] for v in data[0::3]]
    green = [lin[v] for v in data[1::3]]
    blue = [lin[v] for v in data[2::3]]
    cos_x = [[math.cos(math.pi * i * x / width) for x in range(width)] for i in range(x_components)]
    cos_y = [[math.cos(math.pi * j * y / height) for y in range(height)] for j in range(y_components)]

    factors: list[tuple[float, float, float]] = []
    for j in range(y_components):
        cyj = cos_y[j]
        for i in range(x_components):
            cxi = cos_x[i]
            norm = (1.0 if i == 0 and j == 0 else 2.0) / n
            r = g = b = 0.0
            idx = 0
            for y in range(height):
                cy = cyj[y]
                for x in range(width):
                    basis = cxi[x] * cy
                    r += basis * red[idx]
                    g += basis * green[idx]
                    b += basis * blue[idx]
                    idx += 1
            factors.append((r * norm, g * norm, b * norm))
    return _encode_factors(factors, x_components, y_components)


def _encode_factors(factors: Sequence[tuple[float, float, float]], nx: int, ny: int) -> str:
    dc, ac = factors[0], factors[1:]
    parts = [_encode83((nx - 1) + (ny - 1) * 9, 1)]
    if ac:
        actual_max = max(abs(v) for f in ac for v in f)
        quant_max = int(max(0, min(82, math.floor(actual_max * 166 - 0.5))))
        max_value = (quant_max + 1) / 166
        parts.append(_encode83(quant_max, 1))
    else:
        max_value = 1.0
        parts.append(_encode83(0, 1))
    dc_value = (_linear_to_srgb_exact(dc[0]) << 16) + (_linear_to_srgb_exact(dc[1]) << 8) + _linear_to_srgb_exact(dc[2])
    parts.append(_encode83(dc_value, 4))
    for r, g, b in ac:
        qr = int(max(0, min(18, math.floor(_sign_pow(r / max_value, 0.5) * 9 + 9.5))))
        qg = int(max(0, min(18, math.floor(_sign_pow(g / max_value, 0.5) * 9 + 9.5))))
        qb = int(max(0, min(18, math.floor(_sign_pow(b / max_value, 0.5) * 9 + 9.5))))
        parts.append(_encode83(qr * 19 * 19 + qg * 19 + qb, 2))
    return "".join(parts)
