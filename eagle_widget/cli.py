"""The `eagle-widget` command: explain images from the shell, in batches, or open the demo.

    eagle-widget explain IMAGE --prompt TEXT [--model demo|HF-ID|PATH] [--targets ...] --out DIR
    eagle-widget explain IMAGE --model openai:URL --served-model NAME [--concurrency 16] ...
    eagle-widget explain --batch MANIFEST.jsonl --out DIR
    eagle-widget demo [--html PATH | --dir DIR]
    eagle-widget evaluate TASK --list LIST.json --images DIR --out DIR   (or --report DIR)
    eagle-widget prepare TASK --annotations FILE --images DIR --out LIST.json

Each explanation writes result.json, result.npz, figure.png and explanation.html. Progress
goes to stderr, the one-line summary to stdout. Bad input ends with one line on stderr and
a non-zero exit status (2 for bad arguments, 1 for anything that failed), no traceback.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from tqdm import tqdm

from .benchmarks.tasks import TASKS
from .engine import DEFAULT_PROMPT, Explainer, Explanation
from .engine.explainer import check_n_regions, resolve_prompt
from .engine.images import to_rgb_array
from .engine.search import SEARCHES, estimated_images
from .models import SERVED_PREFIX as SERVED

PROG = "eagle-widget"
OUTPUTS = ("result.json", "result.npz", "figure.png", "explanation.html")
QUICKSTART = Path(__file__).resolve().parents[1] / "notebooks" / "01-quickstart.ipynb"
DEMO_SEED = 1
DEMO_REGIONS = 32

Loader = Callable[[str, "str | None", "str | None"], object]


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
        raise UsageError(
            f"choose a command: explain, evaluate, prepare or demo (see {PROG} --help)"
        )
    except UsageError as error:
        _say(f"{PROG}: error: {error}")
        return 2
    except KeyboardInterrupt:
        _say(f"{PROG}: interrupted")
        return 130
    except Exception as error:  # one line, no traceback (EAGLE_WIDGET_DEBUG=1 shows it)
        if os.environ.get("EAGLE_WIDGET_DEBUG"):
            raise
        _say(f"{PROG}: error: {_describe(error)}")
        return 1


def load_model(spec: str, device: str | None = None, dtype: str | None = None):
    """The model of `--model`: "demo" (the embedded one), a hub id or a local path."""
    from . import models

    if spec == "demo":
        return models.load_demo_model(device=device, dtype=dtype)
    return models.load_model(spec, device=device, dtype=dtype)


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=PROG, description="Explain what in an image made a VLM say each word.")
    commands = parser.add_subparsers(dest="command", parser_class=_Parser)
    explain = commands.add_parser("explain", help="explain one image or a batch of images")
    explain.add_argument("image", nargs="?", help="image file (PNG, JPEG, ...)")
    explain.add_argument("--batch", metavar="MANIFEST", help="JSON lines: image, prompt, targets")
    explain.add_argument("--prompt", default=None, help=f'prompt (default "{DEFAULT_PROMPT}")')
    explain.add_argument(
        "--model", default="demo", help="demo (default), a hub id, a path, or openai:URL"
    )
    explain.add_argument("--served-model", metavar="NAME", help="with openai:URL: the model name")
    explain.add_argument(
        "--api-key-env", metavar="VAR", help="with openai:URL: the variable holding the API key"
    )
    explain.add_argument("--concurrency", type=_positive_int, default=16, help="requests (16)")
    explain.add_argument("--max-requests", type=_positive_int, help="refuse dearer runs")
    explain.add_argument(
        "--targets",
        default="all",
        help='"all" (default), token indices such as 2,5 or a word of the answer',
    )
    explain.add_argument(
        "--regions", type=_regions, default=50, help="superpixels (50; at most 256)"
    )
    explain.add_argument("--search", choices=SEARCHES, default="lazy", help="search (lazy)")
    explain.add_argument(
        "--working-size",
        type=_working_size,
        default="auto",
        help='"auto" (default: the model\'s input size), a long side in px, or "full"',
    )
    explain.add_argument("--early-stop", action="store_true", help="stop once curves settle")
    explain.add_argument("--max-new-tokens", type=_positive_int, default=64)
    explain.add_argument("--device", default=None, help="e.g. cpu, cuda, cuda:1, mps")
    explain.add_argument("--dtype", default=None, help="e.g. float32, bfloat16, float16")
    explain.add_argument("--out", required=True, metavar="DIR", help="output folder")
    demo = commands.add_parser("demo", help="open a copy of the quickstart notebook in JupyterLab")
    demo.add_argument("--html", metavar="PATH", help="write the demo as an offline page instead")
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


def _regions(text: str) -> int:
    try:
        return check_n_regions(_positive_int(text))
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


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


def parse_targets(text):
    """--targets / manifest targets: "all" or None -> None; "2,5" -> [2, 5]; else a word."""
    if text is None:
        return None
    if isinstance(text, list):
        return text
    if isinstance(text, int) and not isinstance(text, bool):
        return [text]
    if not isinstance(text, str):
        raise ValueError(f"targets must be all, token indices or a word, got {text!r}")
    stripped = text.strip()
    if stripped.lower() == "all":
        return None
    if re.fullmatch(r"\d+(\s*,\s*\d+)*", stripped):
        return [int(part) for part in stripped.split(",")]
    if not stripped:
        raise ValueError('targets is empty: give "all", token indices such as 2,5, or a word')
    return stripped


# -- explain -----------------------------------------------------------------------------------
def _explain(args, load: Loader) -> int:
    if (args.image is None) == (args.batch is None):
        raise UsageError("give either an IMAGE or --batch MANIFEST.jsonl")
    _check_served(args)
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {str(out)!r} is a file, expected a folder")
    if args.prompt is not None:  # the rule of every entry point, before the model loads
        try:
            resolve_prompt(args.prompt)
        except ValueError as error:
            raise UsageError(f"--prompt: {error}") from None
    if args.batch is not None:
        items = read_manifest(Path(args.batch))
        _check_writable(out, "--out")
        return _run_batch(items, args, load, out)
    image = _read_image(args.image)
    targets = parse_targets(args.targets)
    _check_writable(out, "--out")  # before the model loads and the search runs
    model = _load(load, args)
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
        raise UsageError(f"{option} {str(folder)!r} cannot be written: {_strip(error)}") from None


def _read_image(path) -> object:
    try:
        return to_rgb_array(Path(path))
    except (OSError, TypeError, ValueError) as error:
        raise ValueError(f"cannot read image {str(path)!r}: {_strip(error)}") from None


def _check_served(args) -> None:
    """The served-model options: complete for openai:URL, absent otherwise."""
    if not args.model.startswith(SERVED):
        if args.served_model or args.api_key_env:
            raise UsageError("--served-model and --api-key-env go with --model openai:URL")
        return
    if not args.served_model:
        raise UsageError("--model openai:URL needs --served-model NAME (the server's model name)")
    if args.api_key_env and not os.environ.get(args.api_key_env):
        raise UsageError(f"--api-key-env {args.api_key_env}: that variable is not set")


def _load(load: Loader, args):
    _say(f"loading model {args.model!r}...")
    began = time.perf_counter()
    if args.model.startswith(SERVED):  # a server: nothing to load, options of its own
        from .models import load_model as load_served

        model = load_served(
            args.model,
            model=args.served_model,
            api_key=os.environ.get(args.api_key_env) if args.api_key_env else None,
            concurrency=args.concurrency,
            max_requests=args.max_requests,
            # answers kept beside the results: a resumed batch does not pay for them again
            cache_file=Path(args.out) / ".served-cache.sqlite",
        )
    else:
        model = load(args.model, args.device, args.dtype)
    _say(f"model ready in {time.perf_counter() - began:.1f} s")
    return model


def _options(args) -> dict:
    return {
        "n_regions": args.regions,
        "search": args.search,
        "early_stop": args.early_stop,
        "max_new_tokens": args.max_new_tokens,
        "working_size": args.working_size,
    }


def explain_one(model, image, prompt, targets, **explainer_options) -> Explanation:
    """Generate, explain with a progress bar, and measure every token's reliance."""
    explainer = Explainer(model, **explainer_options)
    run = explainer.start(image, prompt=prompt, targets=targets)
    _say(f"caption: {run.generation.text.strip()!r}")
    cost = estimated_images(explainer.search, run.n_regions, **explainer.search_options)
    _say(f"{run.n_regions} regions, {explainer.search} search: about {cost:,} images")
    progress = Progress(run.total_steps)
    for _ in run:
        progress.update(run.images_scored)
    progress.close(run.images_scored)
    explanation = run.explanation()
    if explanation.n_targets < len(explanation.generation):  # colour the other tokens too
        explanation.generated_reliance = explainer.token_reliance(image, explanation.generation)
    return explanation


