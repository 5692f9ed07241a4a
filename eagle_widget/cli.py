"""The `eagle-widget` command: explain images from the shell, in batches, or open the demo.

    eagle-widget --version
    eagle-widget explain IMAGE --prompt TEXT [--model demo|HF-ID|PATH] [--targets ...] [--out DIR]
        regions: [--regions N] [--region-kind slic|grid] [--grid RxC | --label-map FILE
        | --masks FILE]
    eagle-widget explain IMAGE --model openai:URL --served-model NAME [--concurrency 16] ...
    eagle-widget explain --batch MANIFEST.jsonl --out DIR [--workers N] [--ray auto|ADDRESS]
    eagle-widget demo [--html PATH | --dir DIR]
    eagle-widget evaluate TASK --list LIST.json --images DIR --out DIR   (or --report DIR)
    eagle-widget export-authors RUN OUT --list LIST.json    (the authors' result layout)
    eagle-widget prepare TASK --annotations FILE --images DIR --out LIST.json

Each explanation writes result.json, result.npz, figure.png and explanation.html, in --out
(default eagle-widget-results/NAME: the image's or the manifest's file name without its
suffix, under the current folder). Progress
goes to stderr, the one-line summary to stdout. Bad input ends with one line on stderr and
a non-zero exit status (2 for bad arguments, 1 for anything that failed), no traceback.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import os
import re
import shutil
import sys
import tempfile
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from . import __version__
from .batch.explain import (
    OUTPUTS,
    Loader,
    explain_one,
    load_announced,
    load_model,
    parse_targets,
    read_manifest,
    run_batch,
    summary_line,
    write_outputs,
)
from .batch.jobs import RayNotInstalled, check_ray_installed, ray_wanted
from .batch.store import RunMismatch, describe_differences
from .benchmarks.tasks import TASKS
from .console import Progress, describe, say, strip
from .engine import DEFAULT_PROMPT, resolve_prompt
from .engine.baselines import METHODS
from .engine.clips import VideoReaderMissing, is_clip, read_clip
from .engine.explainer import check_n_regions
from .engine.images import read_picture
from .engine.protocol import text_only_of
from .engine.regions import read_label_map, read_masks, region_plan
from .engine.search import SEARCHES
from .models import SERVED_PREFIX as SERVED
from .models.sizes import MIN_IMAGE_SIDE

__all__ = ["OUTPUTS", "Progress", "load_model", "main", "parse_targets", "read_manifest"]

PROG = "eagle-widget"
QUICKSTART = Path(__file__).resolve().parents[1] / "notebooks" / "01-quickstart.ipynb"
DEFAULT_OUT = Path("eagle-widget-results")  # explain's folder of folders, one per image/batch
DEMO_SEED = 1
DEMO_REGIONS = 32


class UsageError(Exception):
    """Bad arguments: reported in one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line instead of usage + message
        raise UsageError(f"{message} (see {self.prog} --help)")


# -- entry point -----------------------------------------------------------------------------
def main(argv: Sequence[str] | None = None, load: Loader | None = None, launch=None) -> int:
    """Run the command line; returns the exit status.

    `load(model, device, dtype)` returns a model (default: the demo model or
    `eagle_widget.models.load_model`); `launch(command, cwd=folder)` runs JupyterLab for
    `demo` (default: this process becomes JupyterLab, so that signals reach it). Python
    callers and tests can swap both.
    """
    try:
        args = _parser().parse_args(list(sys.argv[1:] if argv is None else argv))
        if args.version:
            print(f"{PROG} {__version__}", flush=True)
            return 0
        with warnings.catch_warnings():
            warnings.showwarning = _warn  # one line, like every other message here
            if args.command == "explain":
                return _explain(args, load or load_model)
            if args.command == "demo":
                return _demo(args, load or load_model, launch or _exec)
            if args.command == "evaluate":
                return _evaluate(args, load or load_model)
            if args.command == "prepare":
                return _prepare(args, load or load_model)
            if args.command == "export-authors":
                return _export_authors(args)
        raise UsageError(
            f"choose a command: explain, evaluate, prepare, export-authors or demo (see {PROG} "
            "--help)"
        )
    except UsageError as error:
        say(f"{PROG}: error: {error}")
        return 2
    except KeyboardInterrupt:
        say(f"{PROG}: interrupted")
        return 130
    except Exception as error:  # one line, no traceback (EAGLE_WIDGET_DEBUG=1 shows it)
        if os.environ.get("EAGLE_WIDGET_DEBUG"):
            raise
        say(f"{PROG}: error: {_in_flags(error)}")
        return 1


