"""White-box methods the paper compares EAGLE with: maps over the image tokens, ranked and
measured by the engine as every other method is.

The model computes one map per target over its grid of image tokens (protocol's
MapsImageTokens; the torch work is the adapter's, models/whitebox.py) and says where that
grid lies on the image (GivesPatchGrid). A tiled model (InternVL, Idefics3, SmolVLM,
LLaVA-OneVision) has several grids, one per view: its tiles, each over its part of the
image, and a global image over all of it; a pixel then gets the mean of the values of all
the views over it (views_on_pixels). Here each map is placed on the image's pixels and
a region's score is the map's mean over the region's pixels; the engine then ranks the
regions and measures insertion and deletion (search.ranked), so the AUCs and the pointing
game of these methods are computed as EAGLE's and the black-box baselines' are.

- tam: the language head read at each image token's last hidden state, for the target's
  word, with the share explained by earlier answer tokens taken out (models/whitebox.py
  says exactly what is computed). One forward pass; no options.
- llava-cam: Grad-CAM on the image tokens' activations entering decoder layer `layer`
  (default None: the middle layer, n_layers // 2): the gradient of the target's log
  probability, averaged over the image tokens, weights the activations' channels; the
  weighted sum, negative values as 0, is the map. `copies` > 0 averages that many more
  maps of noisy copies of the pixel input (SmoothGrad, noise `noise` times the input's
  range, seeded by `seed`). Default copies=0: plain Grad-CAM, one forward and one backward
  pass per target. These defaults are ours: the authors' script was not available offline.
- igos++ is not built. It optimises a smooth mask over the image by gradient descent,
  with integrated gradients along a path of partly masked images: a few hundred forward
  and backward passes per target, each needing the gradient of the answer with respect to
  the mask. Here masks are applied to uint8 pixels and go through the model's own
  processor (resize, normalise, and per family a different patch layout), which is not
  differentiable; the maps above need only the processor's output, once. Building iGOS++
  needs each family's preprocessing redone in torch, a separate piece of work.
"""

from __future__ import annotations

import numpy as np

from .protocol import GivesPatchGrid, MapsImageTokens, MeasuresPeakMemory, supports

WHITE_BOX = ("tam", "llava-cam")
WHITE_BOX_OPTIONS = {
    "tam": {},
    "llava-cam": {"layer": None, "copies": 0, "noise": 0.15, "seed": 0},
}


def is_white_box(method: str) -> bool:
    return method in WHITE_BOX


def check_white_box_options(method: str, settings: dict) -> dict:
    """The method's settings (defaults filled in by the caller) checked: ValueError saying
    what is wrong, before any model call."""
    if method == "llava-cam":
        layer, copies = settings["layer"], settings["copies"]
        noise, seed = settings["noise"], settings["seed"]
        if layer is not None and (
            isinstance(layer, bool) or not isinstance(layer, (int, np.integer))
        ):
            raise ValueError(f"layer must be None (the middle layer) or an int, got {layer!r}")
        if isinstance(copies, bool) or not isinstance(copies, (int, np.integer)) or copies < 0:
            raise ValueError(f"copies must be an int >= 0 (SmoothGrad copies), got {copies!r}")
        if isinstance(noise, bool) or not isinstance(noise, (int, float)) or not 0 < noise < 1:
            raise ValueError(f"noise must be a number in (0, 1), got {noise!r}")
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
            raise ValueError(f"seed must be an int, got {seed!r}")
    return settings


def check_white_box_model(model, method: str) -> None:
    """Raise ValueError naming the method and the model when the model gives no white-box
    access (protocol's GivesPatchGrid and MapsImageTokens)."""
    missing = [c.__name__ for c in (GivesPatchGrid, MapsImageTokens) if not supports(model, c)]
    if missing:
        raise ValueError(
            f"method {method!r} reads the model's image tokens, and {type(model).__name__} "
            f"does not give them (it lacks {' and '.join(missing)}, see "
            "eagle_widget.engine.protocol): use a transformers model (HFModel), or a "
            "black-box method (eagle, occlusion, rise)"
        )


def patch_grid_of(model, image_size) -> tuple[list[tuple[int, int, tuple]], bool]:
    """The model's views [(rows, cols, box), ...] for an image of `image_size`, checked, and
    whether the model is tiled (its patch_grid gave a list of views, not one grid). One
    grid's box is rounded to whole pixels and must lie on the image; a view's box is kept
    as given and must overlap the image (an unpadded tile grid can reach past its edge)."""
    given = model.patch_grid(tuple(int(s) for s in image_size))
    tiled = isinstance(given, list)
    height, width = image_size
    views = []
    for rows, cols, box in given if tiled else [given]:
        top, left, bottom, right = (
            (float(v) for v in box) if tiled else (int(round(float(v))) for v in box)
        )
        on_image = (
            top < height and bottom > 0 and left < width and right > 0
            if tiled
            else 0 <= top and bottom <= height and 0 <= left and right <= width
        )
        if not (rows >= 1 and cols >= 1 and top < bottom and left < right and on_image):
            raise ValueError(
                f"{type(model).__name__}.patch_grid gave {rows} x {cols} over {box} for an image "
                f"of {height} x {width}: not a grid on the image"
            )
        views.append((int(rows), int(cols), (top, left, bottom, right)))
    if not views:
        raise ValueError(f"{type(model).__name__}.patch_grid gave no views")
    return views, tiled


