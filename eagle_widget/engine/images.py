"""Turn whatever the user passes as an image into one H x W x 3 uint8 RGB array."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


class ImageTypeError(TypeError, ValueError):
    """An image of a type we cannot read (a TypeError that is also a ValueError, as api.md says)."""


@dataclass(frozen=True)
class Picture:
    """An image already read: its pixels and what reading did to them (read_image's notes),
    so that a caller who reads once (the widget, the batch) hands both to a run."""

    pixels: np.ndarray
    notes: dict = field(default_factory=dict)


def to_rgb_array(image) -> np.ndarray:
    """Convert a path, PIL image or array to an H x W x 3 uint8 RGB array.

    RGBA drops alpha, grayscale is repeated over three channels, floats must lie in [0, 1].
    Files and PIL images are turned upright by their EXIF orientation (see read_image).
    """
    return read_image(image)[0]


def read_image(image) -> tuple[np.ndarray, dict]:
    """The image as to_rgb_array gives it, and what was done to it on the way (JSON-able).

    A photo's pixels are often stored sideways with an EXIF orientation tag that every viewer
    applies; so do we, and the notes say so: {"exif_orientation": 6} (2..8; absent when the
    pixels were upright already).
    """
    if isinstance(image, Picture):
        return image.pixels, dict(image.notes)
    if isinstance(image, (str, Path)):
        return _read_file(Path(image))
    if _is_pil(image):
        return _from_pil(image)
    if isinstance(image, np.ndarray):
        return _from_array(image), {}
    raise ImageTypeError(
        f"image must be a path, a PIL image or an H x W x 3 uint8 array, got {type(image).__name__}"
    )


def _is_pil(image) -> bool:
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover - pillow is a dependency
        return False
    return isinstance(image, Image.Image)


def _read_file(path: Path) -> tuple[np.ndarray, dict]:
    from PIL import Image, UnidentifiedImageError

    if path.is_dir():
        raise ValueError(f"the image path is a folder, not an image file: {path}")
    if not path.is_file():
        raise ValueError(f"image file not found: {path}")
    try:
        with Image.open(path) as img:
            return _from_pil(img)
    except (UnidentifiedImageError, OSError) as error:
        raise ValueError(f"cannot read image file {path}: {error}") from None


# EXIF tag 0x0112: how the stored pixels must be turned to be upright (1: as stored)
_ORIENTATION_TAG = 0x0112


def _from_pil(img) -> tuple[np.ndarray, dict]:
    from PIL import ImageOps

    orientation = img.getexif().get(_ORIENTATION_TAG, 1)
    notes = {}
    if orientation in range(2, 9):
        img = ImageOps.exif_transpose(img)
        notes["exif_orientation"] = int(orientation)
    return np.asarray(img.convert("RGB"), dtype=np.uint8).copy(), notes


def _from_array(array: np.ndarray) -> np.ndarray:
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.ndim == 2:
        array = np.repeat(array[:, :, None], 3, axis=2)
    if array.ndim != 3 or array.shape[2] not in (3, 4):
        raise ValueError(
            f"image array must have shape H x W, H x W x 3 or H x W x 4, got {array.shape}"
        )
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise ValueError(f"image array is empty: shape {array.shape}")
    array = array[:, :, :3]
    if array.dtype == np.uint8:
        # our own writable copy: the caller may change theirs later, or hand in a read-only
        # view (np.asarray of a PIL image), which torch warns about when a processor reads it
        return np.array(array, order="C")
    if array.dtype == np.bool_:
        return (array.astype(np.uint8) * 255).copy()
    if np.issubdtype(array.dtype, np.floating):
        if not np.all(np.isfinite(array)) or array.min() < 0 or array.max() > 1:
            raise ValueError(
                "a float image must hold finite values in [0, 1], "
                f"got values in [{np.nanmin(array):g}, {np.nanmax(array):g}]"
            )
        return np.round(array * 255).astype(np.uint8)
    if np.issubdtype(array.dtype, np.integer):
        if array.min() < 0 or array.max() > 255:
            raise ValueError(
                f"an integer image must hold values in 0..255, got [{array.min()}, {array.max()}]"
            )
        return array.astype(np.uint8)
    raise ImageTypeError(f"image array has unsupported dtype {array.dtype}")


def resize(image: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """An RGB array at (height, width), with Pillow's Lanczos filter (antialiased when shrinking).

    What the engine uses to bring a photo to its working size; do the same to reproduce it.
    """
    from PIL import Image

    height, width = int(shape[0]), int(shape[1])
    picture = Image.fromarray(image).resize((width, height), Image.Resampling.LANCZOS)
    return np.asarray(picture, dtype=np.uint8).copy()
