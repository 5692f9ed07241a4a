"""The result of one explanation: order, steps, curves, maps and reliance, saved compactly."""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import label_codec, metrics
from .mitigation import Mitigation
from .prompt_spans import PromptSpan, source_reliance, unit_areas
from .regions import region_areas
from .types import Generation, Step

# 2: token reliance and the mitigation are fields of their own (1 kept them in extras)
# 3: how the regions were made (`regions`); older files were all superpixels ("slic")
# 4: clips: the frames as PNGs of their own ("frames_png"), an F x H x W label map and the
#    frames record (`frames`); older files all hold one image
# 5: prompt spans searched beside the image's regions (`prompt`); older files have none
# 6: the prompt alone (regions {"kind": "none"}), and a text-only model's: no image, no labels
SCHEMA_VERSION = 6
MAP_KINDS = ("rank", "gain", "method")
# what a figure or the widget says about a result scored from a server's top-k log-probs
APPROXIMATE_NOTE = "approximate: from the server's top log-probabilities (absent = 0)"


class _NewerSchema(ValueError):
    """A file from a newer eagle-widget."""


# what a truncated, foreign or inconsistent file raises while it is read and checked
_NOT_OURS = (
    OSError, ValueError, KeyError, IndexError, TypeError, AttributeError, EOFError,
    zipfile.BadZipFile,
)  # fmt: skip