def _early_stop_option(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--early-stop",
        action=argparse.BooleanOptionalAction,
        default="auto",
        help="stop once the curves settle (default: lazy does, greedy and efficient do not)",
    )


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=PROG, description="Explain what in an image made a VLM say each word.")
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    commands = parser.add_subparsers(dest="command", parser_class=_Parser)
    explain = commands.add_parser("explain", help="explain one image or a batch of images")
    explain.add_argument(
        "image", nargs="?",
        help="image file (PNG, JPEG, ...), or a clip: a folder of frames (natural name order) "
        "or a video file, for a model that takes clips",
    )  # fmt: skip
    explain.add_argument(
        "--prompt-regions", choices=("word", "sentence", "message"),
        help="also rank spans of the prompt beside the image's regions (a model that can "
        "hide them: transformers models, the demo)",
    )  # fmt: skip
    explain.add_argument(
        "--frames", type=_positive_int, metavar="N",
        help="a clip: N frames sampled evenly (a folder: all; a video file: 8); with --batch, "
        "for the clip items whose line gives no frames",
    )  # fmt: skip
    explain.add_argument("--batch", metavar="MANIFEST", help="JSON lines: image, prompt, targets")
    explain.add_argument("--prompt", default=None, help=f'prompt (default "{DEFAULT_PROMPT}")')
    explain.add_argument(
        "--model", default="demo", help="demo (default), a hub id, a path, or openai:URL"
    )
    explain.add_argument("--served-model", metavar="NAME", help="with openai:URL: the model name")
    explain.add_argument(
        "--api-key-env", metavar="VAR", help="with openai:URL: the variable holding the API key"
    )
    explain.add_argument(
        "--concurrency",
        type=_positive_int,
        help="with openai:URL: requests in flight (16), shared by the --workers",
    )
    explain.add_argument(
        "--max-requests", type=_positive_int, help="with openai:URL: refuse dearer runs"
    )
    explain.add_argument(
        "--frames-as-images", action="store_true", default=None,
        help="with openai:URL: send a clip's frames as several images of one message (a "
        "server that takes no video; vLLM: --limit-mm-per-prompt)",
    )  # fmt: skip
    explain.add_argument(
        "--targets",
        default="all",
        help='"all" (default), token indices such as 2,5 or a word of the answer',
    )
    explain.add_argument(
        "--regions",
        type=_regions,
        default=50,
        metavar="N",
        help="how many regions: superpixels or grid blocks (50; at most 256)",
    )
    _region_options(explain)
    explain.add_argument("--search", choices=SEARCHES, default="lazy", help="search (lazy)")
    explain.add_argument(
        "--method",
        choices=METHODS,
        default="eagle",
        help="eagle (default) or a black-box baseline ranked and measured the same way",
    )
    explain.add_argument(
        "--working-size",
        type=_working_size,
        default="auto",
        help='"auto" (default: the model\'s input size), a long side in px, or "full"',
    )
    _early_stop_option(explain)
    explain.add_argument("--max-new-tokens", type=_positive_int, default=64)
    explain.add_argument("--device", default=None, help="e.g. cpu, cuda, cuda:1, mps")
    explain.add_argument("--dtype", default=None, help="e.g. float32, bfloat16, float16")
    explain.add_argument(
        "--out",
        metavar="DIR",
        help=f"output folder (default {DEFAULT_OUT}/NAME: the image's or manifest's name)",
    )
    _ray_options(explain, "--batch")
    demo = commands.add_parser("demo", help="open a copy of the quickstart notebook in JupyterLab")
    demo.add_argument(
        "--html",
        metavar="PATH",
        help="write the demo as an offline page instead (missing folders are created)",
    )
    demo.add_argument(
        "--dir",
        metavar="DIR",
        type=Path,
        default=None,
        help=f"folder of the notebook's copy (default {_home_text(demo_folder())})",
    )
    _benchmark_commands(commands)
    return parser


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _ray_options(command, what: str) -> None:
    command.add_argument("--workers", type=_positive_int, help=f"Ray actors for {what}")
    command.add_argument(
        "--ray", metavar="ADDRESS",
        help=f'{what} on a Ray cluster: "auto" (RAY_ADDRESS or the local one), HOST:PORT of a '
        "head, or ray://HOST:PORT through Ray Client",
    )  # fmt: skip
    command.add_argument(
        "--gpus-per-worker", type=_non_negative, default=0.0, help="GPUs per Ray actor (0: CPU)"
    )


def _check_ray_options(args) -> bool:
    """Whether the run goes to Ray; a usage error when Ray is asked for but not installed."""
    distributed = ray_wanted(args.workers, args.ray)
    if args.gpus_per_worker and not distributed:
        raise UsageError("--gpus-per-worker goes with --workers or --ray")
    if distributed:
        try:
            check_ray_installed(args.ray)
        except RayNotInstalled as error:
            raise UsageError(f"--workers and --ray: {error}") from None
    return distributed


def _non_negative(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text!r}") from None
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text!r}")
    return value


