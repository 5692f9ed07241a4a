"""The `eagle-widget` command: explain images from the shell, in batches, or open the demo.

    eagle-widget explain IMAGE --prompt TEXT [--model demo|HF-ID|PATH] [--targets ...] --out DIR
    eagle-widget explain --batch MANIFEST.jsonl --out DIR [--workers N] [--ray auto|ADDRESS]
    eagle-widget demo [--html PATH]

Each explanation writes result.json, result.npz, figure.png and explanation.html. Progress
goes to stderr, the one-line summary to stdout. Bad input ends with one line on stderr and
a non-zero exit status (2 for bad arguments, 1 for anything that failed), no traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from .batch.explain import (
    OUTPUTS,
    Loader,
    explain_one,
    load_announced,
    load_model,
    parse_targets,
    read_image,
    read_manifest,
    run_batch,
    summary_line,
    write_outputs,
)
from .batch.runner import RAY_INSTALL, RayNotInstalled, check_ray_installed, ray_wanted
from .console import describe, say, strip
from .engine import DEFAULT_PROMPT
from .engine.search import SEARCHES

__all__ = ["OUTPUTS", "load_model", "main", "parse_targets", "read_manifest"]

PROG = "eagle-widget"
QUICKSTART = Path(__file__).resolve().parents[1] / "notebooks" / "01-quickstart.ipynb"
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
        if args.command == "explain":
            return _explain(args, load or load_model)
        if args.command == "demo":
            return _demo(args, load or load_model, launch or _exec)
        raise UsageError(f"choose a command: explain or demo (see {PROG} --help)")
    except UsageError as error:
        say(f"{PROG}: error: {error}")
        return 2
    except KeyboardInterrupt:
        say(f"{PROG}: interrupted")
        return 130
    except Exception as error:  # one line, no traceback (EAGLE_WIDGET_DEBUG=1 shows it)
        if os.environ.get("EAGLE_WIDGET_DEBUG"):
            raise
        say(f"{PROG}: error: {describe(error)}")
        return 1


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=PROG, description="Explain what in an image made a VLM say each word.")
    commands = parser.add_subparsers(dest="command", parser_class=_Parser)
    explain = commands.add_parser("explain", help="explain one image or a batch of images")
    explain.add_argument("image", nargs="?", help="image file (PNG, JPEG, ...)")
    explain.add_argument("--batch", metavar="MANIFEST", help="JSON lines: image, prompt, targets")
    explain.add_argument("--prompt", default=None, help=f'prompt (default "{DEFAULT_PROMPT}")')
    explain.add_argument("--model", default="demo", help="demo (default), a hub id or a path")
    explain.add_argument(
        "--targets",
        default="all",
        help='"all" (default), token indices such as 2,5 or a word of the answer',
    )
    explain.add_argument("--regions", type=_positive_int, default=50, help="superpixels (50)")
    explain.add_argument("--search", choices=SEARCHES, default="lazy", help="search (lazy)")
    explain.add_argument("--early-stop", action="store_true", help="stop once curves settle")
    explain.add_argument("--max-new-tokens", type=_positive_int, default=64)
    explain.add_argument("--device", default=None, help="e.g. cpu, cuda, cuda:1, mps")
    explain.add_argument("--dtype", default=None, help="e.g. float32, bfloat16, float16")
    explain.add_argument("--out", required=True, metavar="DIR", help="output folder")
    explain.add_argument(
        "--workers", type=_positive_int, default=None, help="Ray actors for --batch"
    )
    explain.add_argument(
        "--ray", metavar="ADDRESS", default=None, help='--batch on a Ray cluster: "auto" or ADDRESS'
    )
    explain.add_argument(
        "--gpus-per-worker", type=_non_negative, default=0.0, help="GPUs per Ray actor (0: CPU)"
    )
    demo = commands.add_parser("demo", help="open the quickstart notebook in JupyterLab")
    demo.add_argument("--html", metavar="PATH", help="write the demo as an offline page instead")
    return parser


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _non_negative(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text!r}") from None
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text!r}")
    return value


# -- explain -----------------------------------------------------------------------------------
def _explain(args, load: Loader) -> int:
    if (args.image is None) == (args.batch is None):
        raise UsageError("give either an IMAGE or --batch MANIFEST.jsonl")
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {str(out)!r} is a file, expected a folder")
    distributed = ray_wanted(args.workers, args.ray)
    if (distributed or args.gpus_per_worker) and args.batch is None:
        raise UsageError("--workers, --ray and --gpus-per-worker go with --batch")
    if args.gpus_per_worker and not distributed:
        raise UsageError("--gpus-per-worker goes with --workers or --ray")
    if args.batch is not None:
        try:
            items = read_manifest(Path(args.batch))
        except ValueError as error:
            raise UsageError(str(error)) from None
        _check_writable(out, "--out")
        if distributed:
            try:
                check_ray_installed()
            except RayNotInstalled:
                raise UsageError(f"--workers and --ray need Ray: {RAY_INSTALL}") from None
        return _run_batch(items, args, load, out)
    image = read_image(args.image)
    targets = parse_targets(args.targets)
    _check_writable(out, "--out")  # before the model loads and the search runs
    model = load_announced(load, args.model, args.device, args.dtype)
    explanation = explain_one(model, image, args.prompt, targets, **_options(args))
    write_outputs(explanation, out)
    print(summary_line(explanation, out), flush=True)
    return 0


def _check_writable(folder: Path, option: str) -> None:
    """Create `folder` and write a file in it now, so that a long run cannot fail at the end."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as error:
        raise UsageError(f"{option} {str(folder)!r} cannot be written: {strip(error)}") from None


