"""PNG at the byte level: the 16-bit decoder and encoder that Pillow lacks, and the checks of a
PNG's chunks and image data that Pillow's reading relies on.

Pillow reduces 16-bit PNGs with colour or alpha to 8 bits when it reads them and cannot write
them, so they are decoded and encoded here: an IHDR header chunk, zlib-compressed IDAT chunks
holding the filtered rows, an IEND chunk, every chunk with a CRC-32.
"""

from __future__ import annotations

import struct
import zlib

import numpy as np

from autodip.io.decoded import (
    _check_frame,
    _check_pixel_count,
    _DamagedError,
    _Decoded,
    _DecodeError,
)

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: PNG colour type -> number of samples per pixel, for the colour types we decode ourselves.
_PNG16_CHANNELS = {2: 3, 4: 2, 6: 4}
#: PNG colour type -> samples per pixel, for all colour types.
_PNG_SAMPLES = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}
#: The seven Adam7 interlace passes: (first column, first row, column step, row step).
_ADAM7 = (
    (0, 0, 8, 8),
    (4, 0, 8, 8),
    (0, 4, 4, 8),
    (2, 0, 4, 4),
    (0, 2, 2, 4),
    (1, 0, 2, 2),
    (0, 1, 1, 2),
)
_PNG_COLOUR_TYPES = {1: 0, 2: 4, 3: 2, 4: 6}  # samples per pixel -> colour type (for writing)
_PNG_IDAT_SIZE = 1 << 20


def _png_header_is(data: bytes, depths: tuple[int, ...], colour_types: tuple[int, ...]) -> bool:
    """Tell from the IHDR chunk whether a PNG has one of the given bit depths and colour types."""
    if not data.startswith(_PNG_SIGNATURE) or len(data) < 29 or data[12:16] != b"IHDR":
        return False
    return data[24] in depths and data[25] in colour_types


def _read_png16(data: bytes, frame: int | None, allow_truncated: bool) -> _Decoded:
    """Decode a non-interlaced 16-bit PNG with colour and/or alpha (types 2, 4 and 6).

    Of an animated one (``acTL`` chunk) only a single-frame one is read: its frames are not
    decoded here, and Pillow would reduce them to 8 bits.
    """
    chunks = _png_chunks(data, partial=allow_truncated)
    width, height, _depth, colour_type, compression, filter_method, interlace = struct.unpack(
        ">IIBBBBB", chunks[0][1]
    )
    channels = _PNG16_CHANNELS[colour_type]
    if interlace:
        kind = "gray+alpha" if colour_type == 4 else "colour"
        raise _DecodeError(f"interlaced 16-bit {kind} PNG is not supported")
    if compression or filter_method:
        raise _DecodeError("not a readable image (unknown PNG compression or filter method)")
    if width == 0 or height == 0:
        raise _DecodeError("image has zero size")
    _check_pixel_count(height, width)
    frames = next((_png_frames(body) for kind, body in chunks if kind == b"acTL"), 1)
    _check_frame(frame, frames)
    if frames > 1:
        raise _DecodeError(
            f"the frames of a 16-bit animated PNG cannot be read ({frames} frames); save the "
            "frame you mean as a PNG of its own"
        )
    bpp = 2 * channels  # bytes per pixel
    stride = width * bpp
    expected = height * (stride + 1)
    idat = b"".join(body for kind, body in chunks if kind == b"IDAT")
    try:
        raw = zlib.decompressobj().decompress(idat, expected)
    except zlib.error as exc:
        raise _DecodeError(f"not a readable image (corrupt PNG data: {exc})") from None
    damaged = None
    if len(raw) < expected:
        damaged = f"PNG image data is truncated: {len(raw)} of {expected} bytes"
        if not allow_truncated:
            raise _DamagedError(damaged)
        raw = raw.ljust(expected, b"\0")  # the missing rows: black, as Pillow pads
    rows = np.frombuffer(raw, dtype=np.uint8).reshape(height, stride + 1)
    pixels = _png_unfilter(rows[:, 0], rows[:, 1:], bpp)
    arr = pixels.view(">u2").reshape(height, width, channels).astype(np.uint16)
    planes = np.moveaxis(arr, -1, 0)
    alpha = None
    if channels in (2, 4):
        planes, alpha = planes[:-1], planes[-1]
    return _Decoded(planes, alpha, "png", damaged=damaged)