def _regions(text: str) -> int:
    try:
        return check_n_regions(_positive_int(text))
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _region_options(explain) -> None:
    """How the regions are made: --regions N says how many, these say what kind."""
    kinds = explain.add_mutually_exclusive_group()
    kinds.add_argument(
        "--region-kind",
        choices=("slic", "grid", "supervoxels", "none"),
        default=None,
        help="slic: about --regions superpixels (default; a clip's per frame); grid: about "
        "--regions blocks; supervoxels: a clip's regions that follow objects through time; "
        "none: the prompt alone (with --prompt-regions; the image kept whole)",
    )
    kinds.add_argument(
        "--label-map",
        metavar="FILE",
        help="your own regions, one id per pixel of the image: .png (grey or palette index, "
        "or RGB colour as COCO panoptic) or .npy (H x W ints); ids are renumbered 0..N-1",
    )
    kinds.add_argument(
        "--masks",
        metavar="FILE",
        help="your own regions as boolean masks: .npz (one H x W array each, in order) or "
        ".npy (N x H x W); the first mask wins a pixel, pixels of none form one more region",
    )
    explain.add_argument(
        "--grid",
        type=_grid,
        metavar="RxC",
        help="a grid of ROWS x COLS blocks, e.g. 5x5 (--region-kind grid)",
    )


def _grid(text: str) -> tuple[int, int]:
    match = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*", text)
    if not match:
        raise argparse.ArgumentTypeError(f"expected ROWSxCOLS such as 5x5, got {text!r}")
    rows, cols = int(match[1]), int(match[2])
    try:
        region_plan("grid", grid=(rows, cols))
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return rows, cols


def _region_arguments(args, shape=None) -> dict:
    """regions= and grid= of --region-kind, --grid, --label-map and --masks (files read and
    checked now, against the image's (height, width) `shape`, before the model loads)."""
    if args.region_kind == "none":  # the prompt alone: its spans, the image kept whole
        if args.prompt_regions is None:
            raise UsageError(
                "--region-kind none explains by the prompt alone: give --prompt-regions"
            )
        if args.grid is not None:
            raise UsageError("--grid makes grid regions: it does not go with --region-kind none")
        return {"regions": None}
    if args.grid is not None:
        if args.region_kind == "slic":
            raise UsageError("--grid makes grid regions: it does not go with --region-kind slic")
        if args.label_map or args.masks:
            raise UsageError("--grid does not go with --label-map or --masks")
        return {"regions": "grid", "grid": args.grid}
    if not (args.label_map or args.masks):
        return {"regions": args.region_kind or "slic"}
    flag, path = ("--label-map", args.label_map) if args.label_map else ("--masks", args.masks)
    if shape is None:
        raise UsageError(f"{flag} is of one image: it goes with IMAGE, not --batch")
    try:
        regions = read_label_map(path) if args.label_map else read_masks(path)
        region_plan(regions).check_shape(shape)
    except ValueError as error:
        raise UsageError(f"{flag}: {strip(error)}") from None
    return {"regions": regions}


