"""Masked images straight into the model's input space, where the processor works pixel by pixel.

A processor that neither resizes nor crops an image (it already has the model's input size)
maps every pixel value to a normalised value, channel by channel. The pixel values of a
masked copy are then a table lookup of its uint8 pixels, and the token layout is the one the
processor gave before: no processor call per batch. The table is read from the processor's
own output and used only where it reproduces that output exactly.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

LEVELS = 256


class PixelTable:
    """The processor's inputs for any batch of images of one size and one prompt."""

    def __init__(self, table: torch.Tensor, rows: dict[str, torch.Tensor]):
        self.table = table.reshape(-1)  # channel c, value v at c * 256 + v
        self.rows = rows  # every other input: one row, the same for every image
        self.offsets = (torch.arange(3, device=table.device) * LEVELS).view(3, 1, 1)

    def inputs(self, images: list[np.ndarray]) -> dict[str, torch.Tensor]:
        pixels = torch.from_numpy(np.stack(images)).to(self.table.device)  # B x H x W x 3
        index = pixels.permute(0, 3, 1, 2).contiguous().long() + self.offsets
        batch = len(images)
        result = {k: v.expand(batch, *v.shape[1:]) for k, v in self.rows.items()}
        result["pixel_values"] = torch.take(self.table, index)
        return result


def read_pixel_table(
    encode: Callable[[list[np.ndarray]], dict], images: list[np.ndarray], inputs: dict
) -> PixelTable | None:
    """A PixelTable for the size of `images` if the processor acts pixel by pixel on it, else None.

    `inputs` is encode(images). The table comes from a ramp image (pixel i holds i mod 256) and
    must give back the processor's values for the ramp and for `images` bit for bit (a
    resize, crop or per-image statistic would break that), with every other input the same
    row for every image.
    """
    height, width = images[0].shape[:2]
    pixels = inputs.get("pixel_values")
    if (
        height * width < LEVELS
        or not isinstance(pixels, torch.Tensor)
        or tuple(pixels.shape) != (len(images), 3, height, width)
    ):
        return None
    rows = {}
    for key, value in inputs.items():
        if key == "pixel_values":
            continue
        if not isinstance(value, torch.Tensor) or value.shape[:1] != (len(images),):
            return None
        if not torch.equal(value, value[:1].expand_as(value)):
            return None
        rows[key] = value[:1]
    ramp = (np.arange(height * width) % LEVELS).astype(np.uint8).reshape(height, width)
    ramp_values = encode([np.repeat(ramp[..., None], 3, axis=-1)])["pixel_values"][0]
    table = ramp_values.reshape(3, -1)[:, :LEVELS]  # pixel v of the ramp holds value v
    candidate = PixelTable(table, rows)
    same_ramp = torch.equal(table[:, torch.from_numpy(ramp).long().to(table.device)], ramp_values)
    if not same_ramp or not torch.equal(candidate.inputs(images)["pixel_values"], pixels):
        return None
    return candidate
