"""Several methods in one `evaluate` run, on the demo model: one table, a column group per
method, each method's numbers those of its own single-method run; resume and bad names."""

from __future__ import annotations

import json

import pytest
import torch
from benchmark_data import CAPTION_PROMPT, run_cli, write_dataset

import eagle_widget as ew
from eagle_widget.benchmarks import EvaluationResult
from eagle_widget.benchmarks.report import COLUMNS, RESULT_FILE, cell_text
from eagle_widget.engine import Explanation

N = 3
TASK = "coco-object"


@pytest.fixture(scope="module")
def demo():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield ew.load_demo_model()
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def data(demo, tmp_path_factory):
    folder = tmp_path_factory.mktemp("methods-data")
    data = write_dataset(folder, demo, N)
    data["list"] = folder / "list.json"
    args = ["prepare", TASK, "--annotations", data["instances"], "--images", data["images"],
            "--prompt", CAPTION_PROMPT, "--out", data["list"]]  # fmt: skip
    assert run_cli(args, demo) == (0, ["demo"])
    data["n"] = len(json.loads(data["list"].read_text()))  # the scenes the demo names right
    assert data["n"] >= 2
    return data


def args_of(data, out, *extra):
    return ["evaluate", TASK, "--list", data["list"], "--images", data["images"],
            "--prompt", CAPTION_PROMPT, "--regions", "12", "--search", "lazy", "--out", out,
            *extra]  # fmt: skip


@pytest.fixture(scope="module")
def runs(data, demo, tmp_path_factory):
    folder = tmp_path_factory.mktemp("methods-runs")
    outs = {"both": folder / "both", "eagle": folder / "eagle", "occlusion": folder / "occ"}
    both = args_of(data, outs["both"], "--method", "eagle", "--method", "occlusion")
    assert run_cli(both, demo) == (0, ["demo"])  # one load for both methods
    assert run_cli(args_of(data, outs["eagle"]), demo) == (0, ["demo"])
    assert run_cli(args_of(data, outs["occlusion"], "--method", "occlusion"), demo) == (
        0,
        ["demo"],
    )
    return outs


def test_a_two_method_table_holds_each_single_method_runs_numbers(runs, data):
    n = data["n"]
    table = (runs["both"] / "table.md").read_text().splitlines()
    assert len(table) == 4  # head, rule, a row per method
    for method, line in zip(("eagle", "occlusion"), table[2:]):
        single = EvaluationResult.from_folder(runs[method])
        assert single.counts == {"items": n, "scored": n, "failed": 0, "pending": 0}
        cells = [c.strip() for c in line.strip("|").split("|")]
        assert cells[:2] == [method, str(n)]
        wanted = [cell_text(single.metrics.get(key), key) for key, _ in COLUMNS[TASK]]
        assert cells[2 : 2 + len(wanted)] == wanted
        # the per-method folder is a complete run: its rows are the single run's, item by item
        part = EvaluationResult.from_folder(runs["both"] / method)
        keys = [k for k, _ in COLUMNS[TASK] if k in single.rows[0]]
        assert [[r[k] for k in keys] for r in part.rows] == [
            [r[k] for k in keys] for r in single.rows
        ]
        assert (runs["both"] / method / "report.html").is_file()


