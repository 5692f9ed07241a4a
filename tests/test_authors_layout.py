"""The authors' result layout both ways (issue 22 items 6 and 7).

Out: a run exported with `export-authors` is read back by a reader written here from the
authors' documented format (their evaluation scripts' reading of json/ and npy/, in our
own words): every number it computes equals the run's. In: `evaluate --maps` with maps
built so that their region order is known gives that order, and the AUCs of that order
measured here from the model directly. AMCR's two edge cases on hand-made sweeps, by both
rules.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from benchmark_data import CAPTION_PROMPT, QUESTION_TEMPLATE, run_cli, write_dataset
from PIL import Image
from synthetic import block_image

import eagle_widget as ew
from eagle_widget.benchmarks.authors import authors_sweep
from eagle_widget.benchmarks.authors_layout import read_map, region_stack
from eagle_widget.benchmarks.coco import segmentation_mask
from eagle_widget.engine import Explainer, Explanation, Generation
from eagle_widget.engine.baselines import map_region_means
from eagle_widget.engine.hallucination import mitigate
from eagle_widget.engine.masking import compose, fill_image
from eagle_widget.engine.mitigation import Mitigation
from eagle_widget.engine.regions import grid_regions

N = 3
SOURCES = {
    "coco-caption": ("captions", "images", CAPTION_PROMPT),
    "coco-object": ("instances", "images", CAPTION_PROMPT),
    "repope": ("repope", "pope_images", QUESTION_TEMPLATE),
}


@pytest.fixture(scope="module")
def demo():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield ew.load_demo_model()
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def data(demo, tmp_path_factory):
    return write_dataset(tmp_path_factory.mktemp("layout-data"), demo, N)


@pytest.fixture(scope="module")
def lists(data, demo, tmp_path_factory):
    folder = tmp_path_factory.mktemp("layout-lists")
    paths = {}
    for task, (source, images, prompt) in SOURCES.items():
        paths[task] = folder / f"demo-{task}.json"
        args = ["prepare", task, "--annotations", data[source], "--images", data[images],
                "--prompt", prompt, "--out", paths[task]]  # fmt: skip
        assert run_cli(args, demo) == (0, ["demo"])
    return paths


def evaluate_args(task, data, list_path, out, *extra):
    _, images, prompt = SOURCES[task]
    return ["evaluate", task, "--list", list_path, "--images", data[images], "--prompt", prompt,
            "--regions", "16", "--search", "lazy", "--out", out, *extra]  # fmt: skip


def rows_of(folder):
    return {p.parent.name: json.loads(p.read_text()) for p in folder.glob("*/row.json")}


# -- a reader of the authors' layout, from their documented format ---------------------------
def trapezoid(y, x):
    return float(abs(np.sum((y[1:] + y[:-1]) / 2 * np.diff(x))))


def authors_faithfulness(record, margin=0.2):
    """Their AUC script: the curves get the other end's score in front; sensitive targets
    lift by more than the margin from the blank to the full image."""
    area = np.array([0.0, *record["region_area"]])
    ins = np.array([record["deletion_score"][-1], *record["insertion_score"]])
    dele = np.array([record["insertion_score"][-1], *record["deletion_score"]])
    out = {
        "insertion_auc": trapezoid(ins, area),
        "deletion_auc": trapezoid(dele, 1 - area),
        "highest_score": float(ins.max()),
    }
    full = np.array(record["insertion_word_score"][-1])
    blank = np.array(record["deletion_word_score"][-1])
    pick = full - blank > margin
    if pick.any():
        ins_s = [
            blank[pick].mean(),
            *(np.array(w)[pick].mean() for w in record["insertion_word_score"]),
        ]
        del_s = [
            full[pick].mean(),
            *(np.array(w)[pick].mean() for w in record["deletion_word_score"]),
        ]
        out["insertion_auc_sensitive"] = trapezoid(np.array(ins_s), area)
        out["deletion_auc_sensitive"] = trapezoid(np.array(del_s), 1 - area)
        out["highest_score_sensitive"] = float(max(ins_s))
    return out


def authors_map(stack, record, dtype=np.float16):
    """Their pointing game's map from the region masks and the objective's values (in float16,
    as theirs): every region gets minus the running sum of |gain|, then scaled to [0, 1]."""
    single = np.zeros_like(stack[0]).astype(dtype)
    smdl = np.array(record["smdl_score"])
    first = np.mean(1 - np.array(record["org_score"]) + np.array(record["baseline_score"]))
    gains = smdl - np.array([first, *record["smdl_score"][:-1]])
    value = 0
    for mask, gain in zip(stack, gains):
        value = value - abs(gain)
        single[mask == 1] = value
    single = single - single.min()
    return (single / single.max())[..., 0]


def authors_pointing(stack, record, shape):
    heat = authors_map(stack, record)
    x1, y1, x2, y2 = (int(v) for v in record["location"])
    box = np.zeros(shape)
    box[y1:y2, x1:x2] = 1
    mask = segmentation_mask(record["segmentation"], shape, rule="authors")
    return (heat * box).max() == heat.max(), (heat * mask).max() == heat.max()


def authors_amcr(record):
    """Their correction script: answers read from the end (the full image last); the first
    that starts with the label word gives the removed area 1 - kept area. (Their code
    compares "Yes"/"No" as written; the demo answers in lower case, so case is dropped.)"""
    area = np.array([0.0, *record["region_area"]])
    answers = record["revised_answering"]
    word = record["label"]
    for k in range(1, len(answers) + 1):
        if answers[-k].strip().lower().startswith(word):
            return 1 - area[-k]
    return 1.0


@pytest.mark.parametrize(
    "task, extra",
    [
        ("coco-caption", ()),
        ("coco-object", ("--mask-rule", "authors")),
        ("repope", ()),
        ("repope", ("--amcr-rule", "authors")),
    ],
)
def test_an_exported_run_reads_back_to_the_runs_numbers(task, extra, lists, data, demo, tmp_path):
    run, out = tmp_path / "run", tmp_path / "interpretation_results"
    assert run_cli(evaluate_args(task, data, lists[task], run, *extra), demo)[0] == 0
    assert run_cli(["export-authors", run, out, "--list", lists[task]]) == (0, [])
    rows = rows_of(run)
    listed = json.loads(lists[task].read_text())
    records = {p.stem: json.loads(p.read_text()) for p in (out / "json").glob("*.json")}
    assert len(records) == len(rows) == len(listed)
    for name, record in records.items():
        row = rows[record["eagle_widget"]["item"]]
        entry = listed[int(row["id"].split("-")[0])]
        image = entry["image_name" if task == "repope" else "image_path"]
        assert name == image.rsplit(".", 1)[0] + (f"_{entry['id']}" if task == "repope" else "")
        e = Explanation.load(run / row["id"] / "result.npz")
        # field by field: the curves without their two ends, per target, and the ends
        assert record["region_area"] == pytest.approx(e.areas[1:].tolist(), abs=0)
        assert np.array_equal(record["insertion_word_score"], e.insertion_curve[1:])
        assert np.array_equal(record["deletion_word_score"], e.deletion_curve[1:])
        assert (
            record["org_score"] == e.p_full.tolist()
            and record["baseline_score"] == e.p_blank.tolist()
        )
        assert record["selected_interpretation_token_word_id"] == e.target_ids
        for key, value in authors_faithfulness(record).items():
            assert value == pytest.approx(row[key], abs=1e-12), key
        assert row["n_sensitive"] > 0 or "insertion_auc_sensitive" not in authors_faithfulness(
            record
        )
        stack = np.load(out / "npy" / f"{name}.npy")
        assert stack.shape == (e.n_regions, *e.labels.shape, 1)
        # their map from the masks and the objective's values is our rank map (in float64:
        # their float16 quantises it where the top region holds nearly all the gain)
        theirs = authors_map(stack, record, np.float64)
        assert np.allclose(theirs, e.attribution_map("rank"), rtol=0, atol=1e-9)
        if task == "coco-object":
            box, mask = authors_pointing(stack, record, e.labels.shape)
            assert (box, mask) == (row["pg_box"], row["pg_mask"])
        if task == "repope":
            assert record["label"] == entry["label"]
            wanted = row["removed_area"] if row["corrected"] else 1.0
            assert authors_amcr(record) == pytest.approx(wanted, abs=1e-12)
            full = record["revised_answering"][-1]  # the full image's answer: the wrong one
            assert full.strip().lower() != entry["label"]


def test_export_refuses_lists_the_run_was_not_made_from(lists, data, demo, tmp_path, capsys):
    run = tmp_path / "run"
    args = evaluate_args("coco-caption", data, lists["coco-caption"], run, "--limit", "1")
    assert run_cli(args, demo)[0] == 0
    other = tmp_path / "other.json"
    entries = json.loads(lists["coco-caption"].read_text())
    entries[0]["gt_caption"] = ["changed"]
    other.write_text(json.dumps(entries))
    capsys.readouterr()
    assert run_cli(["export-authors", run, tmp_path / "out", "--list", other]) == (2, [])
    assert "made from another list entry" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


# -- in: evaluate --maps ---------------------------------------------------------------------
def measured_aucs(model, e: Explanation, order):
    """Insertion and deletion AUC of `order`, from the model's own probabilities of the
    images that keep (remove) the first k regions, k = 0..N."""
    n = e.n_regions
    keep = np.zeros((n + 1, n), dtype=bool)
    for k in range(n + 1):
        keep[k, order[:k]] = True
    images = compose(e.image, fill_image(e.image, 0), e.labels, np.vstack([keep, ~keep]))
    probs = np.asarray(model.token_probs(list(images), e.generation, e.positions, e.target_ids))
    areas = np.concatenate([[0.0], np.cumsum(np.bincount(e.labels.ravel())[order] / e.labels.size)])
    ins, dele = probs[: n + 1].mean(axis=1), probs[n + 1 :].mean(axis=1)
    return trapezoid(ins, areas), trapezoid(dele, areas)


def test_maps_with_a_known_region_order_give_that_order_and_its_aucs(
    lists, data, demo, tmp_path, capsys
):
    task = "coco-caption"
    searched, scored, maps = tmp_path / "searched", tmp_path / "scored", tmp_path / "maps"
    assert run_cli(evaluate_args(task, data, lists[task], searched), demo)[0] == 0
    (maps / "npy").mkdir(parents=True)
    rng = np.random.default_rng(7)
    orders = {}
    first_image = json.loads(lists[task].read_text())[0]["image_path"].rsplit(".", 1)[0]
    for i, item_id in enumerate(sorted(rows_of(searched))):
        e = Explanation.load(searched / item_id / "result.npz")
        values = rng.permutation(e.n_regions)  # region r gets values[r]: the order is known
        orders[item_id] = list(np.argsort(-values, kind="stable"))
        heat = values[e.labels]
        if i == 0:  # by the authors' name (the image's) in npy/, as a grey PNG
            Image.fromarray((heat * 10).astype(np.uint8)).save(maps / "npy" / f"{first_image}.png")
        else:  # by item id
            np.save(maps / f"{item_id}.npy", heat.astype(np.float32))
    args = evaluate_args(task, data, lists[task], scored, "--maps", maps)
    assert run_cli(args, demo)[0] == 0
    rows = rows_of(scored)
    assert rows.keys() == orders.keys()
    for item_id, row in rows.items():
        e = Explanation.load(scored / item_id / "result.npz")
        assert row["method"] == "given-map" and e.extras["method"]["name"] == "given-map"
        assert e.order == orders[item_id]
        insertion, deletion = measured_aucs(demo, e, orders[item_id])
        assert row["insertion_auc"] == pytest.approx(insertion, abs=1e-9)
        assert row["deletion_auc"] == pytest.approx(deletion, abs=1e-9)
    # a changed map makes its item a new one; the others are read back
    last = sorted(rows)[-1]
    np.save(maps / f"{last}.npy", -np.load(maps / f"{last}.npy"))
    capsys.readouterr()
    assert run_cli(args, demo)[0] == 0
    assert f"{N - 1} already done, 1 to run" in capsys.readouterr().err
    assert Explanation.load(scored / last / "result.npz").order == orders[last][::-1]


def test_missing_maps_are_named_before_the_model_loads(lists, data, tmp_path, capsys):
    maps = tmp_path / "maps"
    maps.mkdir()
    np.save(maps / "unrelated.npy", np.zeros((4, 4)))
    args = evaluate_args(
        "coco-caption", data, lists["coco-caption"], tmp_path / "out", "--maps", maps
    )
    assert run_cli(args) == (2, [])
    err = capsys.readouterr().err
    assert f"no map for {N} of {N} items" in err and "scene-0000.npy" in err


def test_read_map_takes_maps_masks_stacks_and_refuses_colour(tmp_path):
    heat = np.arange(12, dtype=float).reshape(3, 4)
    np.save(tmp_path / "a.npy", heat[..., None])
    assert np.array_equal(read_map(tmp_path / "a.npy"), heat)
    labels = grid_regions(4, 4, 4)
    explanation_like = type("E", (), {"order": [2, 0, 3, 1], "labels": labels})
    stack = region_stack(explanation_like)  # the authors' S_set: N x H x W x 1, ranked
    np.save(tmp_path / "s.npy", stack)
    ranked = read_map(tmp_path / "s.npy")
    assert list(np.argsort(-map_region_means(ranked, labels))) == [2, 0, 3, 1]
    Image.fromarray(
        np.stack([np.zeros((4, 4), np.uint8)] * 2 + [np.full((4, 4), 9, np.uint8)], 2)
    ).save(tmp_path / "c.png")
    with pytest.raises(ValueError, match="colour image"):
        read_map(tmp_path / "c.png")
    np.save(tmp_path / "n.npy", np.full((2, 2), np.nan))
    with pytest.raises(ValueError, match="NaN"):
        read_map(tmp_path / "n.npy")
    np.save(tmp_path / "x.npy", np.full((3, 4, 4), 0.5))
    with pytest.raises(ValueError, match="stack of disjoint"):
        read_map(tmp_path / "x.npy")


def test_a_smaller_map_is_brought_to_the_label_maps_size_by_nearest_neighbour():
    labels = grid_regions(8, 8, 4)  # four 4 x 4 blocks
    small = np.array([[1.0, 2.0], [3.0, 4.0]])
    assert map_region_means(small, labels).tolist() == [1.0, 2.0, 3.0, 4.0]
    big = np.kron(small, np.ones((8, 8)))  # 16 x 16: four 8 x 8 blocks of one value
    assert map_region_means(big, labels).tolist() == [1.0, 2.0, 3.0, 4.0]


def test_given_map_is_not_a_method_without_a_map(demo):
    with pytest.raises(ValueError, match="needs a map"):
        Explainer(demo, method="given-map")


# -- AMCR's edge cases, both rules -----------------------------------------------------------
IDS = {"Yes": 3, "No": 5, "Not": 7}


class SweepModel:
    """Answers by how much of the image is black: `answers[k]` with k of 4 blocks black; the
    first word's token id from IDS."""

    def __init__(self, answers):
        self.answers, self.calls = answers, []

    def generate(self, image, prompt, max_new_tokens=8):
        black = int(np.round((~np.asarray(image).any(axis=2)).mean() * 4))
        self.calls.append(black)
        text = self.answers[black]
        first = text.split()[0].strip(",.")
        return Generation(prompt, [IDS[first]], [text], text, tuple(np.shape(image)[:2]))

    def token_probs(self, images, generation, positions, ids):
        return np.zeros((len(images), len(positions)))


