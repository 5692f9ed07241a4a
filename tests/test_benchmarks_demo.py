"""`prepare` and `evaluate` end to end on the demo model, against the scenes' ground truth.

One generated dataset (tests/benchmark_data.py) serves every test: `prepare` builds the four
lists from its annotation files through the command line, `evaluate` runs each list (16
regions, lazy search: a few seconds per item), and the tests check the lists, the tables
(against metrics recomputed here from the saved curves), resuming, failing items and bad
arguments.
"""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import torch
from benchmark_data import CAPTION_PROMPT, QUESTION_TEMPLATE, run_cli, write_dataset

import eagle_widget as ew
from eagle_widget.benchmarks import EvaluationResult
from eagle_widget.benchmarks.report import COLUMNS
from eagle_widget.engine import Explanation
from eagle_widget.models.demo.scenes import SHAPES

N = 8  # scenes, and RePOPE hallucinations
REGIONS = "16"
# task -> (annotation file, image folder, prompt) in the dataset
SOURCES = {
    "coco-caption": ("captions", "images", CAPTION_PROMPT),
    "coco-object": ("instances", "images", CAPTION_PROMPT),
    "mmvp": ("mmvp", "mmvp_images", QUESTION_TEMPLATE),
    "repope": ("repope", "pope_images", QUESTION_TEMPLATE),
}


@pytest.fixture(scope="module")
def demo():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a tiny model: more threads only contend on a loaded machine
    yield ew.load_demo_model()
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def data(demo, tmp_path_factory):
    return write_dataset(tmp_path_factory.mktemp("bench-data"), demo, N)


run = run_cli


def evaluate_args(task, data, lists, out, *extra):
    _, images, prompt = SOURCES[task]
    return ["evaluate", task, "--list", lists[task], "--images", data[images], "--prompt",
            prompt, "--regions", REGIONS, "--search", "lazy", "--out", out, *extra]  # fmt: skip


@pytest.fixture(scope="module")
def lists(data, demo, tmp_path_factory):
    folder = tmp_path_factory.mktemp("lists")
    paths = {}
    for task, (source, images, prompt) in SOURCES.items():
        paths[task] = folder / f"demo-{task}.json"
        args = ["prepare", task, "--annotations", data[source], "--images", data[images],
                "--prompt", prompt, "--out", paths[task]]  # fmt: skip
        assert run(args, demo) == (0, ["demo"])
    return paths


@pytest.fixture(scope="module")
def runs(data, lists, demo, tmp_path_factory):
    folder = tmp_path_factory.mktemp("runs")
    outs = {}
    for task in SOURCES:
        outs[task] = folder / task
        assert run(evaluate_args(task, data, lists, outs[task]), demo) == (0, ["demo"])
    return outs


def entries(lists, task):
    return json.loads(lists[task].read_text())


# -- prepare ---------------------------------------------------------------------------------
def test_prepare_writes_the_authors_formats_with_the_models_own_answers(data, lists, demo):
    captions = entries(lists, "coco-caption")
    assert len(captions) == N
    for entry in captions:
        scene = data["truth"][entry["image_path"]]
        ids = entry["generated_ids"]
        assert len(ids) == 1  # a list holding one list, as the authors'
        prompt = demo.prompt_ids(scene.image, CAPTION_PROMPT)
        assert ids[0][: len(prompt)] == prompt
        answer = ids[0][len(prompt) :]
        assert entry["selected_interpretation_token_id"] == list(range(len(answer)))
        assert entry["selected_interpretation_token_word_id"] == answer
        assert entry["gt_caption"] == [scene.caption]
    assert np.mean([e["generate_sentence"].strip() == data["truth"][e["image_path"]].caption
                    for e in captions]) >= 0.75  # fmt: skip
    for entry in entries(lists, "coco-object"):  # one category named once, its token the target
        words = re.findall(r"\w+", entry["generate_sentence"])
        assert words.count(entry["select_category"]) == 1
        assert entry["target_generated_token"].strip("\u2581 ") == entry["select_category"]
        assert isinstance(entry["generated_ids"][0], int)  # flat here
    repope = entries(lists, "repope")  # only the wrong answers: the hallucinated "yes"
    assert len(repope) == data["hallucinations"] == N
    no = demo.encode("no")[0]
    assert all(e["label"] == "no" and e["words"][0].strip("\u2581") == "yes" for e in repope)
    assert all(e["counter_word_id"] == no for e in repope)


def bbox_xy(annotation):
    return tuple(annotation["bbox"][:2])