def _working_size(text: str):
    """--working-size: "auto", "full" (the image's own size) or a long side in pixels."""
    if text in ("auto", "full"):
        return None if text == "full" else text
    try:
        return _positive_int(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(
            f'expected "auto", "full" or a positive number of pixels, got {text!r}'
        ) from None


# -- explain -----------------------------------------------------------------------------------
def _explain(args, load: Loader) -> int:
    if args.image is not None and args.batch is not None:
        raise UsageError("give either an IMAGE or --batch MANIFEST.jsonl")
    _check_served(args)
    text_only = _text_checkpoint(args.model)  # from its config, before the model loads
    if args.image is None and args.batch is None:
        if not text_only:
            raise UsageError(
                "give either an IMAGE or --batch MANIFEST.jsonl (only a text-only model, "
                "--model of a causal language model with no vision tower, takes neither)"
            )
        return _explain_text(args, load)
    if text_only:
        raise UsageError(
            f"--model {args.model} reads text only: leave IMAGE and --batch out, and give "
            "--prompt and --prompt-regions"
        )
    if args.out is None:  # the served cache (_model_of) lives in it too
        args.out = str(DEFAULT_OUT / Path(args.image or args.batch).stem)
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {str(out)!r} is a file, expected a folder")
    if args.prompt is not None:  # the rule of every entry point, before the model loads
        try:
            resolve_prompt(args.prompt)
        except ValueError as error:
            raise UsageError(f"--prompt: {error}") from None
    if args.batch is None and (ray_wanted(args.workers, args.ray) or args.gpus_per_worker):
        raise UsageError("--workers, --ray and --gpus-per-worker go with --batch")
    if args.batch is not None:
        try:
            items = read_manifest(Path(args.batch))
        except ValueError as error:
            raise UsageError(str(error)) from None
        _check_writable(out, "--out")
        _check_ray_options(args)
        args.region_arguments = _region_arguments(args)
        return _run_batch(items, args, load, out)
    if is_clip(Path(args.image)):  # read now for its errors; the explainer keeps its record
        if args.model.startswith(SERVED) and not args.frames_as_images:
            raise UsageError(
                "a served model takes a clip with --frames-as-images (its frames sent as "
                "several images of one message)"
            )
        try:
            pixels = read_clip(Path(args.image), args.frames)[0]
        except (ValueError, VideoReaderMissing) as error:
            raise UsageError(strip(error)) from None
        _check_image_size(pixels[0], args.model)
        args.region_arguments = _region_arguments(args, pixels.shape[:3])
        image, frames = Path(args.image), {"frames": args.frames}
    else:
        if args.frames is not None:
            raise UsageError("--frames samples a clip (a folder of frames or a video file)")
        image, frames = read_picture(Path(args.image)), {}
        _check_image_size(image.pixels, args.model)
        args.region_arguments = _region_arguments(args, image.pixels.shape[:2])
    targets = parse_targets(args.targets)
    _check_writable(out, "--out")  # before the model loads and the search runs
    model = _load(load, args)
    explanation = explain_one(model, image, args.prompt, targets, **_options(args), **frames)
    write_outputs(explanation, out)
    print(summary_line(explanation, out), flush=True)
    return 0


def _text_checkpoint(spec: str) -> bool:
    """Whether --model names a text-only checkpoint (models.text_model.is_text_checkpoint,
    its config read alone); never the demo or a served model."""
    if spec.startswith(SERVED) or (spec == "demo" and not Path(spec).exists()):
        return False
    from .models.text_model import is_text_checkpoint

    return is_text_checkpoint(spec)


def _explain_text(args, load: Loader) -> int:
    """explain of a text-only model: no image, the prompt's spans alone (issue 26)."""
    if args.prompt is None:
        raise UsageError(f"--model {args.model} reads text only and has no default prompt: "
                         "give --prompt")  # fmt: skip
    try:
        resolve_prompt(args.prompt)
    except ValueError as error:
        raise UsageError(f"--prompt: {error}") from None
    if args.prompt_regions is None:
        raise UsageError(
            f"--model {args.model} reads text only and is explained by its prompt's spans: "
            "give --prompt-regions word, sentence or message"
        )
    image_options = {"--region-kind": args.region_kind not in (None, "none"), "--grid": args.grid,
                     "--label-map": args.label_map, "--masks": args.masks,
                     "--frames": args.frames}  # fmt: skip
    given = [flag for flag, value in image_options.items() if value]
    if given:
        raise UsageError(f"{', '.join(given)}: a text-only model reads no image")
    if ray_wanted(args.workers, args.ray) or args.gpus_per_worker:
        raise UsageError("--workers, --ray and --gpus-per-worker go with --batch")
    out = Path(args.out or DEFAULT_OUT / (Path(args.model).name or "text"))
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {str(out)!r} is a file, expected a folder")
    args.out = str(out)
    targets = parse_targets(args.targets)
    _check_writable(out, "--out")
    args.region_arguments = {"regions": None}
    model = _load(load, args)
    if not text_only_of(model):
        raise UsageError(f"--model {args.model} reads images: give an IMAGE")
    explanation = explain_one(model, None, args.prompt, targets, **_options(args))
    write_outputs(explanation, out)
    print(summary_line(explanation, out), flush=True)
    return 0


def _check_image_size(image: np.ndarray, spec: str) -> None:
    """A side below every transformers model's minimum is refused before one loads (seconds);
    a model's own, larger minimum (a patch) is checked once it has loaded."""
    height, width = image.shape[:2]
    if not spec.startswith(SERVED) and min(height, width) < MIN_IMAGE_SIDE:
        raise ValueError(
            f"the image is {height} x {width} pixels (height x width); --model {spec} needs "
            f"at least {MIN_IMAGE_SIDE} x {MIN_IMAGE_SIDE}"
        )


def _check_writable(folder: Path, option: str) -> None:
    """Create `folder` and write a file in it now, so that a long run cannot fail at the end."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as error:
        raise UsageError(f"{option} {str(folder)!r} cannot be written: {strip(error)}") from None


# the options of a served model only, and their argparse names
SERVED_OPTIONS = {"--served-model": "served_model", "--api-key-env": "api_key_env",
                  "--concurrency": "concurrency", "--max-requests": "max_requests",
                  "--frames-as-images": "frames_as_images"}  # fmt: skip


def _check_served(args) -> None:
    """The served-model options: complete for openai:URL, absent otherwise."""
    if not args.model.startswith(SERVED):
        given = [flag for flag, value in SERVED_OPTIONS.items() if getattr(args, value) is not None]
        if given:
            verb = "goes" if len(given) == 1 else "go"
            raise UsageError(f"{' and '.join(given)} {verb} with --model openai:URL")
        return
    if not args.served_model:
        raise UsageError("--model openai:URL needs --served-model NAME (the server's model name)")
    if args.api_key_env and not os.environ.get(args.api_key_env):
        raise UsageError(f"--api-key-env {args.api_key_env}: that variable is not set")


def _load(load: Loader, args):
    model_of = functools.partial(_model_of, load, args)
    return load_announced(model_of, args.model, args.device, args.dtype)


def _model_of(load: Loader, args, spec: str, device, dtype):
    """--model with every option of the command line: a server's (openai:URL), or `load`'s."""
    if spec.startswith(SERVED):  # a server: nothing to load, options of its own
        from .models import load_model as load_served
        from .models.served import DEFAULT_CONCURRENCY

        # the run's requests in flight, shared by its --workers (each actor calls this)
        concurrency = -(-(args.concurrency or DEFAULT_CONCURRENCY) // (args.workers or 1))
        # answers kept beside the results, so that a resumed batch does not pay for them
        # again: where this process sees that folder (a worker on another machine does not)
        cache = Path(args.out) / ".served-cache.sqlite"
        return load_served(
            spec,
            model=args.served_model,
            api_key=os.environ.get(args.api_key_env) if args.api_key_env else None,
            concurrency=concurrency,
            max_requests=args.max_requests,
            frames_as_images=bool(args.frames_as_images),
            cache_file=cache if cache.parent.is_dir() else None,
        )
    return load(spec, device, dtype)


def _options(args) -> dict:
    return {
        "n_regions": args.regions,
        "search": args.search,
        "early_stop": args.early_stop,
        "max_new_tokens": args.max_new_tokens,
        "working_size": args.working_size,
        "method": args.method,
        "prompt_regions": args.prompt_regions,
        **args.region_arguments,
    }


# -- batches -----------------------------------------------------------------------------------
def _run_batch(items: list[dict], args, load: Loader, out: Path) -> int:
    """The batch on the batch runner (here, or on Ray workers); exit 1 if any item failed."""
    try:
        report = run_batch(
            items, args.model, out=out, workers=args.workers, ray=args.ray,
            gpus_per_worker=args.gpus_per_worker, prompt=args.prompt, targets=args.targets,
            device=args.device, dtype=args.dtype, load=functools.partial(_model_of, load, args),
            record={"served_model": args.served_model} if args.served_model else None,
            frames=args.frames, **_options(args),
        )  # fmt: skip
    except RunMismatch as error:
        raise _other_run(error) from None
    print(
        f"batch: {report.done} of {len(report.rows)} done ({report.skipped} skipped as already "
        f"done), {report.failed} failed | {out / 'summary.json'}",
        flush=True,
    )
    return 1 if report.failed else 0


# the run record's keys that are not the option's name with dashes
FLAGS = {"n_regions": "--regions", "items": "the items (--list, --items, --limit)", "task": "TASK"}


def _other_run(error: RunMismatch) -> UsageError:
    """A run folder of other options, in the command line's words (one line)."""
    names = {key: FLAGS.get(key, "--" + key.replace("_", "-")) for key, _, _ in error.differences}
    return UsageError(
        f"--out {str(error.folder)!r} holds a run with other options "
        f"({describe_differences(error.differences, names)}): give another --out for this "
        "run, or delete that folder to start over"
    )


# -- demo ----------------------------------------------------------------------------------------
def _demo(args, load: Loader, launch) -> int:
    if args.html is not None:
        path = Path(args.html)
        if path.suffix.lower() not in (".html", ".htm"):
            raise UsageError(f"--html must name a .html file, got {str(path)!r}")
        if path.is_dir():
            raise UsageError(f"--html {str(path)!r} is a folder, expected a file name")
        _check_writable(path.parent, "--html: folder")  # created, as prepare --out's is
        from .models.demo.scenes import CAPTION_PROMPT, make_scene

        model = load("demo", None, None)
        scene = make_scene(DEMO_SEED)
        explanation = explain_one(
            model, scene.image, CAPTION_PROMPT, None, n_regions=DEMO_REGIONS, search="lazy"
        )
        explanation.to_html(path)
        print(summary_line(explanation, path), flush=True)
        return 0
    if not QUICKSTART.is_file():
        raise ValueError(
            f"the quickstart notebook is not here ({QUICKSTART}); it ships with the source "
            f"repository. Use `{PROG} demo --html demo.html` for an offline page instead"
        )
    folder = args.dir if args.dir is not None else demo_folder()
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"--dir {str(folder)!r} is a file, expected a folder")
    _check_writable(folder, "--dir")
    notebook, kept = copy_quickstart(folder)
    # JupyterLab autosaves into the notebook it opens: a copy keeps the repository clean.
    # Containers often run as root, which Jupyter refuses unless told.
    command = [sys.executable, "-m", "jupyter", "lab", notebook.name]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")
    if kept:
        say(f"keeping your edited copy {notebook} (delete it to start from a fresh one)")
    say(f"opening {notebook} in JupyterLab (Ctrl-C to stop)")
    return int(launch(command, cwd=str(folder)) or 0)


