"""Generated scenes with known ground truth: the world the demo model was trained on.

A scene is a 64 x 64 RGB image of a plain grey background with 1 to 3 non-overlapping
objects (colours red, green, blue, yellow; shapes circle, square, triangle). Each scene
carries every object's pixel mask and box, its caption, and for every caption token the
object it names, so that explanations can be checked against the truth.

Objects are kept in the canonical caption order (by colour, then by shape), so object `i`
is the `i`-th object named in the caption. Two objects never share both colour and shape.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

COLOURS: tuple[str, ...] = ("red", "green", "blue", "yellow")
SHAPES: tuple[str, ...] = ("circle", "square", "triangle")
SIZE = 64
CAPTION_PROMPT = "Describe the image."
# The learned language prior: in training scenes that hold a yellow circle, a blue square
# is present this often.
YELLOW_CIRCLE_WITH_BLUE_SQUARE = 0.9

# Base RGB of each colour; every object gets its own jitter around it.
COLOUR_RGB: dict[str, tuple[int, int, int]] = {
    "red": (215, 45, 40),
    "green": (45, 165, 65),
    "blue": (45, 75, 215),
    "yellow": (235, 205, 35),
}
BACKGROUND_RANGE = (95, 165)  # grey level of the background, inclusive
_COLOUR_JITTER = 18
_NOISE_STD = 4.0
_GAP = 2  # minimum number of background pixels between two object boxes
_MARGIN = 1  # minimum distance of an object box from the image border

Pair = tuple[str, str]  # (colour, shape)


@dataclass(frozen=True, eq=False)
class SceneObject:
    """One object: its colour and shape, pixel mask and box (x0, y0, x1, y1; x1, y1 exclusive)."""

    colour: str
    shape: str
    mask: np.ndarray = field(repr=False)
    box: tuple[int, int, int, int]

    @property
    def name(self) -> str:
        return f"{self.colour} {self.shape}"

    @property
    def area(self) -> int:
        return int(self.mask.sum())


@dataclass(frozen=True, eq=False)
class Scene:
    """An image with its objects in canonical order, and the ground truth derived from them."""

    image: np.ndarray = field(repr=False)  # SIZE x SIZE x 3 uint8
    objects: tuple[SceneObject, ...]
    background: int  # grey level of the background

    @property
    def pairs(self) -> list[Pair]:
        return [(o.colour, o.shape) for o in self.objects]

    @property
    def caption(self) -> str:
        return caption(self.pairs)

    @property
    def tokens(self) -> list[str]:
        """The caption split into the words and commas the demo tokenizer makes of it."""
        return caption_tokens(self.pairs)[0]

    @property
    def token_objects(self) -> list[int | None]:
        """For every caption token, the index of the object it names ("a", colour, shape)."""
        return caption_tokens(self.pairs)[1]

    def has(self, colour: str, shape: str) -> bool:
        _check_pair(colour, shape)
        return (colour, shape) in self.pairs

    def answer(self, colour: str, shape: str) -> str:
        """The true answer to `question(colour, shape)`: "yes" or "no"."""
        return "yes" if self.has(colour, shape) else "no"

    def object_mask(self, index: int) -> np.ndarray:
        if not 0 <= index < len(self.objects):
            raise ValueError(f"object index must be in 0..{len(self.objects) - 1}, got {index}")
        return self.objects[index].mask


def canonical_order(pairs: Sequence[Pair]) -> list[Pair]:
    """Sort (colour, shape) pairs by colour (red, green, blue, yellow), then by shape."""
    for colour, shape in pairs:
        _check_pair(colour, shape)
    return sorted(pairs, key=lambda p: (COLOURS.index(p[0]), SHAPES.index(p[1])))


def caption(pairs: Sequence[Pair]) -> str:
    """The caption of a scene holding these objects, e.g. "a red circle and a blue square"."""
    names = [f"a {c} {s}" for c, s in canonical_order(pairs)]
    if not names:
        raise ValueError("a caption needs at least one object, got none")
    if len(names) == 1:
        return names[0]
    return ", ".join(names[:-1]) + " and " + names[-1]


def caption_tokens(pairs: Sequence[Pair]) -> tuple[list[str], list[int | None]]:
    """Caption tokens (words and commas) and, per token, the object it belongs to.

    "a", the colour and the shape word of an object map to that object's index in
    canonical order; "," and "and" map to None.
    """
    ordered = canonical_order(pairs)
    if not ordered:
        raise ValueError("a caption needs at least one object, got none")
    tokens: list[str] = []
    owners: list[int | None] = []
    for i, (colour, shape) in enumerate(ordered):
        if i > 0:
            tokens.append("and" if i == len(ordered) - 1 else ",")
            owners.append(None)
        tokens += ["a", colour, shape]
        owners += [i, i, i]
    return tokens, owners


def question(colour: str, shape: str) -> str:
    """The yes/no question about one kind of object, e.g. "Is there a red circle?"."""
    _check_pair(colour, shape)
    return f"Is there a {colour} {shape}?"


def all_pairs() -> list[Pair]:
    return [(c, s) for c in COLOURS for s in SHAPES]


def sample_pairs(
    rng: np.random.Generator,
    n_objects: int | None = None,
    prior: float | None = YELLOW_CIRCLE_WITH_BLUE_SQUARE,
) -> list[Pair]:
    """Draw distinct (colour, shape) pairs, 1 to 3 of them, in canonical order.

    With `prior` set, a scene that holds a yellow circle also holds a blue square with that
    probability (the training distribution); `prior=None` draws all pairs uniformly.
    """
    if n_objects is None:
        n_objects = int(rng.integers(1, 4))
    if not 1 <= n_objects <= 3:
        raise ValueError(f"n_objects must be 1, 2 or 3, got {n_objects}")
    if prior is not None and not 0.0 <= prior <= 1.0:
        raise ValueError(f"prior must be a probability in [0, 1] or None, got {prior}")
    pool = all_pairs()
    chosen = [pool[i] for i in rng.choice(len(pool), size=n_objects, replace=False)]
    yellow_circle, blue_square = ("yellow", "circle"), ("blue", "square")
    if prior is not None and yellow_circle in chosen:
        wants_square = rng.random() < prior
        if wants_square and blue_square not in chosen:
            if len(chosen) < 3:
                chosen.append(blue_square)
            else:  # replace one of the other objects
                others = [i for i, p in enumerate(chosen) if p != yellow_circle]
                chosen[others[int(rng.integers(len(others)))]] = blue_square
        elif not wants_square and blue_square in chosen:
            spare = [p for p in pool if p not in chosen and p != blue_square]
            chosen[chosen.index(blue_square)] = spare[int(rng.integers(len(spare)))]
    return canonical_order(chosen)


def make_scene(
    seed: int | np.random.Generator | None = None,
    *,
    objects: Sequence[Pair] | None = None,
    n_objects: int | None = None,
    prior: float | None = YELLOW_CIRCLE_WITH_BLUE_SQUARE,
) -> Scene:
    """A random scene; `objects` fixes which (colour, shape) pairs it holds.

    `seed` is an int (the same int gives the same scene), a numpy Generator (drawn from), or
    None (fresh randomness). `n_objects` and `prior` apply when `objects` is not given.
    """
    rng = _as_rng(seed)
    if objects is None:
        pairs = sample_pairs(rng, n_objects, prior)
    else:
        pairs = canonical_order(list(objects))
        if not 1 <= len(pairs) <= 3:
            raise ValueError(f"a scene holds 1 to 3 objects, got {len(pairs)}")
        if len(set(pairs)) != len(pairs):
            raise ValueError(f"objects must be distinct (colour, shape) pairs, got {pairs}")
    background = int(rng.integers(BACKGROUND_RANGE[0], BACKGROUND_RANGE[1] + 1))
    masks = _place_masks(rng, [shape for _, shape in pairs])
    image = np.full((SIZE, SIZE, 3), float(background))
    objs = []
    for (colour, shape), mask in zip(pairs, masks):
        rgb = np.asarray(COLOUR_RGB[colour], float)
        rgb += rng.integers(-_COLOUR_JITTER, _COLOUR_JITTER + 1, size=3)
        image[mask] = rgb
        objs.append(SceneObject(colour, shape, mask, mask_box(mask)))
    image += rng.normal(0.0, _NOISE_STD, size=image.shape)
    image = np.clip(np.round(image), 0, 255).astype(np.uint8)
    return Scene(image=image, objects=tuple(objs), background=background)


def empty_scene(seed: int | np.random.Generator | None = None) -> np.ndarray:
    """A background-only image (no objects), as used in training for masked inputs."""
    rng = _as_rng(seed)
    background = int(rng.integers(BACKGROUND_RANGE[0], BACKGROUND_RANGE[1] + 1))
    image = background + rng.normal(0.0, _NOISE_STD, size=(SIZE, SIZE, 3))
    return np.clip(np.round(image), 0, 255).astype(np.uint8)


def mask_box(mask: np.ndarray) -> tuple[int, int, int, int]:
    """The tight box (x0, y0, x1, y1) of a non-empty boolean mask; x1 and y1 are exclusive."""
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        raise ValueError("mask_box needs a mask with at least one pixel, got an empty mask")
    return int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1


def shape_mask(shape: str, extent: int) -> np.ndarray:
    """A boolean extent x extent mask of one shape filling its square box."""
    if shape not in SHAPES:
        raise ValueError(f"shape must be one of {SHAPES}, got {shape!r}")
    centre = (extent - 1) / 2
    ys, xs = np.mgrid[0:extent, 0:extent].astype(float)
    if shape == "circle":
        return (ys - centre) ** 2 + (xs - centre) ** 2 <= (extent / 2) ** 2
    if shape == "square":
        return np.ones((extent, extent), dtype=bool)
    # upright triangle: apex at the top centre, base along the bottom row
    half_width = (ys + 1) / extent * (extent / 2)
    return np.abs(xs - centre) <= half_width


# Side of the square box each shape is drawn in (inclusive ranges), chosen so that the
# three shapes cover similar areas.
_EXTENT = {"circle": (11, 21), "square": (9, 18), "triangle": (13, 23)}


def _place_masks(rng: np.random.Generator, shapes: Sequence[str]) -> list[np.ndarray]:
    for _ in range(200):
        boxes: list[tuple[int, int, int]] = []  # (x0, y0, extent)
        for shape in shapes:
            lo, hi = _EXTENT[shape]
            extent = int(rng.integers(lo, hi + 1))
            for _ in range(50):
                x0 = int(rng.integers(_MARGIN, SIZE - _MARGIN - extent + 1))
                y0 = int(rng.integers(_MARGIN, SIZE - _MARGIN - extent + 1))
                if all(_apart((x0, y0, extent), other) for other in boxes):
                    boxes.append((x0, y0, extent))
                    break
            else:
                break
        if len(boxes) == len(shapes):
            masks = []
            for shape, (x0, y0, extent) in zip(shapes, boxes):
                mask = np.zeros((SIZE, SIZE), dtype=bool)
                mask[y0 : y0 + extent, x0 : x0 + extent] = shape_mask(shape, extent)
                masks.append(mask)
            return masks
    raise RuntimeError(f"could not place {len(shapes)} objects without overlap")


def _apart(a: tuple[int, int, int], b: tuple[int, int, int]) -> bool:
    ax, ay, ae = a
    bx, by, be = b
    return (
        ax + ae + _GAP <= bx or bx + be + _GAP <= ax or ay + ae + _GAP <= by or by + be + _GAP <= ay
    )


def _check_pair(colour: str, shape: str) -> None:
    if colour not in COLOURS:
        raise ValueError(f"colour must be one of {COLOURS}, got {colour!r}")
    if shape not in SHAPES:
        raise ValueError(f"shape must be one of {SHAPES}, got {shape!r}")


def _as_rng(seed: int | np.random.Generator | None) -> np.random.Generator:
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None or (isinstance(seed, (int, np.integer)) and not isinstance(seed, bool)):
        return np.random.default_rng(seed)
    raise TypeError(f"seed must be an int, a numpy Generator or None, got {type(seed).__name__}")
