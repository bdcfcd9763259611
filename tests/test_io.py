"""Tests for autodip.io: reading, writing, error messages and tensor conversion."""

from __future__ import annotations

import dataclasses
import os
import pickle
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
import tifffile
import torch
from PIL import Image

from autodip.io import (
    ImageDamagedError,
    ImageFramesError,
    ImageInfo,
    ImageReadError,
    ImageWriteError,
    check_output,
    image_to_tensor,
    read_image,
    tensor_to_image,
    write_image,
)
from autodip.io import atomic as aio_atomic
from autodip.io import read as aio_read
from autodip.io.png16 import _png_chunks, _png_unfilter

H, W = 31, 37  # odd sizes catch row-stride and transpose mistakes
MAXVAL = {8: 255, 16: 65535}
DTYPE = {8: np.uint8, 16: np.uint16}


def random_ints(shape: tuple[int, ...], depth: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(0, MAXVAL[depth] + 1, size=shape).astype(DTYPE[depth])


def smooth_rgb(h: int = 64, w: int = 80) -> np.ndarray:
    """A smooth float C×H×W image (JPEG-friendly)."""
    y, x = np.mgrid[0:h, 0:w] / np.array([h, w])[:, None, None]
    return np.stack([x, y, 0.5 + 0.4 * np.sin(3 * x + 2 * y)]).astype(np.float32)


def as_ints(pixels: np.ndarray, depth: int) -> np.ndarray:
    return np.rint(pixels.astype(np.float64) * MAXVAL[depth]).astype(DTYPE[depth])


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".tmp"))


# ----------------------------------------------------------------------------------------
# Reference PNG encoder: scalar, byte by byte, straight from the PNG specification. It is
# deliberately written differently from the vectorised decoder it checks.
# ----------------------------------------------------------------------------------------


def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def reference_png(hwc: np.ndarray, filters: list[int], interlace: int = 0) -> bytes:
    """Encode a H×W×C uint16 array, row r using filter type filters[r % len(filters)]."""
    height, width, channels = hwc.shape
    bpp = 2 * channels
    colour_type = {1: 0, 2: 4, 3: 2, 4: 6}[channels]
    raw = bytearray()
    prev = [0] * (width * bpp)
    for r in range(height):
        row = list(hwc[r].astype(">u2").tobytes())
        kind = filters[r % len(filters)]
        out = []
        for i, value in enumerate(row):
            a = row[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            predictor = [0, a, b, (a + b) // 2, _paeth(a, b, c)][kind]
            out.append((value - predictor) % 256)
        raw.append(kind)
        raw.extend(out)
        prev = row

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body)
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 16, colour_type, 0, 0, interlace)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(bytes(raw)))
        + chunk(b"IEND", b"")
    )


# ----------------------------------------------------------------------------------------
# Round trips
# ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("depth", [8, 16])
@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("with_alpha", [False, True])
def test_png_round_trip_is_exact(tmp_path, depth, channels, with_alpha):
    ints = random_ints((channels, H, W), depth)
    alpha = random_ints((H, W), depth, seed=1) if with_alpha else None
    info = ImageInfo("in.png", "png", depth, "L" if channels == 1 else "RGB", alpha=alpha)
    out = write_image(tmp_path / "out.png", ints / MAXVAL[depth], info)

    pixels, got = read_image(out)

    assert pixels.dtype == np.float32
    assert pixels.shape == (channels, H, W)
    assert pixels.flags.c_contiguous
    np.testing.assert_array_equal(as_ints(pixels, depth), ints)
    assert (got.format, got.bit_depth, got.mode) == ("png", depth, info.mode)
    assert got.path == str(out)
    assert got.value_range is None
    if with_alpha:
        assert got.alpha.dtype == DTYPE[depth]
        np.testing.assert_array_equal(got.alpha, alpha)
    else:
        assert got.alpha is None


@pytest.mark.parametrize("channels", [1, 2, 3, 4])
def test_our_16bit_png_is_valid_for_pillow(tmp_path, channels):
    """Pillow reads 16-bit colour PNGs as 8 bits (the high byte); gray keeps 16 bits.

    (Pillow opens 16-bit gray+alpha as 8-bit RGBA.)
    """
    ints = random_ints((H, W, channels), 16)
    alpha = ints[..., -1] if channels in (2, 4) else None
    colour = ints[..., :-1] if alpha is not None else ints
    info = ImageInfo("x", "png", 16, "?", alpha=alpha)
    out = write_image(tmp_path / "o.png", np.moveaxis(colour, -1, 0) / 65535, info)
    with Image.open(out) as im:
        decoded = np.asarray(im)
    if channels == 1:
        np.testing.assert_array_equal(decoded, ints[..., 0])
    elif channels == 2:
        np.testing.assert_array_equal(decoded[..., [0, 3]], ints >> 8)
    else:
        np.testing.assert_array_equal(decoded.reshape(H, W, channels), ints >> 8)


def test_reads_16bit_gray_png_written_by_pillow(tmp_path):
    ints = random_ints((H, W), 16)
    Image.fromarray(ints).save(tmp_path / "g.png")
    pixels, info = read_image(tmp_path / "g.png")
    assert (info.bit_depth, info.mode) == (16, "L")
    np.testing.assert_array_equal(as_ints(pixels[0], 16), ints)