def _png_frames(actl: bytes) -> int:
    """The number of frames an ``acTL`` chunk announces (1 if it is malformed)."""
    return struct.unpack(">I", actl[:4])[0] if len(actl) >= 4 else 1


def _check_png_data(data: bytes, partial: bool = False) -> str | None:
    """Say why a PNG's image data is shorter than its header says, before Pillow reads it.

    Pillow fills the missing rows with black when the compressed data ends early, so a
    damaged file, or a tiny one whose header claims millions of pixels, would otherwise be
    read as a (mostly black, possibly huge) image. The data is decompressed in pieces and
    only counted, never kept. Returns None when the data is complete. ``partial`` accepts a
    file cut short (see `_png_chunks`).
    """
    chunks = _png_chunks(data, partial)
    width, height, depth, colour_type, _, _, interlace = struct.unpack(">IIBBBBB", chunks[0][1])
    samples = _PNG_SAMPLES.get(colour_type)
    if samples is None or depth not in (1, 2, 4, 8, 16) or interlace > 1:
        return None  # an invalid header: let Pillow say what is wrong
    _check_pixel_count(height, width)
    passes = ((0, 0, 1, 1),) if interlace == 0 else _ADAM7
    expected = 0
    for x0, y0, dx, dy in passes:
        columns, rows = max(0, -((x0 - width) // dx)), max(0, -((y0 - height) // dy))
        if columns and rows:  # each row: a filter-type byte and its packed samples
            expected += rows * (1 + (columns * depth * samples + 7) // 8)
    decompressor = zlib.decompressobj()
    pending = b"".join(body for kind, body in chunks if kind == b"IDAT")
    found = 0
    try:
        while found < expected:
            piece = decompressor.decompress(pending, min(expected - found, _PNG_IDAT_SIZE))
            if not piece:
                break
            found += len(piece)
            pending = decompressor.unconsumed_tail
    except zlib.error as exc:
        raise _DecodeError(f"not a readable image (corrupt PNG data: {exc})") from None
    if found < expected:
        return f"PNG image data is truncated: {found} of {expected} bytes"
    return None


def _png_chunks(data: bytes, partial: bool = False) -> list[tuple[bytes, bytes]]:
    """Split a PNG into (type, body) chunks, checking lengths and CRCs; IHDR comes first.

    A file cut inside a chunk is refused (`_DamagedError`), or with ``partial`` read up to
    where it ends.
    """
    chunks = []
    pos = len(_PNG_SIGNATURE)
    while pos + 12 <= len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        crc = data[pos + 8 + length : pos + 12 + length]
        if len(crc) < 4:
            if not chunks:  # not even a whole header: nothing to restore
                raise _DecodeError("not a readable image (PNG file is truncated)")
            if partial:  # keep what there is of the last chunk
                chunks.append((kind, body))
                break
            raise _DamagedError("PNG file is truncated")
        if zlib.crc32(kind + body) != struct.unpack(">I", crc)[0]:
            name = kind.decode("latin-1")
            raise _DecodeError(f"not a readable image (corrupt PNG: bad CRC in {name} chunk)")
        chunks.append((kind, body))
        if kind == b"IEND":
            break
        pos += 12 + length
    if not chunks or chunks[0][0] != b"IHDR" or len(chunks[0][1]) != 13:
        raise _DecodeError("not a readable image (PNG header is damaged)")
    return chunks


def _png_unfilter(types: np.ndarray, filtered: np.ndarray, bpp: int) -> np.ndarray:
    """Undo PNG row filters.

    Parameters
    ----------
    types : numpy.ndarray
        Filter type of each row (0 None, 1 Sub, 2 Up, 3 Average, 4 Paeth).
    filtered : numpy.ndarray
        H×stride ``uint8`` filtered bytes, without the filter-type column.
    bpp : int
        Bytes per complete pixel: the distance to the "left" byte.

    Returns
    -------
    numpy.ndarray
        H×stride ``uint8`` reconstructed bytes.

    Notes
    -----
    None, Sub and Up only look at the current and previous row, so they are undone one
    row at a time (Sub as a wrapping cumulative sum). Average and Paeth need the byte to
    the left already reconstructed; a pixel depends on its left, upper and upper-left
    neighbours only, so all pixels on one anti-diagonal (constant row + column) are
    reconstructed together: H + W - 1 vectorised steps instead of H×W scalar ones.
    """
    height, stride = filtered.shape
    if height and int(types.max()) > 4:
        raise _DecodeError(f"not a readable image (unknown PNG row filter {int(types.max())})")
    if not types.any():
        return filtered.copy()
    if int(types.max()) <= 2:
        out = np.empty_like(filtered)
        prev = np.zeros(stride, dtype=np.uint8)
        for r in range(height):
            row = filtered[r]
            if types[r] == 1:
                row = np.cumsum(row.reshape(-1, bpp), axis=0, dtype=np.uint8).reshape(-1)
            elif types[r] == 2:
                row = row + prev
            out[r] = row
            prev = out[r]
        return out
    width = stride // bpp
    src = filtered.reshape(height, width, bpp).astype(np.int16)
    rec = np.zeros((height + 1, width + 1, bpp), dtype=np.int16)  # zero row/column padding
    kinds = types.astype(np.intp)
    for diag in range(height + width - 1):
        r = np.arange(max(0, diag - width + 1), min(height - 1, diag) + 1)
        x = diag - r
        left, up, upleft = rec[r + 1, x], rec[r, x + 1], rec[r, x]
        p = left + up - upleft
        pa, pb, pc = np.abs(p - left), np.abs(p - up), np.abs(p - upleft)
        paeth = np.where((pa <= pb) & (pa <= pc), left, np.where(pb <= pc, up, upleft))
        t = kinds[r][:, np.newaxis]
        predictor = np.select(
            [t == 1, t == 2, t == 3, t == 4], [left, up, (left + up) >> 1, paeth], 0
        )
        rec[r + 1, x + 1] = (src[r, x] + predictor) & 0xFF
    return rec[1:, 1:].astype(np.uint8).reshape(height, stride)


def _encode_png16(hwc: np.ndarray) -> bytes:
    """Encode H×W×C ``uint16`` (C = 1 to 4: gray, gray+alpha, RGB, RGBA) as a PNG.

    Pillow cannot write 16-bit colour PNGs, and PNG is simple: an IHDR header chunk,
    zlib-compressed IDAT chunks holding the rows (each prefixed by its filter type) as
    big-endian samples, and an IEND chunk; every chunk carries a CRC-32. Rows use the Up
    filter (the byte-wise difference to the row above), which is vectorised and helps
    compression of smooth images.
    """
    height, width, channels = hwc.shape
    samples = hwc.astype(">u2").view(np.uint8).reshape(height, width * channels * 2)
    rows = np.empty((height, samples.shape[1] + 1), dtype=np.uint8)
    rows[:, 0] = 2  # Up
    rows[:, 1:] = samples
    rows[1:, 1:] -= samples[:-1]  # uint8 arithmetic wraps modulo 256, as PNG wants
    header = struct.pack(">IIBBBBB", width, height, 16, _PNG_COLOUR_TYPES[channels], 0, 0, 0)
    compressed = zlib.compress(rows.tobytes(), 6)
    parts = [_PNG_SIGNATURE, _png_chunk(b"IHDR", header)]
    for start in range(0, len(compressed), _PNG_IDAT_SIZE):
        parts.append(_png_chunk(b"IDAT", compressed[start : start + _PNG_IDAT_SIZE]))
    parts.append(_png_chunk(b"IEND", b""))
    return b"".join(parts)


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
