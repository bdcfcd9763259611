import io
from importlib import resources

import cv2
import numpy as np
import pytest
from PIL import Image

from autodip.io import read_image
from autodip.metrics.jpeg_size import _jpeg_bytes, jpeg_size
from autodip.physics.noise import add_gaussian_noise


@pytest.fixture(scope="module")
def f16() -> np.ndarray:
    pixels, _ = read_image(str(resources.files("autodip") / "data" / "f16_256_clean.png"))
    return pixels


def _pillow_jpeg(image: np.ndarray, quality: int) -> bytes:
    pixels = np.rint(np.clip(image, 0, 1) * 255).astype(np.uint8)
    pil = Image.fromarray(pixels[0] if pixels.shape[0] == 1 else pixels.transpose(1, 2, 0))
    buffer = io.BytesIO()
    pil.save(buffer, "JPEG", quality=quality, subsampling="4:2:0")
    return buffer.getvalue()


def test_size_grows_with_noise(f16):
    sizes = [jpeg_size(add_gaussian_noise(f16, s, seed=0)) for s in (0, 10, 25, 50)]
    assert sizes == sorted(sizes) and len(set(sizes)) == 4, sizes


def test_size_grows_with_quality(f16):
    assert jpeg_size(f16, 50) < jpeg_size(f16, 75) < jpeg_size(f16) < jpeg_size(f16, 100)


def test_deterministic_and_input_untouched(f16):
    copy = f16.copy()
    assert jpeg_size(f16) == jpeg_size(f16) == jpeg_size(copy.astype(np.float64))
    assert np.array_equal(f16, copy)


def test_is_the_length_of_the_opencv_420_stream(f16):
    data = _jpeg_bytes(f16, 90)
    assert jpeg_size(f16, 90) == len(data)
    assert data[:2] == b"\xff\xd8" and data[-2:] == b"\xff\xd9"
    sof = data.index(b"\xff\xc0")  # baseline frame header
    components = [data[sof + 10 + 3 * i : sof + 13 + 3 * i] for i in range(3)]
    assert [c[1] for c in components] == [0x22, 0x11, 0x11]  # 4:2:0: luma 2×2, chroma 1×1


def test_gray_works_and_accepts_both_shapes(f16):
    gray = f16.mean(axis=0)
    assert jpeg_size(gray) == jpeg_size(gray[np.newaxis]) > 0
    assert jpeg_size(gray) < jpeg_size(f16)
    decoded = cv2.imdecode(np.frombuffer(_jpeg_bytes(gray), np.uint8), cv2.IMREAD_UNCHANGED)
    assert decoded.ndim == 2 and decoded.shape == gray.shape


def test_channel_order_matters(f16):
    assert jpeg_size(f16) != jpeg_size(f16[::-1])


def test_colour_reaches_opencv_as_bgr():
    image = np.zeros((3, 32, 32), dtype=np.float32)
    image[0] = 1.0  # pure red in RGB
    decoded = np.asarray(Image.open(io.BytesIO(_jpeg_bytes(image))).convert("RGB"))
    assert np.all(decoded[..., 0] > 240) and np.all(decoded[..., 1:] < 15)


def test_values_outside_unit_range_are_clipped(f16):
    assert jpeg_size(f16 * 1.5 - 0.25) == jpeg_size(np.clip(f16 * 1.5 - 0.25, 0, 1))


def test_tiny_and_odd_sized_images(f16):
    assert jpeg_size(np.zeros((1, 1), dtype=np.float32)) > 0
    assert jpeg_size(f16[:, :17, :33]) > 0


# Pillow (its bundled libjpeg-turbo, baseline, no optimize/progressive) against OpenCV: the same
# byte count in every case; colour streams are byte-identical; gray streams differ in exactly one
# byte, the sampling factor of the single component in the frame header (OpenCV 1×1, Pillow 2×2,
# both meaning "not subsampled").
@pytest.mark.parametrize("quality", [50, 75, 95, 100])
@pytest.mark.parametrize("sigma", [0, 25])
def test_pillow_gives_the_same_byte_count(f16, quality, sigma):
    images = [f16, f16[:, 3:200, 5:150]]  # 256×256 and an odd 197×145 crop
    for image in images:
        noisy = add_gaussian_noise(image, sigma, seed=0)
        assert _jpeg_bytes(noisy, quality) == _pillow_jpeg(noisy, quality)
        assert jpeg_size(noisy, quality) == len(_pillow_jpeg(noisy, quality))

        gray = noisy.mean(axis=0, keepdims=True)
        ours, pillow = _jpeg_bytes(gray, quality), _pillow_jpeg(gray, quality)
        assert len(ours) == len(pillow) == jpeg_size(gray, quality)
        differ = [i for i, (a, b) in enumerate(zip(ours, pillow, strict=True)) if a != b]
        sof = ours.index(b"\xff\xc0")
        assert differ == [sof + 11] and (ours[sof + 11], pillow[sof + 11]) == (0x11, 0x22)


@pytest.mark.parametrize(
    ("image", "message"),
    [
        ([[0.5]], "numpy array"),
        (np.zeros((8, 8), dtype=np.uint8), "floating point"),
        (np.zeros((2, 8, 8)), "C = 1 or 3"),
        (np.zeros((4, 8, 8)), "C = 1 or 3"),
        (np.zeros((8, 8, 3)), "C = 1 or 3"),
        (np.zeros(8), "C = 1 or 3"),
        (np.zeros((1, 3, 8, 8)), "C = 1 or 3"),
        (np.zeros((3, 0, 8)), "height and width"),
        (np.zeros((1, 65501)), "height and width"),
        (np.full((8, 8), np.nan), "NaN or infinity"),
    ],
)
def test_bad_image_raises_value_error(image, message):
    with pytest.raises(ValueError, match=message):
        jpeg_size(image)


@pytest.mark.parametrize("quality", [-1, 101, 95.0, "95", True, None])
def test_bad_quality_raises_value_error(quality):
    with pytest.raises(ValueError, match="quality"):
        jpeg_size(np.zeros((8, 8), dtype=np.float32), quality)


def test_numpy_integer_quality_is_accepted():
    image = np.full((8, 8), 0.5, dtype=np.float32)
    assert jpeg_size(image, np.int64(80)) == jpeg_size(image, 80)
