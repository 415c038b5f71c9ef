"""bot.media.blurhash: decode real hub hashes, encode/decode round trip, malformed input."""

from __future__ import annotations

import pytest
from PIL import Image, ImageStat

from bot.media import blurhash
from tests.fakes.hub_data import load_samples


@pytest.fixture(scope="module")
def sample_hashes() -> list[str]:
    """BlurHashes of real images from the captured 2025 and 2023 responses."""
    samples = load_samples()
    hashes = [
        img["hash"] for m in samples.models_2025 for v in m["modelVersions"] for img in v["images"] if img.get("hash")
    ]
    hashes += [img["hash"] for img in samples.model_version_1318["images"]]
    hashes += [img["hash"] for img in samples.images_2023]
    assert len(hashes) > 50
    return hashes


def test_decode_real_hashes_to_requested_size(sample_hashes: list[str]) -> None:
    for h, size in zip(sample_hashes[:40], [(32, 32), (20, 30), (45, 17), (1, 1)] * 10, strict=True):
        img = blurhash.decode(h, *size)
        assert img.size == size
        assert img.mode == "RGB"
        assert blurhash.is_valid(h)
        assert blurhash.components(h) == (4, 4)  # Civitai hashes are 4x4 (36 chars)


def test_decoded_mean_matches_dc_colour(sample_hashes: list[str]) -> None:
    # The DC term is the average colour; the decoded image's mean must sit close to it.
    for h in sample_hashes[:25]:
        mean = ImageStat.Stat(blurhash.decode(h, 32, 32)).mean
        dc = blurhash.average_color(h)
        assert all(abs(m - d) < 40 for m, d in zip(mean, dc, strict=True)), (h, mean, dc)


def _test_image() -> Image.Image:
    img = Image.new("RGB", (64, 48))
    img.putdata([(40 + x * 3, 200 - y * 2, 90 + (x + y) % 40) for y in range(48) for x in range(64)])
    return img


def _linear_mean_srgb(img: Image.Image) -> tuple[int, ...]:
    def to_lin(v: int) -> float:
        c = v / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    def to_srgb(v: float) -> int:
        return round(255 * (v * 12.92 if v <= 0.0031308 else 1.055 * v ** (1 / 2.4) - 0.055))

    data = img.convert("RGB").tobytes()
    n = len(data) // 3
    return tuple(to_srgb(sum(to_lin(v) for v in data[c::3]) / n) for c in range(3))


@pytest.mark.parametrize(("nx", "ny"), [(4, 3), (4, 4), (1, 1), (9, 9), (5, 2)])
def test_encode_decode_round_trip_keeps_average_colour(nx: int, ny: int) -> None:
    src = _test_image()
    h = blurhash.encode(src, nx, ny)
    assert len(h) == 4 + 2 * nx * ny
    assert blurhash.components(h) == (nx, ny)
    # BlurHash averages in linear light: the DC is the source's linear-space mean...
    dc = blurhash.average_color(h)
    expected = _linear_mean_srgb(src)
    assert all(abs(a - b) <= 2 for a, b in zip(dc, expected, strict=True)), (dc, expected)
    # ...and the decoded placeholder keeps the perceived average colour.
    out = blurhash.decode(h, 64, 48)
    src_mean = ImageStat.Stat(src).mean
    out_mean = ImageStat.Stat(out).mean
    for a, b in zip(src_mean, out_mean, strict=True):
        assert abs(a - b) < 16, (src_mean, out_mean)


def test_encode_keeps_structure_and_is_deterministic() -> None:
    left_red = Image.new("RGB", (40, 20), (230, 20, 20))
    left_red.paste((20, 20, 230), (20, 0, 40, 20))
    h = blurhash.encode(left_red, 4, 3)
    assert h == blurhash.encode(left_red, 4, 3)
    out = blurhash.decode(h, 40, 20)
    r_left, _g, b_left = out.getpixel((3, 10))
    r_right, _g2, b_right = out.getpixel((36, 10))
    assert r_left > b_left and b_right > r_right


def test_encode_large_and_non_rgb_images() -> None:
    big = Image.new("RGBA", (1500, 900), (10, 120, 200, 255))
    h = blurhash.encode(big)
    assert blurhash.average_color(h) == pytest.approx((10, 120, 200), abs=3)
    gray = Image.new("L", (30, 30), 128)
    assert blurhash.is_valid(blurhash.encode(gray, 3, 3))


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "U",
        "LEHV6",  # too short
        "LEHV6nWB2yk8pyo0adR*.7kCMdn",  # one character short
        "LEHV6nWB2yk8pyo0adR*.7kCMdnjj",  # one too many
        "LEHV6nWB2yk8pyo0adR*.7kCMdn ",  # space is not base83
        "LEHV6nWB2yk8pyo0adR*.7kCMdn\u00e9",
        "00~~~~",  # DC above 0xFFFFFF
        "L0~~~~~~~~~~~~~~~~~~~~~~~~~~",  # AC values out of range
    ],
)
def test_malformed_hashes_raise_value_error(bad: str) -> None:
    with pytest.raises(ValueError):
        blurhash.decode(bad, 8, 8)
    assert not blurhash.is_valid(bad)


def test_non_string_and_bad_sizes_raise_value_error(sample_hashes: list[str]) -> None:
    with pytest.raises(ValueError):
        blurhash.decode(None, 8, 8)  # type: ignore[arg-type]
    for w, h in [(0, 8), (8, 0), (-1, 5)]:
        with pytest.raises(ValueError):
            blurhash.decode(sample_hashes[0], w, h)
    with pytest.raises(ValueError):
        blurhash.encode(_test_image(), 0, 3)
    with pytest.raises(ValueError):
        blurhash.encode(_test_image(), 4, 10)


def test_punch_changes_contrast(sample_hashes: list[str]) -> None:
    h = sample_hashes[1]
    soft = ImageStat.Stat(blurhash.decode(h, 32, 32, punch=0.5)).stddev
    hard = ImageStat.Stat(blurhash.decode(h, 32, 32, punch=2.0)).stddev
    assert sum(hard) > sum(soft)