@dataclass
class Explanation:
    """Everything one EAGLE run found; cheap to keep, save and re-render without a model."""

    # H x W x 3 uint8, or F x H x W x 3 for a clip (frames in order); None for a text-only
    # model's result (it read no image), whose labels are None too
    image: np.ndarray | None
    labels: np.ndarray | None  # H x W int (a clip's: F x H x W), regions 0..N-1
    generation: Generation
    positions: list[int]  # explained token indices
    target_ids: list[int]  # ids scored at those positions
    steps: list[Step]  # in the order of the final ranking
    p_full: np.ndarray  # per target
    p_blank: np.ndarray  # per target
    search: str = "lazy"
    lambda1: float = 1.0
    lambda2: float = 1.0
    images_scored: int = 0
    seconds: float = 0.0
    # (prior, visual) of every GENERATED token, NaN where unknown, when measured for all of
    # them (a run started with reliance="all": the command line, diagnose and the widget)
    generated_reliance: tuple[np.ndarray, np.ndarray] | None = None
    mitigation: Mitigation | None = None  # of a counterfactual explanation (mitigate)
    scoring: str = "exact"  # or "approximate": a served model's top-k log-probs, absent = 0
    # how the regions were made, JSON-able: {"kind": "slic", "n_regions": 50}, {"kind":
    # "grid", "grid": [rows, cols]}, {"kind": "labels", "ids": [given label of each region,
    # when renumbered]}, {"kind": "masks", "masks": n, "uncovered": region id or None} or
    # {"kind": "none"} (regions=None: the prompt alone, no image region, labels all 0);
    # None when not recorded (an Explanation built by hand)
    regions: dict | None = None
    # a clip's frames, JSON-able (clips.read_clip): {"source", "count", "indices": the source
    # frame of each frame, in order, "of", "names"?, "times"?}; None for an image
    frames: dict | None = None
    # prompt spans searched beside the image's regions (prompt_spans.py), JSON-able:
    # {"spans": [PromptSpan.to_dict(), ...] (region ids after the image's), "masking":
    # how a hidden span was hidden, "p_no_image": per target (spans shown, image filled),
    # "p_no_prompt": per target (image shown, spans hidden)}; None for the image alone
    prompt: dict | None = None
    extras: dict = field(default_factory=dict)  # anything else to keep; must be JSON-able

    def __post_init__(self) -> None:
        self.p_full = np.asarray(self.p_full, dtype=np.float64)
        self.p_blank = np.asarray(self.p_blank, dtype=np.float64)
        if self.generated_reliance is not None:
            self.generated_reliance = _checked_reliance(
                self.generated_reliance, len(self.generation)
            )
        if self.mitigation is not None:
            self._check_mitigation(self.mitigation)
        if sorted(s.region for s in self.steps) != list(range(self.n_regions)):
            raise ValueError("steps must place every region of the label map exactly once")
        if (self.image is None) != (self.labels is None):
            raise ValueError("a result without an image (a text model's) has no label map")
        if self.image is None:
            if self.frames is not None or not self.spans:
                raise ValueError("a result without an image explains prompt spans, no frames")
        elif self.labels.shape != self.image.shape[:-1]:
            raise ValueError(
                f"the label map is {self.labels.shape} but the image {self.image.shape[:-1]}"
            )
        else:
            self.frames = _checked_frames(self.frames, self.image)
        ids = [span.region for span in self.spans]
        if ids != list(range(self.n_image_regions, self.n_regions)):
            raise ValueError(f"prompt span region ids must follow the image's, got {ids}")
        targets = len(self.positions)
        if len(self.target_ids) != targets:
            raise ValueError(f"{len(self.target_ids)} target ids for {targets} positions")
        for name in ("p_full", "p_blank"):
            if getattr(self, name).shape != (targets,):
                raise ValueError(f"{name} has shape {getattr(self, name).shape}, not ({targets},)")
        for step in self.steps:
            for probs in (step.probs_insert, step.probs_delete):
                if np.shape(probs) != (targets,):
                    raise ValueError(
                        f"step {step.index} has {np.size(probs)} probabilities, not {targets}"
                    )

    def checked_mitigation(self) -> Mitigation:
        """The mitigation record, checked against this explanation; ValueError without one."""
        if self.mitigation is None:
            raise ValueError(
                "this explanation has no mitigation: see eagle_widget.engine.hallucination.mitigate"
            )
        self._check_mitigation(self.mitigation)
        return self.mitigation

    def _check_mitigation(self, mitigation: Mitigation) -> None:
        if not isinstance(mitigation, Mitigation):
            raise TypeError(f"mitigation must be a Mitigation, got {type(mitigation).__name__}")
        bad = [r for r in mitigation.removed_regions if not 0 <= r < self.n_regions]
        if bad:
            raise ValueError(
                f"mitigation removed_regions must be region ids in 0..{self.n_regions - 1}, "
                f"got {bad[:8]}"
            )

    # -- ranking and curves ----------------------------------------------------------
    @property
    def n_regions(self) -> int:
        """Regions the order ranks: the image's, then the prompt's spans."""
        return self.n_image_regions + len(self.spans)

    @property
    def n_image_regions(self) -> int:
        """The image's regions in the order: 0 when the prompt alone was searched."""
        if self.labels is None or (self.regions or {}).get("kind") == "none":
            return 0
        return int(self.labels.max()) + 1

    @property
    def has_image(self) -> bool:
        """Whether the model read an image (False for a text-only model's result)."""
        return self.image is not None

    @property
    def spans(self) -> list[PromptSpan]:
        """The prompt spans searched beside the image's regions, in prompt order (ids
        n_image_regions, n_image_regions + 1, ...); empty for the image alone."""
        if not self.prompt:
            return []
        return [PromptSpan(**span) for span in self.prompt["spans"]]

    @property
    def peak_memory(self) -> dict | None:
        """The peak memory of the method's own work where the model measured it
        (protocol.MeasuresPeakMemory): a baseline's apart from its ranking, EAGLE's over its
        whole search; {"peak_bytes", "added_bytes", "measured"}, or None."""
        method = self.extras.get("method") or {}
        return method.get("peak_memory") or self.extras.get("peak_memory")

    @property
    def source_reliance(self) -> np.ndarray:
        """(T, 3): per target, the (image, prompt, prior) shares of its full-input
        probability, from four measured probabilities (prompt_spans.source_reliance);
        ValueError for a result without prompt spans."""
        if not self.prompt:
            raise ValueError(
                "source_reliance splits image, prompt and prior: explain with prompt_regions="
            )
        return source_reliance(
            self.p_full, self.prompt["p_no_image"], self.prompt["p_no_prompt"], self.p_blank
        )

    @property
    def is_clip(self) -> bool:
        """Whether this explains a clip (image F x H x W x 3, labels F x H x W)."""
        return self.image is not None and self.image.ndim == 4

    @property
    def n_frames(self) -> int | None:
        """The clip's frame count; None for an image."""
        return int(self.image.shape[0]) if self.is_clip else None

    @property
    def frame_times(self) -> list[float] | None:
        """Seconds into the video of each frame (a video file's clip), else None."""
        return None if self.frames is None else self.frames.get("times")

    def region_frames(self) -> np.ndarray:
        """(N, F): the share of each region's pixels in each frame of a clip (a per-frame
        region's row is one 1; a supervoxel's spreads over the frames it follows)."""
        if not self.is_clip:
            raise ValueError("region_frames is of a clip; this explains one image")
        frames = self.n_frames
        flat = self.labels.reshape(frames, -1)
        counts = np.stack([np.bincount(f, minlength=self.n_regions) for f in flat], axis=1)
        return counts / counts.sum(axis=1, keepdims=True)

    @property
    def n_targets(self) -> int:
        return len(self.positions)

    @property
    def order(self) -> list[int]:
        """Region ids, most important first."""
        return [s.region for s in self.steps]

    @property
    def areas(self) -> np.ndarray:
        """Covered fraction after inserting the first k regions, k = 0..N."""
        n = self.n_image_regions
        image_areas = region_areas(self.labels, n) if n else np.zeros(0)
        weights = unit_areas(image_areas, [s.tokens for s in self.spans])
        per_region = weights[self.order]
        return np.concatenate([[0.0], np.cumsum(per_region)])

    @property
    def insertion_curve(self) -> np.ndarray:
        """(N + 1, T): p(target) when only the first k regions are shown; p_blank .. p_full."""
        return self._curve("probs_insert", self.p_blank, self.p_full)

    @property
    def deletion_curve(self) -> np.ndarray:
        """(N + 1, T): p(target) when the first k regions are removed; p_full .. p_blank."""
        return self._curve("probs_delete", self.p_full, self.p_blank)

    def _curve(self, attribute: str, start: np.ndarray, end: np.ndarray) -> np.ndarray:
        curve = np.empty((self.n_regions + 1, self.n_targets))
        curve[0], curve[-1] = start, end
        for position, step in enumerate(self.steps):
            # an insert step scored the prefix that ends with its region; a remove step
            # scored the prefix just before it (everything not yet removed)
            point = position + 1 if step.chain == "insert" else position
            if 0 < point < self.n_regions:
                curve[point] = getattr(step, attribute)
        return curve

    @property
    def insertion_auc_per_target(self) -> np.ndarray:
        return metrics.auc_per_target(self.insertion_curve, self.areas)

    @property
    def deletion_auc_per_target(self) -> np.ndarray:
        return metrics.auc_per_target(self.deletion_curve, self.areas)

    @property
    def insertion_auc(self) -> float:
        return float(self.insertion_auc_per_target.mean())

    @property
    def deletion_auc(self) -> float:
        return float(self.deletion_auc_per_target.mean())

    # -- maps ------------------------------------------------------------------------
    def column(self, target: int | None) -> slice | int:
        """Curve column of a generated-token index (None: all targets)."""
        if target is None:
            return slice(None)
        if isinstance(target, bool) or not isinstance(target, (int, np.integer)):
            raise TypeError(f"target must be a generated-token index or None, got {target!r}")
        if target not in self.positions:
            raise ValueError(
                f"token {target} was not explained; explained tokens: {self.positions}"
            )
        return self.positions.index(target)

    def gains(self, target: int | None = None) -> np.ndarray:
        """Marginal gain of F of each position in the order (from the measured curves)."""
        col = self.column(target)
        ins = self.insertion_curve[:, col].reshape(self.n_regions + 1, -1).mean(axis=1)
        dele = self.deletion_curve[:, col].reshape(self.n_regions + 1, -1).mean(axis=1)
        score = self.lambda1 * ins + self.lambda2 * (1.0 - dele)
        return np.diff(score)

    def region_values(self, kind: str = "rank", target: int | None = None) -> np.ndarray:
        """One value in [0, 1] per region id (see attribution_map)."""
        if kind not in MAP_KINDS:
            raise ValueError(f"kind must be one of {MAP_KINDS}, got {kind!r}")
        if kind == "method":
            return self._method_values()
        gains = self.gains(target)
        n = self.n_regions
        order = np.asarray(self.order)
        if kind == "rank":
            if target is not None and self.n_targets > 1:
                # one token of a sentence-level run: the shared order is not this token's
                # (regions ranked before its evidence would all get 1), so its regions are
                # ranked by its own gains first, gains below zero counting as none
                ranking = np.argsort(-gains, kind="stable")
                order, gains = order[ranking], np.clip(gains[ranking], 0, None)
            by_position = _rank_values(np.cumsum(np.abs(gains)))
        else:
            positive = np.clip(gains, 0, None)
            top = positive.max()
            by_position = positive / top if top > 0 else np.zeros(n)
        values = np.empty(n)
        values[order] = by_position
        return values

    def _method_values(self) -> np.ndarray:
        """A baseline's own region scores, negative ones as 0, divided by the largest."""
        method = self.extras.get("method")
        if not method:
            raise ValueError('kind="method" is the map of a baseline; this is an EAGLE result')
        positive = np.clip(np.asarray(method["region_scores"], dtype=np.float64), 0, None)
        top = positive.max()
        return positive / top if top > 0 else np.zeros(self.n_regions)

    def attribution_map(self, kind: str = "rank", target: int | None = None) -> np.ndarray:
        """H x W float in [0, 1] (a clip's: F x H x W, its frames in order).

        "rank" (the reference's map): the region at rank k gets (c_N - c_k)/(c_N - c_1), where
        c_k sums `|gain of F|` over the first k regions, so the top region is 1 and the last 0
        (when all the gain is the top region's, it alone is 1). For one token of a
        sentence-level run the regions are ranked by that token's own gains first.
        "gain": every region carries its own marginal gain of F, negative gains as 0, divided
        by the largest. `target` (a generated-token index) uses that token's column only.
        "method": a baseline's own region scores (extras["method"]), scaled the same way;
        its "rank" map is the ranking the engine measured.

        A result by the prompt alone (regions=None) ranked no image region: its map is all
        0 (the image was kept whole); a text-only model's result has no image, ValueError.
        """
        if self.image is None:
            raise ValueError(
                "this result explains a text-only model's prompt: it has no image map; "
                "see span_values()"
            )
        values = self.region_values(kind, target)  # checks kind and target as ever
        if not self.n_image_regions:
            return np.zeros(self.labels.shape)
        return values[: self.n_image_regions][self.labels]

    def span_values(self, kind: str = "rank", target: int | None = None) -> np.ndarray:
        """One value in [0, 1] per prompt span, on the image map's scale (see
        attribution_map): how the prompt's words are coloured beside the image."""
        return self.region_values(kind, target)[self.n_image_regions :]

    # -- modality reliance ------------------------------------------------------------
    @property
    def reliance(self) -> np.ndarray:
        """(T, 2): per target (prior, visual) = (p_blank, p_full - p_blank), docs/method.md s. 6."""
        return np.stack([self.p_blank, self.p_full - self.p_blank], axis=1)

    def token_reliance(self) -> tuple[np.ndarray, np.ndarray]:
        """(prior, visual) of every GENERATED token, NaN where unknown.

        The generated_reliance when measured, else the targets' own reliance, except at
        counterfactual targets: there the scored id is not the generated one, so its
        probabilities say nothing of the generated token.
        """
        n = len(self.generation)
        if self.generated_reliance is not None:
            prior, visual = _checked_reliance(self.generated_reliance, n)
            return prior.copy(), visual.copy()
        prior, visual = np.full(n, np.nan), np.full(n, np.nan)
        own = [
            i
            for i, (p, t) in enumerate(zip(self.positions, self.target_ids))
            if self.generation.token_ids[p] == t
        ]
        positions = [self.positions[i] for i in own]
        prior[positions] = self.p_blank[own]
        visual[positions] = (self.p_full - self.p_blank)[own]
        return prior, visual

    # -- serialisation ---------------------------------------------------------------
    def metadata(self) -> dict:
        return {
            "schema_version": SCHEMA_VERSION,
            "generation": self.generation.to_dict(),
            "positions": list(map(int, self.positions)),
            "target_ids": list(map(int, self.target_ids)),
            "search": self.search,
            "lambda1": self.lambda1,
            "lambda2": self.lambda2,
            "images_scored": int(self.images_scored),
            "seconds": float(self.seconds),
            "generated_reliance": _reliance_dict(self.generated_reliance),
            "mitigation": self.mitigation.to_dict() if self.mitigation else None,
            "scoring": self.scoring,
            "regions": self.regions,
            "frames": self.frames,
            "prompt": self.prompt,
            "extras": self.extras,
        }

    def to_dict(self, include_labels: bool = True) -> dict:
        """A JSON-able summary: order, steps, curves, AUCs, reliance (and the label map).

        The label map is packed (`label_codec.pack`), so that a photo's stays small;
        `Explanation.labels_from_dict` unpacks it.
        """
        data = self.metadata()
        data.update(
            order=self.order,
            steps=[s.to_dict() for s in self.steps],
            p_full=self.p_full.tolist(),
            p_blank=self.p_blank.tolist(),
            areas=self.areas.tolist(),
            insertion_curve=self.insertion_curve.tolist(),
            deletion_curve=self.deletion_curve.tolist(),
            insertion_auc=self.insertion_auc,
            deletion_auc=self.deletion_auc,
            reliance=self.reliance.tolist(),
            # of each frame, for a clip; None without an image (a text model's result)
            image_size=None if self.labels is None else list(self.labels.shape[-2:]),
        )
        if self.prompt:
            data["source_reliance"] = self.source_reliance.tolist()
        if include_labels and self.labels is not None:
            data["labels"] = label_codec.pack(self.labels)
        return data

    @staticmethod
    def labels_from_dict(data: dict) -> np.ndarray:
        """The label map (H x W int32; F x H x W of a clip) of a `to_dict()` result, e.g. a
        CLI's result.json."""
        return label_codec.unpack(data["labels"])

    def save(self, path) -> Path:
        """Write a compact .npz: label map, image (PNG; a clip's frames: one PNG each, end to
        end in "frames_png" with their lengths in "frame_png_sizes"), per-step numbers and
        metadata."""
        path = Path(path)
        steps = self.steps
        pictures = {}  # a text-only model's result has neither
        if self.image is not None:
            pictures = {
                "labels": self.labels.astype(label_codec.storage_dtype(self.labels)),
                **_picture_arrays(self.image),
            }
        arrays = {
            **pictures,
            "regions": np.array([s.region for s in steps], dtype=np.int32),
            "removed": np.array([s.chain == "remove" for s in steps], dtype=bool),
            "step_index": np.array([s.index for s in steps], dtype=np.int32),
            "step_numbers": np.array(
                [[s.insight, s.necessity, s.score, s.area] for s in steps], dtype=np.float64
            ),
            "step_images": np.array([s.images_scored for s in steps], dtype=np.int64),
            "probs_insert": np.stack([s.probs_insert for s in steps]),
            "probs_delete": np.stack([s.probs_delete for s in steps]),
            "p_full": self.p_full,
            "p_blank": self.p_blank,
            "meta": np.frombuffer(json.dumps(self.metadata()).encode(), dtype=np.uint8),
        }
        with open(path, "wb") as f:
            np.savez_compressed(f, **arrays)
        return path

    @classmethod
    def load(cls, path) -> Explanation:
        path = Path(path)
        if not path.is_file():
            raise ValueError(f"explanation file not found: {path}")

        def not_ours(why: str) -> ValueError:
            return ValueError(f"{path} is not an eagle-widget explanation file, or it is damaged: "
                              f"{why}")  # fmt: skip

        # numpy's own messages about other files ("load it unsafely using allow_pickle=") are
        # advice for numpy's files; ours never hold Python objects, so they are not repeated
        try:
            data = np.load(path, allow_pickle=False)
        except _NOT_OURS:
            raise not_ours("it is not an .npz archive as Explanation.save writes") from None
        if not isinstance(data, np.lib.npyio.NpzFile):
            raise not_ours("it holds one numpy array, not an archive as Explanation.save writes")
        with data:
            if "meta" not in data.files:
                shown = ", ".join(data.files[:6]) or "none"
                raise not_ours(f"it has no eagle-widget metadata (its arrays: {shown})")
            try:
                return cls._from_arrays(data)
            except _NewerSchema as error:
                raise ValueError(f"{path} has {error}") from None
            except _NOT_OURS as error:
                pickled = "allow_pickle" in str(error)
                raise not_ours("it holds Python objects" if pickled else str(error)) from None

    @classmethod
    def _from_arrays(cls, data) -> Explanation:
        meta = json.loads(bytes(data["meta"]).decode())
        if not isinstance(meta, dict):
            raise ValueError("its metadata is not a JSON object")
        version = meta.get("schema_version")
        if not isinstance(version, int) or version > SCHEMA_VERSION:
            raise _NewerSchema(
                f"schema version {version!r}; this eagle-widget reads up to {SCHEMA_VERSION}: "
                "upgrade eagle-widget to load it"
            )
        numbers = data["step_numbers"]
        steps = [
            Step(
                index=int(data["step_index"][i]),
                region=int(data["regions"][i]),
                chain="remove" if data["removed"][i] else "insert",
                insight=float(numbers[i, 0]),
                necessity=float(numbers[i, 1]),
                score=float(numbers[i, 2]),
                probs_insert=data["probs_insert"][i],
                probs_delete=data["probs_delete"][i],
                area=float(numbers[i, 3]),
                images_scored=int(data["step_images"][i]),
            )
            for i in range(len(numbers))
        ]
        generation = Generation.from_dict(meta["generation"])
        text_only = "labels" not in data.files and meta.get("prompt")
        return cls(
            image=None if text_only else _picture_of(data),
            labels=None if text_only else data["labels"].astype(np.int32),
            generation=generation,
            positions=meta["positions"],
            target_ids=meta["target_ids"],
            steps=steps,
            p_full=data["p_full"],
            p_blank=data["p_blank"],
            search=meta["search"],
            lambda1=meta["lambda1"],
            lambda2=meta["lambda2"],
            images_scored=meta["images_scored"],
            seconds=meta["seconds"],
            **_typed_results(meta, version, generation),
            scoring=meta.get("scoring", "exact"),
            regions=meta.get("regions") if version >= 3 else {"kind": "slic"},
            frames=meta.get("frames") if version >= 4 else None,
            prompt=meta.get("prompt") if version >= 5 else None,
        )

    # -- presentation: the engine's only reach upward, imported when called (the engine
    # itself needs none of it; tests/test_layering.py holds that) ---------------------
    def figure(self, **options):
        """A matplotlib figure in the paper's style (see eagle_widget.figures); a clip's map
        figure is the paper's 1 x F panel, each frame under its map; a text-only model's the
        prompt's chips and the curves, no image panel."""
        from ..figures import explanation_figure

        return explanation_figure(self, **options)

    def to_html(self, path) -> Path:
        """One self-contained, offline, interactive HTML page (see eagle_widget.export); a
        clip's shows its frames as one film strip; a text-only model's the prompt's chips and
        no image."""
        from ..export import explanation_to_html

        return explanation_to_html(self, path)

    def show(self):
        """A widget for this finished result; no model needed (a clip's: a film strip; a
        text-only model's: the prompt's chips, no image)."""
        from ..widget import show_explanation

        return show_explanation(self)

    def __repr__(self) -> str:
        words = " ".join(self.generation.tokens[p].strip() for p in self.positions[:8])
        generated = [self.generation.token_ids[p] for p in self.positions]
        counterfactual = (
            ""
            if list(self.target_ids) == generated
            else f", scored_ids={list(self.target_ids)[:8]}"
        )
        frames = f", frames={self.n_frames}" if self.is_clip else ""
        return (
            f"Explanation(targets={words!r}{counterfactual}{frames}, regions={self.n_regions}, "
            f"search={self.search!r}, "
            f"insertion_auc={self.insertion_auc:.3f}, deletion_auc={self.deletion_auc:.3f}, "
            f"images_scored={self.images_scored})"
        )


