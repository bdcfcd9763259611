"""Property-based and adversarial tests of autodip.io and autodip.physics.operators
(hypothesis).

Every input below must end in a correct result or in the library's own clear error: never
another exception, a hang, or memory allocated for a size that a corrupt header claims.
Examples are derandomised so that CI is deterministic, and few, so that the file stays fast.
"""

from __future__ import annotations

import io
import itertools
import struct
import zlib
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
import tifffile
import torch
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from PIL import Image

from autodip.io import ImageInfo, ImageReadError, ImageWriteError, read_image, write_image
from autodip.physics.operators import Denoise, Inpaint, SuperResolve

# Decoders warn about the damage they meet (Pillow: "Corrupt EXIF data", "Truncated File Read");
# the outcome, an image or an ImageReadError, is what these tests check.
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning:PIL")

FAST = settings(
    derandomize=True,
    database=None,
    deadline=None,
    max_examples=30,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
#: For hostile files: a decoder that loops or allocates what a header claims would blow this.
HOSTILE = settings(FAST, deadline=timedelta(seconds=5), max_examples=80)
MAXVAL = {8: 255, 16: 65535}
INT_DTYPE = {8: np.uint8, 16: np.uint16}
EPS32 = float(np.finfo(np.float32).eps)
_NAMES = itertools.count()


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("properties")


def _file(workdir: Path, data: bytes, suffix: str = ".bin") -> Path:
    path = workdir / f"f{next(_NAMES)}{suffix}"
    path.write_bytes(data)
    return path


def _fresh(workdir: Path, suffix: str) -> Path:
    return workdir / f"o{next(_NAMES)}{suffix}"


def assert_valid_image(pixels: np.ndarray, info: ImageInfo) -> None:
    """The contract of a successful `read_image`."""
    assert isinstance(pixels, np.ndarray)
    assert pixels.dtype == np.float32
    assert pixels.ndim == 3
    channels, height, width = pixels.shape
    assert channels <= 16 and pixels.size > 0  # no empty image, no more than 16 channels
    assert pixels.flags.c_contiguous
    assert np.isfinite(pixels).all()
    assert pixels.min() >= 0.0 and pixels.max() <= 1.0
    assert info.bit_depth in (8, 16, 32)
    assert info.mode == {1: "L", 3: "RGB"}.get(channels, f"C{channels}")
    if info.alpha is not None:
        assert info.alpha.shape == (height, width)
        if info.alpha.dtype.kind == "f":
            assert np.isfinite(info.alpha).all()
    if info.value_range is not None:
        lo, hi = info.value_range
        assert np.isfinite(lo) and np.isfinite(hi) and lo <= hi


def read_or_refuse(path: Path) -> tuple[np.ndarray, ImageInfo] | None:
    """Read ``path``; return None if it was refused with a one-line `ImageReadError`."""
    try:
        pixels, info = read_image(path)
    except ImageReadError as exc:
        message = str(exc)
        assert message.startswith(f"cannot read '{path}': ")
        assert "\n" not in message and exc.reason
        return None
    assert_valid_image(pixels, info)
    return pixels, info


def refusal_reason(path: Path) -> str:
    with pytest.raises(ImageReadError) as caught:
        read_image(path)
    assert "\n" not in str(caught.value)
    return caught.value.reason


# ----------------------------------------------------------------------------------------
# Hand-made files
# ----------------------------------------------------------------------------------------


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_bytes(
    width: int,
    height: int,
    depth: int,
    colour_type: int,
    raw: bytes = b"\0" * 64,
    interlace: int = 0,
) -> bytes:
    """A PNG with the given IHDR (valid CRCs) and ``raw`` as its decompressed image data."""
    header = struct.pack(">IIBBBBB", width, height, depth, colour_type, 0, 0, interlace)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", zlib.compress(raw))
        + _png_chunk(b"IEND", b"")
    )


def png16_bytes(hwc: np.ndarray) -> bytes:
    """Encode H×W×C uint16 (C = 1 to 4) as a 16-bit PNG, unfiltered (an independent encoder)."""
    height, width, channels = hwc.shape
    rows = hwc.astype(">u2").reshape(height, width * channels).view(np.uint8)
    raw = np.concatenate([np.zeros((height, 1), np.uint8), rows], axis=1).tobytes()
    colour_type = {1: 0, 2: 4, 3: 2, 4: 6}[channels]
    return png_bytes(width, height, 16, colour_type, raw)


def png8_interlaced(hwc: np.ndarray) -> bytes:
    """Encode H×W×C uint8 (C = 1 or 3) as an Adam7-interlaced PNG, unfiltered."""
    height, width, channels = hwc.shape
    raw = bytearray()
    for x0, y0, dx, dy in [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4),
                           (1, 0, 2, 2), (0, 1, 1, 2)]:  # fmt: skip
        for row in hwc[y0::dy, x0::dx]:
            if row.size:
                raw += b"\0" + row.tobytes()
    return png_bytes(width, height, 8, 0 if channels == 1 else 2, bytes(raw), interlace=1)


def fix_png_crcs(data: bytes) -> bytes:
    """Recompute the CRC of every complete chunk, so that corruption reaches the decoder."""
    out, pos = bytearray(data), 8
    while pos + 12 <= len(out):
        (length,) = struct.unpack(">I", out[pos : pos + 4])
        end = pos + 8 + length
        if end + 4 > len(out):
            break
        out[end : end + 4] = struct.pack(">I", zlib.crc32(bytes(out[pos + 4 : end])))
        pos = end + 4
    return bytes(out)