def demo_folder() -> Path:
    """Where `demo` puts its copy of the quickstart: $XDG_DATA_HOME/eagle-widget/demo."""
    data = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(data) / "eagle-widget" / "demo"


def copy_quickstart(folder: Path) -> tuple[Path, bool]:
    """Copy the quickstart into `folder`: (the copy, whether an edited copy was kept).

    A copy whose code is the quickstart's is replaced by a fresh one (only outputs are lost);
    a copy whose code the user changed is theirs and stays.
    """
    copy = folder / QUICKSTART.name
    code = _code_of(copy) if copy.is_file() else None
    kept = code is not None and code != _code_of(QUICKSTART)
    if not kept:
        shutil.copyfile(QUICKSTART, copy)
    return copy, kept


def _code_of(notebook: Path) -> list[str] | None:
    try:
        cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
        return ["".join(c["source"]) for c in cells if c.get("cell_type") == "code"]
    except (OSError, ValueError, KeyError, TypeError):
        return None  # unreadable: not the user's work either


def _home_text(path: Path) -> str:
    home = str(Path.home())
    text = str(path)
    return "~" + text[len(home) :] if text.startswith(home + os.sep) else text


def _exec(command: list[str], cwd: str) -> int:
    """Become `command` (no orphaned JupyterLab if this process is stopped)."""
    os.chdir(cwd)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(command[0], command)
    return 0  # not reached