def _checked_reliance(reliance, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(prior, visual) as float arrays of one value per generated token (None -> NaN)."""
    try:
        prior, visual = reliance
        prior, visual = (
            np.array([np.nan if v is None else v for v in values], dtype=float)
            for values in (prior, visual)
        )
    except (TypeError, ValueError):
        raise ValueError(
            f"token reliance must be a (prior, visual) pair of numbers per token, got "
            f"{reliance!r:.80}"
        ) from None
    if prior.shape != (n,) or visual.shape != (n,):
        raise ValueError(
            f"token reliance must hold one value per generated token ({n}), "
            f"got {prior.shape} and {visual.shape}"
        )
    return prior, visual


def _reliance_dict(reliance) -> dict | None:
    if reliance is None:
        return None
    return {
        name: [None if not np.isfinite(v) else float(v) for v in values]
        for name, values in zip(("prior", "visual"), reliance)
    }


def _typed_results(meta: dict, version: int, generation: Generation) -> dict:
    """generated_reliance, mitigation and extras of a file's metadata; schema 1 kept the two
    results in extras (as {"prior": [...], "visual": [...]} and Mitigation.to_dict())."""
    extras = dict(meta.get("extras") or {})
    if version >= 2:
        reliance, mitigation = meta.get("generated_reliance"), meta.get("mitigation")
    else:
        reliance, mitigation = extras.pop("token_reliance", None), extras.pop("mitigation", None)
    if reliance is not None:
        if not isinstance(reliance, dict) or not {"prior", "visual"} <= set(reliance):
            raise ValueError(
                f'token reliance must be {{"prior": [...], "visual": [...]}}, got {reliance!r:.80}'
            )
        reliance = (reliance["prior"], reliance["visual"])
    return {
        "generated_reliance": reliance,
        "mitigation": None if mitigation is None else Mitigation.from_dict(mitigation, generation),
        "extras": extras,
    }


def _checked_frames(frames, image: np.ndarray) -> dict | None:
    """The frames record of a clip (a plain one, source "array", when none is given); None
    for an image, which has none."""
    if image.ndim == 3:
        if frames is not None:
            raise ValueError("frames is the record of a clip; this explanation is of one image")
        return None
    count = int(image.shape[0])
    if frames is None:
        return {"source": "array", "count": count, "indices": list(range(count)), "of": count}
    if not isinstance(frames, dict) or frames.get("count") != count:
        raise ValueError(
            f"frames must be the record of the clip's {count} frames (its 'count'), got "
            f"{frames!r:.80}"
        )
    for key in ("indices", "names", "times"):
        if key in frames and len(frames[key]) != count:
            raise ValueError(f"frames[{key!r}] holds {len(frames[key])} values for {count} frames")
    return frames


def _picture_arrays(image: np.ndarray) -> dict:
    """The .npz arrays of an image ("image_png") or a clip (its frames' PNGs end to end)."""
    if image.ndim == 3:
        return {"image_png": np.frombuffer(_png_bytes(image), dtype=np.uint8)}
    pngs = [_png_bytes(frame) for frame in image]
    return {
        "frames_png": np.frombuffer(b"".join(pngs), dtype=np.uint8),
        "frame_png_sizes": np.array([len(p) for p in pngs], dtype=np.int64),
    }


def _picture_of(data) -> np.ndarray:
    """The image or clip that _picture_arrays stored."""
    if "frames_png" not in data.files:
        return _png_array(bytes(data["image_png"]))
    blob = bytes(data["frames_png"])
    ends = np.cumsum(data["frame_png_sizes"])
    starts = np.concatenate([[0], ends[:-1]])
    return np.stack([_png_array(blob[a:b]) for a, b in zip(starts, ends)])


def _png_bytes(image: np.ndarray) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def _png_array(data: bytes) -> np.ndarray:
    from PIL import Image

    with Image.open(io.BytesIO(data)) as img:
        return np.asarray(img.convert("RGB"), dtype=np.uint8).copy()


def _rank_values(cumulative: np.ndarray) -> np.ndarray:
    """(c_N - c_k) / (c_N - c_1) per position; when c_N = c_1 every gain is the first
    region's (it alone gets 1) or there is none (all 0)."""
    n = len(cumulative)
    if n == 1:
        return np.ones(1)
    span = cumulative[-1] - cumulative[0]
    if span > 0:
        return (cumulative[-1] - cumulative) / span
    values = np.zeros(n)
    values[0] = 1.0 if cumulative[-1] > 0 else 0.0
    return values