def npy_bytes(shape: tuple[int, ...], descr: str, payload: bytes = b"") -> bytes:
    """A version-1 ``.npy`` header claiming ``shape`` and ``descr``, then ``payload``."""
    header = repr({"descr": descr, "fortran_order": False, "shape": shape}).encode()
    header += b" " * (-(10 + len(header) + 1) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header + payload


def bmp_bytes(width: int, height: int, bpp: int) -> bytes:
    """A BMP (BITMAPINFOHEADER, uncompressed) header claiming ``width × height``."""
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, bpp, 0, 0, 2835, 2835, 0, 0)
    return b"BM" + struct.pack("<IHHI", 14 + 40 + 64, 0, 0, 54) + info + b"\x7f" * 64


def tiff_bytes(
    width: int,
    height: int,
    *,
    bits: int = 8,
    samples: int = 1,
    compression: int = 1,
    sample_format: int = 1,
    planar: int = 1,
    payload: bytes = b"\0" * 64,
) -> bytes:
    """A little-endian one-page TIFF claiming ``width × height``, ``payload`` as its one strip.

    Layout: header, the IFD, the values that do not fit in an entry, then the strip.
    """
    photometric = 2 if samples >= 3 else 1
    tags = {
        256: (4, [width]),
        257: (4, [height]),
        258: (3, [bits] * samples),
        259: (3, [compression]),
        262: (3, [photometric]),
        273: (4, [0]),  # StripOffsets: set below, once the layout is known
        277: (3, [samples]),
        278: (4, [height]),
        279: (4, [len(payload)]),
        284: (3, [planar]),
        339: (3, [sample_format] * samples),
    }
    if photometric == 2 and samples > 3:
        tags[338] = (3, [0] * (samples - 3))  # ExtraSamples: unspecified
    bodies = {
        tag: struct.pack("<" + ("H" if kind == 3 else "I") * len(values), *values)
        for tag, (kind, values) in tags.items()
    }
    out_of_line = 8 + 2 + 12 * len(tags) + 4
    extra, where = bytearray(), {}
    for tag, body in sorted(bodies.items()):
        if len(body) > 4:
            where[tag] = out_of_line + len(extra)
            extra += body
    bodies[273] = struct.pack("<I", out_of_line + len(extra))
    out = bytearray(b"II*\x00" + struct.pack("<IH", 8, len(tags)))
    for tag in sorted(tags):
        kind, values = tags[tag]
        value = struct.pack("<I", where[tag]) if tag in where else bodies[tag].ljust(4, b"\0")
        out += struct.pack("<HHI", tag, kind, len(values)) + value
    return bytes(out + b"\0\0\0\0" + extra + payload)


def jpeg_bytes(width: int, height: int) -> bytes:
    """A baseline JPEG header (SOI, DQT, SOF0, DHT-less SOS) claiming ``width × height``."""
    dqt = b"\xff\xdb" + struct.pack(">H", 67) + b"\x00" + bytes(range(1, 65))
    sof = b"\xff\xc0" + struct.pack(">HBHHB", 11, 8, height, width, 1) + b"\x01\x11\x00"
    sos = b"\xff\xda" + struct.pack(">HB", 8, 1) + b"\x01\x00\x00\x3f\x00"
    return b"\xff\xd8" + dqt + sof + sos + b"\x12\x34" * 32 + b"\xff\xd9"


def gif_bytes(width: int, height: int) -> bytes:
    screen = b"GIF89a" + struct.pack("<HHBBB", width, height, 0, 0, 0)
    image = b"," + struct.pack("<HHHHB", 0, 0, width, height, 0) + b"\x02\x02\x4c\x01\x00"
    return screen + image + b";"


def ppm_bytes(width: int, height: int) -> bytes:
    return b"P6\n%d %d\n255\n" % (width, height) + b"\x80" * 48


def _encoded(save: Callable[[io.BytesIO], object]) -> bytes:
    buffer = io.BytesIO()
    save(buffer)
    return buffer.getvalue()


def _seed_files() -> dict[str, bytes]:
    """Small valid files of every kind, written by Pillow, tifffile and numpy."""
    rng = np.random.default_rng(7)
    rgb = rng.integers(0, 256, (6, 5, 3), dtype=np.uint8)
    rgba = rng.integers(0, 256, (6, 5, 4), dtype=np.uint8)
    u16 = rng.integers(0, 65536, (5, 7, 3), dtype=np.uint16)
    f32 = rng.normal(0.0, 3.0, (4, 6)).astype(np.float32)

    def pil(arr: np.ndarray, fmt: str, **kw: object) -> bytes:
        return _encoded(lambda b: Image.fromarray(arr).save(b, format=fmt, **kw))

    def tif(arr: np.ndarray, **kw: object) -> bytes:
        return _encoded(lambda b: tifffile.imwrite(b, arr, **kw))

    return {
        "png-rgb": pil(rgb, "PNG"),
        "png-rgba": pil(rgba, "PNG"),
        "png-palette": _encoded(lambda b: Image.fromarray(rgb).convert("P").save(b, format="PNG")),
        "png-gray16": pil(u16[..., 0], "PNG"),
        "png-rgb16": png16_bytes(u16),
        "png-rgba16-adaptive": fix_png_crcs(png16_bytes(np.dstack([u16, u16[..., :1]]))),
        "jpeg": pil(rgb, "JPEG", quality=90),
        "jpeg-progressive": pil(rgb, "JPEG", progressive=True),
        "bmp": pil(rgb, "BMP"),
        "bmp-gray": pil(rgb[..., 0], "BMP"),
        "gif": pil(rgb[..., 0], "GIF"),
        "ppm": pil(rgb, "PPM"),
        "tiff-u8": tif(rgb, photometric="rgb"),
        "tiff-u16-zlib": tif(u16, photometric="rgb", compression="zlib"),
        "tiff-f32": tif(f32),
        "tiff-alpha": tif(rgba, photometric="rgb", extrasamples=["unassalpha"]),
        "tiff-planar-zlib": tif(
            np.moveaxis(u16, -1, 0).copy(),
            photometric="rgb",
            planarconfig="separate",
            compression="zlib",
        ),
        "tiff-lzw-pillow": pil(rgb, "TIFF", compression="tiff_lzw"),
        "tiff-bigendian": tif(u16, photometric="rgb", byteorder=">"),
        "npy-f32": _encoded(lambda b: np.save(b, f32)),
        "npy-u8-hwc": _encoded(lambda b: np.save(b, rgb)),
        "npy-f64-chw": _encoded(lambda b: np.save(b, rng.random((3, 4, 20)))),
    }


