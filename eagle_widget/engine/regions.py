"""Sub-regions: one label map with labels 0..N-1, H x W for an image or F x H x W for a clip,
from SLIC superpixels, a grid, supervoxels, or the user's own label map or masks
(region_plan checks what `regions=` asks for)."""

from __future__ import annotations

import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

# SLIC cost grows with pixels; beyond this side length we segment a downscaled copy and
# scale the labels back up (nearest neighbour keeps every region connected).
_MAX_SLIC_SIDE = 512
# Below a few pixels per region SLIC has nothing to cluster: use a regular grid of blocks.
_MIN_PIXELS_PER_REGION = 4


def superpixels(image: np.ndarray, n_regions: int = 50) -> np.ndarray:
    """Split an RGB image into about `n_regions` connected regions (int32 labels 0..N-1)."""
    if isinstance(n_regions, bool) or not isinstance(n_regions, (int, np.integer)):
        raise TypeError(f"n_regions must be an int, got {type(n_regions).__name__}")
    if n_regions < 1:
        raise ValueError(f"n_regions must be at least 1, got {n_regions}")
    height, width = image.shape[:2]
    if n_regions == 1:
        return np.zeros((height, width), dtype=np.int32)
    if n_regions * _MIN_PIXELS_PER_REGION > height * width:
        return grid_regions(height, width, n_regions)
    scale = min(1.0, _MAX_SLIC_SIDE / max(height, width))
    small = image if scale == 1.0 else _resize_nearest(image, scale)
    labels = _slic(small, n_regions)
    if scale != 1.0:
        labels = upscale_labels(labels, height, width)
    return _relabel(labels)


def grid_regions(height: int, width: int, n_regions: int) -> np.ndarray:
    """A grid of about n_regions rectangular blocks (at least one pixel each)."""
    return block_labels(height, width, *grid_shape(height, width, n_regions))


def region_areas(labels: np.ndarray, n_regions: int) -> np.ndarray:
    """Fraction of the image (of a clip: of all its frames' pixels) covered by each region."""
    return np.bincount(labels.ravel(), minlength=n_regions) / labels.size


def region_neighbours(labels: np.ndarray, n_regions: int) -> list[np.ndarray]:
    """For each region, the regions that touch it (4-connected pixels; in a clip also the
    same pixel in the next or previous frame), sorted."""
    pairs = []
    for axis in range(labels.ndim):
        along = np.moveaxis(labels, axis, 0)
        pairs.append(np.stack([along[:-1].ravel(), along[1:].ravel()], axis=1))
    pairs = np.concatenate(pairs)
    pairs = pairs[pairs[:, 0] != pairs[:, 1]]
    pairs = np.unique(np.concatenate([pairs, pairs[:, ::-1]]), axis=0)
    starts = np.searchsorted(pairs[:, 0], np.arange(n_regions + 1))
    return [pairs[starts[r] : starts[r + 1], 1] for r in range(n_regions)]


def frame_superpixels(clip: np.ndarray, n_regions: int = 50) -> np.ndarray:
    """F x H x W labels of a clip: about n_regions in all, each frame segmented alone (a
    region never spans frames), numbered frame by frame."""
    per_frame = frame_share(n_regions, len(clip))
    return _frame_by_frame([superpixels(frame, per_frame) for frame in clip])


def supervoxels(clip: np.ndarray, n_regions: int = 50) -> np.ndarray:
    """F x H x W labels of about n_regions regions from SLIC over the whole F x H x W volume:
    a region may follow an object through the frames (int32 labels 0..N-1, connected in
    space and time)."""
    frames, height, width = clip.shape[:3]
    if n_regions * _MIN_PIXELS_PER_REGION > clip[..., 0].size:
        per_frame = grid_regions(height, width, frame_share(n_regions, frames))
        return _frame_by_frame([per_frame] * frames)
    scale = min(1.0, _MAX_SLIC_SIDE / max(height, width))
    small = clip if scale == 1.0 else np.stack([_resize_nearest(f, scale) for f in clip])
    labels = _slic(small, n_regions)
    if scale != 1.0:
        labels = upscale_labels(labels, height, width)
    return _relabel(labels)


def frame_share(n_regions: int, frames: int) -> int:
    """Regions per frame when about n_regions are spread over a clip's frames (at least 1)."""
    return max(1, round(n_regions / frames))