@pytest.mark.parametrize(
    ("channels", "filters"),
    [(3, [0, 1, 2, 3, 4]), (4, [4, 3, 2, 1, 0]), (2, [3]), (4, [4]), (3, [1, 2, 0])],
    ids=["rgb-all", "rgba-all", "la-average", "rgba-paeth", "rgb-simple"],
)
def test_png16_decoder_undoes_every_filter(tmp_path, channels, filters):
    hwc = random_ints((9, 11, channels), 16, seed=3)
    hwc[:, :5] //= 300  # mix small and large values so all predictor branches are taken
    path = tmp_path / "ref.png"
    path.write_bytes(reference_png(hwc, filters))
    pixels, info = read_image(path)
    colour = hwc[..., :3] if channels >= 3 else hwc[..., :1]
    np.testing.assert_array_equal(as_ints(pixels, 16), np.moveaxis(colour, -1, 0))
    if channels in (2, 4):
        np.testing.assert_array_equal(info.alpha, hwc[..., -1])


def test_unfilter_matches_pillow_on_adaptively_filtered_png():
    """Pillow picks a filter per row; undoing them must give Pillow's own pixels."""
    import io

    rng = np.random.default_rng(5)
    img = np.cumsum(rng.integers(0, 9, size=(40, 50, 4)), axis=0).astype(np.uint8)
    img[:, ::7] = rng.integers(0, 256, size=img[:, ::7].shape)
    buffer = io.BytesIO()
    Image.fromarray(img).save(buffer, format="PNG")
    chunks = _png_chunks(buffer.getvalue())
    raw = zlib.decompress(b"".join(body for kind, body in chunks if kind == b"IDAT"))
    rows = np.frombuffer(raw, dtype=np.uint8).reshape(40, -1)
    assert len(set(rows[:, 0].tolist())) > 1  # several filter types really are used
    unfiltered = _png_unfilter(rows[:, 0], rows[:, 1:], bpp=4)
    np.testing.assert_array_equal(unfiltered.reshape(img.shape), img)


@pytest.mark.parametrize("depth", [8, 16, 32])
@pytest.mark.parametrize("channels", [1, 3, 5])
def test_tiff_round_trip(tmp_path, depth, channels):
    if depth == 32:
        pixels_in = np.random.default_rng(0).random((channels, H, W), dtype=np.float32)
    else:
        pixels_in = (random_ints((channels, H, W), depth) / MAXVAL[depth]).astype(np.float32)
    out = write_image(tmp_path / "o.tif", pixels_in, bit_depth=depth)
    pixels, info = read_image(out)
    assert (info.format, info.bit_depth) == ("tiff", depth)
    assert info.mode == {1: "L", 3: "RGB"}.get(channels, f"C{channels}")
    if depth == 32:
        np.testing.assert_array_equal(pixels, pixels_in)
    else:
        np.testing.assert_array_equal(as_ints(pixels, depth), as_ints(pixels_in, depth))


@pytest.mark.parametrize("depth", [8, 16])
@pytest.mark.parametrize("channels", [1, 3])
def test_tiff_alpha_round_trip(tmp_path, depth, channels):
    ints = random_ints((channels, H, W), depth)
    alpha = random_ints((H, W), depth, seed=2)
    info = ImageInfo("in.tif", "tiff", depth, "?", alpha=alpha)
    pixels, got = read_image(write_image(tmp_path / "o.tiff", ints / MAXVAL[depth], info))
    np.testing.assert_array_equal(as_ints(pixels, depth), ints)
    np.testing.assert_array_equal(got.alpha, alpha)
    assert got.alpha.dtype == alpha.dtype


def test_reads_tifffile_layouts(tmp_path):
    rgb = random_ints((H, W, 3), 16)
    tifffile.imwrite(tmp_path / "contig.tif", rgb, photometric="rgb")
    planar = np.ascontiguousarray(np.moveaxis(rgb, -1, 0))
    tifffile.imwrite(tmp_path / "planar.tif", planar, photometric="rgb", planarconfig="separate")
    for name in ("contig.tif", "planar.tif"):
        pixels, info = read_image(tmp_path / name)
        assert (info.mode, info.bit_depth) == ("RGB", 16)
        np.testing.assert_array_equal(as_ints(pixels, 16), planar)


def test_float_tiff_outside_unit_range_is_scaled_and_restored(tmp_path):
    data = np.random.default_rng(0).normal(100.0, 50.0, size=(H, W)).astype(np.float32)
    tifffile.imwrite(tmp_path / "f.tif", data)
    pixels, info = read_image(tmp_path / "f.tif")
    assert info.bit_depth == 32
    assert info.value_range == (float(data.min()), float(data.max()))
    assert pixels.min() == 0.0 and pixels.max() == 1.0
    out = write_image(tmp_path / "back.tif", pixels, info)
    back = tifffile.imread(out)
    assert back.dtype == np.float32
    np.testing.assert_allclose(back, data, rtol=1e-6, atol=1e-6 * float(np.ptp(data)))