def test_a_baselines_own_cost_is_recorded_apart_from_its_ranking(runs):
    rows = EvaluationResult.from_folder(runs["both"] / "occlusion").rows
    for row in rows:  # occlusion: one image per region left out (the full image is shared)
        saved = Explanation.load(runs["both"] / "occlusion" / row["id"] / RESULT_FILE)
        n = saved.n_regions
        assert row["method_images"] == n == saved.extras["method"]["images"]
        assert (
            row["images_scored"] - row["method_images"] == saved.extras["method"]["ranking_images"]
        )
    eagle = EvaluationResult.from_folder(runs["both"] / "eagle").rows
    assert all("method_images" not in row for row in eagle)  # EAGLE's search is its ranking
    table = (runs["both"] / "table.md").read_text().splitlines()
    occlusion = [c.strip() for c in table[3].strip("|").split("|")]
    mean = sum(r["method_images"] for r in rows) / len(rows)
    assert occlusion[-5] == f"{mean:.1f}"
    # no passes of its own (a white-box method's); the peak memory the model measured
    peak = max(row["method_peak_bytes"] for row in rows)
    for row in rows:
        saved = Explanation.load(runs["both"] / "occlusion" / row["id"] / RESULT_FILE)
        assert row["method_peak_bytes"] == saved.extras["method"]["peak_memory"]["peak_bytes"]
    assert occlusion[-2:] == ["–", f"{peak / 2**20:.0f} MiB"]
    # EAGLE: no passes; the peak memory of its whole search
    eagle_peak = max(row["method_peak_bytes"] for row in eagle)
    assert [c.strip() for c in table[2].strip("|").split("|")][-2:] == [
        "–",
        f"{eagle_peak / 2**20:.0f} MiB",
    ]


def test_a_white_box_methods_passes_are_a_column_of_the_table(data, demo, tmp_path):
    out = tmp_path / "white"
    args = args_of(data, out, "--method", "occlusion", "--method", "tam")
    assert run_cli(args, demo) == (0, ["demo"])
    rows = EvaluationResult.from_folder(out / "tam").rows
    for row in rows:  # TAM: one forward pass over the answer, no backward pass
        saved = Explanation.load(out / "tam" / row["id"] / RESULT_FILE)
        assert saved.extras["method"]["forward_passes"] == 1
        assert row["method_passes"] == 1
    table = (out / "table.md").read_text().splitlines()
    head = [c.strip() for c in table[0].strip("|").split("|")]
    assert head[-2:] == ["passes", "peak memory"]
    cells = {line.split("|")[1].strip(): [c.strip() for c in line.strip("|").split("|")]
             for line in table[2:]}  # fmt: skip
    assert cells["tam"][-2] == "1.0" and cells["occlusion"][-2] == "–"
    assert cells["tam"][-1].endswith(" MiB")


def test_a_finished_comparison_resumes_without_loading_the_model(runs, data, capsys):
    capsys.readouterr()
    args = args_of(data, runs["both"], "--methods", "eagle,occlusion")
    assert run_cli(args) == (0, [])
    out = capsys.readouterr().out
    n = data["n"]
    assert out.count(f"{n} of {n} items scored ({n} read back") == 2


def test_a_method_folder_of_other_options_is_refused_before_any_item_runs(runs, data, capsys):
    before = {p: p.read_bytes() for p in runs["both"].rglob("*") if p.is_file()}
    capsys.readouterr()
    args = args_of(data, runs["both"], "--method", "eagle", "--method", "occlusion")
    args[args.index("--regions") + 1] = "10"
    assert run_cli(args) == (2, [])
    assert "--regions 12 there, 10 now" in capsys.readouterr().err
    assert {p: p.read_bytes() for p in runs["both"].rglob("*") if p.is_file()} == before


def test_a_bad_method_name_is_refused_before_the_model_loads(data, tmp_path, capsys):
    capsys.readouterr()
    args = args_of(data, tmp_path / "out", "--method", "eagle", "--methods", "occlusion,gradcam")
    assert run_cli(args) == (2, [])
    err = capsys.readouterr().err.strip()
    assert "--method" in err and "'gradcam'" in err and "\n" not in err
    assert not (tmp_path / "out").exists()


def test_the_comparison_page_links_each_methods_report_and_report_rebuilds_it(runs, capsys):
    table = (runs["both"] / "table.md").read_text()
    page = (runs["both"] / "report.html").read_text()
    for method in ("eagle", "occlusion"):
        assert f"href='{method}/report.html'" in page
        own = (runs["both"] / method / "report.html").read_text()
        assert "<h2>Distributions</h2>" in own and "Best items" in own  # histograms, gallery
    (runs["both"] / "table.md").unlink()
    capsys.readouterr()
    assert run_cli(["evaluate", "--report", runs["both"]]) == (0, [])
    assert (runs["both"] / "table.md").read_text() == table
    assert table in capsys.readouterr().out
