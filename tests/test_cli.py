"""The eagle-widget command line: outputs, targets, errors, batches, resume, demo."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from widget_models import RED, blocks, caption_model, scene

import eagle_widget as ew
from eagle_widget import cli

TESTS = Path(__file__).resolve().parent
CELL = 16
IMAGE = scene(cell=CELL)
FAST = ["--regions", "16", "--search", "greedy"]


def load(spec, device, dtype):
    """The injected loader: the synthetic captioning model, whatever --model says."""
    assert spec == "demo" and device is None and dtype is None
    return caption_model(cell=CELL)


@pytest.fixture
def image_file(tmp_path):
    path = tmp_path / "scene.png"
    Image.fromarray(IMAGE).save(path)
    return path


def run(argv, capsys, loader=load):
    code = cli.main([str(a) for a in argv], load=loader)
    out, err = capsys.readouterr()
    return code, out, err


def test_explain_writes_the_four_outputs_with_a_progress_bar_and_summary(
    image_file, tmp_path, capsys
):
    out_dir = tmp_path / "out"
    code, out, err = run(["explain", image_file, "--out", out_dir, *FAST], capsys)
    assert code == 0, err
    assert sorted(p.name for p in out_dir.iterdir()) == sorted(cli.OUTPUTS)
    saved = ew.Explanation.load(out_dir / "result.npz")
    data = json.loads((out_dir / "result.json").read_text())
    assert data["order"] == saved.order and data["positions"] == list(range(6))
    assert data["insertion_auc"] == pytest.approx(saved.insertion_auc)
    assert np.array_equal(saved.image, IMAGE)
    with Image.open(out_dir / "figure.png") as figure:
        assert figure.size[0] == round(7.0 * 150)
    html = (out_dir / "explanation.html").read_text()
    assert "http://" not in html and "https://" not in html
    # one summary line on stdout: caption, AUCs, images, seconds
    lines = out.strip().splitlines()
    assert len(lines) == 1
    assert "'A red square on blue.'" in lines[0]
    assert f"insertion AUC {saved.insertion_auc:.3f}" in lines[0]
    assert f"{saved.images_scored} images" in lines[0]
    # progress on stderr: steps, images scored, ETA
    assert "step 16/16" in err and f"| {saved.images_scored} images |" in err
    assert "ETA" in err


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def terminal_rows(text: str, columns: int) -> list[tuple[str, str]]:
    """(what was drawn, what the row then shows) for each redraw, as a terminal shows it."""
    rows, row = [], []
    for draw in re.split(r"(\r|\n)", text):
        if draw == "\n":
            row = []
        elif draw and draw != "\r":
            assert len(draw) <= columns, f"{draw!r} is wider than {columns} columns: it wraps"
            row[: len(draw)] = draw  # overwrites from the first column, keeps what is past it
            rows.append((draw.rstrip(), "".join(row).rstrip()))
    return rows


def test_progress_on_a_terminal_fits_its_width_and_leaves_no_stale_characters(monkeypatch):
    now = [0.0]
    monkeypatch.setattr("tqdm.std.time", lambda: now[0])
    terminal = Terminal()
    progress = cli.Progress(100, terminal, columns=60)
    for step in range(1, 101):  # a slow first step, then fast ones: the ETA gets shorter
        now[0] = 4000.0 + step
        progress.update(10 * step)
    progress.close(1000)
    rows = terminal_rows(terminal.getvalue(), 60)
    assert len(rows) > 50
    assert [shown for _, shown in rows] == [drawn for drawn, _ in rows]
    etas = [re.search(r"ETA (\S+)", drawn).group(1) for drawn, _ in rows[1:]]
    assert len(etas[0]) > len(etas[-1])  # a shorter line did redraw over a longer one
    assert rows[-1][0].startswith("explain step 100/100 | 1000 images |")
    assert terminal.getvalue().endswith("\n")


def test_a_models_warning_is_one_line_of_the_command(image_file, tmp_path, capsys):
    class Noting:  # like the demo model on a photo: warns once, then answers
        def __init__(self):
            self.model = caption_model(cell=CELL)

        def generate(self, image, prompt, max_new_tokens=64):
            warnings.warn("the demo model only knows\ngenerated scenes", UserWarning, stacklevel=2)
            return self.model.generate(image, prompt, max_new_tokens)

        def token_probs(self, images, generation, positions, token_ids=None):
            return self.model.token_probs(images, generation, positions, token_ids)

    code, _, err = run(
        ["explain", image_file, "--out", tmp_path, *FAST], capsys, loader=lambda *a: Noting()
    )
    assert code == 0, err
    assert "eagle-widget: warning: the demo model only knows generated scenes\n" in err
    assert "warnings.warn" not in err and ".py:" not in err


@pytest.mark.parametrize(
    "targets, positions",
    [("all", [0, 1, 2, 3, 4, 5]), ("1,2", [1, 2]), ("4", [4]), ("red", [1]), ("square", [2])],
)
def test_targets_option(targets, positions, image_file, tmp_path, capsys):
    code, _, err = run(
        ["explain", image_file, "--targets", targets, "--out", tmp_path, *FAST], capsys
    )
    assert code == 0, err
    assert json.loads((tmp_path / "result.json").read_text())["positions"] == positions


def test_word_level_result_keeps_every_tokens_reliance_and_finds_the_evidence(
    image_file, tmp_path, capsys
):
    code, _, err = run(
        ["explain", image_file, "--targets", "red", "--out", tmp_path, *FAST], capsys
    )
    assert code == 0, err
    saved = ew.Explanation.load(tmp_path / "result.npz")
    rank = saved.attribution_map("rank")
    assert set(np.unique(blocks(cell=CELL)[rank == 1.0])) == {RED}
    prior, visual = saved.generated_reliance
    assert prior == pytest.approx([0.9, 0.1, 0.05, 0.6, 0.2, 0.95])
    assert visual[1] == pytest.approx(0.8)


def test_model_options_reach_the_loader(image_file, tmp_path, capsys):
    seen = []

    def loader(spec, device, dtype):
        seen.append((spec, device, dtype))
        return caption_model(cell=CELL)

    argv = ["explain", image_file, "--model", "org/some-vlm", "--device", "cpu", "--dtype",
            "float32", "--out", tmp_path, *FAST]  # fmt: skip
    assert run(argv, capsys, loader)[0] == 0
    assert seen == [("org/some-vlm", "cpu", "float32")]


@pytest.mark.parametrize(
    "argv, code, message",
    [
        (["explain", "{missing}", "--out", "{out}"], 1, "cannot read image"),
        (["explain", "{broken}", "--out", "{out}"], 1, "cannot read image"),
        (["explain", "{image}", "--out", "{out}", "--regions", "0"], 2, "--regions"),
        (["explain", "{image}", "--out", "{out}", "--regions", "many"], 2, "--regions"),
        (["explain", "{image}", "--out", "{out}", "--search", "fast"], 2, "--search"),
        (["explain", "{image}", "--out", "{out}", "--targets", "circle"], 1, "'circle' does not"),
        (["explain", "{image}", "--out", "{out}", "--targets", "9"], 1, "out of range"),
        (["explain", "--out", "{out}"], 2, "either an IMAGE or --batch"),
        (["explain", "{image}", "--batch", "{image}", "--out", "{out}"], 2, "either an IMAGE"),
        (["explain", "{image}", "--out", "{image}"], 2, "is a file"),
        (["explain", "--batch", "{missing}", "--out", "{out}"], 2, "cannot read manifest"),
        (["frobnicate"], 2, "invalid choice"),
        ([], 2, "choose a command"),
    ],
)
def test_bad_input_is_one_line_and_a_nonzero_exit(
    argv, code, message, image_file, tmp_path, capsys
):
    broken = tmp_path / "broken.png"
    broken.write_text("not an image")
    paths = {"missing": tmp_path / "nope.png", "broken": broken, "image": image_file,
             "out": tmp_path / "out"}  # fmt: skip
    argv = [a.format(**paths) for a in argv]
    got, out, err = run([*argv, *(FAST if argv and argv[0] == "explain" else [])], capsys)
    assert got == code
    lines = [line for line in err.splitlines() if line.startswith("eagle-widget: error")]
    assert len(lines) == 1 and message in lines[0], err
    assert "Traceback" not in err and out == ""


def test_the_installed_command_fails_in_one_line(tmp_path):
    script = Path(sys.executable).with_name("eagle-widget")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "eagle_widget.cli"]
    result = subprocess.run(
        [*command, "explain", str(tmp_path / "nope.jpg"), "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"eagle-widget: error: cannot read image '{tmp_path / 'nope.jpg'}': file not found"
    ]  # the path said once (issue 23 s2 row 10)


# -- batches -------------------------------------------------------------------------------------
def write_manifest(folder: Path, lines: list) -> Path:
    manifest = folder / "manifest.jsonl"
    manifest.write_text("\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines) + "\n")
    return manifest


def test_batch_records_failures_goes_on_and_resumes(image_file, tmp_path, capsys):
    (tmp_path / "imgs").mkdir()
    Image.fromarray(IMAGE).save(tmp_path / "imgs" / "a.png")
    manifest = write_manifest(
        tmp_path,
        [
            {"image": "imgs/a.png", "targets": "red", "id": "red"},
            {"image": "imgs/missing.png"},
            "{not json",
            {"image": str(image_file), "prompt": "Describe the image.", "targets": [4]},
        ],
    )
    out = tmp_path / "out"
    code, stdout, err = run(["explain", "--batch", manifest, "--out", out, *FAST], capsys)
    assert code == 1  # some items failed
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["red", "0002-missing", "line0003", "0004-scene", "run.json", "summary.json"]
    )
    assert json.loads((out / "red" / "result.json").read_text())["positions"] == [1]
    assert json.loads((out / "0004-scene" / "result.json").read_text())["positions"] == [4]
    missing = json.loads((out / "0002-missing" / "error.json").read_text())
    assert "cannot read image" in missing["error"] and missing["line"] == 2
    assert "manifest line 3" in json.loads((out / "line0003" / "error.json").read_text())["error"]
    summary = {row["id"]: row for row in json.loads((out / "summary.json").read_text())}
    assert [summary[k]["status"] for k in ("red", "0002-missing", "line0003", "0004-scene")] == [
        "done", "failed", "failed", "done",
    ]  # fmt: skip
    assert "batch: 2 of 4 done (0 skipped as already done), 2 failed" in stdout

    # rerun: finished items are skipped untouched, failed ones are tried again
    stamp = (out / "red" / "result.npz").stat().st_mtime_ns
    Image.fromarray(IMAGE).save(tmp_path / "imgs" / "missing.png")
    code, stdout, err = run(["explain", "--batch", manifest, "--out", out, *FAST], capsys)
    assert "4 items, 2 already done, 2 to explain" in err
    assert (out / "red" / "result.npz").stat().st_mtime_ns == stamp
    assert (out / "0002-missing" / "result.json").exists()
    assert not (out / "0002-missing" / "error.json").exists()
    assert "batch: 3 of 4 done (2 skipped as already done), 1 failed" in stdout
    assert code == 1


def test_an_edited_manifest_never_reuses_another_items_result(image_file, tmp_path, capsys):
    # ids of items without one follow their line: inserting a line shifts them, and the
    # folder 0001-scene then holds the result of what used to be line 1
    lines = [
        {"image": str(image_file), "targets": "red"},
        {"image": str(image_file), "targets": [4]},
    ]
    out = tmp_path / "out"
    manifest = write_manifest(tmp_path, lines)
    assert run(["explain", "--batch", manifest, "--out", out, *FAST], capsys)[0] == 0
    write_manifest(tmp_path, [{"image": str(image_file), "targets": "square"}, *lines])
    code, stdout, err = run(["explain", "--batch", manifest, "--out", out, *FAST], capsys)
    assert code == 0 and "3 items, 0 already done, 3 to explain" in err
    for folder, positions in (("0001-scene", [2]), ("0002-scene", [1]), ("0003-scene", [4])):
        assert json.loads((out / folder / "result.json").read_text())["positions"] == positions
    # unchanged since: all three are reused
    assert "3 already done" in run(["explain", "--batch", manifest, "--out", out, *FAST], capsys)[2]


def counting_loader(calls: list):
    def loader(spec, device, dtype):
        calls.append(spec)
        return load(spec, device, dtype)

    return loader


def test_a_batch_resumes_by_the_images_content_from_any_folder(tmp_path, monkeypatch, capsys):
    (tmp_path / "imgs").mkdir()
    (tmp_path / "elsewhere").mkdir()
    Image.fromarray(IMAGE).save(tmp_path / "imgs" / "a.png")
    Image.fromarray(IMAGE[::-1].copy()).save(tmp_path / "imgs" / "b.png")
    write_manifest(
        tmp_path, [{"image": "imgs/a.png", "id": "a"}, {"image": "imgs/b.png", "id": "b"}]
    )
    out = tmp_path / "out"
    calls = []
    monkeypatch.chdir(tmp_path)
    argv = ["explain", "--batch", "manifest.jsonl", "--out", out, *FAST]
    assert run(argv, capsys, counting_loader(calls))[0] == 0 and calls == ["demo"]
    stamps = {name: (out / name / "result.npz").stat().st_mtime_ns for name in "ab"}
    # the same images through other path strings: nothing runs, no model loads
    monkeypatch.chdir(tmp_path / "elsewhere")
    for manifest in ("../manifest.jsonl", tmp_path / "manifest.jsonl"):
        argv = ["explain", "--batch", manifest, "--out", out, *FAST]
        code, stdout, err = run(argv, capsys, counting_loader(calls))
        assert code == 0 and "2 items, 2 already done, 0 to explain" in err, err
        assert calls == ["demo"]
    assert {name: (out / name / "result.npz").stat().st_mtime_ns for name in "ab"} == stamps
    # a changed image under the same path is explained again, the other one is not
    Image.fromarray(IMAGE[:, ::-1].copy()).save(tmp_path / "imgs" / "a.png")
    code, stdout, err = run(argv, capsys, counting_loader(calls))
    assert code == 0 and "2 items, 1 already done, 1 to explain" in err, err
    assert calls == ["demo", "demo"]
    assert (out / "a" / "result.npz").stat().st_mtime_ns != stamps["a"]
    assert (out / "b" / "result.npz").stat().st_mtime_ns == stamps["b"]
    saved = ew.Explanation.load(out / "a" / "result.npz")
    assert np.array_equal(saved.image, IMAGE[:, ::-1])


@pytest.mark.parametrize(
    "extra, named",
    [(["--regions", "9", "--search", "greedy"], "--regions 16 there, 9 now"),
     (["--regions", "16", "--search", "lazy"], "--search 'greedy' there, 'lazy' now"),
     ([*FAST, "--prompt", "What is red?"], "--prompt none there, 'What is red?' now")],
)  # fmt: skip
def test_a_batch_into_a_folder_of_other_options_is_refused_before_the_model_loads(
    extra, named, image_file, tmp_path, capsys
):
    manifest = write_manifest(tmp_path, [{"image": str(image_file), "id": "x"}])
    out = tmp_path / "out"
    assert run(["explain", "--batch", manifest, "--out", out, *FAST], capsys)[0] == 0
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    code, stdout, err = run(
        ["explain", "--batch", manifest, "--out", out, *extra], capsys, refusing_loader
    )
    assert code == 2 and stdout == ""
    assert err.count("\n") == 1 and err.startswith("eagle-widget: error: --out"), err
    assert named in err and "give another --out for this run" in err
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before


def refusing_loader(spec, device, dtype):
    raise AssertionError("the model was loaded although the command was refused")


def test_an_unwritable_output_is_refused_before_the_model_loads(image_file, tmp_path, capsys):
    def loader(spec, device, dtype):
        raise AssertionError("the model was loaded although the output cannot be written")

    for argv in (["explain", image_file], ["explain", "--batch", write_manifest(tmp_path, [
            {"image": str(image_file)}])]):  # fmt: skip
        code, _, err = run([*argv, "--out", image_file / "sub", *FAST], capsys, loader)
        assert code == 2 and "--out" in err and "cannot be written" in err, err
    (tmp_path / "page.html").mkdir()
    code, _, err = run(["demo", "--html", tmp_path / "page.html"], capsys, loader)
    assert code == 2 and "is a folder" in err


def test_a_model_folder_that_does_not_exist_is_named(image_file, tmp_path, capsys):
    argv = ["explain", image_file, "--model", "./no_such_model", "--out", tmp_path / "o"]
    code, _, err = run(argv, capsys, cli.load_model)
    assert code == 1 and "model folder './no_such_model' does not exist" in err, err


def test_manifest_items_are_checked(tmp_path, capsys):
    manifest = write_manifest(
        tmp_path,
        [{"image": "a.png", "id": "x"}, {"image": "b.png", "id": "x"}, {"img": "c.png"},
         {"image": "d.png", "colour": "red"}, {"image": "e.png", "id": "../up"}],
    )  # fmt: skip
    items = cli.read_manifest(manifest)
    errors = [item.get("error", "") for item in items]
    assert errors[0] == ""
    assert "used twice" in errors[1]
    assert '"image" path' in errors[2]
    assert "unknown keys ['colour']" in errors[3]
    assert "id must be" in errors[4]
    assert items[0]["image"] == tmp_path / "a.png"  # relative to the manifest
    empty = write_manifest(tmp_path, [""])
    code, _, err = run(["explain", "--batch", empty, "--out", tmp_path / "o"], capsys)
    assert code == 2 and "has no items" in err


DRIVER = """\
import sys
sys.path.insert(0, {tests!r})
from widget_models import caption_model
from eagle_widget.cli import main
sys.exit(main(sys.argv[1:], load=lambda *a: caption_model(cell=16, delay=0.03)))
"""


def kill_after_first_item(command: list[str], env: dict, first: Path, seconds: float) -> None:
    """Run a batch command, SIGKILL it as soon as `first` is written (a hard crash mid-batch)."""
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    try:
        deadline = time.monotonic() + seconds
        while not first.exists():
            assert proc.poll() is None, proc.stderr.read().decode()
            assert time.monotonic() < deadline, "the first item did not finish"
            time.sleep(0.05)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=30)


def test_a_killed_batch_resumes_where_it_stopped(image_file, tmp_path):
    manifest = write_manifest(
        tmp_path, [{"image": str(image_file), "id": f"item{i}", "targets": [i]} for i in range(4)]
    )
    out = tmp_path / "out"
    driver = tmp_path / "driver.py"
    driver.write_text(DRIVER.format(tests=str(TESTS)))
    command = [sys.executable, str(driver), "explain", "--batch", str(manifest), "--out",
               str(out), *FAST]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    kill_after_first_item(command, env, out / "item0" / "result.json", 120)
    done_before = {p.name for p in out.iterdir() if (p / "result.json").exists()}
    assert "item0" in done_before and len(done_before) < 4
    stamp = (out / "item0" / "result.npz").stat().st_mtime_ns
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr
    assert f"{len(done_before)} already done, {4 - len(done_before)} to explain" in result.stderr
    assert (out / "item0" / "result.npz").stat().st_mtime_ns == stamp
    assert sorted(p.name for p in out.iterdir()) == [
        "item0", "item1", "item2", "item3", "run.json", "summary.json"
    ]  # no half-written folder is left behind  # fmt: skip
    for i in range(4):
        assert json.loads((out / f"item{i}" / "result.json").read_text())["positions"] == [i]


# -- demo ----------------------------------------------------------------------------------------
def test_demo_opens_a_copy_of_the_quickstart_and_leaves_the_repository_clean(
    tmp_path, monkeypatch, capsys
):
    shipped = cli.QUICKSTART.read_bytes()
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    calls = []
    launch = lambda command, cwd: calls.append((command, cwd)) or 0
    assert cli.main(["demo"], launch=launch) == 0
    [(command, cwd)] = calls
    folder = tmp_path / "data" / "eagle-widget" / "demo"  # the default: a user data folder
    assert command[:5] == [sys.executable, "-m", "jupyter", "lab", "01-quickstart.ipynb"]
    assert cwd == str(folder) and (folder / "01-quickstart.ipynb").read_bytes() == shipped
    assert ("--allow-root" in command) == (os.geteuid() == 0)
    assert str(folder / "01-quickstart.ipynb") in capsys.readouterr().err  # says where
    # JupyterLab autosaves outputs into the copy; the shipped notebook stays as committed
    copy = folder / "01-quickstart.ipynb"
    with_outputs = json.loads(shipped)
    code = [c for c in with_outputs["cells"] if c["cell_type"] == "code"]
    code[0]["outputs"] = [{"output_type": "stream", "name": "stdout", "text": "ran\n"}]
    copy.write_text(json.dumps(with_outputs))
    assert cli.main(["demo"], launch=launch) == 0
    assert cli.QUICKSTART.read_bytes() == shipped
    assert copy.read_bytes() == shipped  # unchanged code: a fresh copy
    # code the user edited is theirs: kept, and said so
    code[0]["source"] = "print('mine')"
    copy.write_text(json.dumps(with_outputs))
    assert cli.main(["demo", "--dir", str(folder)], launch=launch) == 0
    assert "print('mine')" in copy.read_text() and "keeping your edited copy" in (
        capsys.readouterr().err
    )
    assert cli.main(["demo", "--dir", str(copy)], launch=launch) == 2  # a file, not a folder
    monkeypatch.setattr(cli, "QUICKSTART", tmp_path / "gone.ipynb")
    code = cli.main(["demo"], launch=lambda *a, **k: pytest.fail("launched without a notebook"))
    err = capsys.readouterr().err
    assert code == 1 and "--html" in err.splitlines()[-1]


def test_demo_script_installs_once_and_again_only_when_what_it_installs_changes(tmp_path):
    repo = tmp_path / "repo"  # the script and what it hashes, with a venv that logs its calls
    (repo / "scripts").mkdir(parents=True)
    shutil.copy(TESTS.parent / "scripts" / "demo.sh", repo / "scripts")
    shutil.copy(TESTS.parent / "pyproject.toml", repo)
    venv = repo / ".venv" / "bin"
    venv.mkdir(parents=True)
    (venv / "python").symlink_to(sys.executable)
    log = tmp_path / "calls.log"
    for name in ("pip", "eagle-widget"):
        (venv / name).write_text(f'#!/bin/sh\necho "{name} $*" >> "{log}"\n')
        (venv / name).chmod(0o755)

    def demo_sh() -> list[str]:
        log.write_text("")
        done = subprocess.run(
            ["bash", str(repo / "scripts" / "demo.sh"), "--html", "demo.html"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        return [line.split()[0] for line in log.read_text().splitlines()]

    assert demo_sh() == ["pip", "pip", "eagle-widget"]
    assert demo_sh() == ["eagle-widget"]  # installed and unchanged: straight to the demo
    with (repo / "pyproject.toml").open("a") as pyproject:
        pyproject.write("# a new dependency\n")
    assert demo_sh() == ["pip", "pip", "eagle-widget"]
    assert demo_sh() == ["eagle-widget"]


def test_the_quickstart_notebook_ships_with_the_repository():
    assert cli.QUICKSTART.is_file()


def test_demo_html_writes_an_offline_page_of_a_generated_scene(tmp_path, capsys):
    page = tmp_path / "demo.html"
    code = cli.main(["demo", "--html", str(page)], load=load)
    out, err = capsys.readouterr()
    assert code == 0, err
    text = page.read_text()
    assert "http://" not in text and "https://" not in text
    assert "eagle-state" in text and str(page) in out
    code = cli.main(["demo", "--html", str(tmp_path / "demo.txt")], load=load)
    assert code == 2 and ".html" in capsys.readouterr().err


# -- end to end on the embedded demo model, through the installed command ------------------------
def _demo_model_built() -> bool:
    try:
        from eagle_widget.models.demo import WEIGHTS_DIR
    except ImportError:
        return False
    return Path(WEIGHTS_DIR).is_dir()


needs_demo = pytest.mark.skipif(not _demo_model_built(), reason="the demo model is not built yet")


def command_line() -> list[str]:
    script = Path(sys.executable).with_name("eagle-widget")
    return [str(script)] if script.exists() else [sys.executable, "-m", "eagle_widget.cli"]


DEMO_ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


@pytest.fixture(scope="module")
def demo_scenes(tmp_path_factory):
    """Single-object scenes with their masks, saved as PNG files."""
    from eagle_widget.models.demo.scenes import make_scene

    folder = tmp_path_factory.mktemp("scenes")
    scenes = {}
    for i, pair in enumerate([("red", "circle"), ("blue", "square"), ("green", "triangle")]):
        scene_ = make_scene(10 + i, objects=[pair])
        Image.fromarray(scene_.image).save(folder / f"{pair[1]}.png")
        scenes[pair[1]] = scene_
    return folder, scenes


@needs_demo
@pytest.mark.slow
def test_demo_model_single_image_end_to_end(demo_scenes, tmp_path):
    folder, scenes = demo_scenes
    out = tmp_path / "circle"
    result = subprocess.run(
        [*command_line(), "explain", str(folder / "circle.png"), "--model", "demo",
         "--targets", "circle", "--regions", "24", "--out", str(out)],
        capture_output=True, text=True, env=DEMO_ENV, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in out.iterdir()) == sorted(cli.OUTPUTS)
    saved = ew.Explanation.load(out / "result.npz")
    model = ew.load_demo_model()
    assert (
        saved.generation.text
        == model.generate(scenes["circle"].image, saved.generation.prompt).text
    )
    assert saved.generation.text.strip() in result.stdout and "step 24/24" not in result.stdout
    assert f"step {saved.n_regions}/{saved.n_regions}" in result.stderr
    # ground truth: the region ranked first for "circle" lies on the circle
    top = saved.labels == saved.order[0]
    assert (top & scenes["circle"].objects[0].mask).any()


@needs_demo
@pytest.mark.slow
def test_demo_model_batch_killed_and_resumed(demo_scenes, tmp_path):
    folder, _ = demo_scenes
    manifest = write_manifest(
        tmp_path,
        [{"image": str(folder / f"{s}.png"), "id": s} for s in ("circle", "square", "triangle")],
    )
    out = tmp_path / "out"
    command = [*command_line(), "explain", "--batch", str(manifest), "--model", "demo",
               "--regions", "24", "--out", str(out)]  # fmt: skip
    kill_after_first_item(command, DEMO_ENV, out / "circle" / "result.json", 300)
    finished = {p.name for p in out.iterdir() if (p / "result.json").exists()}
    assert "circle" in finished and len(finished) < 3
    stamp = (out / "circle" / "result.npz").stat().st_mtime_ns
    result = subprocess.run(command, capture_output=True, text=True, env=DEMO_ENV, timeout=600)
    assert result.returncode == 0, result.stderr
    assert f"{len(finished)} already done" in result.stderr
    assert (out / "circle" / "result.npz").stat().st_mtime_ns == stamp
    summary = json.loads((out / "summary.json").read_text())
    assert [row["status"] for row in summary] == ["done"] * 3


@needs_demo
@pytest.mark.slow
def test_demo_html_page_with_the_demo_model(tmp_path):
    page = tmp_path / "demo.html"
    result = subprocess.run(
        [*command_line(), "demo", "--html", str(page)],
        capture_output=True, text=True, env=DEMO_ENV, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    text = page.read_text()
    assert "http://" not in text and "https://" not in text
    state = json.loads(re.search(r'id="eagle-state">(.*?)</script>', text, re.S).group(1))
    assert "".join(state["tokens"]).strip() in result.stdout


@pytest.mark.slow
def test_a_local_transformers_checkpoint_end_to_end(image_file, tmp_path):
    """--model PATH through the real loader and adapter (a tiny random LLaVA saved here)."""
    tiny_models = pytest.importorskip("tiny_models")
    folder = tiny_models.save("llava", tmp_path / "llava")
    out = tmp_path / "out"
    result = subprocess.run(
        [*command_line(), "explain", str(image_file), "--model", folder, "--device", "cpu",
         "--dtype", "float32", "--regions", "8", "--max-new-tokens", "4", "--out", str(out)],
        capture_output=True, text=True, env=DEMO_ENV, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    saved = ew.Explanation.load(out / "result.npz")
    assert len(saved.generation) == saved.n_targets >= 1
    assert f"step {saved.n_regions}/{saved.n_regions}" in result.stderr
    assert json.loads((out / "result.json").read_text())["order"] == saved.order
    assert result.stdout.count("\n") == 1 and "insertion AUC" in result.stdout


@pytest.mark.parametrize(
    "flags, expected", [([], 0.01), (["--no-early-stop"], None), (["--early-stop"], 0.01)]
)
def test_lazy_stops_early_unless_told_not_to(image_file, tmp_path, capsys, flags, expected):
    out_dir = tmp_path / "out"
    argv = ["explain", image_file, "--out", out_dir, "--regions", "16", *flags]
    code, _, err = run(argv, capsys)
    assert code == 0, err
    assert ew.Explanation.load(out_dir / "result.npz").extras.get("early_stop") == expected