SEEDS = _seed_files()


# ----------------------------------------------------------------------------------------
# 1. Arbitrary and damaged bytes: an image or ImageReadError, nothing else
# ----------------------------------------------------------------------------------------

MAGICS = [
    b"",
    b"\x89PNG\r\n\x1a\n",
    b"\x93NUMPY\x01\x00",
    b"\x93NUMPY\x02\x00",
    b"II*\x00",
    b"MM\x00*",
    b"II+\x00",
    b"\xff\xd8\xff",
    b"BM",
    b"GIF89a",
    b"P6\n",
    b"RIFF\x00\x00\x00\x00WEBP",
]


@HOSTILE
@given(magic=st.sampled_from(MAGICS), tail=st.binary(min_size=0, max_size=600))
def test_arbitrary_bytes_are_an_image_or_a_read_error(workdir, magic, tail):
    data = magic + tail
    assume(data)
    read_or_refuse(_file(workdir, data))


def test_every_seed_file_is_readable(workdir):
    for name, data in SEEDS.items():
        assert read_or_refuse(_file(workdir, data)) is not None, name


@HOSTILE
@given(
    name=st.sampled_from(sorted(SEEDS)),
    cut=st.floats(0.0, 1.0),
    edits=st.lists(st.tuples(st.floats(0.0, 1.0), st.integers(0, 255)), max_size=4),
    fix_crcs=st.booleans(),
)
def test_truncated_and_damaged_files_are_an_image_or_a_read_error(
    workdir, name, cut, edits, fix_crcs
):
    data = bytearray(SEEDS[name])
    for where, value in edits:
        data[min(int(where * len(data)), len(data) - 1)] = value
    data = bytes(data[: max(1, int(cut * len(data)))]) if cut < 1.0 else bytes(data)
    if fix_crcs and name.startswith("png"):
        data = fix_png_crcs(data)
    read_or_refuse(_file(workdir, data))


# Files whose header claims far more pixels than anyone should decode: each must be refused
# from its header, before a pixel buffer is allocated ("too large", or for an array "truncated":
# the file cannot hold what the header claims), and quickly.
LIMIT = 2 * Image.MAX_IMAGE_PIXELS
SIDE40 = st.one_of(st.just(1), st.integers(1, 40))