# -- benchmarks: evaluate and prepare (the work is in eagle_widget.benchmarks) ------------------
def _benchmark_commands(commands) -> None:
    evaluate = commands.add_parser("evaluate", help="run one of the paper's benchmarks on a model")
    evaluate.add_argument("task", nargs="?", choices=list(TASKS), help="the benchmark")
    evaluate.add_argument(
        "--list", metavar="LIST", action="append",
        help="the items (the authors' JSON format); repeat to score several lists as one run",
    )  # fmt: skip
    evaluate.add_argument("--images", metavar="DIR", help="folder of the items' images")
    evaluate.add_argument("--report", metavar="RUN", help="only rebuild the report of a run")
    evaluate.add_argument(
        "--regions", type=_regions, default=64, help="superpixels (64; at most 256)"
    )
    evaluate.add_argument("--search", choices=SEARCHES, default="greedy", help="search (greedy)")
    _early_stop_option(evaluate)
    evaluate.add_argument("--fill", default="0", help="0..255, R,G,B, mean or blur (0: black)")
    evaluate.add_argument("--max-area", type=float, default=1.0, help="repope: most area removed")
    evaluate.add_argument("--items", metavar="A:B", help="only the list's items A to B-1")
    evaluate.add_argument("--limit", type=_positive_int, help="at most this many items")
    evaluate.add_argument(
        "--sensitive-margin", type=float, default=0.2,
        help="sensitive targets: p_full - p_blank above this (0.2, the authors' default)",
    )  # fmt: skip
    evaluate.add_argument(
        "--amcr-rule", choices=["ours", "authors"], default="ours",
        help="repope: ours (one region removed first, first token id) or the authors' (full "
        "image first, answer text starts with the label)",
    )  # fmt: skip
    evaluate.add_argument(
        "--mask-rule", choices=["coco", "authors"], default="coco",
        help="coco-object PG mask polygons: coco (as pycocotools) or the authors' (rounded "
        "vertices, outline included)",
    )  # fmt: skip
    evaluate.add_argument(
        "--method", action="append", metavar="METHOD",
        help=f"{', '.join(METHODS)} (eagle); repeat to compare methods, one table",
    )  # fmt: skip
    evaluate.add_argument("--methods", metavar="A,B", help="methods to compare, comma-separated")
    evaluate.add_argument(
        "--prompt-regions", choices=("word", "sentence", "message"),
        help="also rank spans of each item's prompt beside the image's regions; each row "
        "gets the image / prompt / prior shares",
    )  # fmt: skip
    evaluate.add_argument(
        "--maps", metavar="DIR",
        help="score saved maps (one .npy/.png per item, by item id or image name) instead of "
        "searching: regions ranked by the map's mean",
    )  # fmt: skip
    export = commands.add_parser(
        "export-authors", help="write a finished evaluate run in the authors' result layout"
    )
    export.add_argument("run", metavar="RUN", help="the evaluate run's folder")
    export.add_argument("out", metavar="OUT", help="folder to write json/ and npy/ into")
    export.add_argument(
        "--list", metavar="LIST", action="append", required=True,
        help="the run's list (repeat in the run's order for several)",
    )  # fmt: skip
    export.add_argument("--no-masks", action="store_true", help="write json/ only, no npy/")
    prepare = commands.add_parser("prepare", help="make a model's own list from annotations")
    prepare.add_argument("task", choices=list(TASKS), help="the benchmark")
    prepare.add_argument("--annotations", required=True, metavar="FILE", help="COCO JSON, csv, ...")
    prepare.add_argument("--images", required=True, metavar="DIR", help="folder of the images")
    prepare.add_argument("--limit", type=_positive_int, help="at most this many items")
    prepare.add_argument(
        "--max-new-tokens", type=_positive_int, default=128,
        help="longest answer generated (128, the authors' setting)",
    )  # fmt: skip
    for command in (evaluate, prepare):
        command.add_argument("--prompt", default=None, help="replace the task's prompt/template")
        command.add_argument("--model", default="demo", help="demo (default), a hub id or a path")
        command.add_argument("--device", default=None, help="e.g. cpu, cuda, cuda:1, mps")
        command.add_argument("--dtype", default=None, help="e.g. float32, bfloat16, float16")
    evaluate.add_argument("--out", metavar="DIR", help="the run's folder")
    _ray_options(evaluate, "the items")
    prepare.add_argument("--out", required=True, metavar="LIST", help="the list to write (.json)")


