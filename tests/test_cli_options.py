"""Small things of the command line a new user missed, and options that behave alike
(issue 23, section 2, rows 15 and 11)."""

from __future__ import annotations

import json
import re

import pytest
from PIL import Image
from widget_models import caption_model, scene

import eagle_widget as ew
from eagle_widget import cli

CELL = 16
FAST = ["--regions", "16", "--search", "greedy"]


def load(spec, device, dtype):
    return caption_model(cell=CELL)


def run(argv, capsys, loader=load):
    code = cli.main([str(a) for a in argv], load=loader)
    out, err = capsys.readouterr()
    return code, out, err


def test_version_prints_the_packages_version(capsys):
    code, out, err = run(["--version"], capsys)
    assert (code, out, err) == (0, f"eagle-widget {ew.__version__}\n", "")


def test_explain_without_out_writes_a_documented_folder_named_after_the_image(
    tmp_path, monkeypatch, capsys
):
    monkeypatch.chdir(tmp_path)
    Image.fromarray(scene(cell=CELL)).save(tmp_path / "my photo.png")
    code, out, err = run(["explain", "my photo.png", *FAST], capsys)
    assert code == 0, err
    folder = tmp_path / cli.DEFAULT_OUT / "my photo"
    assert sorted(p.name for p in folder.iterdir()) == sorted(cli.OUTPUTS)
    assert out.rstrip().endswith(f"| {cli.DEFAULT_OUT / 'my photo'}")
    assert json.loads((folder / "result.json").read_text())["generation"]["text"]
    (tmp_path / "items.jsonl").write_text('{"image": "my photo.png", "id": "a"}\n')
    code, out, err = run(["explain", "--batch", "items.jsonl", *FAST], capsys)
    assert code == 0, err
    assert (tmp_path / cli.DEFAULT_OUT / "items" / "a" / "result.json").is_file()
    help_text = cli._parser()._subparsers._group_actions[0].choices["explain"].format_help()
    assert f"default {cli.DEFAULT_OUT}/NAME" in " ".join(help_text.split())


# -- row 11: options that behave alike ------------------------------------------------------------
def never_load(spec, device, dtype):
    raise AssertionError("the model must not load for options that can be refused before")


@pytest.mark.parametrize(
    "options, flags",
    [
        (["--concurrency", "4"], "--concurrency goes"),
        (["--max-requests", "9"], "--max-requests goes"),
        (["--served-model", "m"], "--served-model goes"),
        (["--served-model", "m", "--concurrency", "4"], "--served-model and --concurrency go"),
    ],
)
def test_served_options_without_a_served_model_are_all_refused_alike(
    options, flags, tmp_path, capsys
):
    Image.fromarray(scene(cell=CELL)).save(tmp_path / "scene.png")
    argv = ["explain", tmp_path / "scene.png", *options, "--out", tmp_path / "out"]
    code, out, err = run(argv, capsys, never_load)
    assert code == 2 and f"{flags} with --model openai:URL" in err, err


def test_demo_html_creates_missing_folders_as_prepare_out_does(tmp_path, capsys):
    page = tmp_path / "new" / "nested" / "demo.html"
    code, out, err = run(["demo", "--html", page], capsys)
    assert code == 0, err
    assert "eagle-state" in page.read_text() and str(page) in out


def test_evaluate_takes_its_options_as_keywords_or_one_options_object():
    from eagle_widget.benchmarks import Options, evaluate

    with pytest.raises(TypeError, match=r"unknown options \['regions'\]; they are: n_regions"):
        evaluate(None, [], regions=8)
    with pytest.raises(ValueError, match="n_regions.*or as options=Options.*not both"):
        evaluate(None, [], options=Options(), n_regions=8)


# -- row 6: a bound that is a bound ---------------------------------------------------------------
def test_the_announced_image_count_is_an_estimate_with_a_bound_the_run_keeps(tmp_path, capsys):
    Image.fromarray(scene(cell=CELL)).save(tmp_path / "scene.png")
    argv = ["explain", tmp_path / "scene.png", "--regions", "16", "--search", "lazy"]
    code, out, err = run([*argv, "--out", tmp_path / "out"], capsys)
    assert code == 0, err
    line = next(x for x in err.splitlines() if "lazy search: about" in x)
    assert "at most about" not in line and "fewer if it stops early" in line
    bound = int(re.search(r"\(at most ([\d,]+)\)", line).group(1).replace(",", ""))
    saved = json.loads((tmp_path / "out" / "result.json").read_text())
    assert 0 < saved["images_scored"] <= bound