def huge_sizes(largest: int) -> st.SearchStrategy[tuple[int, int]]:
    """(width, height), each at most ``largest``, with more than LIMIT pixels."""
    return st.integers(LIMIT // largest + 1, largest).flatmap(
        lambda w: st.tuples(st.just(w), st.integers(LIMIT // w + 1, largest))
    )


HUGE_HEADERS = {
    "png8-gray": lambda w, h: png_bytes(w, h, 8, 0),
    "png8-rgba": lambda w, h: png_bytes(w, h, 8, 6),
    "png16-gray": lambda w, h: png_bytes(w, h, 16, 0),
    "png16-rgb": lambda w, h: png_bytes(w, h, 16, 2),
    "png16-gray-alpha": lambda w, h: png_bytes(w, h, 16, 4),
    "bmp24": lambda w, h: bmp_bytes(w, h, 24),
    "bmp32-top-down": lambda w, h: bmp_bytes(w, -h, 32),
    "tiff8": lambda w, h: tiff_bytes(w, h),
    "tiff16-rgb-zlib": lambda w, h: tiff_bytes(w, h, bits=16, samples=3, compression=8),
    "tiff-float-planar": lambda w, h: tiff_bytes(
        w, h, bits=32, samples=2, sample_format=3, planar=2
    ),
    "tiff-rgba-packbits": lambda w, h: tiff_bytes(w, h, samples=4, compression=32773),
    "npy-u1": lambda w, h: npy_bytes((h, w), "|u1", b"\0" * 64),
    "npy-f8-hwc": lambda w, h: npy_bytes((h, w, 3), "<f8", b"\0" * 64),
    "npy-f4-chw": lambda w, h: npy_bytes((1, 2, h, w), "<f4", b"\0" * 64),
    "ppm": lambda w, h: ppm_bytes(w, h),
}


@HOSTILE
@given(kind=st.sampled_from(sorted(HUGE_HEADERS)), size=huge_sizes(2**31 - 1), flip=st.booleans())
def test_huge_claimed_sizes_are_refused_from_the_header(workdir, kind, size, flip):
    width, height = size[::-1] if flip else size
    reason = refusal_reason(_file(workdir, HUGE_HEADERS[kind](width, height)))
    assert "too large" in reason or (kind.startswith("npy") and "truncated" in reason)


@HOSTILE
@given(kind=st.sampled_from(["jpeg", "gif"]), size=huge_sizes(65535), flip=st.booleans())
def test_huge_claimed_sizes_in_16_bit_headers(workdir, kind, size, flip):
    width, height = size[::-1] if flip else size
    data = jpeg_bytes(width, height) if kind == "jpeg" else gif_bytes(width, height)
    assert "too large" in refusal_reason(_file(workdir, data))


@HOSTILE
@given(
    kind=st.sampled_from(sorted(HUGE_HEADERS)),
    width=st.integers(1, 3000),
    height=st.integers(1, 3000),
)
def test_plausible_sizes_with_missing_data_are_refused(workdir, kind, width, height):
    """A header that fits the limit but whose data is missing: a clear error, fast."""
    assume(width * height > 64)  # more than the 64 payload bytes can hold
    refusal_reason(_file(workdir, HUGE_HEADERS[kind](width, height)))


PNG_KINDS = ["1", "L", "P1", "P2", "P4", "P8", "LA", "RGB", "RGBA", "I;16", "Adam7-L", "Adam7-RGB"]


def _random_png(kind: str, height: int, width: int, seed: int) -> tuple[bytes, np.ndarray]:
    """A valid PNG of ``kind`` and the C×H×W integer samples (alpha last) it holds."""
    rng = np.random.default_rng(seed)
    channels = {"LA": 2, "RGB": 3, "RGBA": 4, "Adam7-RGB": 3}.get(kind, 1)
    if kind.startswith("Adam7"):
        hwc = rng.integers(0, 256, (height, width, channels), dtype=np.uint8)
        return png8_interlaced(hwc), np.moveaxis(hwc, -1, 0)
    if kind == "I;16":
        ints = rng.integers(0, 65536, (height, width), dtype=np.uint16)
        return _encoded(lambda b: Image.fromarray(ints).save(b, format="PNG")), ints[None]
    if kind == "1":
        ints = rng.integers(0, 2, (height, width), dtype=np.uint8) * 255
        image = Image.fromarray(ints).convert("1")
        return _encoded(lambda b: image.save(b, format="PNG")), ints[None]
    if kind.startswith("P"):
        bits = int(kind[1:])
        palette = rng.integers(0, 256, (2**bits, 3), dtype=np.uint8)
        index = rng.integers(0, 2**bits, (height, width), dtype=np.uint8)
        image = Image.fromarray(index, mode="P")
        image.putpalette(palette.tobytes())
        payload = _encoded(lambda b: image.save(b, format="PNG", bits=bits))
        return payload, np.moveaxis(palette[index], -1, 0)
    hwc = rng.integers(0, 256, (height, width, channels), dtype=np.uint8)
    image = Image.fromarray(hwc[..., 0] if channels == 1 else hwc)
    return _encoded(lambda b: image.save(b, format="PNG")), np.moveaxis(hwc, -1, 0)


@FAST
@given(kind=st.sampled_from(PNG_KINDS), height=SIDE40, width=SIDE40, seed=st.integers(0, 99))
def test_valid_pngs_of_every_kind_are_read_exactly(workdir, kind, height, width, seed):
    """The check that PNG data is complete must never refuse a good file."""
    payload, ints = _random_png(kind, height, width, seed)
    pixels, info = read_image(_file(workdir, payload, ".png"))
    assert_valid_image(pixels, info)
    colour = ints[:-1] if kind in ("LA", "RGBA") else ints
    scale = 65535 if kind == "I;16" else 255
    np.testing.assert_array_equal(np.rint(pixels.astype(np.float64) * scale), colour)
    if kind in ("LA", "RGBA"):
        np.testing.assert_array_equal(info.alpha, ints[-1])


@HOSTILE
@given(
    kind=st.sampled_from(PNG_KINDS),
    height=SIDE40,
    width=SIDE40,
    extra=st.one_of(st.integers(1, 3), st.integers(4, 10**7)),
    grow=st.sampled_from(["height", "width"]),
)
def test_png_whose_data_is_shorter_than_its_header_is_refused(
    workdir, kind, height, width, extra, grow
):
    """Pillow pads such a file with black rows: it must be refused instead."""
    payload, _ = _random_png(kind, height, width, 0)
    data = bytearray(payload)
    field = 20 if grow == "height" else 16
    (value,) = struct.unpack(">I", data[field : field + 4])
    data[field : field + 4] = struct.pack(">I", value + extra)
    path = _file(workdir, fix_png_crcs(bytes(data)), ".png")
    bits = {"1": 1, "P1": 1, "P2": 2, "P4": 4}.get(kind, 8)
    if grow == "width" and -(-width * bits // 8) == -(-(width + extra) * bits // 8):
        assert read_or_refuse(path) is not None  # the rows' padding bits hold the new pixels
        return
    reason = refusal_reason(path)
    assert "truncated" in reason or "too large" in reason


@HOSTILE
@given(
    width=st.integers(1, 40),
    height=st.integers(1, 40),
    bits=st.sampled_from([1, 2, 4, 8, 12, 16, 24, 32, 64]),
    samples=st.integers(1, 20),
    compression=st.sampled_from([1, 2, 5, 7, 8, 32773, 34925, 50000]),
    sample_format=st.integers(1, 6),
    planar=st.sampled_from([1, 2, 3]),
    payload=st.one_of(st.binary(max_size=200), st.integers(0, 5000).map(bytes)),
)
def test_hand_made_tiffs_are_an_image_or_a_read_error(
    workdir, width, height, bits, samples, compression, sample_format, planar, payload
):
    data = tiff_bytes(
        width,
        height,
        bits=bits,
        samples=samples,
        compression=compression,
        sample_format=sample_format,
        planar=planar,
        payload=payload or b"\0",
    )
    read_or_refuse(_file(workdir, data, ".tif"))


NPY_DESCRS = ["|u1", "<u2", ">u2", "<f2", "<f4", ">f8", "<i8", "<u8", "|b1", "|i1", "<c8", "|O",
              "<U3", "|V4", "<M8[s]", "<m8[s]", "|S2"]  # fmt: skip


@HOSTILE
@given(
    descr=st.sampled_from(NPY_DESCRS),
    shape=st.lists(st.integers(0, 40), max_size=5).map(tuple),
    fortran=st.booleans(),
    fill=st.sampled_from([0x00, 0x3C, 0x7F, 0xFF]),
)
def test_hand_made_npy_files_are_an_image_or_a_read_error(workdir, descr, shape, fortran, fill):
    size = int(np.prod(shape)) * np.dtype(descr).itemsize
    header = repr({"descr": descr, "fortran_order": fortran, "shape": shape}).encode()
    header += b" " * (-(10 + len(header) + 1) % 64) + b"\n"
    data = b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header + bytes([fill]) * size
    read_or_refuse(_file(workdir, data, ".npy"))


@HOSTILE
@given(
    width=st.integers(-40, 40),
    height=st.integers(-40, 40),
    bpp=st.sampled_from([0, 1, 2, 4, 8, 16, 24, 32, 64]),
    compression=st.integers(0, 6),
    payload=st.binary(max_size=300),
)
def test_hand_made_bmps_are_an_image_or_a_read_error(
    workdir, width, height, bpp, compression, payload
):
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, bpp, compression, 0, 0, 0, 0, 0)
    data = b"BM" + struct.pack("<IHHI", 54 + len(payload), 0, 0, 54) + info + payload
    read_or_refuse(_file(workdir, data, ".bmp"))


def test_npy_claiming_more_bytes_than_the_file_holds(workdir):
    reason = refusal_reason(_file(workdir, npy_bytes((40, 50), "<f4", b"\0" * 100)))
    assert "truncated" in reason


@pytest.mark.parametrize("shape", [(10**10, 10**10), (2**62, 2**62, 3), (-1, 5)])
def test_npy_headers_with_absurd_shapes(workdir, shape):
    refusal_reason(_file(workdir, npy_bytes(shape, "<f8", b"\0" * 64)))


@pytest.mark.parametrize("name", sorted(SEEDS))
def test_pixel_limit_applies_to_every_decoder(workdir, name):
    """With the limit lowered below the seed files' size every one of them is refused."""
    path = _file(workdir, SEEDS[name])
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(Image, "MAX_IMAGE_PIXELS", 4)  # at most 8 pixels
        assert "too large" in refusal_reason(path)


@HOSTILE
@given(
    channels=st.sampled_from([17, 40, 1000]),
    layout=st.sampled_from(["npy-hwc", "npy-chw", "tiff"]),
)
def test_more_than_16_channels_are_refused(workdir, channels, layout):
    data = np.zeros((channels, 3, 20) if layout == "npy-chw" else (3, 20, channels), np.uint8)
    if layout == "tiff":
        payload = _encoded(
            lambda b: tifffile.imwrite(b, data, photometric="minisblack", planarconfig="contig")
        )
    else:
        payload = _encoded(lambda b: np.save(b, data))
    read = read_or_refuse(_file(workdir, payload))
    if read is not None:  # only the unambiguous C×H×W reading of a 3×20×C array is allowed
        assert read[0].shape[0] <= 16


# ----------------------------------------------------------------------------------------
# 2. write -> read round trips
# ----------------------------------------------------------------------------------------

#: extension -> (bit depths it stores, channel counts it stores)
FORMATS = {
    ".png": ((8, 16), (1, 3)),
    ".tif": ((8, 16, 32), (1, 2, 3, 4, 5, 16)),
    ".npy": ((8, 16, 32), (1, 2, 3, 4, 5, 16)),
    ".bmp": ((8,), (1, 3)),
    ".jpg": ((8,), (1, 3)),
}
SIDE = SIDE40


@st.composite
def images(draw: st.DrawFn, channels: tuple[int, ...]) -> np.ndarray:
    """C×H×W float32 in [0, 1]: random, constant, or only the extremes."""
    shape = (draw(st.sampled_from(channels)), draw(SIDE), draw(SIDE))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    kind = draw(st.sampled_from(["random", "constant", "extremes"]))
    if kind == "random":
        return rng.random(shape, dtype=np.float32)
    if kind == "constant":
        return np.full(shape, draw(st.floats(0.0, 1.0, width=32)), np.float32)
    return rng.integers(0, 2, shape).astype(np.float32)


@FAST
@given(data=st.data(), ext=st.sampled_from([".png", ".tif", ".npy", ".bmp"]))
def test_lossless_round_trip_within_quantisation(workdir, data, ext):
    depths, channels = FORMATS[ext]
    depth = data.draw(st.sampled_from(depths), label="depth")
    pixels = data.draw(images(channels), label="pixels")
    pixels_before = pixels.copy()
    out = write_image(_fresh(workdir, ext), pixels, bit_depth=depth)
    got, info = read_image(out)
    assert_valid_image(got, info)
    np.testing.assert_array_equal(pixels, pixels_before)  # the input is not modified
    assert got.shape == pixels.shape
    assert info.bit_depth == depth
    if depth == 32:
        np.testing.assert_array_equal(got, pixels)
        assert info.value_range is None
        return
    step = MAXVAL[depth]
    # stored exactly at the bit depth: the nearest level, read back as level / max
    levels = np.rint(pixels.astype(np.float64) * step)
    np.testing.assert_array_equal(got, (levels / step).astype(np.float32))
    assert np.abs(got.astype(np.float64) - pixels).max() <= 0.5 / step + EPS32


@FAST
@given(data=st.data(), ext=st.sampled_from([".png", ".tif", ".npy"]))
def test_alpha_round_trips_exactly(workdir, data, ext):
    depth = data.draw(st.sampled_from([8, 16]), label="depth")
    channels = (1, 3) if ext == ".png" else (1, 2, 3, 4, 15)
    pixels = data.draw(images(channels), label="pixels")
    rng = np.random.default_rng(data.draw(st.integers(0, 1000), label="alpha seed"))
    alpha = rng.integers(0, MAXVAL[depth] + 1, pixels.shape[1:]).astype(INT_DTYPE[depth])
    info = ImageInfo("in" + ext, ext[1:], depth, "?", alpha=alpha)
    got, got_info = read_image(write_image(_fresh(workdir, ext), pixels, info, bit_depth=depth))
    levels = np.rint(pixels.astype(np.float64) * MAXVAL[depth])
    if ext == ".npy":  # an array has no alpha: it comes back as the last channel
        assert got_info.alpha is None and got.shape[0] == pixels.shape[0] + 1
        np.testing.assert_array_equal(np.rint(got[-1] * MAXVAL[depth]), alpha)
        got = got[:-1]
    else:
        np.testing.assert_array_equal(got_info.alpha, alpha)
    np.testing.assert_array_equal(np.rint(got.astype(np.float64) * MAXVAL[depth]), levels)


def test_npy_with_16_channels_and_alpha_is_refused_not_misread(workdir):
    """17 channels last cannot be told from a C×H×W array: writing must refuse it."""
    alpha = np.zeros((3, 5), np.uint8)
    info = ImageInfo("in.tif", "tiff", 8, "C16", alpha=alpha)
    with pytest.raises(ImageWriteError, match="16"):
        write_image(_fresh(workdir, ".npy"), np.zeros((16, 3, 5), np.float32), info)


@pytest.mark.parametrize("ext", [".tif", ".npy"])
def test_more_than_16_channels_cannot_be_written(workdir, ext):
    with pytest.raises(ImageWriteError, match="at most 16"):
        write_image(_fresh(workdir, ext), np.zeros((17, 3, 20), np.float32))


@FAST
@given(data=st.data())
def test_jpeg_round_trip_is_close(workdir, data):
    pixels = data.draw(images((1, 3)), label="pixels")
    got, info = read_image(write_image(_fresh(workdir, ".jpg"), pixels))
    assert_valid_image(got, info)
    assert got.shape == pixels.shape and info.bit_depth == 8
    # quality 95, no chroma subsampling: even noise and hard edges stay close on average
    error = np.abs(got.astype(np.float64) - pixels)
    assert error.mean() < 0.06
    assert error.max() < 0.5


# ----------------------------------------------------------------------------------------
# 3. Float data outside [0, 1]: scaled on reading, restored on writing
# ----------------------------------------------------------------------------------------

FLOAT_BOUNDS = st.one_of(
    st.floats(-1e6, 1e6, width=32),
    st.floats(float(np.float32(-3e38)), float(np.float32(3e38)), width=32),
    st.sampled_from([0.0, 1.0, -1.0, 1e-30, -1e-30, 255.0, 65535.0, 1e6, -1e6]),
)


@FAST
@given(
    data=st.data(),
    ext=st.sampled_from([".npy", ".tif"]),
    dtype=st.sampled_from([np.float16, np.float32, np.float64]),
    bounds=st.tuples(FLOAT_BOUNDS, FLOAT_BOUNDS),
)
def test_float_data_round_trips_through_its_value_range(workdir, data, ext, dtype, bounds):
    lo, hi = sorted(bounds)
    height, width = data.draw(SIDE, label="height"), data.draw(SIDE, label="width")
    channels = data.draw(st.sampled_from([1, 3, 5]), label="channels")
    rng = np.random.default_rng(data.draw(st.integers(0, 1000), label="seed"))
    values = lo + rng.random((height, width, channels)) * (hi - lo)
    values.flat[0], values.flat[-1] = lo, hi
    with np.errstate(over="ignore"):
        original = values.astype(dtype)
    assume(np.isfinite(original).all())  # float16 cannot hold every bound
    hwc = original[..., 0] if channels == 1 else original
    if ext == ".npy":
        path = _file(workdir, _encoded(lambda b: np.save(b, hwc)), ext)
    else:
        layout = {"photometric": "rgb" if channels == 3 else "minisblack"}
        if channels > 1:
            layout["planarconfig"] = "contig"
        path = _file(workdir, _encoded(lambda b: tifffile.imwrite(b, hwc, **layout)), ext)
    pixels, info = read_image(path)
    assert_valid_image(pixels, info)
    assert info.bit_depth == 32
    true_lo, true_hi = float(original.min()), float(original.max())
    if true_lo >= 0.0 and true_hi <= 1.0:
        assert info.value_range is None
    else:
        assert info.value_range == (true_lo, true_hi)
    back_path = write_image(_fresh(workdir, ext), pixels, info)
    back = np.load(back_path) if ext == ".npy" else tifffile.imread(back_path)
    assert back.dtype == np.float32 and back.shape == hwc.shape
    scale = max(abs(true_lo), abs(true_hi), true_hi - true_lo)
    tiny = float(np.finfo(np.float32).smallest_subnormal)  # float64 data below float32's range
    np.testing.assert_allclose(back, hwc.astype(np.float64), rtol=0, atol=4 * EPS32 * scale + tiny)
    assert back.min() == np.float32(true_lo) and back.max() == np.float32(true_hi)


@FAST
@given(
    value=st.one_of(
        st.floats(-1e6, 1e6, width=32), st.sampled_from([0.0, 1.0, -0.0, 2.0, -3e38, 1e30])
    ),
    ext=st.sampled_from([".npy", ".tif"]),
    shape=st.tuples(SIDE, SIDE),
)
def test_constant_float_images(workdir, value, ext, shape):
    original = np.full(shape, value, np.float32)
    if ext == ".npy":
        path = _file(workdir, _encoded(lambda b: np.save(b, original)), ext)
    else:
        path = _file(workdir, _encoded(lambda b: tifffile.imwrite(b, original)), ext)
    pixels, info = read_image(path)
    assert_valid_image(pixels, info)
    back_path = write_image(_fresh(workdir, ext), pixels, info)
    back = np.load(back_path) if ext == ".npy" else tifffile.imread(back_path)
    np.testing.assert_array_equal(back, original)


@FAST
@given(exponent=st.integers(39, 308), sign=st.sampled_from([1.0, -1.0]))
def test_float64_beyond_float32_is_refused(workdir, exponent, sign):
    data = np.array([[0.5, sign * 10.0**exponent]])
    path = _file(workdir, _encoded(lambda b: np.save(b, data)), ".npy")
    assert "float32" in refusal_reason(path)


@HOSTILE
@given(
    data=st.data(),
    ext=st.sampled_from([".npy", ".tif"]),
    dtype=st.sampled_from([np.float16, np.float32, np.float64]),
    bad=st.sampled_from([np.nan, np.inf, -np.inf]),
)
def test_nan_and_inf_pixels_are_refused(workdir, data, ext, dtype, bad):
    shape = (data.draw(SIDE, label="h"), data.draw(SIDE, label="w"))
    rng = np.random.default_rng(data.draw(st.integers(0, 1000), label="seed"))
    arr = (rng.random(shape) * data.draw(st.sampled_from([1.0, 1000.0]))).astype(dtype)
    count = data.draw(st.integers(1, arr.size), label="count")
    arr.flat[rng.choice(arr.size, count, replace=False)] = bad
    if ext == ".npy":
        path = _file(workdir, _encoded(lambda b: np.save(b, arr)), ext)
    else:
        path = _file(workdir, _encoded(lambda b: tifffile.imwrite(b, arr)), ext)
    assert "NaN or infinite" in refusal_reason(path)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nan_in_a_float_alpha_plane_is_refused(workdir, bad):
    rgba = np.random.default_rng(0).random((4, 5, 4)).astype(np.float32)
    rgba[1, 2, 3] = bad
    path = _file(
        workdir,
        _encoded(
            lambda b: tifffile.imwrite(b, rgba, photometric="rgb", extrasamples=["unassalpha"])
        ),
        ".tif",
    )
    assert "NaN or infinite" in refusal_reason(path)


# ----------------------------------------------------------------------------------------
# 4. 16-bit PNG and TIFF keep their bit depth through read -> write
# ----------------------------------------------------------------------------------------


@FAST
@given(
    data=st.data(),
    ext=st.sampled_from([".png", ".tif"]),
    samples=st.sampled_from([1, 2, 3, 4]),
)
def test_16_bit_files_are_written_back_bit_exact(workdir, data, ext, samples):
    shape = (data.draw(SIDE, label="h"), data.draw(SIDE, label="w"), samples)
    rng = np.random.default_rng(data.draw(st.integers(0, 1000), label="seed"))
    hwc = rng.integers(0, 65536, shape, dtype=np.uint16)
    if ext == ".png":
        payload = png16_bytes(hwc)
    else:
        kwargs = {"photometric": "rgb" if samples >= 3 else "minisblack"}
        if samples in (2, 4):
            kwargs["extrasamples"] = ["unassalpha"]
        payload = _encoded(
            lambda b: tifffile.imwrite(b, hwc.squeeze(-1) if samples == 1 else hwc, **kwargs)
        )
    pixels, info = read_image(_file(workdir, payload, ext))
    assert info.bit_depth == 16
    out = write_image(_fresh(workdir, ext), pixels, info)
    if ext == ".tif":
        back = tifffile.imread(out)
        assert back.dtype == np.uint16
        np.testing.assert_array_equal(back.reshape(shape), hwc)
    else:
        assert out.read_bytes()[24] == 16  # IHDR bit depth
        again, again_info = read_image(out)
        colour = hwc[..., : samples - 1] if samples in (2, 4) else hwc
        np.testing.assert_array_equal(
            np.rint(again * 65535.0).astype(np.uint16), np.moveaxis(colour, -1, 0)
        )
        if samples in (2, 4):
            np.testing.assert_array_equal(again_info.alpha, hwc[..., -1])
        if samples == 1:  # and an independent decoder agrees
            with Image.open(out) as im:
                np.testing.assert_array_equal(np.asarray(im).astype(np.uint16), hwc[..., 0])


# ----------------------------------------------------------------------------------------
# 5. Operators
# ----------------------------------------------------------------------------------------


def _inner(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.double() * b.double()).sum())


@st.composite
def operators_and_sizes(draw: st.DrawFn) -> tuple[object, int, int, int, int, int]:
    """(operator, channels, measurement h, w, estimate H, W)."""
    channels = draw(st.integers(1, 5))
    kind = draw(st.sampled_from(["denoise", "inpaint-pixel", "inpaint-channel", "sr"]))
    if kind == "sr":
        factor = draw(st.sampled_from([2, 3, 4, 8]))
        h, w = draw(st.integers(1, 20 // factor + 1)), draw(st.integers(1, 20 // factor + 1))
        return SuperResolve(factor), channels, h, w, factor * h, factor * w
    h, w = draw(st.integers(1, 20)), draw(st.integers(1, 20))
    if kind == "denoise":
        return Denoise(), channels, h, w, h, w
    mask_shape = (h, w) if kind == "inpaint-pixel" else (channels, h, w)
    rng = np.random.default_rng(draw(st.integers(0, 1000)))
    mask = rng.random(mask_shape) < draw(st.floats(0.0, 1.0))
    mask.flat[draw(st.integers(0, mask.size - 1))] = True  # at least one known value
    dtype = draw(st.sampled_from([bool, np.uint8, np.float32, np.float64]))
    return Inpaint(mask.astype(dtype)), channels, h, w, h, w


@FAST
@given(case=operators_and_sizes(), batch=st.integers(1, 2), seed=st.integers(0, 1000))
def test_operators_are_adjoint_with_the_right_shapes(case, batch, seed):
    op, channels, h, w, est_h, est_w = case
    assert op.estimate_size(h, w) == (est_h, est_w)
    g = torch.Generator().manual_seed(seed)
    for dtype, rel in ((torch.float64, 1e-10), (torch.float32, 1e-4)):
        x = torch.randn(batch, channels, est_h, est_w, generator=g, dtype=dtype)
        y = torch.randn(batch, channels, h, w, generator=g, dtype=dtype)
        x_before, y_before = x.clone(), y.clone()
        ax, aty = op.A(x), op.A_adjoint(y)
        assert ax.shape == y.shape and ax.dtype == dtype
        assert aty.shape == x.shape and aty.dtype == dtype
        assert torch.equal(x, x_before) and torch.equal(y, y_before)  # inputs untouched
        left, right = _inner(ax, y), _inner(x, aty)
        scale = float(ax.double().norm() * y.double().norm() + x.double().norm() * aty.norm())
        assert abs(left - right) <= rel * max(scale, 1e-12)


@FAST
@given(case=operators_and_sizes(), seed=st.integers(0, 1000), bad=st.sampled_from([np.nan]))
def test_nan_input_gives_nan_output(case, seed, bad):
    op, channels, h, w, est_h, est_w = case
    rng = np.random.default_rng(seed)
    for shape, apply in (((1, channels, est_h, est_w), op.A), ((1, channels, h, w), op.A_adjoint)):
        x = torch.from_numpy(rng.random(shape).astype(np.float32))
        x.view(-1)[int(rng.integers(0, x.numel()))] = bad
        out = apply(x)
        assert torch.isnan(out).any()


@FAST
@given(
    factor=st.sampled_from([2, 3, 4, 8]),
    height=st.integers(1, 20),
    width=st.integers(1, 20),
)
def test_super_resolve_refuses_sizes_that_are_not_multiples(factor, height, width):
    op = SuperResolve(factor)
    x = torch.rand(1, 2, height, width)
    if height % factor == 0 and width % factor == 0:
        assert op.A(x).shape == (1, 2, height // factor, width // factor)
    else:
        with pytest.raises(ValueError, match=f"multiples of {factor}"):
            op.A(x)


@FAST
@given(
    factor=st.one_of(
        st.integers(-5, 1),
        st.floats(allow_nan=True, allow_infinity=True).filter(
            lambda f: not (np.isfinite(f) and f == int(f) and 2 <= f <= 64)
        ),
        st.integers(65, 10**30),
        st.none(),
        st.text(max_size=3),
        st.just(True),
    )
)
def test_super_resolve_refuses_bad_factors(factor):
    with pytest.raises(ValueError, match="factor"):
        SuperResolve(factor)


@FAST
@given(
    shape=st.one_of(
        st.tuples(st.integers(1, 20), st.integers(1, 20)),
        st.tuples(st.integers(1, 5), st.integers(1, 20), st.integers(1, 20)),
    ),
    fill=st.sampled_from([0.0, 0.5, 0.3, -1.0, False]),
    dtype=st.sampled_from([np.float32, np.float64, np.int64, bool]),
)
def test_inpaint_refuses_a_mask_without_known_pixels(shape, fill, dtype):
    mask = np.full(shape, fill).astype(dtype) if dtype is not bool else np.zeros(shape, bool)
    with pytest.raises(ValueError, match="no known pixel"):
        Inpaint(mask)


@FAST
@given(
    shape=st.tuples(st.integers(1, 5), st.integers(1, 20), st.integers(1, 20)),
    bad=st.sampled_from([np.nan, np.inf, -np.inf]),
    seed=st.integers(0, 1000),
)
def test_inpaint_refuses_nan_or_inf_masks(shape, bad, seed):
    rng = np.random.default_rng(seed)
    mask = (rng.random(shape) > 0.5).astype(np.float64)
    mask.flat[int(rng.integers(0, mask.size))] = bad
    with pytest.raises(ValueError, match="NaN or infinite"):
        Inpaint(mask)


@FAST
@given(
    mask_channels=st.integers(1, 5),
    image_channels=st.integers(1, 5),
    size=st.tuples(st.integers(1, 8), st.integers(1, 8)),
    image_size=st.tuples(st.integers(1, 8), st.integers(1, 8)),
)
def test_inpaint_applied_to_a_mismatched_image_raises(
    mask_channels, image_channels, size, image_size
):
    op = Inpaint(np.ones((mask_channels, *size)))
    x = torch.rand(1, image_channels, *image_size)
    fits = size == image_size and mask_channels in (1, image_channels)
    for apply in (op.A, op.A_adjoint, op.restrict):
        if fits:
            assert apply(x).shape == x.shape
        else:
            with pytest.raises(ValueError, match="mask"):
                apply(x)