def write_outputs(explanation: Explanation, folder: Path) -> list[Path]:
    """result.json, result.npz, figure.png and explanation.html in `folder`."""
    from .export import explanation_to_html
    from .figures import explanation_figure

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "result.json").write_text(json.dumps(explanation.to_dict()), encoding="utf-8")
    explanation.save(folder / "result.npz")
    explanation_figure(explanation, path=folder / "figure.png", dpi=150)
    explanation_to_html(explanation, folder / "explanation.html")
    return [folder / name for name in OUTPUTS]


def summary_line(explanation: Explanation, where: Path) -> str:
    return (
        f"{explanation.generation.text.strip()!r} | {explanation.n_targets} of "
        f"{len(explanation.generation)} tokens, {explanation.n_regions} regions, "
        f"{explanation.search} | insertion AUC {explanation.insertion_auc:.3f}, deletion AUC "
        f"{explanation.deletion_auc:.3f} | {explanation.images_scored} images in "
        f"{explanation.seconds:.1f} s | {where}"
    )


# -- batches -----------------------------------------------------------------------------------
def read_manifest(path: Path) -> list[dict]:
    """Items of a JSON-lines manifest: {"image", "prompt"?, "targets"?, "id"?} per line.

    Relative image paths are relative to the manifest's folder. A line that is not a valid
    item becomes an item with an "error", so that the batch reports it and goes on.
    """
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise UsageError(f"cannot read manifest {str(path)!r}: {_strip(error)}") from None
    items: list[dict] = []
    seen: set[str] = set()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        item = {"line": number}
        try:
            entry = json.loads(line)
            if not isinstance(entry, dict) or not isinstance(entry.get("image"), str):
                raise ValueError('expected a JSON object with an "image" path')
            unknown = set(entry) - {"image", "prompt", "targets", "id"}
            if unknown:
                raise ValueError(f"unknown keys {sorted(unknown)}; use image, prompt, targets, id")
            image = Path(entry["image"])
            item["image"] = image if image.is_absolute() else path.parent / image
            item["prompt"] = entry.get("prompt")  # absent or null: --prompt
            if item["prompt"] is not None:
                if not isinstance(item["prompt"], str):
                    raise ValueError(f"prompt must be a string, got {item['prompt']!r}")
                resolve_prompt(item["prompt"])
            if "targets" in entry:  # absent: --targets; null: all
                item["targets"] = entry["targets"]
            item["id"] = _item_id(entry.get("id"), number, image)
        except ValueError as error:  # json.JSONDecodeError is a ValueError
            item["id"] = f"line{number:04d}"
            item["error"] = f"manifest line {number}: {_strip(error)}"
        if item["id"] in seen:
            item["error"] = f"manifest line {number}: id {item['id']!r} is used twice"
            item["id"] = f"line{number:04d}"
        seen.add(item["id"])
        items.append(item)
    if not items:
        raise UsageError(f"manifest {str(path)!r} has no items")
    return items


