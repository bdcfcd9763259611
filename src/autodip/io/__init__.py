"""Reading and writing images: formats, bit depths, alpha, numpy ↔ torch, and atomic files.

Conventions used everywhere in autodip:

* An image in memory is a ``float32`` numpy array of shape C×H×W (channels first) with
  values in [0, 1]. Colour channels only: an alpha plane is set aside in `ImageInfo`.
* 8-bit files are scaled by 255 and 16-bit files by 65535, so a file read and written
  back at the same bit depth is bit-exact.
* Float data (``.npy``, float TIFF), and integer data other than uint8/uint16, already in
  [0, 1] is used as is. Such data outside [0, 1] is min–max scaled into [0, 1]; the (lo, hi)
  used is kept in `ImageInfo.value_range` so that `write_image` can scale the result back.
* An array (``.npy``) is written back in the layout it was read in (H×W, H×W×C or C×H×W) and,
  for uint8/uint16, in its dtype; other dtypes come back as float32 in their own range.
* A network sees a 1×C×H×W ``float32`` tensor (`image_to_tensor`, `tensor_to_image`).

Supported files: PNG (8 and 16 bit, gray/RGB, with or without alpha), JPEG, BMP, TIFF
(8/16-bit integer and float) and ``.npy`` arrays. Reading looks at the file's content,
not its extension; a few other formats Pillow knows (GIF, WebP, PPM, JPEG 2000) can be
read but not written. Nothing is dropped without a word: an animation must be given a frame
to read, damaged (truncated or corrupt) data is refused unless a partial image is asked for,
and an alpha plane is not written to a format that cannot hold it unless asked to drop it.

The package: :mod:`~autodip.io.read` (`read_image`, `ImageInfo`), :mod:`~autodip.io.write`
(`write_image`, `check_output`), :mod:`~autodip.io.png16` (the 16-bit PNG codec),
:mod:`~autodip.io.atomic` (`replace_atomically`), :mod:`~autodip.io.convert` (numpy ↔ torch)
and :mod:`~autodip.io.decoded` (what the decoders share). Its modules import one another, never
this one.
"""

from autodip.io.atomic import replace_atomically
from autodip.io.convert import image_to_tensor, tensor_to_image
from autodip.io.read import (
    ImageDamagedError,
    ImageFramesError,
    ImageInfo,
    ImageReadError,
    read_image,
)
from autodip.io.write import IMAGE_SUFFIXES, ImageWriteError, check_output, write_image

__all__ = [
    "IMAGE_SUFFIXES",
    "ImageDamagedError",
    "ImageFramesError",
    "ImageInfo",
    "ImageReadError",
    "ImageWriteError",
    "check_output",
    "image_to_tensor",
    "read_image",
    "replace_atomically",
    "tensor_to_image",
    "write_image",
]