@pytest.mark.parametrize(
    ("save_kwargs", "convert"),
    [({"compression": "jpeg"}, None), ({}, "P"), ({}, "CMYK")],
    ids=["jpeg-compressed", "palette", "cmyk"],
)
def test_tiffs_tifffile_cannot_decode_fall_back_on_pillow(tmp_path, save_kwargs, convert):
    im = Image.fromarray(np.moveaxis(as_ints(smooth_rgb(), 8), 0, -1))
    (im.convert(convert) if convert else im).save(tmp_path / "x.tif", **save_kwargs)
    pixels, info = read_image(tmp_path / "x.tif")
    assert (info.format, info.mode, pixels.shape) == ("tiff", "RGB", (3, 64, 80))
    with Image.open(tmp_path / "x.tif") as reference:
        expected = np.asarray(reference.convert("RGB"))
    np.testing.assert_array_equal(as_ints(pixels, 8), np.moveaxis(expected, -1, 0))


def test_miniswhite_tiff_is_inverted(tmp_path):
    tifffile.imwrite(tmp_path / "mw.tif", np.array([[0, 255]], np.uint8), photometric="miniswhite")
    pixels, _ = read_image(tmp_path / "mw.tif")
    np.testing.assert_array_equal(pixels, [[[1.0, 0.0]]])


def test_tiff_stack_is_refused(tmp_path):
    tifffile.imwrite(tmp_path / "stack.tif", np.zeros((2, 5, 6, 7), np.uint8))
    with pytest.raises(ImageReadError, match="not one 2-D image"):
        read_image(tmp_path / "stack.tif")


@pytest.mark.parametrize("channels", [1, 3])
def test_bmp_round_trip_is_exact(tmp_path, channels):
    ints = random_ints((channels, H, W), 8)
    pixels, info = read_image(write_image(tmp_path / "o.bmp", ints / 255))
    assert (info.format, info.bit_depth, pixels.shape) == ("bmp", 8, (channels, H, W))
    np.testing.assert_array_equal(as_ints(pixels, 8), ints)


@pytest.mark.parametrize("channels", [1, 3])
def test_jpeg_round_trip_is_close(tmp_path, channels):
    original = smooth_rgb()[:channels]
    pixels, info = read_image(write_image(tmp_path / "o.jpg", original))
    assert (info.format, info.bit_depth, pixels.shape) == ("jpeg", 8, original.shape)
    mse = float(np.mean((pixels.astype(np.float64) - original) ** 2))
    assert 10 * np.log10(1.0 / mse) > 35


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_npy_float_in_unit_range_round_trips_exactly(tmp_path, dtype):
    data = np.random.default_rng(0).random((H, W, 3)).astype(dtype)
    np.save(tmp_path / "a.npy", data)
    pixels, info = read_image(tmp_path / "a.npy")
    assert (info.format, info.bit_depth, info.mode, info.value_range) == ("npy", 32, "RGB", None)
    expected = np.moveaxis(data, -1, 0).astype(np.float32)
    np.testing.assert_array_equal(pixels, expected)
    out = write_image(tmp_path / "b.npy", pixels, info)
    np.testing.assert_array_equal(np.load(out), data.astype(np.float32))


def test_npy_float_outside_unit_range_is_scaled_and_written_back(tmp_path):
    data = np.random.default_rng(1).uniform(-20.0, 300.0, size=(2, H, W)).astype(np.float32)
    np.save(tmp_path / "a.npy", data)
    pixels, info = read_image(tmp_path / "a.npy")
    assert info.mode == "C2"
    assert info.value_range == (float(data.min()), float(data.max()))
    assert pixels.min() == 0.0 and pixels.max() == 1.0
    back = np.load(write_image(tmp_path / "b.npy", pixels, info))
    assert back.dtype == np.float32
    assert back.shape == data.shape  # written back channels-first, as it was read
    np.testing.assert_allclose(back, data, rtol=1e-6, atol=1e-6 * float(np.ptp(data)))


def test_constant_float_npy_outside_unit_range(tmp_path):
    np.save(tmp_path / "c.npy", np.full((4, 5), 7.5))
    pixels, info = read_image(tmp_path / "c.npy")
    assert info.value_range == (7.5, 7.5)
    np.testing.assert_array_equal(pixels, 0.0)
    np.testing.assert_array_equal(np.load(write_image(tmp_path / "d.npy", pixels, info)), 7.5)


@pytest.mark.parametrize(
    ("array", "depth", "scale"),
    [
        (np.arange(20, dtype=np.uint8).reshape(4, 5) * 13, 8, 255),
        (np.arange(20, dtype=np.uint16).reshape(4, 5) * 3000, 16, 65535),
        (np.eye(4, 5, dtype=bool), 8, 1),
    ],
    ids=["uint8", "uint16", "bool"],
)
def test_npy_integer_dtypes(tmp_path, array, depth, scale):
    np.save(tmp_path / "i.npy", array)
    pixels, info = read_image(tmp_path / "i.npy")
    assert (info.bit_depth, info.mode, pixels.shape) == (depth, "L", (1, 4, 5))
    np.testing.assert_array_equal(pixels[0], array.astype(np.float32) / scale)


@pytest.mark.parametrize(
    ("shape", "expected"),
    [
        ((20, 30), (1, 20, 30)),
        ((20, 30, 3), (3, 20, 30)),  # channels last
        ((3, 20, 30), (3, 20, 30)),  # channels first: shape[0] <= 16 < shape[-1]
        ((1, 4, 20, 30), (4, 20, 30)),  # a 1×C×H×W tensor dump
        ((8, 8, 2), (2, 8, 8)),
    ],
)
def test_npy_axis_rule(tmp_path, shape, expected):
    data = np.random.default_rng(0).random(shape, dtype=np.float32)
    np.save(tmp_path / "a.npy", data)
    pixels, info = read_image(tmp_path / "a.npy")
    assert pixels.shape == expected
    assert info.alpha is None