def _evaluate(args, load: Loader) -> int:
    from .benchmarks import EvaluationResult, Options, evaluate
    from .benchmarks.tasks import check_images, load_lists
    from .engine.masking import fill_image

    if args.report is not None:
        from .benchmarks.comparison import Comparison

        try:  # a folder of several methods' runs, or one run
            comparison = Comparison.from_folder(Path(args.report))
            if comparison is not None:
                for method, result in comparison.results.items():
                    result.save(Path(args.report) / method)
                comparison.save(Path(args.report))
                print(comparison.table() + comparison.summary(), flush=True)
                return 0
            result = EvaluationResult.from_folder(Path(args.report))
        except ValueError as error:
            raise UsageError(f"--report: {strip(error)}") from None
        written = result.save(Path(args.report))
        report = next(path for path in written if path.name == "report.html")
        print(result.table() + result.summary() + f" | {report}", flush=True)
        return 0
    if args.task is None or args.list is None or args.images is None or args.out is None:
        raise UsageError("give TASK --list LIST --images DIR --out DIR, or --report RUN")
    try:
        items = load_lists(args.task, [Path(p) for p in args.list], Path(args.images), args.prompt)
        check_images(items, Path(args.images))
        fill = _parse_fill(args.fill)
        fill_image(np.zeros((1, 1, 3), np.uint8), fill)
    except ValueError as error:
        raise UsageError(strip(error)) from None
    items = items[_parse_items(args.items)][: args.limit]
    if not items:
        raise UsageError(f"--items {args.items} selects no item of the list")
    if args.maps is not None:
        from .benchmarks.authors_layout import attach_maps, authors_names

        try:
            names = authors_names(args.task, [Path(p) for p in args.list], Path(args.images))
            attach_maps(items, Path(args.maps), names)
        except ValueError as error:
            raise UsageError(strip(error)) from None
    if not 0 < args.max_area <= 1:
        raise UsageError(f"--max-area must be in (0, 1], got {args.max_area}")
    if not 0 <= args.sensitive_margin < 1:
        raise UsageError(f"--sensitive-margin must be in [0, 1), got {args.sensitive_margin}")
    methods = _methods(args)
    if args.maps is not None and methods != ["eagle"]:
        raise UsageError("--maps scores the saved maps; it takes no --method or --methods")
    if args.prompt_regions is not None and (methods != ["eagle"] or args.maps is not None):
        raise UsageError("--prompt-regions are searched by EAGLE: no --method, --methods or --maps")
    options = Options(
        n_regions=args.regions,
        search=args.search,
        early_stop=args.early_stop,
        fill=fill,
        max_area=args.max_area,
        sensitive_margin=args.sensitive_margin,
        amcr_rule=args.amcr_rule,
        mask_rule=args.mask_rule,
        prompt_regions=args.prompt_regions,
    )
    out = Path(args.out)
    _check_writable(out, "--out")  # before the model loads
    _check_ray_options(args)
    if len(methods) > 1:
        return _compare(args, load, items, options, methods, out)
    options = dataclasses.replace(options, method=methods[0])
    try:  # the model loads (here, or on each worker) only if an item is left to run
        result = evaluate(
            None, items, out=out, options=options, model_name=args.model, workers=args.workers,
            ray=args.ray, gpus_per_worker=args.gpus_per_worker,
            setup=functools.partial(_load, load, args),
        )  # fmt: skip
    except RunMismatch as error:
        raise _other_run(error) from None
    print(result.table() + result.summary() + f" | {out / 'table.md'}", flush=True)
    return 1 if result.counts["failed"] else 0