def _item_id(given, number: int, image: Path) -> str:
    if given is not None:
        if not isinstance(given, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", given):
            raise ValueError(f"id must be letters, digits, '.', '_' or '-', got {given!r}")
        return given
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", image.stem).strip("-") or "image"
    return f"{number:04d}-{stem}"


def _run_batch(items: list[dict], args, load: Loader, out: Path) -> int:
    """Explain every item not finished yet; a failing item is recorded and the batch goes on.

    An item is finished when out/ID holds result.json and an item.json equal to what the
    item asks now (image content, prompt, targets, model and options): an edited manifest
    shifts the ids of items without one, and a folder of another item must not count.
    Outputs are written to a hidden folder first and renamed into place, so a killed run
    leaves no half-written item.
    """
    for stale in out.glob(".*.partial"):
        shutil.rmtree(stale, ignore_errors=True)
    for item in items:
        item["asked"] = _asked(item, args)
    todo = [item for item in items if not _finished(out / item["id"], item["asked"])]
    skipped = len(items) - len(todo)
    _say(f"batch: {len(items)} items, {skipped} already done, {len(todo)} to explain")
    model = _load(load, args) if any("error" not in item for item in todo) else None
    failed = 0
    for count, item in enumerate(todo, start=1):
        _say(f"[{count}/{len(todo)}] {item['id']}")
        folder = out / item["id"]
        try:
            if "error" in item:
                raise ValueError(item["error"])
            image = _read_image(item["image"])
            targets = parse_targets(item.get("targets", args.targets))
            prompt = item["prompt"] or args.prompt
            explanation = explain_one(model, image, prompt, targets, **_options(args))
            partial = out / f".{item['id']}.partial"
            write_outputs(explanation, partial)
            (partial / "item.json").write_text(json.dumps(item["asked"]), encoding="utf-8")
            if folder.exists():  # an earlier try's error record, or another item's result
                shutil.rmtree(folder)
            partial.rename(folder)
            print(summary_line(explanation, folder), flush=True)
        except KeyboardInterrupt:
            raise
        except Exception as error:  # recorded; the batch goes on
            failed += 1
            message = _describe(error)
            _say(f"  failed: {message}")
            record = {"id": item["id"], "line": item["line"], "error": message}
            try:  # a folder left here is an earlier or another item's: not this one's result
                shutil.rmtree(folder, ignore_errors=True)
                folder.mkdir(parents=True, exist_ok=True)
                (folder / "error.json").write_text(json.dumps(record), encoding="utf-8")
            except OSError as unwritten:
                _say(f"  and its error record could not be written: {_strip(unwritten)}")
    done = len(items) - failed
    _write_summary(items, out)
    print(
        f"batch: {done} of {len(items)} done ({skipped} skipped as already done), "
        f"{failed} failed | {out / 'summary.json'}",
        flush=True,
    )
    return 1 if failed else 0


def _asked(item: dict, args) -> dict:
    """What an item asks for, as recorded next to its result (item.json)."""
    image = item.get("image")
    try:
        content = hashlib.sha256(Path(image).read_bytes()).hexdigest() if image else None
    except OSError:
        content = None  # unreadable: the item will fail and be recorded
    return {
        "image": str(image),
        "image_sha256": content,
        "prompt": item.get("prompt") or args.prompt,
        "targets": item.get("targets", args.targets),
        "model": args.model,
        **({"served_model": args.served_model} if args.served_model else {}),
        **_options(args),
    }


def _finished(folder: Path, asked: dict) -> bool:
    try:
        recorded = json.loads((folder / "item.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return recorded == asked and (folder / "result.json").exists()


def _write_summary(items: list[dict], out: Path) -> None:
    rows = []
    for item in items:
        folder = out / item["id"]
        row = {"id": item["id"], "line": item["line"], "image": str(item.get("image", ""))}
        if _finished(folder, item["asked"]):
            data = json.loads((folder / "result.json").read_text(encoding="utf-8"))
            row.update(
                status="done",
                caption=data["generation"]["text"],
                insertion_auc=data["insertion_auc"],
                deletion_auc=data["deletion_auc"],
                images_scored=data["images_scored"],
                seconds=data["seconds"],
            )
        else:
            error = folder / "error.json"
            message = json.loads(error.read_text())["error"] if error.exists() else "not run"
            row.update(status="failed", error=message)
        rows.append(row)
    (out / "summary.json").write_text(json.dumps(rows, indent=1), encoding="utf-8")


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
        _say(f"keeping your edited copy {notebook} (delete it to start from a fresh one)")
    _say(f"opening {notebook} in JupyterLab (Ctrl-C to stop)")
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
    evaluate.add_argument("--list", metavar="LIST", help="the items (the authors' JSON format)")
    evaluate.add_argument("--images", metavar="DIR", help="folder of the items' images")
    evaluate.add_argument("--report", metavar="RUN", help="only rebuild the report of a run")
    evaluate.add_argument("--regions", type=_positive_int, default=64, help="superpixels (64)")
    evaluate.add_argument("--search", choices=SEARCHES, default="greedy", help="search (greedy)")
    evaluate.add_argument("--early-stop", action="store_true", help="stop once curves settle")
    evaluate.add_argument("--fill", default="0", help="0..255, R,G,B, mean or blur (0: black)")
    evaluate.add_argument("--max-area", type=float, default=1.0, help="repope: most area removed")
    evaluate.add_argument("--items", metavar="A:B", help="only the list's items A to B-1")
    evaluate.add_argument("--limit", type=_positive_int, help="at most this many items")
    prepare = commands.add_parser("prepare", help="make a model's own list from annotations")
    prepare.add_argument("task", choices=list(TASKS), help="the benchmark")
    prepare.add_argument("--annotations", required=True, metavar="FILE", help="COCO JSON, csv, ...")
    prepare.add_argument("--images", required=True, metavar="DIR", help="folder of the images")
    prepare.add_argument("--limit", type=_positive_int, help="at most this many items")
    for command in (evaluate, prepare):
        command.add_argument("--prompt", default=None, help="replace the task's prompt/template")
        command.add_argument("--model", default="demo", help="demo (default), a hub id or a path")
        command.add_argument("--device", default=None, help="e.g. cpu, cuda, cuda:1, mps")
        command.add_argument("--dtype", default=None, help="e.g. float32, bfloat16, float16")
    evaluate.add_argument("--out", metavar="DIR", help="the run's folder")
    prepare.add_argument("--out", required=True, metavar="LIST", help="the list to write (.json)")


def _evaluate(args, load: Loader) -> int:
    from .benchmarks import EvaluationResult, Options, evaluate
    from .benchmarks import load as load_items
    from .benchmarks.runner import asked, finished_row
    from .benchmarks.tasks import check_images
    from .engine.masking import fill_image

    if args.report is not None:
        try:
            result = EvaluationResult.from_folder(Path(args.report))
        except ValueError as error:
            raise UsageError(f"--report: {_strip(error)}") from None
        result.save(Path(args.report))
        print(result.table() + result.summary(), flush=True)
        return 0
    if args.task is None or args.list is None or args.images is None or args.out is None:
        raise UsageError("give TASK --list LIST --images DIR --out DIR, or --report RUN")
    try:
        items = load_items(args.task, Path(args.list), Path(args.images), prompt=args.prompt)
        check_images(items, Path(args.images))
        fill = _parse_fill(args.fill)
        fill_image(np.zeros((1, 1, 3), np.uint8), fill)
    except ValueError as error:
        raise UsageError(_strip(error)) from None
    items = items[_parse_items(args.items)][: args.limit]
    if not items:
        raise UsageError(f"--items {args.items} selects no item of the list")
    if not 0 < args.max_area <= 1:
        raise UsageError(f"--max-area must be in (0, 1], got {args.max_area}")
    options = Options(
        n_regions=args.regions,
        search=args.search,
        early_stop=args.early_stop,
        fill=fill,
        max_area=args.max_area,
    )
    out = Path(args.out)
    _check_writable(out, "--out")  # before the model loads
    left = [
        item
        for item in items
        if item.error is None
        and finished_row(out / item.id, asked(item, args.model, options)) is None
    ]
    model = _load(load, args) if left else None
    result = evaluate(model, items, out=out, options=options, model_name=args.model)
    print(result.table() + result.summary() + f" | {out / 'table.md'}", flush=True)
    return 1 if result.counts["failed"] else 0


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
        raise UsageError(_strip(error)) from None
    _check_writable(out.parent if str(out.parent) else Path("."), "--out: folder")
    model = _load(load, args)
    entries = prepare(
        args.task, model, Path(args.annotations), Path(args.images), limit=args.limit,
        prompt=args.prompt, progress=_say,
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


# -- progress and messages -----------------------------------------------------------------------
class Progress:
    """A progress bar on stderr: steps, images scored, elapsed time and ETA.

    On a terminal, tqdm redraws one line that fits the terminal's width (`columns`, default:
    measured at each redraw) and blanks what a longer earlier line left behind; elsewhere
    (logs, CI) a plain line is printed every 10%.
    """

    # the figures first, the bar last: a narrow terminal shortens the bar, then cuts its end
    FORMAT = (
        "{desc} step {n_fmt}/{total_fmt} | {images} images | {elapsed} | ETA {remaining} |{bar}|"
    )

    def __init__(self, total: int, stream=None, columns: int | None = None):
        self.total = max(1, int(total))
        self.stream = stream or sys.stderr
        self.done = 0
        self.began = time.perf_counter()
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self._printed = -1
        self._bar = None
        if self.tty:
            self._bar = _Bar(
                total=self.total,
                file=self.stream,
                desc="explain",
                bar_format=self.FORMAT,
                ncols=columns,
                dynamic_ncols=columns is None,
            )

    def update(self, images: int) -> None:
        self.done = min(self.total, self.done + 1)
        if self._bar is not None:
            self._bar.images = images
            self._bar.update(1)
            return
        decile = self.done * 10 // self.total
        if decile > self._printed:
            self._printed = decile
            self.stream.write(self.line(images) + "\n")
            self.stream.flush()

    def close(self, images: int) -> None:
        if self._bar is not None:
            self._bar.images = images
            self._bar.close()  # draws the last state and ends the line
        elif self._printed < 10:
            self.stream.write(self.line(images) + "\n")
        self.stream.flush()

    def line(self, images: int) -> str:
        """The line as a log shows it (no terminal: a bar of fixed width)."""
        return _Bar.format_meter(
            self.done,
            self.total,
            time.perf_counter() - self.began,
            prefix="explain",
            bar_format=self.FORMAT,
            images=images,
        )


class _Bar(tqdm):
    """tqdm with the images scored as a field of the line."""

    images = 0

    @property
    def format_dict(self):
        return {**super().format_dict, "images": self.images}


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _warn(message, category, filename, lineno, file=None, line=None) -> None:
    _say(f"{PROG}: warning: {' '.join(str(message).split())}")


def _strip(error: BaseException) -> str:
    return " ".join(str(error).split()) or type(error).__name__


def _describe(error: BaseException) -> str:
    if isinstance(error, (ValueError, TypeError, OSError)):
        return _strip(error)
    return f"{type(error).__name__}: {_strip(error)}"


if __name__ == "__main__":
    sys.exit(main())