#: every array layout the reader accepts (H, W > 16, so that C×H×W is unambiguous)
NPY_LAYOUTS = {
    "HW": (20, 24),
    "HWC1": (20, 24, 1),
    "HWC": (20, 24, 3),
    "CHW": (3, 20, 24),
    "CHW1": (1, 20, 24),
    "1CHW": (1, 3, 20, 24),
    "11HW": (1, 1, 20, 24),
}
#: every dtype the reader accepts -> the dtype it is written back as
NPY_DTYPES = {
    "bool": np.float32,
    "uint8": np.uint8,
    "uint16": np.uint16,
    **{name: np.float32 for name in ("int8", "int16", "int32", "int64", "uint32", "uint64")},
    **{name: np.float32 for name in ("float16", "float32", "float64")},
}


def _npy_values(shape: tuple[int, ...], dtype: str) -> np.ndarray:
    rng = np.random.default_rng(len(shape))
    if dtype == "bool":
        return rng.random(shape) > 0.5
    if dtype.startswith("float"):
        return rng.uniform(-3.0, 250.0, shape).astype(dtype)
    info = np.iinfo(dtype)
    lo, hi = max(info.min, -30000), min(info.max, 60000)
    values = rng.integers(lo, hi, shape, endpoint=True).astype(dtype)
    values.flat[:2] = lo, hi  # the whole range of the type, where it is small
    return values


@pytest.mark.parametrize("dtype", list(NPY_DTYPES))
@pytest.mark.parametrize("layout", list(NPY_LAYOUTS))
def test_npy_round_trip_keeps_layout_and_values(tmp_path, layout, dtype):
    original = _npy_values(NPY_LAYOUTS[layout], dtype)
    np.save(tmp_path / "in.npy", original)
    pixels, info = read_image(tmp_path / "in.npy")
    assert info.dtype == dtype
    back = np.load(write_image(tmp_path / "out.npy", pixels, info))
    assert back.shape == original.shape  # (3, H, W) stays channels-first, (H, W) stays 2-D
    assert back.dtype == NPY_DTYPES[dtype]
    if dtype in ("bool", "uint8", "uint16"):  # bool comes back as 0.0 / 1.0
        np.testing.assert_array_equal(back, original.astype(back.dtype))
        return
    span = float(original.max()) - float(original.min())
    np.testing.assert_allclose(back, original.astype(np.float64), rtol=0, atol=1e-6 * span)
    again, again_info = read_image(tmp_path / "out.npy")
    assert again.shape == pixels.shape and again_info.layout == info.layout


def test_npy_layout_is_recorded(tmp_path):
    for name, shape in NPY_LAYOUTS.items():
        np.save(tmp_path / "a.npy", np.zeros(shape, np.float32))
        expected = {"HWC1": "HWC", "CHW1": "CHW", "11HW": "1CHW"}.get(name, name)
        assert read_image(tmp_path / "a.npy")[1].layout == expected
    Image.fromarray(np.zeros((4, 5), np.uint8)).save(tmp_path / "a.png")
    assert read_image(tmp_path / "a.png")[1].layout is None


# ----------------------------------------------------------------------------------------
# Pillow specifics: palette, EXIF, odd modes, content sniffing
# ----------------------------------------------------------------------------------------


def test_palette_png_reads_as_rgb_with_the_right_colours(tmp_path):
    palette = [255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 20, 30]
    indices = (np.arange(H * W).reshape(H, W) % 4).astype(np.uint8)
    im = Image.fromarray(indices, mode="P")
    im.putpalette(palette)
    im.save(tmp_path / "p.png")
    pixels, info = read_image(tmp_path / "p.png")
    assert (info.mode, info.bit_depth, info.alpha) == ("RGB", 8, None)
    colours = np.array(palette, dtype=np.uint8).reshape(4, 3)
    np.testing.assert_array_equal(as_ints(pixels, 8), np.moveaxis(colours[indices], -1, 0))


def test_palette_png_with_transparency_gets_alpha(tmp_path):
    im = Image.fromarray(np.array([[0, 1], [1, 0]], dtype=np.uint8), mode="P")
    im.putpalette([255, 0, 0, 0, 0, 255])
    im.save(tmp_path / "t.png", transparency=1)
    pixels, info = read_image(tmp_path / "t.png")
    assert info.mode == "RGB"
    np.testing.assert_array_equal(as_ints(pixels[:, 0, 0], 8), [255, 0, 0])
    np.testing.assert_array_equal(info.alpha, [[255, 0], [0, 255]])


def test_gray_alpha_and_bilevel_pngs(tmp_path):
    la = random_ints((H, W, 2), 8)
    Image.fromarray(la, mode="LA").save(tmp_path / "la.png")
    pixels, info = read_image(tmp_path / "la.png")
    assert info.mode == "L"
    np.testing.assert_array_equal(as_ints(pixels[0], 8), la[..., 0])
    np.testing.assert_array_equal(info.alpha, la[..., 1])

    Image.fromarray(la[..., 0] > 127).convert("1").save(tmp_path / "bw.png")
    pixels, info = read_image(tmp_path / "bw.png")
    assert info.mode == "L"
    np.testing.assert_array_equal(pixels[0], (la[..., 0] > 127).astype(np.float32))