class Ranked:
    """A counterfactual explanation of "No" on a 2 x 2 grid ranked 0, 1, 2, 3."""

    def __init__(self):
        self.labels = grid_regions(16, 16, 4)
        self.n_regions, self.order, self.extras = 4, [0, 1, 2, 3], {}
        self.target_ids = [IDS["No"]]
        self.generation = Generation("q", [IDS["Yes"]], ["Yes"], "Yes", (16, 16))


@pytest.mark.parametrize(
    "answers, ours, theirs, their_calls",
    [
        # the full image already says no: theirs counts it (0), ours starts one region in
        (["No", "Yes", "No", "No", "No"], (True, 0.5), (True, 0.0), [0]),
        # "Not ..." starts with "No" as text, not as the first token
        (["Yes", "Not sure", "No", "No", "No"], (True, 0.5), (True, 0.25), [0, 1]),
        # only the blank image says no: ours may go there, theirs keeps one region
        (["Yes", "Yes", "Yes", "Yes", "No"], (True, 1.0), (False, 1.0), [0, 1, 2, 3]),
    ],
)
def test_amcr_edge_cases_by_both_rules(answers, ours, theirs, their_calls):
    image = block_image(2, 2, cell=8)
    model = SweepModel(answers)
    corrected, area, texts = authors_sweep(model, image, "q", Ranked(), "no", max_area=1.0)
    assert (corrected, area) == theirs and model.calls == their_calls
    assert texts == [answers[k] for k in their_calls]  # full image first
    model = SweepModel(answers)
    outcome = mitigate(model, image, "q", Ranked(), max_area=1.0)
    assert (outcome.corrected, outcome.removed_area) == ours
    assert model.calls[0] == 1  # ours never regenerates the full image
    found = int(round(ours[1] * 4))
    assert outcome.revised == answers[1 : found + 1]  # up to the corrected one
    again = Mitigation.from_dict(outcome.to_dict(), outcome.original)
    assert again.revised == outcome.revised