def grid_on_pixels(grid: np.ndarray, box, shape) -> np.ndarray:
    """An H x W map: each pixel of `box` carries the value of the grid cell it falls in
    (nearest cell), pixels outside the box (cropped away by the processor) 0."""
    height, width = shape
    top, left, bottom, right = box
    rows, cols = grid.shape
    y = np.arange(top, bottom)
    x = np.arange(left, right)
    cell_rows = np.minimum(((y - top + 0.5) * rows / (bottom - top)).astype(int), rows - 1)
    cell_cols = np.minimum(((x - left + 0.5) * cols / (right - left)).astype(int), cols - 1)
    values = np.zeros((height, width))
    values[top:bottom, left:right] = grid[cell_rows][:, cell_cols]
    return values


def views_on_pixels(grids, boxes, shape) -> np.ndarray:
    """An H x W map from several views (a tiled family's tiles and its global image): a
    view covers the pixels whose centre lies in its box, each with the value of the view's
    cell that holds the centre; a pixel carries the mean of the values of every view that
    covers it, 0 where none does. With one view and a box of whole pixels, grid_on_pixels."""
    height, width = shape
    centre_y, centre_x = np.arange(height) + 0.5, np.arange(width) + 0.5
    total, count = np.zeros((height, width)), np.zeros((height, width))
    for grid, (top, left, bottom, right) in zip(grids, boxes):
        rows, cols = grid.shape
        cell_rows = np.floor((centre_y - top) * rows / (bottom - top)).astype(int)
        cell_cols = np.floor((centre_x - left) * cols / (right - left)).astype(int)
        inside = ((cell_rows >= 0) & (cell_rows < rows))[:, None] & (
            (cell_cols >= 0) & (cell_cols < cols)
        )[None, :]
        values = grid[np.clip(cell_rows, 0, rows - 1)][:, np.clip(cell_cols, 0, cols - 1)]
        total += np.where(inside, values, 0.0)
        count += inside
    return np.where(count > 0, total / np.maximum(count, 1), 0.0)


def combined_map(maps: np.ndarray) -> np.ndarray:
    """One grid from one map per target: each target's map, negative values as 0, divided
    by its largest (so every target weighs the same), then averaged."""
    maps = np.clip(np.asarray(maps, dtype=np.float64), 0, None)
    tops = maps.reshape(len(maps), -1).max(axis=1)
    scaled = maps / np.where(tops > 0, tops, 1.0)[:, None, None]
    return scaled.mean(axis=0)


def combined_views(views: list[np.ndarray]) -> list[np.ndarray]:
    """combined_map over several views at once: each target's maps, negative values as 0,
    divided by its largest value over all the views, then averaged per view."""
    views = [np.clip(np.asarray(v, dtype=np.float64), 0, None) for v in views]
    tops = np.max([v.reshape(len(v), -1).max(axis=1) for v in views], axis=0)
    scale = np.where(tops > 0, tops, 1.0)[:, None, None]
    return [(v / scale).mean(axis=0) for v in views]


def white_box_scores(
    model, method: str, options: dict, image: np.ndarray, generation, positions, target_ids,
    labels: np.ndarray,
) -> tuple[np.ndarray, dict]:  # fmt: skip
    """(one score per region: the combined map's mean over its pixels, the method's record:
    its grid, where the grid lies, passes and peak memory) for `image` (the working image,
    which `labels` are of). A tiled model's views are combined together (combined_views),
    placed by views_on_pixels and recorded as patch_views, each with its grid, box and map."""
    if labels.ndim != 2:
        raise ValueError(f"method {method!r} maps one image's tokens; a clip is ranked by eagle")
    views, tiled = patch_grid_of(model, image.shape[:2])
    maps, passes = model.image_token_maps(
        image, generation, list(positions), list(target_ids), method, dict(options)
    )
    maps = [np.asarray(m, dtype=np.float64) for m in maps] if tiled else [np.asarray(maps, float)]
    expected = [(len(positions), rows, cols) for rows, cols, _ in views]
    shapes = [m.shape for m in maps]
    if shapes != expected or not all(np.all(np.isfinite(m)) for m in maps):
        raise ValueError(
            f"{type(model).__name__}.image_token_maps gave shape "
            f"{shapes if tiled else shapes[0]}, expected {expected if tiled else expected[0]} "
            "finite values (targets x its patch grid" + (", per view)" if tiled else ")")
        )
    if tiled:
        grids = combined_views(maps)
        pixels = views_on_pixels(grids, [box for _, _, box in views], labels.shape)
    else:
        grid = combined_map(maps[0])
        pixels = grid_on_pixels(grid, views[0][2], labels.shape)
    n = int(labels.max()) + 1
    counts = np.bincount(labels.ravel(), minlength=n)
    scores = np.bincount(labels.ravel(), weights=pixels.ravel(), minlength=n) / counts
    if tiled:
        placed = {
            "patch_views": [
                {"grid": [rows, cols], "box": [round(v, 3) for v in box],
                 "map": g.round(6).tolist()}
                for (rows, cols, box), g in zip(views, grids)
            ]
        }  # fmt: skip
    else:
        rows, cols, box = views[0]
        placed = {"patch_grid": [rows, cols], "patch_box": list(box),
                  "patch_map": grid.round(6).tolist()}  # fmt: skip
    return scores, {**placed, **{k: int(v) for k, v in passes.items()}}


def start_memory_window(model) -> bool:
    """Reset the model's peak memory counter (MeasuresPeakMemory); whether it has one."""
    if not supports(model, MeasuresPeakMemory):
        return False
    model.peak_memory(reset=True)
    return True


def memory_peak(model) -> dict:
    """The window's peak memory record of a model that measures it."""
    return dict(model.peak_memory())