def test_cmyk_jpeg_reads_as_rgb(tmp_path):
    Image.new("CMYK", (W, H), (0, 255, 255, 0)).save(tmp_path / "cmyk.jpg")
    pixels, info = read_image(tmp_path / "cmyk.jpg")
    assert info.mode == "RGB"
    assert pixels.shape == (3, H, W)


def test_exif_orientation_is_applied(tmp_path):
    width, height = 40, 20
    data = np.zeros((height, width, 3), dtype=np.uint8)
    data[:, : width // 2] = (255, 0, 0)  # left half red
    data[:, width // 2 :] = (0, 0, 255)  # right half blue
    im = Image.fromarray(data)
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90° clockwise to display
    im.save(tmp_path / "rot.jpg", exif=exif, quality=95)

    pixels, _ = read_image(tmp_path / "rot.jpg")

    assert pixels.shape == (3, width, height)
    top, bottom = pixels[:, 5, height // 2], pixels[:, -5, height // 2]
    assert top[0] > 0.9 and top[2] < 0.1  # the left side is now on top: red
    assert bottom[2] > 0.9 and bottom[0] < 0.1


def test_other_pillow_formats_can_be_read(tmp_path):
    Image.fromarray(np.full((H, W, 3), 200, np.uint8)).save(tmp_path / "a.gif")
    pixels, info = read_image(tmp_path / "a.gif")
    assert (info.format, info.mode, pixels.shape) == ("gif", "RGB", (3, H, W))
    np.testing.assert_array_equal(as_ints(pixels, 8), 200)


def test_content_decides_not_the_extension(tmp_path):
    ints = random_ints((H, W, 3), 8)
    Image.fromarray(ints).save(tmp_path / "really_a_png.dat", format="PNG")
    np.save(tmp_path / "array.bin.npy", ints)
    (tmp_path / "array.img").write_bytes((tmp_path / "array.bin.npy").read_bytes())
    for name, fmt in [("really_a_png.dat", "png"), ("array.img", "npy")]:
        pixels, info = read_image(tmp_path / name)
        assert info.format == fmt
        np.testing.assert_array_equal(as_ints(pixels, 8), np.moveaxis(ints, -1, 0))


# ----------------------------------------------------------------------------------------
# Read errors
# ----------------------------------------------------------------------------------------


def _make_corrupt(p: Path) -> None:
    p.write_bytes(b"this is not an image at all, just some text\n" * 3)


def _make_truncated_png(p: Path) -> None:
    Image.fromarray(random_ints((H, W, 3), 8)).save(p)
    p.write_bytes(p.read_bytes()[:200])


def _make_bad_crc_png16(p: Path) -> None:
    data = bytearray(reference_png(random_ints((4, 5, 3), 16), [0]))
    data[-20] ^= 0xFF  # inside the IDAT chunk
    p.write_bytes(bytes(data))


@pytest.mark.parametrize(
    ("name", "make", "reason"),
    [
        ("missing.png", None, "no such file"),
        ("a_dir.png", lambda p: p.mkdir(), "is a directory, not an image"),
        ("empty.png", lambda p: p.write_bytes(b""), "file is empty"),
        ("corrupt.png", _make_corrupt, "not a readable image"),
        ("truncated.png", _make_truncated_png, "truncated or corrupt"),
        ("bad_crc.png", _make_bad_crc_png16, "bad CRC"),
        ("zero.npy", lambda p: np.save(p, np.zeros((0, 5))), "image has zero size"),
        ("nan.npy", lambda p: np.save(p, np.array([[0.5, np.nan]])), "NaN"),
        ("inf.npy", lambda p: np.save(p, np.array([[0.5, np.inf]])), "infinite"),
        ("cube.npy", lambda p: np.save(p, np.zeros((20, 20, 20))), "channel axis"),
        ("line.npy", lambda p: np.save(p, np.zeros(7)), "not an image"),
        ("text.npy", lambda p: np.save(p, np.array([["a"]])), "unsupported data type"),
        (
            "interlaced.png",
            lambda p: p.write_bytes(reference_png(random_ints((4, 5, 3), 16), [0], 1)),
            "interlaced 16-bit colour PNG is not supported",
        ),
    ],
)
def test_read_errors_name_the_path_and_the_reason(tmp_path, name, make, reason):
    path = tmp_path / name
    if make is not None:
        make(path)
    with pytest.raises(ImageReadError) as caught:
        read_image(path)
    message = str(caught.value)
    assert message.startswith(f"cannot read '{path}': ")
    assert reason in message
    assert "\n" not in message
    assert caught.value.path == str(path)


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root can read anything")
def test_read_error_permission_denied(tmp_path):
    path = tmp_path / "secret.png"
    Image.fromarray(random_ints((4, 4), 8)).save(path)
    path.chmod(0)
    try:
        with pytest.raises(ImageReadError, match="permission denied"):
            read_image(path)
    finally:
        path.chmod(0o644)


def test_read_error_permission_denied_when_open_fails(tmp_path, monkeypatch):
    """The same check for root, who is never refused by chmod."""
    path = tmp_path / "secret.png"
    Image.fromarray(random_ints((4, 4), 8)).save(path)

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(aio_read, "open", refuse, raising=False)
    with pytest.raises(ImageReadError, match=r"cannot read '.*secret\.png': permission denied$"):
        read_image(path)


def test_read_error_survives_pickling():
    error = ImageReadError("/x/y.png", "file is empty")
    again = pickle.loads(pickle.dumps(error))
    assert str(again) == str(error) == "cannot read '/x/y.png': file is empty"
    frames = pickle.loads(pickle.dumps(ImageFramesError("/x/a.gif", 4)))
    assert frames.frames == 4 and str(frames) == str(ImageFramesError("/x/a.gif", 4))


# ----------------------------------------------------------------------------------------
# Animations: no frame is dropped unseen
# ----------------------------------------------------------------------------------------

FRAME_GRAYS = (10, 120, 240)


def _animation(path: Path, fmt: str) -> None:
    frames = [Image.fromarray(np.full((H, W, 3), g, np.uint8)) for g in FRAME_GRAYS]
    frames[0].save(path, format=fmt, save_all=True, append_images=frames[1:], duration=100)


@pytest.mark.parametrize("fmt", ["GIF", "PNG", "WEBP"])
def test_an_animation_is_refused_without_a_frame_and_read_with_one(tmp_path, fmt):
    path = tmp_path / f"anim.{fmt.lower()}"
    _animation(path, fmt)
    with pytest.raises(ImageFramesError, match="holds 3 frames") as caught:
        read_image(path)
    assert caught.value.frames == 3 and "\n" not in str(caught.value)
    for index, gray in enumerate(FRAME_GRAYS):
        pixels, info = read_image(path, frame=index)
        assert info.frame == index and pixels.shape == (3, H, W)
        assert abs(float(pixels.mean()) * 255 - gray) < 3  # (WebP is lossy)
    with pytest.raises(ImageReadError, match="there is no frame 3: the file holds 3 frames"):
        read_image(path, frame=3)


def test_a_single_image_has_only_frame_0(tmp_path):
    Image.fromarray(random_ints((H, W, 3), 8)).save(tmp_path / "a.png")
    np.save(tmp_path / "a.npy", np.zeros((4, 5), np.float32))
    for name in ("a.png", "a.npy"):
        assert read_image(tmp_path / name, frame=0)[1].frame == 0
        with pytest.raises(ImageReadError, match="there is no frame 1: the file holds one image"):
            read_image(tmp_path / name, frame=1)
    with pytest.raises(ValueError, match="frame must be an integer"):
        read_image(tmp_path / "a.png", frame=-1)


def test_a_16bit_animated_png_is_refused(tmp_path):
    data = reference_png(random_ints((4, 5, 3), 16), [0])
    actl = struct.pack(">II", 2, 0)
    chunk = struct.pack(">I", 8) + b"acTL" + actl + struct.pack(">I", zlib.crc32(b"acTL" + actl))
    (tmp_path / "a.png").write_bytes(data[:33] + chunk + data[33:])  # after IHDR
    with pytest.raises(ImageFramesError):
        read_image(tmp_path / "a.png")
    with pytest.raises(ImageReadError, match="16-bit animated PNG"):
        read_image(tmp_path / "a.png", frame=0)


# ----------------------------------------------------------------------------------------
# Truncated and corrupt data: refused unless a partial image is asked for
# ----------------------------------------------------------------------------------------


def _jpeg_parts(tmp_path: Path) -> tuple[bytes, bytes, bytes]:
    """A valid JPEG split into (header up to the scan data, scan data, end marker)."""
    write_image(tmp_path / "ok.jpg", smooth_rgb(), overwrite=True)
    data = (tmp_path / "ok.jpg").read_bytes()
    sos = data.index(b"\xff\xda")
    start = sos + 2 + int.from_bytes(data[sos + 2 : sos + 4], "big")
    return data[:start], data[start:-2], data[-2:]


def _garbage_jpeg(tmp_path: Path) -> Path:
    header, scan, end = _jpeg_parts(tmp_path)
    garbage = np.random.default_rng(0).integers(0, 255, len(scan), dtype=np.uint8).tobytes()
    (tmp_path / "garbage.jpg").write_bytes(header + garbage + end)  # no 0xFF: no markers
    return tmp_path / "garbage.jpg"


def _cut_jpeg(tmp_path: Path, end_marker: bool) -> Path:
    header, scan, end = _jpeg_parts(tmp_path)
    path = tmp_path / f"cut{int(end_marker)}.jpg"
    path.write_bytes(header + scan[: len(scan) // 2] + (end if end_marker else b""))
    return path


@pytest.mark.parametrize(
    "make",
    [_garbage_jpeg, lambda p: _cut_jpeg(p, True), lambda p: _cut_jpeg(p, False)],
    ids=["garbage-with-end-marker", "cut-with-end-marker", "cut"],
)
def test_a_damaged_jpeg_is_refused_unless_a_partial_image_is_wanted(tmp_path, capfd, make):
    path = make(tmp_path)
    with pytest.raises(ImageDamagedError, match="truncated or corrupt") as caught:
        read_image(path)
    assert "\n" not in str(caught.value)
    pixels, info = read_image(path, allow_truncated=True)
    assert pixels.shape == (3, 64, 80) and info.damaged
    assert read_image(tmp_path / "ok.jpg")[1].damaged is None
    assert capfd.readouterr().err == ""  # libjpeg's warnings are caught, not printed


def test_pillows_global_truncated_setting_does_not_change_what_is_refused(tmp_path, monkeypatch):
    from PIL import ImageFile

    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    Image.fromarray(random_ints((H, W, 3), 8)).save(tmp_path / "a.bmp")
    (tmp_path / "cut.bmp").write_bytes((tmp_path / "a.bmp").read_bytes()[:-500])
    for path in (_cut_jpeg(tmp_path, False), tmp_path / "cut.bmp"):
        with pytest.raises(ImageDamagedError):
            read_image(path)
    assert ImageFile.LOAD_TRUNCATED_IMAGES is True  # restored after each read
    _, info = read_image(tmp_path / "cut.bmp", allow_truncated=True)
    assert "truncated" in info.damaged


@pytest.mark.parametrize("depth", [8, 16])
def test_a_truncated_png_can_be_read_as_a_partial_image(tmp_path, depth):
    ints = random_ints((H, W, 3), depth)
    data = reference_png(ints, [0]) if depth == 16 else None
    if data is None:
        Image.fromarray(ints).save(tmp_path / "a.png")
        data = (tmp_path / "a.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageDamagedError, match="truncated"):
        read_image(tmp_path / "cut.png")
    pixels, info = read_image(tmp_path / "cut.png", allow_truncated=True)
    assert pixels.shape == (3, H, W) and info.bit_depth == depth and "truncated" in info.damaged
    np.testing.assert_array_equal(as_ints(pixels, depth)[:, :2], np.moveaxis(ints, -1, 0)[:, :2])


# ----------------------------------------------------------------------------------------
# Writing rules
# ----------------------------------------------------------------------------------------


def test_write_refuses_to_overwrite(tmp_path):
    target = tmp_path / "o.png"
    target.write_bytes(b"precious")
    with pytest.raises(FileExistsError, match="overwrite=True"):
        write_image(target, smooth_rgb())
    assert target.read_bytes() == b"precious"
    assert leftovers(tmp_path) == []

    assert write_image(target, smooth_rgb(), overwrite=True) == target
    assert read_image(target)[0].shape == (3, 64, 80)
    assert leftovers(tmp_path) == []


def test_write_creates_parent_directories_and_leaves_no_temp_files(tmp_path):
    target = tmp_path / "a" / "b" / "c.tiff"
    assert write_image(target, smooth_rgb()) == target
    assert target.is_file()
    assert [p.name for p in target.parent.iterdir()] == ["c.tiff"]


def test_failed_write_cleans_up_and_keeps_the_old_file(tmp_path, monkeypatch):
    target = tmp_path / "o.png"
    target.write_bytes(b"old")

    def broken_replace(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(aio_atomic.os, "replace", broken_replace)
    with pytest.raises(ImageWriteError, match="no space left on device") as caught:
        write_image(target, smooth_rgb(), overwrite=True)
    assert str(caught.value).startswith(f"cannot write '{target}': ")
    assert target.read_bytes() == b"old"
    assert leftovers(tmp_path) == []


def test_temporary_file_is_hidden_and_in_the_target_directory(tmp_path, monkeypatch):
    seen = []
    real_replace = os.replace

    def spy(src, dst):
        seen.append((Path(src), Path(dst)))
        real_replace(src, dst)

    monkeypatch.setattr(aio_atomic.os, "replace", spy)
    write_image(tmp_path / "o.npy", smooth_rgb())
    [(src, dst)] = seen
    assert src.parent == dst.parent == tmp_path
    assert src.name.startswith(".") and src.name.endswith(".tmp")


@pytest.mark.parametrize("name", ["o.gif", "o.PNGX", "no_extension"])
def test_unknown_output_extension(tmp_path, name):
    with pytest.raises(ImageWriteError, match=r"\.png.*\.tiff") as caught:
        write_image(tmp_path / name, smooth_rgb())
    assert ".jpg" in str(caught.value) and ".npy" in str(caught.value)
    assert not (tmp_path / name).exists()


def test_extension_is_case_insensitive(tmp_path):
    _, info = read_image(write_image(tmp_path / "O.PNG", smooth_rgb()))
    assert info.format == "png"


@pytest.mark.parametrize(
    ("name", "info_depth", "explicit", "expected"),
    [
        ("o.png", None, None, 8),
        ("o.png", 16, None, 16),
        ("o.png", 32, None, 8),  # PNG cannot hold float: falls back to 8
        ("o.png", 16, 8, 8),  # explicit wins
        ("o.jpg", 16, None, 8),
        ("o.bmp", 16, None, 8),
        ("o.tif", 16, None, 16),
        ("o.tif", 32, None, 32),
        ("o.npy", 8, None, 32),  # .npy is float32 unless asked otherwise
        ("o.npy", None, 16, 16),
    ],
)
def test_output_bit_depth(tmp_path, name, info_depth, explicit, expected):
    info = None if info_depth is None else ImageInfo("in", "png", info_depth, "RGB")
    out = write_image(tmp_path / name, smooth_rgb(), info, bit_depth=explicit)
    assert read_image(out)[1].bit_depth == expected


@pytest.mark.parametrize(("name", "depth"), [("o.jpg", 16), ("o.png", 32), ("o.bmp", 12)])
def test_unsupported_explicit_bit_depth(tmp_path, name, depth):
    with pytest.raises(ImageWriteError, match=f"cannot store {depth}-bit"):
        write_image(tmp_path / name, smooth_rgb(), bit_depth=depth)


@pytest.mark.parametrize("name", ["o.png", "o.jpg", "o.bmp"])
def test_formats_limited_to_gray_or_rgb_refuse_other_channel_counts(tmp_path, name):
    with pytest.raises(ImageWriteError, match="1 \\(gray\\) or 3 \\(RGB\\)"):
        write_image(tmp_path / name, np.zeros((4, 8, 8), np.float32))


def test_alpha_is_converted_when_the_depth_changes(tmp_path):
    alpha16 = random_ints((H, W), 16)
    info = ImageInfo("in.png", "png", 16, "RGB", alpha=alpha16)
    out = write_image(tmp_path / "o.png", np.zeros((3, H, W), np.float32), info, bit_depth=8)
    _, got = read_image(out)
    assert got.alpha.dtype == np.uint8
    np.testing.assert_array_equal(got.alpha, np.rint(alpha16 / 257).astype(np.uint8))


def test_alpha_is_dropped_when_it_does_not_fit(tmp_path):
    info = ImageInfo("in.png", "png", 8, "RGB", alpha=np.zeros((5, 5), np.uint8))
    _, got = read_image(write_image(tmp_path / "o.png", np.zeros((3, 6, 6), np.float32), info))
    assert got.alpha is None


@pytest.mark.parametrize("name", ["o.jpg", "o.jpeg", "o.bmp"])
def test_alpha_is_not_dropped_by_a_format_without_alpha(tmp_path, name):
    info = ImageInfo("in.png", "png", 8, "RGB", alpha=np.zeros((6, 6), np.uint8))
    pixels = np.zeros((3, 6, 6), np.float32)
    for write in (lambda: check_output(tmp_path / name, 3, info),
                  lambda: write_image(tmp_path / name, pixels, info)):  # fmt: skip
        with pytest.raises(
            ImageWriteError, match=r"cannot hold the alpha .* write \.png or \.tiff"
        ):
            write()
    assert list(tmp_path.iterdir()) == []
    no_alpha = dataclasses.replace(info, alpha=None)  # dropping it is a choice made explicitly
    _, got = read_image(write_image(tmp_path / name, pixels, no_alpha))
    assert got.alpha is None


def test_values_are_clipped_and_pixels_not_modified(tmp_path):
    pixels = np.array([[[-0.5, 0.25, 1.7]]], dtype=np.float32)
    before = pixels.copy()
    got, _ = read_image(write_image(tmp_path / "o.png", pixels))
    np.testing.assert_array_equal(as_ints(got, 8), [[[0, 64, 255]]])
    np.testing.assert_array_equal(pixels, before)


@pytest.mark.parametrize(
    "pixels",
    [np.zeros((3, 4, 4), np.uint8), np.zeros((1, 3, 4, 4), np.float32), np.zeros((3, 0, 4))],
    ids=["integer", "4-d", "empty"],
)
def test_write_rejects_arrays_that_are_not_float_images(tmp_path, pixels):
    with pytest.raises(ValueError):
        write_image(tmp_path / "o.png", pixels)
    assert list(tmp_path.iterdir()) == []


def test_write_rejects_nan(tmp_path):
    with pytest.raises(ValueError, match="NaN"):
        write_image(tmp_path / "o.tif", np.full((1, 2, 2), np.nan, np.float32))


def test_image_info_compares_without_alpha_and_is_hashable():
    a = ImageInfo("p", "png", 8, "RGB", alpha=np.zeros((2, 2), np.uint8))
    b = ImageInfo("p", "png", 8, "RGB", alpha=np.ones((2, 2), np.uint8))
    assert a == b
    assert hash(a) == hash(b)


# ----------------------------------------------------------------------------------------
# numpy <-> torch
# ----------------------------------------------------------------------------------------


def test_image_to_tensor_shape_dtype_and_copy():
    pixels = smooth_rgb().astype(np.float64)
    before = pixels.copy()
    t = image_to_tensor(pixels)
    assert t.shape == (1, 3, 64, 80)
    assert t.dtype == torch.float32
    t.fill_(0.0)
    np.testing.assert_array_equal(pixels, before)
    assert image_to_tensor(pixels[0]).shape == (1, 1, 64, 80)


def test_image_to_tensor_rejects_integers():
    with pytest.raises(ValueError, match="floating point"):
        image_to_tensor(np.zeros((3, 4, 4), np.uint8))


@pytest.mark.parametrize("shape", [(1, 3, 5, 6), (3, 5, 6)])
def test_tensor_to_image_shape_dtype_and_clipping(shape):
    t = torch.linspace(-1.0, 2.0, int(np.prod(shape)), dtype=torch.float64).reshape(shape)
    t.requires_grad_(True)
    pixels = tensor_to_image(t * 1)
    assert pixels.shape == (3, 5, 6)
    assert pixels.dtype == np.float32
    assert pixels.min() == 0.0 and pixels.max() == 1.0
    pixels[:] = 0.5  # writable, and not a view of the tensor
    assert t.detach().min() == -1.0


def test_tensor_round_trip_is_exact():
    pixels = smooth_rgb()
    np.testing.assert_array_equal(tensor_to_image(image_to_tensor(pixels)), pixels)


def test_tensor_to_image_rejects_batches():
    with pytest.raises(ValueError, match="batch of one"):
        tensor_to_image(torch.zeros(2, 3, 4, 4))
