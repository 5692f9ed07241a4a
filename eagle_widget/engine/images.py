"""Turn whatever the user passes as an image into one H x W x 3 uint8 RGB array."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

# what shows through transparent pixels: white, as a browser or an image viewer on a light
# page shows a PNG; the pixels' own colours under alpha 0 are hidden and never used
ALPHA_BACKGROUND = (255, 255, 255)


class ImageTypeError(TypeError, ValueError):
    """An image of a type we cannot read (a TypeError that is also a ValueError, which the
    public API promises for a bad image)."""


@dataclass(frozen=True)
class Picture:
    """An image already read: its pixels and what reading did to them (read_image's notes),
    so that a caller who reads once (the widget, the batch) hands both to a run."""

    pixels: np.ndarray
    notes: dict = field(default_factory=dict)


class FirstFrameWarning(UserWarning):
    """An animated image (GIF, APNG, WebP) or a multi-page TIFF: only its first frame is used."""


def to_rgb_array(image) -> np.ndarray:
    """Convert a path, PIL image or array to an H x W x 3 uint8 RGB array.

    Grayscale is repeated over three channels. Transparent pixels (RGBA, LA, a palette's
    transparent colour) are composited onto ALPHA_BACKGROUND (white). 16-bit images are
    scaled from 0..65535 to 0..255, float images from [0, 1]; a float or 32-bit integer file
    whose values lie outside that range is stretched from its lowest to its highest value.
    An 8-bit integer array must hold 0..255, a float array [0, 1]. Files and PIL images are
    turned upright by their EXIF orientation; an animated image gives its first frame (see
    read_image).
    """
    return read_image(image)[0]


def read_image(image) -> tuple[np.ndarray, dict]:
    """The image as to_rgb_array gives it, and what was done to it on the way (JSON-able).

    A photo's pixels are often stored sideways with an EXIF orientation tag that every viewer
    applies; so do we, and the notes say so: {"exif_orientation": 6} (2..8; absent when the
    pixels were upright already). Likewise {"alpha_background": [255, 255, 255]} when some
    pixels were transparent, {"scaled_from": [low, high]} when the values were not 8-bit, and
    {"frames": n, "frame_used": 0} (with a FirstFrameWarning) for an animated image.
    """
    if isinstance(image, Picture):
        return image.pixels, dict(image.notes)
    if isinstance(image, (str, Path)):
        return _read_file(Path(image))
    if _is_pil(image):
        return _from_pil(image)
    if isinstance(image, np.ndarray):
        notes: dict = {}
        return _from_array(image, notes), notes
    raise ImageTypeError(
        f"image must be a path, a PIL image or an H x W x 3 uint8 array, got {type(image).__name__}"
    )


def picture_from_bytes(data: bytes, name) -> Picture:
    """An image file's bytes read as the file would be (its name in errors): how a worker on
    another machine reads an image the driver sent."""
    import io

    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as img:
            return Picture(*_from_pil(img))
    except (UnidentifiedImageError, OSError, ValueError) as error:
        raise ValueError(f"cannot read image {str(name)!r}: {error}") from None


def read_picture(image) -> Picture:
    """read_image's pixels and notes as one Picture: read a file once, hand both to a run."""
    return Picture(*read_image(image))


def _is_pil(image) -> bool:
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover - pillow is a dependency
        return False
    return isinstance(image, Image.Image)


def _read_file(path: Path) -> tuple[np.ndarray, dict]:
    """The file's image; every error names the path once."""
    from PIL import Image, UnidentifiedImageError

    if path.is_dir():
        raise ValueError(f"cannot read image {str(path)!r}: it is a folder, not an image file")
    if not path.is_file():
        raise ValueError(f"cannot read image {str(path)!r}: file not found")
    try:
        with Image.open(path) as img:
            return _from_pil(img)
    except UnidentifiedImageError as error:
        if path.suffix.lower() in (".tif", ".tiff"):  # float RGB and other TIFFs Pillow lacks
            read = _read_tiff(path)
            if read is not None:
                return read
        raise ValueError(f"cannot read image {str(path)!r}: {_reason(error, path)}") from None
    except (OSError, ValueError) as error:
        raise ValueError(f"cannot read image {str(path)!r}: {_reason(error, path)}") from None


def _reason(error: BaseException, path: Path) -> str:
    """The error's message without the path Pillow repeats in it."""
    text = " ".join(str(error).split()).replace(f"{str(path)!r}", "").replace(str(path), "")
    return " ".join(text.split()) or type(error).__name__


def _read_tiff(path: Path) -> tuple[np.ndarray, dict] | None:
    """A TIFF through tifffile (installed with scikit-image), or None where it cannot help."""
    try:
        import tifffile
    except ImportError:  # pragma: no cover - scikit-image brings it
        return None
    try:
        with tifffile.TiffFile(path) as tiff:
            pages = len(tiff.pages)
            array = tiff.pages[0].asarray()
    except Exception:  # not a TIFF tifffile reads either: Pillow's error stands
        return None
    notes: dict = {}
    if pages > 1:
        _note_first_frame(notes, pages, 0)
    if array.ndim == 3 and array.shape[0] in (3, 4) and array.shape[2] not in (3, 4):
        array = np.moveaxis(array, 0, 2)  # planar (channels first) storage
    return _from_array(array, notes, stretch=True), notes


# EXIF tag 0x0112: how the stored pixels must be turned to be upright (1: as stored)
_ORIENTATION_TAG = 0x0112
# Pillow modes of one channel with more than 8 bits: read as numbers, then scaled
_WIDE_MODES = ("I", "I;16", "I;16B", "I;16L", "I;16N", "F")


def _from_pil(img) -> tuple[np.ndarray, dict]:
    from PIL import ImageOps

    notes: dict = {}
    frames = int(getattr(img, "n_frames", 1) or 1)
    if frames > 1:
        _note_first_frame(notes, frames, int(img.tell()))
    orientation = img.getexif().get(_ORIENTATION_TAG, 1)
    if orientation in range(2, 9):
        img = ImageOps.exif_transpose(img)
        notes["exif_orientation"] = int(orientation)
    if img.mode in _WIDE_MODES:
        array = np.asarray(img)
    elif img.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in img.info:
        array = np.asarray(img.convert("RGBA"))
    else:
        array = np.asarray(img.convert("RGB"))
    return _from_array(array, notes, stretch=True), notes


def _note_first_frame(notes: dict, frames: int, used: int) -> None:
    notes["frames"], notes["frame_used"] = frames, used
    warnings.warn(
        f"the image has {frames} frames; only frame {used + 1} is explained",
        FirstFrameWarning,
        stacklevel=4,
    )


def _from_array(array: np.ndarray, notes: dict, stretch: bool = False) -> np.ndarray:
    """H x W x 3 uint8 from an array; `stretch`: a file's out-of-range values are scaled from
    their lowest to their highest, where an array's are an error (the caller chose them)."""
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.ndim == 3 and array.shape[2] == 2:  # gray and alpha
        array = np.concatenate([np.repeat(array[:, :, :1], 3, axis=2), array[:, :, 1:]], axis=2)
    if array.ndim == 2:
        array = np.repeat(array[:, :, None], 3, axis=2)
    if array.ndim != 3 or array.shape[2] not in (3, 4):
        raise ValueError(
            f"image array must have shape H x W, H x W x 3 or H x W x 4, got {array.shape}"
        )
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise ValueError(f"image array is empty: shape {array.shape}")
    values = _to_unit_range(array, notes, stretch)
    if array.shape[2] == 4:
        values = _composite(array, values, notes)
    if values is None:  # 8-bit already
        # our own writable copy: the caller may change theirs later, or hand in a read-only
        # view (np.asarray of a PIL image), which torch warns about when a processor reads it
        return np.array(array[:, :, :3], dtype=np.uint8, order="C")
    return np.round(values[:, :, :3] * 255).astype(np.uint8)


def _to_unit_range(array: np.ndarray, notes: dict, stretch: bool) -> np.ndarray | None:
    """The values as floats in [0, 1], or None for 8-bit values (kept exact)."""
    if array.dtype == np.uint8:
        return None
    if array.dtype == np.bool_:
        return array.astype(np.float64)
    if array.dtype == np.uint16:  # 16-bit PNG and TIFF: the full range is 0..65535
        notes["scaled_from"] = [0, 65535]
        return array / 65535.0
    if np.issubdtype(array.dtype, np.floating):
        finite = np.isfinite(array)
        if finite.all() and array.min() >= 0 and array.max() <= 1:
            if stretch:
                notes["scaled_from"] = [0, 1]
            return array.astype(np.float64)
        if not stretch or not finite.any():
            raise ValueError(
                "a float image must hold finite values in [0, 1], "
                f"got values in [{np.nanmin(array):g}, {np.nanmax(array):g}]"
            )
        return _stretched(np.where(finite, array, np.nanmin(array[finite])), notes)
    if np.issubdtype(array.dtype, np.integer):
        low, high = int(array.min()), int(array.max())
        if 0 <= low and high <= 255 and not stretch:
            return None
        if stretch and 0 <= low and high <= 65535:  # Pillow's "I": 16-bit data in 32 bits
            notes["scaled_from"] = [0, 65535]
            return array / 65535.0
        if not stretch:
            raise ValueError(f"an integer image must hold values in 0..255, got [{low}, {high}]")
        return _stretched(array, notes)
    raise ImageTypeError(f"image array has unsupported dtype {array.dtype}")


def _stretched(array: np.ndarray, notes: dict) -> np.ndarray:
    low, high = float(array.min()), float(array.max())
    notes["scaled_from"] = [low, high]
    return (array - low) / (high - low) if high > low else np.zeros(array.shape)


def _composite(array: np.ndarray, values: np.ndarray | None, notes: dict) -> np.ndarray | None:
    """RGB in [0, 1] of RGBA values over ALPHA_BACKGROUND; None (8-bit, kept) when opaque."""
    unit = array / 255.0 if values is None else values
    alpha = unit[:, :, 3:]
    if (alpha >= 1).all():
        return values
    notes["alpha_background"] = list(ALPHA_BACKGROUND)
    background = np.asarray(ALPHA_BACKGROUND, dtype=np.float64) / 255
    return unit[:, :, :3] * alpha + background * (1 - alpha)


def frame_size(visual: np.ndarray) -> tuple[int, int]:
    """(height, width) of an image (H x W x 3) or of each frame of a clip (F x H x W x 3)."""
    return int(visual.shape[-3]), int(visual.shape[-2])


def resize(image: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """An RGB array at (height, width), with Pillow's Lanczos filter (antialiased when shrinking);
    a clip (F x H x W x 3) frame by frame.

    What the engine uses to bring a photo to its working size; do the same to reproduce it.
    """
    from PIL import Image

    if image.ndim == 4:
        return np.stack([resize(frame, shape) for frame in image])
    height, width = int(shape[0]), int(shape[1])
    picture = Image.fromarray(image).resize((width, height), Image.Resampling.LANCZOS)
    return np.asarray(picture, dtype=np.uint8).copy()