def test_coco_polygons_and_rle_decode_to_the_scenes_masks(data):
    annotations = json.loads(data["instances"].read_text())
    files = {image["id"]: image["file_name"] for image in annotations["images"]}
    kinds = set()
    for a in annotations["annotations"]:
        scene = data["truth"][files[a["image_id"]]]
        shape = SHAPES[a["category_id"] - 1]
        truth = next(o.mask for o in scene.objects if (o.shape, o.box[:2]) == (shape, bbox_xy(a)))
        mask = ew.benchmarks.segmentation_mask(a["segmentation"], (64, 64))
        if isinstance(a["segmentation"], dict):
            kinds.add(type(a["segmentation"]["counts"]).__name__)
            assert np.array_equal(mask, truth)
        else:
            kinds.add("polygon")
            iou = (mask & truth).sum() / (mask | truth).sum()
            assert iou > 0.85
    assert kinds == {"polygon", "str", "list"}


# -- evaluate --------------------------------------------------------------------------------
def recomputed(folder):
    """Metrics from the saved curves and maps, computed here without eagle_widget.benchmarks."""
    out = {}
    for row_file in sorted(folder.glob("*/row.json")):
        row = json.loads(row_file.read_text())
        e = Explanation.load(row_file.parent / "result.npz")
        x = e.areas
        ins, dele = e.insertion_curve.mean(axis=1), e.deletion_curve.mean(axis=1)
        out[row["id"]] = {
            "insertion_auc": float(np.sum((ins[1:] + ins[:-1]) / 2 * np.diff(x))),
            "deletion_auc": float(np.sum((dele[1:] + dele[:-1]) / 2 * np.diff(x))),
            "highest_score": float(ins.max()),
            "explanation": e,
            "row": row,
        }
    return out


@pytest.mark.parametrize("task", list(SOURCES))
def test_the_table_equals_metrics_recomputed_from_the_saved_curves(task, runs):
    items = recomputed(runs[task])
    assert len(items) >= N - 2
    saved = json.loads((runs[task] / "metrics.json").read_text())["metrics"]
    assert saved["scored"] == len(items) and saved["failed"] == 0
    keys = ["insertion_auc", "deletion_auc", "highest_score"]
    table = (runs[task] / "table.md").read_text()
    for key in keys:
        mean = np.mean([i[key] for i in items.values()])
        assert saved[key] == pytest.approx(mean, abs=1e-9)
        if key in dict(COLUMNS[task]):  # the table holds the task's columns of the paper
            assert f"{mean:.4f}" in table
    assert f"ours (demo, {len(items)} items)" in table
    assert all(i["insertion_auc"] > i["deletion_auc"] for i in items.values())


def test_the_pointing_game_hits_the_named_object_by_the_scenes_own_masks(runs, lists, data):
    objects = entries(lists, "coco-object")
    listed = {f"{i:05d}-{e['image_path'][:-4]}": e for i, e in enumerate(objects)}
    for item_id, item in recomputed(runs["coco-object"]).items():
        entry = listed[item_id]
        scene = data["truth"][entry["image_path"]]
        obj = next(o for o in scene.objects if o.shape == entry["select_category"])
        heat = item["explanation"].attribution_map("rank")
        top = heat == heat.max()
        x0, y0, x1, y1 = obj.box
        assert item["row"]["pg_box"] == bool(top[y0:y1, x0:x1].any())
        assert item["row"]["pg_mask"] == bool((top & obj.mask).any())
        assert item["row"]["pg_mask_strict"] == bool((top & obj.mask).sum() * 2 > top.sum())
        assert item["row"]["pg_box"]  # the demo model looks at the object it names
    saved = json.loads((runs["coco-object"] / "metrics.json").read_text())["metrics"]
    assert saved["pg_box"] == 1.0


def test_repope_removes_the_regions_that_drive_each_hallucination(runs):
    rows = [i["row"] for i in recomputed(runs["repope"]).values()]
    assert all(r["corrected"] for r in rows)
    areas = np.array([r["removed_area"] for r in rows])
    saved = json.loads((runs["repope"] / "metrics.json").read_text())["metrics"]
    assert saved["amcr"] == pytest.approx(areas.mean())
    assert saved["csr_at_10"] == pytest.approx(np.mean(areas <= 0.1))
    assert saved["amcr"] < 0.2  # a few of 16 regions, where the blue object is


def test_report_page_csv_and_item_pages(runs):
    folder = runs["coco-caption"]
    page = (folder / "report.html").read_text()
    links = [part.split("'")[0] for part in page.split("href='")[1:]]
    assert links and all((folder / link).is_file() for link in links)
    assert "<svg" in page and "http://" not in page and "https://" not in page
    csv_lines = (folder / "metrics.csv").read_text().strip().splitlines()
    assert len(csv_lines) == N + 1 and csv_lines[0].startswith("id,status")


# -- resuming, failures, bad arguments --------------------------------------------------------
def test_a_finished_run_is_read_back_without_loading_the_model(runs, lists, data, capsys):
    capsys.readouterr()
    code, loads = run(evaluate_args("mmvp", data, lists, runs["mmvp"]))
    assert (code, loads) == (0, [])
    assert f"{N} of {N} items scored ({N} read back" in capsys.readouterr().out