def _methods(args) -> list[str]:
    """--method (repeated) and --methods A,B, in order, each once; eagle when none."""
    from .benchmarks.comparison import check_methods

    asked = list(args.method or [])
    if args.methods is not None:
        asked += [name.strip() for name in args.methods.split(",") if name.strip()]
    try:
        return check_methods(asked or ["eagle"])
    except ValueError as error:
        raise UsageError(f"--method: {strip(error)}") from None


def _compare(args, load: Loader, items, options, methods, out: Path) -> int:
    """Several methods: a run per method in OUT/<method>, one table in OUT/table.md."""
    from .benchmarks.comparison import evaluate_methods

    try:
        comparison = evaluate_methods(
            None, items, out, methods, options, model_name=args.model, workers=args.workers,
            ray=args.ray, gpus_per_worker=args.gpus_per_worker,
            setup=functools.partial(_load, load, args),
        )  # fmt: skip
    except RunMismatch as error:
        raise _other_run(error) from None
    print(comparison.table() + comparison.summary() + f" | {out / 'table.md'}", flush=True)
    return 1 if comparison.failed else 0


def _export_authors(args) -> int:
    from .benchmarks.authors_layout import export_run

    try:
        done = export_run(
            Path(args.run), Path(args.out), [Path(p) for p in args.list], not args.no_masks
        )
    except ValueError as error:
        raise UsageError(strip(error)) from None
    left = f", {len(done['left_out'])} not scored left out" if done["left_out"] else ""
    print(f"export-authors: {done['written']} {done['task']} items{left} | "
          f"{Path(args.out) / 'json'}", flush=True)  # fmt: skip
    if done["task"] == "coco-object" and "interpretation_results" not in str(args.out):
        say("note: the authors' eval_point_game.py reads npy/ as region masks only when the "
            "path holds 'interpretation_results'")  # fmt: skip
    return 0


def _prepare(args, load: Loader) -> int:
    from .benchmarks import prepare
    from .benchmarks.prepare import read_sources

    out = Path(args.out)
    if out.suffix.lower() != ".json":
        raise UsageError(f"--out must name a .json list, got {str(out)!r}")
    if not Path(args.images).is_dir():
        raise UsageError(f"--images folder {args.images!r} does not exist")
    try:
        sources = read_sources(args.task, Path(args.annotations))
    except ValueError as error:
        raise UsageError(strip(error)) from None
    _check_writable(out.parent if str(out.parent) else Path("."), "--out: folder")
    model = _load(load, args)
    entries = prepare(
        args.task, model, Path(args.annotations), Path(args.images), limit=args.limit,
        prompt=args.prompt, progress=say, max_new_tokens=args.max_new_tokens,
    )  # fmt: skip
    out.write_text(json.dumps(entries), encoding="utf-8")
    print(f"prepare: {len(entries)} {args.task} items from {len(sources)} in the annotations | "
          f"{out}", flush=True)  # fmt: skip
    return 0 if entries else 1


def _parse_fill(text: str):
    if text in ("mean", "blur"):
        return text
    parts = text.split(",")
    try:
        values = [int(p) for p in parts]
    except ValueError:
        raise ValueError(f"--fill must be 0..255, R,G,B, mean or blur, got {text!r}") from None
    if len(values) not in (1, 3):
        raise ValueError(f"--fill must be 0..255, R,G,B, mean or blur, got {text!r}")
    return values[0] if len(values) == 1 else tuple(values)


def _parse_items(text: str | None) -> slice:
    if text is None:
        return slice(None)
    match = re.fullmatch(r"\s*(\d*)\s*:\s*(\d*)\s*", text)
    if not match:
        raise UsageError(f"--items must be START:STOP (e.g. 10:20), got {text!r}")
    start, stop = (int(v) if v else None for v in match.groups())
    return slice(start, stop)


# -- messages ------------------------------------------------------------------------------------
def _in_flags(error: BaseException) -> str:
    """The error in the command line's words: options as flags, not Python parameters."""
    from .models.served import RequestBudgetError

    if isinstance(error, RequestBudgetError):
        return (
            f"this run could make {error.requests} requests, more than --max-requests "
            f"{error.limit}: use fewer --regions or --targets, or raise --max-requests"
        )
    return describe(error)


def _warn(message, category, filename, lineno, file=None, line=None) -> None:
    say(f"{PROG}: warning: {' '.join(str(message).split())}")


if __name__ == "__main__":
    sys.exit(main())