def _options(args) -> dict:
    return {
        "n_regions": args.regions,
        "search": args.search,
        "early_stop": args.early_stop,
        "max_new_tokens": args.max_new_tokens,
    }


# -- batches -----------------------------------------------------------------------------------
def _run_batch(items: list[dict], args, load: Loader, out: Path) -> int:
    """The batch on the batch runner (here, or on Ray workers); exit 1 if any item failed."""
    report = run_batch(
        items, args.model, out=out, workers=args.workers, ray=args.ray,
        gpus_per_worker=args.gpus_per_worker, prompt=args.prompt, targets=args.targets,
        device=args.device, dtype=args.dtype, load=load, **_options(args),
    )  # fmt: skip
    print(
        f"batch: {report.done} of {len(report.rows)} done ({report.skipped} skipped as already "
        f"done), {report.failed} failed | {out / 'summary.json'}",
        flush=True,
    )
    return 1 if report.failed else 0


# -- demo ----------------------------------------------------------------------------------------
def _demo(args, load: Loader, launch) -> int:
    if args.html is not None:
        path = Path(args.html)
        if path.suffix.lower() not in (".html", ".htm"):
            raise UsageError(f"--html must name a .html file, got {str(path)!r}")
        if not path.parent.is_dir():
            raise UsageError(f"--html: folder {str(path.parent)!r} does not exist")
        if path.is_dir():
            raise UsageError(f"--html {str(path)!r} is a folder, expected a file name")
        _check_writable(path.parent, "--html: folder")
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
    # served from the repository root (the notebook must lie under Jupyter's root folder);
    # containers often run as root, which Jupyter refuses unless told
    root = QUICKSTART.parents[1]
    command = [sys.executable, "-m", "jupyter", "lab", str(QUICKSTART.relative_to(root))]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")
    say(f"opening {QUICKSTART.name} in JupyterLab (Ctrl-C to stop)")
    return int(launch(command, cwd=str(root)) or 0)


def _exec(command: list[str], cwd: str) -> int:
    """Become `command` (no orphaned JupyterLab if this process is stopped)."""
    os.chdir(cwd)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(command[0], command)
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main())
