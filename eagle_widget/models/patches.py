"""Patch geometry per family: which image token sees which part of the image.

The white-box methods (models/whitebox.py) read one value per image token; the engine needs
those values as a grid on the image. A family's geometry is read from the processor's own
output for an image of the size in question (built once per size by HFModel), never
guessed from the sequence length:

- llava (LLaVA-1.5 and the demo model): the vision encoder's square grid of patches, the
  CLS token dropped ("default" feature selection), one image token per patch, row by row.
  The grid covers what the processor keeps of the image: all of it when it resizes to a
  height and width, the central square when it resizes the short side and crops the centre
  (LLaVA-1.5 at 336: 24 x 24 = 576 tokens over the central square; every one of them).
- qwen2_vl, qwen2_5_vl, qwen3_vl: `image_grid_thw` gives the patch grid (t, h, w) of the
  resized image; each image token is a merge_size x merge_size block of patches, so the
  token grid is (h / merge, w / merge), row by row, over the whole image (the processor
  resizes it, aspect kept to a multiple of the merged patch, and crops nothing).

Tiled families (InternVL, Idefics3 / SmolVLM, LLaVA-OneVision's any-res, Gemma 3's
pan-and-scan) are not mapped yet: their tokens come in tiles plus a thumbnail, one grid
each, and HFModel refuses the white-box methods for them by name.
"""

from __future__ import annotations

from dataclasses import dataclass

SQUARE_GRID = ("llava",)
MERGED_PATCHES = ("qwen2_vl", "qwen2_5_vl", "qwen3_vl")
PATCH_FAMILIES = SQUARE_GRID + MERGED_PATCHES


@dataclass(frozen=True)
class PatchGeometry:
    """rows x cols image tokens, row by row, over `box` (top, left, bottom, right) of the
    image's pixels; `token_id` marks them in the input ids."""

    rows: int
    cols: int
    box: tuple[float, float, float, float]
    token_id: int

    def positions(self, input_ids: list[int]) -> list[int]:
        """Where the image tokens sit in a sequence, in grid order (row by row)."""
        found = [i for i, t in enumerate(input_ids) if t == self.token_id]
        if len(found) != self.rows * self.cols:
            raise ValueError(
                f"the sequence holds {len(found)} image tokens, but the patch grid is "
                f"{self.rows} x {self.cols}: one image per prompt is explained"
            )
        return found


def check_family(family: str | None, model_name: str) -> None:
    """ValueError, before any model call, for a family whose geometry is not known here."""
    if family not in PATCH_FAMILIES:
        raise ValueError(
            f"the white-box methods need the image tokens' patch geometry, known here for "
            f"{', '.join(PATCH_FAMILIES)}; {model_name} is {family!r} (tiled families are not "
            "mapped yet): use a black-box method (eagle, occlusion, rise)"
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
        geometry = PatchGeometry(side, side, _kept_box(image_processor, height, width), token)
    else:
        token = _token_id(config, "image_token_id")
        t, h, w = (int(v) for v in inputs["image_grid_thw"][0].tolist())
        merge = getattr(image_processor, "merge_size", None) or getattr(
            config.vision_config, "spatial_merge_size", 2
        )
        if t != 1:
            raise ValueError(f"an image has one temporal patch, got image_grid_thw t={t}")
        geometry = PatchGeometry(h // merge, w // merge, (0.0, 0.0, height, width), token)
    geometry.positions(ids)  # the processor's count agrees with the grid
    return geometry


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
