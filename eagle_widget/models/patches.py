"""Patch geometry per family: which image token sees which part of the image.

The white-box methods (models/whitebox.py) read one value per image token; the engine needs
those values placed on the image. A family's geometry is read from the processor's own
output for an image of the size in question (built once per size by HFModel), never
guessed from the sequence length. It is a list of views: each a rows x cols grid of image
tokens, row by row, over a box (top, left, bottom, right) of the image's pixels, and where
its tokens sit among the image tokens (PatchView). One view for the single-grid families:

- llava (LLaVA-1.5 and the demo model): the vision encoder's square grid of patches, the
  CLS token dropped ("default" feature selection), one image token per patch, row by row.
  The grid covers what the processor keeps of the image: all of it when it resizes to a
  height and width, the central square when it resizes the short side and crops the centre
  (LLaVA-1.5 at 336: 24 x 24 = 576 tokens over the central square; every one of them).
- qwen2_vl, qwen2_5_vl, qwen3_vl: `image_grid_thw` gives the patch grid (t, h, w) of the
  resized image; each image token is a merge_size x merge_size block of patches, so the
  token grid is (h / merge, w / merge), row by row, over the whole image (the processor
  resizes it, aspect kept to a multiple of the merged patch, and crops nothing).

Several views for the tiled families, each view's tokens one after another:

- internvl: the image resized to a canvas of cols x rows tiles (the arrangement the
  processor picks, get_optimal_tiled_canvas with its min_patches / max_patches) and cut
  into tiles, row by row, then a thumbnail (the whole image resized to one tile) when there
  is more than one tile. Every tile, thumbnail included, gives image_seq_length tokens: its
  patch grid pixel-shuffled to side x side (side = sqrt(image_seq_length)), row by row.
  Tile (i, j) covers rows i/rows .. (i+1)/rows and columns j/cols .. (j+1)/cols of the
  image (the canvas is the whole image, resized); the thumbnail covers all of it.
- idefics3, smolvlm: the image resized (longest edge to size, then up to whole tiles of
  max_image_size) and cut into rows x cols tiles, row by row, then the global image (the
  whole image resized to one tile); without splitting (or an image of one tile) the global
  image alone. Each gives (tile / patch / scale_factor)^2 tokens after the connector's
  pixel shuffle, row by row; tile (i, j) covers its share of the whole image as above.
- llava_onevision (any-res): first the base image (the whole image resized to one tile:
  side x side tokens, side = vision image_size / patch_size, all kept with "full" feature
  selection); then the tiles' features laid side by side as one grid of (tiles down x
  side) x (tiles across x side) features over the padded canvas (the image resized, aspect
  kept, into the best pinpoint resolution and centred on it), unpadded as the model does
  (whole feature rows or columns cut off each side, so the grid's box can reach a little
  past the image's edge) and, where the model shrinks it (anyres_max_N), interpolated to a
  smaller grid over the same box; a newline token ends each of its rows and sees no pixel.

Gemma 3 (its pan-and-scan crops) is not mapped: HFModel refuses the white-box methods for it
and for any other family by name, before any model call.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

SQUARE_GRID = ("llava",)
MERGED_PATCHES = ("qwen2_vl", "qwen2_5_vl", "qwen3_vl")
TILED = ("internvl", "idefics3", "smolvlm", "llava_onevision")
PATCH_FAMILIES = SQUARE_GRID + MERGED_PATCHES + TILED


@dataclass(frozen=True)
class PatchView:
    """rows x cols image tokens, row by row, over `box` (top, left, bottom, right) of the
    image's pixels; token (r, c) is image token number start + r * stride + c, counting the
    image tokens in sequence order (a stride above cols skips tokens that see no pixel)."""

    rows: int
    cols: int
    box: tuple[float, float, float, float]
    start: int = 0
    stride: int = 0

    def indices(self) -> list[int]:
        step = self.stride or self.cols
        return [self.start + r * step + c for r in range(self.rows) for c in range(self.cols)]


@dataclass(frozen=True)
class PatchGeometry:
    """The views of one image's tokens; `token_id` marks the image tokens in the input ids,
    `count` of them (the views' tokens and any that see no pixel, such as newlines)."""

    views: tuple[PatchView, ...]
    token_id: int
    count: int

    @property
    def tiled(self) -> bool:
        return len(self.views) > 1

    def positions(self, input_ids: list[int]) -> list[int]:
        """Where the image tokens sit in a sequence, in sequence order."""
        found = [i for i, t in enumerate(input_ids) if t == self.token_id]
        if len(found) != self.count:
            grids = " + ".join(f"{v.rows} x {v.cols}" for v in self.views)
            raise ValueError(
                f"the sequence holds {len(found)} image tokens, but the patch geometry has "
                f"{self.count} ({grids}): one image per prompt is explained"
            )
        return found

    def split(self, values):
        """Per view, `values` (... x count, one per image token in sequence order) as a
        ... x rows x cols grid."""
        return [
            values[..., view.indices()].reshape(*values.shape[:-1], view.rows, view.cols)
            for view in self.views
        ]


def single(rows: int, cols: int, box, token_id: int) -> PatchGeometry:
    return PatchGeometry((PatchView(rows, cols, tuple(box)),), token_id, rows * cols)


def check_family(family: str | None, model_name: str) -> None:
    """ValueError, before any model call, for a family whose geometry is not known here."""
    if family not in PATCH_FAMILIES:
        raise ValueError(
            f"the white-box methods need the image tokens' patch geometry, known here for "
            f"{', '.join(PATCH_FAMILIES)}; {model_name} is {family!r} (its image tokens are "
            "not mapped to the image here): use a black-box method (eagle, occlusion, rise)"
        )


def patch_geometry(config, image_processor, inputs: dict, image_size) -> PatchGeometry:
    """The geometry of one image of `image_size` (height, width), from the processor's
    `inputs` for it (input_ids of one sample, image_grid_thw where the family has it)."""
    family = getattr(config, "model_type", None)
    check_family(family, type(config).__name__)
    ids = inputs["input_ids"][0].tolist()
    height, width = image_size
    if family in SQUARE_GRID:
        token = _token_id(config, "image_token_index", "image_token_id")
        vision = config.vision_config
        side = int(vision.image_size) // int(vision.patch_size)
        if getattr(config, "vision_feature_select_strategy", "default") != "default":
            raise ValueError(
                "the white-box methods map LLaVA's patch tokens with the CLS token dropped "
                "(vision_feature_select_strategy='default'); this checkpoint keeps it"
            )
        geometry = single(side, side, _kept_box(image_processor, height, width), token)
    elif family in MERGED_PATCHES:
        token = _token_id(config, "image_token_id")
        t, h, w = (int(v) for v in inputs["image_grid_thw"][0].tolist())
        merge = getattr(image_processor, "merge_size", None) or getattr(
            config.vision_config, "spatial_merge_size", 2
        )
        if t != 1:
            raise ValueError(f"an image has one temporal patch, got image_grid_thw t={t}")
        geometry = single(h // merge, w // merge, (0.0, 0.0, height, width), token)
    elif family == "internvl":
        geometry = _internvl(config, image_processor, height, width)
    elif family == "llava_onevision":
        geometry = _onevision(config, image_processor, height, width)
    else:
        geometry = _idefics(config, image_processor, height, width)
    geometry.positions(ids)  # the processor's count agrees with the geometry
    return geometry


def _tiles(rows: int, cols: int, height, width, side: int, start: int = 0) -> list[PatchView]:
    """rows x cols tiles cut from the whole image resized, row by row, side x side tokens
    each, one tile's tokens after another."""
    return [
        PatchView(side, side, (i * height / rows, j * width / cols, (i + 1) * height / rows,
                               (j + 1) * width / cols), start + (i * cols + j) * side * side)
        for i in range(rows)
        for j in range(cols)
    ]  # fmt: skip


def _square_side(count: int, what: str) -> int:
    side = math.isqrt(int(count))
    if side * side != count:
        raise ValueError(f"{what} is {count} tokens, not a square grid of them")
    return side


def _internvl(config, processor, height: int, width: int) -> PatchGeometry:
    from transformers.models.got_ocr2.image_processing_got_ocr2 import get_optimal_tiled_canvas

    token = _token_id(config, "image_token_id")
    side = _square_side(int(config.image_seq_length), "InternVL's image_seq_length")
    size = _as_dict(processor.size)
    cols = rows = 1
    if getattr(processor, "crop_to_patches", False) and processor.max_patches > 1:
        cols, rows = get_optimal_tiled_canvas(
            (height, width), (size["height"], size["width"]),
            processor.min_patches, processor.max_patches,
        )  # fmt: skip
    views = _tiles(rows, cols, height, width, side)
    if len(views) > 1:  # the thumbnail, last
        views.append(PatchView(side, side, (0.0, 0.0, height, width), len(views) * side * side))
    return PatchGeometry(tuple(views), token, len(views) * side * side)


def _idefics(config, processor, height: int, width: int) -> PatchGeometry:
    import numpy as np

    token = _token_id(config, "image_token_id")
    tile = int(_as_dict(processor.max_image_size)["longest_edge"])
    per_side = tile // int(config.vision_config.patch_size)
    side = per_side // int(config.scale_factor)
    if side * int(config.scale_factor) != per_side:
        raise ValueError(f"{per_side} patches a tile side do not shuffle by {config.scale_factor}")
    info = processor(np.zeros((height, width, 3), np.uint8), return_row_col_info=True)
    rows, cols = int(info["rows"][0][0]), int(info["cols"][0][0])
    whole = PatchView(side, side, (0.0, 0.0, height, width), rows * cols * side * side)
    views = (*_tiles(rows, cols, height, width, side), whole) if rows * cols else (whole,)
    return PatchGeometry(views, token, len(views) * side * side)


def _onevision(config, processor, height: int, width: int) -> PatchGeometry:
    from transformers.image_processing_utils import select_best_resolution

    token = _token_id(config, "image_token_index", "image_token_id")
    vision = config.vision_config
    side = int(vision.image_size) // int(vision.patch_size)
    if getattr(config, "vision_feature_select_strategy", "full") != "full":
        raise ValueError(
            "the white-box methods map LLaVA-OneVision's patch tokens with every patch kept "
            "(vision_feature_select_strategy='full'); this checkpoint drops one"
        )
    if getattr(processor, "do_center_crop", False):
        raise ValueError("LLaVA-OneVision's tiles are mapped without a centre crop")
    tile = int(_as_dict(processor.size).get("height") or int(vision.image_size))
    best_h, best_w = select_best_resolution((height, width), config.image_grid_pinpoints)
    # the image as resized into the canvas, aspect kept (get_patch_output_size), centred
    if best_w / width < best_h / height:
        new_h, new_w = min(math.ceil(height * best_w / width), best_h), best_w
    else:
        new_h, new_w = best_h, min(math.ceil(width * best_h / height), best_w)
    paste_y, paste_x = (best_h - new_h) // 2, (best_w - new_w) // 2
    # the tiles' feature grid, unpadded as the model cuts it (unpad_image)
    grid_h, grid_w = best_h // tile * side, best_w // tile * side
    top = left = 0
    if width / height > grid_w / grid_h:
        top = (grid_h - int(round(height * grid_w / width, 7))) // 2
    else:
        left = (grid_w - int(round(width * grid_h / height, 7))) // 2
    kept_h, kept_w = grid_h - 2 * top, grid_w - 2 * left
    aspect = str(getattr(config, "vision_aspect_ratio", None) or "anyres_max_9")
    limit = int(aspect.removeprefix("anyres_max_"))
    ratio = math.sqrt(kept_h * kept_w / (limit * side**2))
    rows, cols = (int(kept_h // ratio), int(kept_w // ratio)) if ratio > 1.1 else (kept_h, kept_w)
    unit = tile / side  # canvas pixels per feature
    sy, sx = height / new_h, width / new_w
    box = (
        (top * unit - paste_y) * sy, (left * unit - paste_x) * sx,
        ((grid_h - top) * unit - paste_y) * sy, ((grid_w - left) * unit - paste_x) * sx,
    )  # fmt: skip
    base = PatchView(side, side, (0.0, 0.0, height, width), 0)
    tiles = PatchView(rows, cols, box, side * side, cols + 1)  # a newline ends each row
    return PatchGeometry((base, tiles), token, side * side + rows * (cols + 1))


def _token_id(config, *names: str) -> int:
    for name in names:
        value = getattr(config, name, None)
        if isinstance(value, int):
            return value
    raise ValueError(f"the model config has no image token id ({' or '.join(names)})")


def _kept_box(processor, height: int, width: int) -> tuple[float, float, float, float]:
    """The part of an image of height x width that a CLIP-style processor keeps, in the
    image's pixels: resized to size (height and width, or the short side), then maybe
    centre-cropped to crop_size."""
    size = _as_dict(getattr(processor, "size", None))
    if getattr(processor, "do_resize", True) and size.get("height") and size.get("width"):
        new_h, new_w = size["height"], size["width"]
    elif getattr(processor, "do_resize", True) and size.get("shortest_edge"):
        scale = size["shortest_edge"] / min(height, width)
        new_h, new_w = height * scale, width * scale
    else:
        new_h, new_w = height, width
    sy, sx = new_h / height, new_w / width
    crop = _as_dict(getattr(processor, "crop_size", None))
    if getattr(processor, "do_center_crop", False) and crop.get("height") and crop.get("width"):
        top = max(0.0, (new_h - crop["height"]) / 2)
        left = max(0.0, (new_w - crop["width"]) / 2)
        bottom = min(new_h, top + crop["height"])
        right = min(new_w, left + crop["width"])
        return (top / sy, left / sx, bottom / sy, right / sx)
    return (0.0, 0.0, float(height), float(width))


def _as_dict(size) -> dict:
    if size is None:
        return {}
    if isinstance(size, dict):
        return dict(size)
    keys = ("height", "width", "shortest_edge", "longest_edge")
    return {k: getattr(size, k) for k in keys if getattr(size, k, None) is not None}