@pytest.mark.parametrize(
    "extra, named",
    [(["--search", "greedy"], "--search 'lazy' there, 'greedy' now"),
     (["--items", "0:4"], "the items (--list, --items, --limit) 8 ("),
     (["--regions", "12"], "--regions 16 there, 12 now")],
)  # fmt: skip
def test_a_run_folder_of_other_options_is_refused_before_the_model_loads(
    extra, named, runs, lists, data, capsys
):
    folder = runs["mmvp"]
    before = {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    capsys.readouterr()
    assert run([*evaluate_args("mmvp", data, lists, folder), *extra]) == (2, [])
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("eagle-widget: error: --out"), err
    assert named in err and "give another --out for this run" in err
    assert {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()} == before


class KilledAfter:
    """The demo model, interrupted (as by Ctrl-C) when its n-th item starts."""

    def __init__(self, model, items: int):
        self.model, self.left = model, items

    def prompt_ids(self, image, prompt):
        self.left -= 1
        if self.left < 0:
            raise KeyboardInterrupt
        return self.model.prompt_ids(image, prompt)

    def __getattr__(self, name):
        return getattr(self.model, name)


def test_a_killed_run_reports_what_it_has_and_resumes_where_it_stopped(
    lists, data, demo, tmp_path, capsys
):
    out = tmp_path / "run"
    args = evaluate_args("mmvp", data, lists, out, "--items", "2:6")
    assert run(args, KilledAfter(demo, 2))[0] == 130
    (out / ".00004-5.partial").mkdir()  # what a kill during a write leaves
    capsys.readouterr()
    assert run(["evaluate", "--report", out]) == (0, [])
    report = capsys.readouterr().out
    assert "2 of 4 items scored" in report and "2 not run" in report
    assert report.rstrip().endswith(f"| {out / 'report.html'}")  # where to open it
    half = EvaluationResult.from_folder(out)
    assert [r["status"] for r in half.rows] == ["scored", "scored", "pending", "pending"]
    assert run(args, demo) == (0, ["demo"])
    assert "4 of 4 items scored (2 read back from an earlier run, 2 run now)" in (
        capsys.readouterr().out
    )
    assert not list(out.glob(".*.partial"))


def test_corrupt_items_are_recorded_and_the_rest_is_scored(lists, data, demo, tmp_path, capsys):
    good = entries(lists, "coco-object")[:4]
    good[0]["image_path"] = "missing.png"
    good[1]["segmentation"] = [[1, 2, 3]]
    good[2]["generated_ids"][1] += 1  # the ids of another model (or prompt)
    listed = tmp_path / "broken.json"
    listed.write_text(json.dumps(good))
    items = ew.benchmarks.load("coco-object", listed, data["images"], prompt=CAPTION_PROMPT)
    # the options as keywords, as for run_batch (issue 23 s2 row 11); options=Options(...) works too
    result = ew.benchmarks.evaluate(demo, items, out=tmp_path / "run", n_regions=8, search="lazy")
    rows = result.rows
    assert [r["status"] for r in rows] == ["failed", "failed", "failed", "scored"]
    assert "missing.png" in rows[0]["error"] and "not found" in rows[0]["error"]
    assert "polygon" in rows[1]["error"]
    assert "position 1" in rows[2]["error"] and "another model" in rows[2]["error"]
    assert result.counts == {"items": 4, "scored": 1, "failed": 3, "pending": 0}
    assert f"| ours ({type(demo).__name__}, 1 items) |" in result.table()
    # one progress line per item, the item's outcome on it (issue 23 s2 row 12)
    lines = re.findall(r"^\[\d+/\d+\] .*$", capsys.readouterr().err, re.M)
    assert len(lines) == 4 and all(" | " in line for line in lines), lines


@pytest.mark.parametrize(
    "case, message",
    [
        ("unknown task", "invalid choice: 'coco'"),
        ("wrong format", "not a coco-object list: its first entry lacks"),
        ("no images", "holds none of the list's images"),
        ("too many regions", "n_regions=10000 is more than 256"),
    ],
)
def test_bad_arguments_are_one_line_and_exit_2_before_the_model_loads(
    case, message, lists, data, tmp_path, capsys
):
    args = evaluate_args("coco-object", data, lists, tmp_path / "out")
    if case == "unknown task":
        args[1] = "coco"
    elif case == "wrong format":
        args[3] = lists["coco-caption"]
    elif case == "too many regions":
        args += ["--regions", "10000"]
    else:
        args[5] = tmp_path
    capsys.readouterr()
    assert run(args) == (2, [])
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err and err.startswith("eagle-widget: error:")


def test_prepare_refuses_annotations_of_another_kind_before_the_model_loads(data, tmp_path, capsys):
    args = ["prepare", "coco-object", "--annotations", data["captions"], "--images",
            data["images"], "--out", tmp_path / "list.json"]  # fmt: skip
    capsys.readouterr()
    assert run(args) == (2, [])
    err = capsys.readouterr().err.strip()
    assert "are not a COCO instances JSON" in err and "\n" not in err