def _frame_by_frame(maps: list[np.ndarray]) -> np.ndarray:
    """One F x H x W map of per-frame maps (each 0..n_f - 1), frame f's regions numbered after
    those of the frames before it."""
    out, offset = [], 0
    for labels in maps:
        out.append(labels + offset)
        offset += int(labels.max()) + 1
    return np.stack(out).astype(np.int32)


def _slic(image: np.ndarray, n_regions: int) -> np.ndarray:
    from skimage.segmentation import slic

    return slic(
        image,
        n_segments=n_regions,
        slic_zero=True,
        start_label=0,
        enforce_connectivity=True,
        channel_axis=-1,
    )


def _resize_nearest(image: np.ndarray, scale: float) -> np.ndarray:
    height, width = image.shape[:2]
    new_h, new_w = max(1, round(height * scale)), max(1, round(width * scale))
    rows = np.arange(new_h) * height // new_h
    cols = np.arange(new_w) * width // new_w
    return image[rows][:, cols]


def upscale_labels(labels: np.ndarray, height: int, width: int) -> np.ndarray:
    """The label map at height x width (nearest neighbour: no region is lost or split); a
    clip's (F x H x W) frame by frame."""
    if labels.shape[-2:] == (height, width):
        return labels
    small_h, small_w = labels.shape[-2:]
    rows = np.minimum(np.arange(height) * small_h // height, small_h - 1)
    cols = np.minimum(np.arange(width) * small_w // width, small_w - 1)
    return labels[..., rows, :][..., cols]


def downscale_labels(labels: np.ndarray, height: int, width: int) -> np.ndarray:
    """The map at height x width that upscale_labels made `labels` from (exactly: each row
    and column read back is one that upscaling filled from it); a clip's frame by frame."""
    big_h, big_w = labels.shape[-2:]
    rows = (np.arange(height) * big_h + height - 1) // height
    cols = (np.arange(width) * big_w + width - 1) // width
    return labels[..., rows, :][..., cols]


def _relabel(labels: np.ndarray) -> np.ndarray:
    """Map the labels in use onto 0..N-1, numbered in order of first appearance."""
    flat = labels.ravel()
    _, first, inverse = np.unique(flat, return_index=True, return_inverse=True)
    rank = np.empty(len(first), dtype=np.int32)
    rank[np.argsort(first, kind="stable")] = np.arange(len(first), dtype=np.int32)
    return rank[inverse].reshape(labels.shape)


# -- regions of the user's choosing ------------------------------------------------------------
# How the regions of a run are made: "slic" (superpixels of the working image, about
# n_regions; of a clip, each frame alone), "grid" (rows x cols blocks; of a clip, per
# frame), "supervoxels" (a clip only: SLIC over frames x height x width), or the user's own
# label map or masks. "grid", "labels" and "masks" are label maps of the image as given,
# shrunk to the working size.
REGION_KINDS = ("slic", "grid", "supervoxels", "labels", "masks")


@dataclass(frozen=True)
class RegionPlan:
    """How a run's regions are made; `maps` makes them for one image."""

    kind: str
    n_regions: int = 50
    grid: tuple[int, int] | None = None  # None with "grid": about n_regions blocks
    labels: np.ndarray | None = field(default=None, repr=False)  # "labels"/"masks": 0..N-1
    record: dict = field(default_factory=dict)  # what the result says of the user's regions

    @property
    def count(self) -> int | None:
        """The number of regions when known before an image is seen."""
        if self.labels is not None:
            return int(self.labels.max()) + 1
        if self.grid is not None:
            return self.grid[0] * self.grid[1]
        return None

    def maps(self, working: np.ndarray, shape) -> tuple[np.ndarray, np.ndarray, dict]:
        """(labels at the working image's size, labels at `shape`, the record of how).

        `working` is the image (or clip) the search scores; `shape` the image's own (height,
        width), or a clip's (frames, height, width). SLIC and supervoxels segment the
        working pixels and are scaled up; every other kind is a map at the image's own size,
        shrunk by nearest neighbour (downscale_labels, as mitigation and the authors' sweep
        shrink a result's map again). For a clip, "slic" and "grid" are per frame (about
        n_regions in all; grid=(rows, cols) blocks in each frame) and the record says
        "per_frame": True.
        """
        shape = tuple(int(s) for s in shape)
        height, width = shape[-2:]
        clip = len(shape) == 3
        if self.kind == "supervoxels" and not clip:
            raise ValueError('regions="supervoxels" is for a clip; an image takes "slic"')
        if self.kind in ("slic", "supervoxels"):
            if self.kind == "supervoxels":
                work = supervoxels(working, self.n_regions)
            else:
                work = (frame_superpixels if clip else superpixels)(working, self.n_regions)
            record = {"kind": self.kind, "n_regions": self.n_regions}
            if clip and self.kind == "slic":
                record["per_frame"] = True
            return work, upscale_labels(work, height, width), record
        if self.kind == "grid":
            per_frame = frame_share(self.n_regions, shape[0]) if clip else self.n_regions
            rows, cols = self.grid or grid_shape(height, width, per_frame)
            if rows > height or cols > width:
                raise ValueError(
                    f"a {rows} x {cols} grid does not fit an image of {height} x {width} pixels"
                )
            full = block_labels(height, width, rows, cols)
            record = {"kind": "grid", "grid": [rows, cols]}
            if clip:
                full = _frame_by_frame([full] * shape[0])
                record["per_frame"] = True
        else:
            self.check_shape(shape)
            full, record = self.labels, dict(self.record)
        return shrunk_labels(full, working.shape[-3:-1]), full, record

    def check_shape(self, shape) -> None:
        """A label map or masks must be of the image's own (height, width), or a clip's own
        (frames, height, width)."""
        if self.labels is None or self.labels.shape == tuple(shape):
            return
        what = "the label map is" if self.kind == "labels" else "the masks are"
        given = " x ".join(map(str, self.labels.shape))
        axes = "frames x height x width" if len(shape) == 3 else "height x width"
        hint = "give them at the image's own size"
        if len(shape) == 3 and self.labels.ndim == 2:
            hint = (
                "a clip's regions are F x H x W (np.stack([labels] * F) repeats an image's "
                "map in every frame, each region then spanning them all)"
            )
        elif len(shape) == 2 and self.labels.ndim == 3:
            hint = "F x H x W is a clip's; for an image a label map is H x W"
        raise ValueError(
            f"{what} {given} but the {'clip' if len(shape) == 3 else 'image'} is "
            f"{' x '.join(map(str, shape))} ({axes}): {hint}"
        )


def regions_text(n_regions: int, record: dict | None) -> str:
    """A result's regions in words, "16 regions (a 4 x 4 grid)", for its page and the
    command line's progress (the count alone when how they were made is not recorded)."""
    kind = (record or {}).get("kind")
    if kind == "grid":
        made = "a {} x {} grid".format(*record["grid"])
        made += " per frame" if record.get("per_frame") else ""
    elif kind == "masks":
        rest = " and the pixels of none" if record.get("uncovered") is not None else ""
        made = f"{record['masks']} masks{rest}"
    else:
        made = {"slic": "superpixels", "supervoxels": "supervoxels", "labels": "a label map"}.get(
            kind
        )
        made = made and made + (" per frame" if record.get("per_frame") else "")
    return f"{n_regions} regions" + (f" ({made})" if made else "")


def region_plan(regions="slic", n_regions: int = 50, grid=None) -> RegionPlan:
    """Check what `regions=` (and `grid=`) ask for, before any image is seen.

    regions: "slic" (about n_regions superpixels), "grid" (grid=(rows, cols) blocks, or
    about n_regions of them), "supervoxels" (a clip only), an H x W integer label map
    (labels need not be 0..N-1: they are renumbered in increasing order and the result's
    record keeps the given ids), or a list of H x W boolean masks (the first mask that
    holds a pixel owns it; pixels no mask holds form one more region, the last). For a clip
    the maps and masks are F x H x W. Negative labels, a single region, and masks with no
    pixel of their own are errors.
    """
    if grid is not None and not (isinstance(regions, str) and regions == "grid"):
        raise ValueError('grid= goes with regions="grid"')
    if isinstance(regions, str):
        if regions in ("slic", "supervoxels"):
            return RegionPlan(regions, n_regions)
        if regions == "grid":
            return RegionPlan("grid", n_regions, None if grid is None else _checked_grid(grid))
        raise ValueError(
            f'regions must be "slic", "grid", "supervoxels", an H x W (or F x H x W) label map '
            f"or a list of boolean masks, got {regions!r}"
        )
    if isinstance(regions, (list, tuple)):
        labels, record = masks_to_labels(regions)
        return RegionPlan("masks", labels=labels, record=record)
    if isinstance(regions, np.ndarray):
        labels, record = checked_label_map(regions)
        return RegionPlan("labels", labels=labels, record=record)
    raise TypeError(
        'regions must be "slic", "grid", an H x W label map (numpy array) or a list of '
        f"H x W boolean masks, got {type(regions).__name__}"
    )


def checked_label_map(labels: np.ndarray) -> tuple[np.ndarray, dict]:
    """A user's H x W label map (F x H x W for a clip) as int32 labels 0..N-1, and its record.

    Labels may start anywhere and skip numbers (SAM's, COCO's ids): they are renumbered in
    increasing order, and the record's "ids" lists the given label of each region then. A
    clip's region may span frames when its id recurs in them.
    """
    labels = np.asarray(labels)
    if labels.ndim not in (2, 3) or (labels.ndim == 3 and labels.dtype == bool):
        raise ValueError(
            "a label map is H x W, or F x H x W for a clip (one integer region id per pixel), "
            f"got shape {labels.shape}"
            + ("; masks go in a list" if labels.ndim == 3 and labels.dtype == bool else "")
        )
    if labels.size == 0:
        raise ValueError(f"the label map is empty: shape {labels.shape}")
    if labels.dtype == bool:
        labels = labels.astype(np.int32)
    if not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"a label map holds integer region ids, got dtype {labels.dtype}")
    if labels.min() < 0:
        raise ValueError(
            f"the label map holds negative labels (lowest {labels.min()}): region ids are "
            ">= 0; give unlabelled pixels a region id of their own"
        )
    ids, numbered = np.unique(labels, return_inverse=True)
    if len(ids) < 2:
        raise ValueError(
            f"the label map has one region only (every pixel is {ids[0]}): "
            "an explanation orders at least 2"
        )
    record: dict = {"kind": "labels"}
    if ids[-1] != len(ids) - 1:  # gaps, or not starting at 0
        record["ids"] = [int(i) for i in ids]
    return numbered.reshape(labels.shape).astype(np.int32), record


def masks_to_labels(masks) -> tuple[np.ndarray, dict]:
    """A list of H x W (for a clip F x H x W) boolean masks as one label map (region i = mask
    i), and its record.

    Where masks overlap the first one wins; pixels no mask holds form one more region (the
    last id, recorded as "uncovered"). A mask left with no pixel of its own is an error.
    """
    if len(masks) == 0:
        raise ValueError("regions is an empty list: give at least one mask")
    arrays = []
    for i, mask in enumerate(masks):
        mask = np.asarray(mask)
        if mask.ndim not in (2, 3):
            raise ValueError(
                f"mask {i} has shape {mask.shape}; a mask is H x W, or F x H x W for a clip"
            )
        if mask.dtype != bool:
            if not np.issubdtype(mask.dtype, np.number) or not np.isin(mask, (0, 1)).all():
                raise ValueError(f"mask {i} must be boolean (or 0/1), got dtype {mask.dtype}")
            mask = mask.astype(bool)
        if arrays and mask.shape != arrays[0].shape:
            raise ValueError(f"mask {i} is {mask.shape}, mask 0 is {arrays[0].shape}")
        arrays.append(mask)
    n = len(arrays)
    labels = np.full(arrays[0].shape, n, dtype=np.int32)
    for i in range(n - 1, -1, -1):  # the first mask is written last: it wins
        labels[arrays[i]] = i
    sizes = np.bincount(labels.ravel(), minlength=n + 1)
    empty = [i for i in range(n) if sizes[i] == 0]
    if empty:
        raise ValueError(
            f"mask {empty[0]} has no pixel of its own (it is empty, or earlier masks cover it: "
            "where masks overlap the first wins)"
        )
    uncovered = n if sizes[n] else None
    if n + (uncovered is not None) < 2:
        raise ValueError(
            "the mask covers the whole image: that is one region only; an explanation orders "
            "at least 2"
        )
    return labels, {"kind": "masks", "masks": n, "uncovered": uncovered}


def grid_shape(height: int, width: int, n_regions: int) -> tuple[int, int]:
    """(rows, cols) of about n_regions blocks about as square as the image allows."""
    rows = max(1, min(height, round(np.sqrt(n_regions * height / width))))
    cols = max(1, min(width, int(np.ceil(n_regions / rows))))
    return rows, cols


def block_labels(height: int, width: int, rows: int, cols: int) -> np.ndarray:
    """rows x cols blocks numbered row by row (block heights and widths differ by 1 at most)."""
    row_of = np.arange(height) * rows // height
    col_of = np.arange(width) * cols // width
    return (row_of[:, None] * cols + col_of[None, :]).astype(np.int32)


def shrunk_labels(labels: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """A label map (a clip's: each frame) at a smaller (height, width) by nearest neighbour;
    an error when a region would vanish (it holds no pixel that the shrink keeps)."""
    height, width = (int(s) for s in shape)
    if labels.shape[-2:] == (height, width):
        return labels
    n = int(labels.max()) + 1
    small = downscale_labels(labels, height, width)
    lost = np.flatnonzero(np.bincount(small.ravel(), minlength=n) == 0)
    if len(lost):
        shown = ", ".join(map(str, lost[:8])) + (", ..." if len(lost) > 8 else "")
        raise ValueError(
            f"{len(lost)} of {n} regions ({shown}) vanish at the working size {height} x "
            f"{width}: merge such small regions into their neighbours, or explain at a "
            "larger working_size (None: the image's own size)"
        )
    return small


def _checked_grid(grid) -> tuple[int, int]:
    if (
        not isinstance(grid, (tuple, list))
        or len(grid) != 2
        or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in grid)
        or min(grid) < 1
    ):
        raise ValueError(f"grid must be (rows, cols), two positive ints, got {grid!r}")
    rows, cols = int(grid[0]), int(grid[1])
    if rows * cols < 2:
        raise ValueError(f"grid {rows} x {cols} is one region; an explanation orders at least 2")
    return rows, cols


# -- files of user regions (the command line's --label-map and --masks) -------------------------
def read_label_map(path) -> np.ndarray:
    """A label map file: .npy (an H x W integer array) or .png (grey levels, 16-bit levels or
    palette indices are the ids; an RGB PNG's colours are, as COCO panoptic PNGs write them:
    R + 256 G + 256^2 B). Checked as region_plan checks a label map."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".npy", ".png"):
        raise ValueError(f"a label map file is .png or .npy, got {str(path)!r}")
    if not path.is_file():
        raise ValueError(f"label map file not found: {path}")
    if suffix == ".npy":
        labels = _load_npy(path)
    else:
        from PIL import Image, UnidentifiedImageError

        try:
            with Image.open(path) as img:
                mode, labels = img.mode, np.asarray(img)
        except (UnidentifiedImageError, OSError) as error:
            raise ValueError(f"cannot read label map {path}: {error}") from None
        if mode == "RGB":
            labels = labels.astype(np.int64)
            labels = labels[..., 0] + 256 * labels[..., 1] + 65536 * labels[..., 2]
        elif mode not in ("1", "L", "P", "I", "I;16", "I;16B", "I;16L"):
            raise ValueError(
                f"label map {path} is a {mode} image: use grey levels, 16-bit grey, a palette "
                "or RGB colours as ids"
            )
    checked_label_map(labels)
    return labels


def read_masks(path) -> list[np.ndarray]:
    """A masks file: .npz (each array one H x W mask, in the file's order, or one N x H x W
    array) or .npy (N x H x W). Checked as region_plan checks masks."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".npz", ".npy"):
        raise ValueError(f"a masks file is .npz or .npy, got {str(path)!r}")
    if not path.is_file():
        raise ValueError(f"masks file not found: {path}")
    if suffix == ".npy":
        arrays = [_load_npy(path)]
    else:
        try:
            with np.load(path, allow_pickle=False) as data:
                arrays = [data[name] for name in data.files]
        except (OSError, ValueError, zipfile.BadZipFile) as error:
            raise ValueError(f"cannot read masks {path}: {error}") from None
    if len(arrays) == 1 and arrays[0].ndim == 3:
        arrays = list(arrays[0])
    masks_to_labels(arrays)
    return arrays


def _load_npy(path: Path) -> np.ndarray:
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError) as error:
        raise ValueError(f"cannot read {path}: {error}") from None
