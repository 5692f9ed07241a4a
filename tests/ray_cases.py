"""Batches on Ray: two CPU actors on the demo model against the run without Ray.

Not collected on its own (no test_ prefix): tests/test_ray.py runs this module inside a
network namespace that has only loopback, so that no Ray process can listen on or reach
another interface. Run by hand as root:

    unshare -n sh -c 'ip link set lo up && python -m pytest tests/ray_cases.py'

One local cluster (2 CPUs) serves the whole module; the Ctrl-C case starts its own through
the command line, as a user's run does.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image

from eagle_widget.batch import run_batch, run_jobs

TESTS = Path(__file__).resolve().parent
OPTIONS = {"n_regions": 12, "search": "lazy"}
RAY_TEMP = "/tmp/ew-ray-"


def loopback_only() -> bool:
    """True inside a network namespace whose only interface is loopback."""
    return [name for _, name in socket.if_nameindex()] == ["lo"]


@pytest.fixture(scope="module")
def cluster():
    if not loopback_only():
        pytest.fail(
            "the Ray tests must run in a network namespace with loopback only (a local Ray "
            "otherwise listens beyond it); run tests/test_ray.py, or as root: "
            "unshare -n sh -c 'ip link set lo up && python -m pytest tests/ray_cases.py'"
        )
    import ray

    from eagle_widget.batch.ray_backend import LocalCluster

    with LocalCluster(cpus=2) as local:
        local.connect()
        yield local
        ray.shutdown()


@pytest.fixture(scope="module")
def manifest(tmp_path_factory):
    """Three demo scenes and an item whose target word is not in the caption."""
    from eagle_widget.models.demo.scenes import make_scene

    folder = tmp_path_factory.mktemp("scenes")
    lines = []
    for i, pair in enumerate([("red", "circle"), ("blue", "square"), ("green", "triangle")]):
        Image.fromarray(make_scene(10 + i, objects=[pair]).image).save(folder / f"{pair[1]}.png")
        lines.append({"image": f"{pair[1]}.png", "id": pair[1], "targets": pair[1]})
    lines.append({"image": "circle.png", "id": "elephant", "targets": "elephant"})
    path = folder / "manifest.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


# a row's measurements of the machine, not of the explanation: they differ run to run
MEASURED = ("seconds", "method_peak_bytes")


def comparable(out: Path) -> dict:
    """Every item's files and contents, measurements of the machine (seconds, peak memory)
    aside."""
    seen = {}
    for folder in sorted(p for p in out.iterdir() if p.is_dir() and p.name != "ray-logs"):
        files = {p.name: p for p in folder.iterdir()}
        entry = {"files": sorted(files)}
        for name in ("result.json", "row.json", "error.json"):
            if name in files:
                data = json.loads(files[name].read_text())
                data.pop("seconds", None)
                data.get("extras", {}).pop("peak_memory", None)
                entry[name] = data
        seen[folder.name] = entry
    rows = json.loads((out / "summary.json").read_text())
    summary = [{key: value for key, value in row.items() if key != "seconds"} for row in rows]
    return {"items": seen, "summary": summary}


def test_one_and_two_workers_write_what_the_run_without_ray_writes_and_resume(
    cluster, manifest, tmp_path, capsys
):
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as each actor: the same arithmetic, the same bits
    try:
        here = run_batch(manifest, "demo", out=tmp_path / "here", **OPTIONS)
    finally:
        torch.set_num_threads(threads)
    one = run_batch(manifest, "demo", out=tmp_path / "one", workers=1, **OPTIONS)
    capsys.readouterr()
    two = run_batch(manifest, "demo", out=tmp_path / "two", workers=2, **OPTIONS)
    err = capsys.readouterr().err
    expected = comparable(tmp_path / "here")
    assert comparable(tmp_path / "one") == expected
    assert comparable(tmp_path / "two") == expected
    assert [row["status"] for row in expected["summary"]] == ["done"] * 3 + ["failed"]
    # the error travels back as the engine's message, not as a Ray traceback
    error = expected["items"]["elephant"]["error.json"]["error"]
    assert "elephant" in error and "Traceback" not in error and "Ray" not in error
    assert (here.done, here.failed) == (one.done, one.failed) == (two.done, two.failed) == (3, 1)
    # one bar over all workers; both workers took items (handed out one at a time)
    assert "batch item 4/4" in err
    assert [s.items for s in two.workers] != [4, 0] and sum(s.items for s in two.workers) == 4
    assert "worker 0 on node " in err and "worker 1 on node " in err and "images/s" in err

    # resume: finished items are skipped untouched; a removed one is redone
    kept = tmp_path / "two"
    stamps = {n: (kept / n / "result.npz").stat().st_mtime_ns for n in ("circle", "square")}
    for name in ("result.json", "row.json"):
        (tmp_path / "two" / "triangle" / name).unlink()
    again = run_batch(manifest, "demo", out=tmp_path / "two", workers=2, **OPTIONS)
    assert again.skipped == 2 and "4 items, 2 already done, 2 to explain" in capsys.readouterr().err
    assert {n: (kept / n / "result.npz").stat().st_mtime_ns for n in stamps} == stamps
    assert comparable(tmp_path / "two") == expected


# -- a worker that dies mid-item ---------------------------------------------------------------
def pid_of_worker() -> int:
    return os.getpid()


def echo_or_die(pid: int, item: tuple[str, str]) -> tuple[str, int]:
    """The job: "always" kills its worker's process; "once" does so on its first try only."""
    name, marks = item
    mark = Path(marks) / name
    if name == "always" or (name == "once" and not mark.exists()):
        mark.write_text(str(pid))
        os.kill(pid, signal.SIGKILL)
    return name, pid


def test_a_worker_killed_mid_item_is_replaced_and_its_item_retried_once(cluster, tmp_path):
    items = [(name, str(tmp_path)) for name in ("a", "once", "b", "always", "c")]
    written = []
    stats = run_jobs(items, echo_or_die, setup=pid_of_worker, write=written.append, workers=2)
    outcomes = {o.item[0]: o for o in written}
    assert sorted(outcomes) == ["a", "always", "b", "c", "once"] and len(written) == 5
    for name in ("a", "b", "c", "once"):
        assert outcomes[name].ok and outcomes[name].result[0] == name
    killed = int((tmp_path / "once").read_text())
    assert outcomes["once"].attempts == 2 and outcomes["once"].result[1] != killed
    assert not outcomes["always"].ok and outcomes["always"].attempts == 2
    assert "its worker died 2 times" in outcomes["always"].error
    assert sum(s.items for s in stats) == 5 and sum(s.failed for s in stats) == 1


def test_a_worker_that_cannot_load_ends_the_run_with_its_message(cluster, tmp_path):
    with pytest.raises(RuntimeError, match="could not load: model folder './nowhere' does not"):
        run_batch([{"image": str(tmp_path / "x.png")}], "./nowhere", out=tmp_path / "o", workers=1)


# -- Ctrl-C ------------------------------------------------------------------------------------
def ray_processes() -> set[int]:
    """Processes of local clusters started by eagle-widget (their state lies in /tmp/ew-ray-*)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if RAY_TEMP.encode() in (entry / "cmdline").read_bytes():
                    found.add(int(entry.name))
            except OSError:
                pass
    return found


def finished_items(out: Path) -> set[str]:
    """Items renamed into place (a hidden .ID.partial folder is one being written)."""
    return {p.parent.name for p in out.glob("[!.]*/result.json")}


@pytest.mark.slow
def test_ctrl_c_stops_the_cluster_and_keeps_finished_items(cluster, manifest, tmp_path):
    from eagle_widget.models.demo.scenes import make_scene

    folder = manifest.parent
    lines = manifest.read_text().splitlines()[:3]
    for i in range(3, 6):  # six good items: the run is stopped well before its end
        Image.fromarray(make_scene(20 + i).image).save(folder / f"more{i}.png")
        lines.append(json.dumps({"image": f"more{i}.png", "id": f"more{i}"}))
    big = folder / "six.jsonl"
    big.write_text("\n".join(lines) + "\n")
    before = ray_processes()
    out = tmp_path / "out"
    command = [sys.executable, "-m", "eagle_widget.cli", "explain", "--batch", str(big), "--model",
               "demo", "--regions", "12", "--out", str(out), "--workers", "2"]  # fmt: skip
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 600
    while not finished_items(out):
        assert proc.poll() is None, proc.stderr.read()
        assert time.monotonic() < deadline, "no item finished"
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err
    finished = finished_items(out)
    assert finished and len(finished) < 6
    assert not list(out.glob(".*.partial"))  # no half-written item
    assert (out / "ray-logs" / "raylet.out").exists()  # the cluster's logs, kept
    assert ray_processes() <= before  # the run's cluster is gone (the module's stays)

    # and the batch resumes where it stopped
    report = run_batch(big, "demo", out=out, workers=2, n_regions=12)
    assert report.skipped == len(finished) and report.done == 6


# -- evaluate on the same runner ---------------------------------------------------------------
def test_evaluate_on_two_workers_scores_what_it_scores_here(cluster, manifest, tmp_path, capsys):
    import functools
    import re

    import torch

    import eagle_widget as ew
    from eagle_widget.batch.explain import load_model
    from eagle_widget.benchmarks import Options, prepare
    from eagle_widget.models.demo.scenes import CAPTION_PROMPT

    folder = manifest.parent
    names = ["circle.png", "square.png", "triangle.png"]
    images = [{"id": i, "file_name": n, "height": 64, "width": 64} for i, n in enumerate(names)]
    captions = [{"id": i, "image_id": i, "caption": "a shape"} for i in range(len(names))]
    (tmp_path / "captions.json").write_text(json.dumps({"images": images, "annotations": captions}))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as each actor
    try:
        demo = ew.load_demo_model()
        entries = prepare(
            "coco-caption", demo, tmp_path / "captions.json", folder, prompt=CAPTION_PROMPT
        )
        listed = tmp_path / "list.json"
        listed.write_text(json.dumps(entries))
        items = ew.benchmarks.load("coco-caption", listed, folder, prompt=CAPTION_PROMPT)
        options = Options(n_regions=8, search="lazy")
        here = ew.benchmarks.evaluate(
            demo, items, out=tmp_path / "here", options=options, model_name="demo"
        )
    finally:
        torch.set_num_threads(threads)
    capsys.readouterr()
    there = ew.benchmarks.evaluate(
        None, items, out=tmp_path / "two", options=options, model_name="demo",
        workers=2, setup=functools.partial(load_model, "demo", None, None),
    )  # fmt: skip
    # one progress line per item, on evaluate's clock: no second bar of the workers' own
    # (issue 23 s2 row 12)
    err = capsys.readouterr().err
    assert len(re.findall(r"^\[\d/3\] \S+ \| ins ", err, re.M)) == 3, err
    assert "batch item" not in err, err

    def scored(result):
        return [{k: v for k, v in row.items() if k not in MEASURED} for row in result.rows]

    assert [row["status"] for row in here.rows] == ["scored"] * 3
    assert scored(there) == scored(here)
    assert (tmp_path / "two" / "table.md").read_text() == (
        tmp_path / "here" / "table.md"
    ).read_text()


# -- a served model on workers ------------------------------------------------------------------
def test_a_served_model_on_two_workers_shares_the_runs_concurrency_and_its_answer_cache(
    cluster, tmp_path
):
    """`--model openai:URL --workers 2 --concurrency 4`: each actor sends at most 2 requests
    at a time, the results are the run's without Ray, and a resumed run pays for no image
    twice."""
    import shutil

    import numpy as np
    from fake_openai import FakeServer

    from eagle_widget import cli

    for i in range(3):  # red columns: the fake server's answer is their share of the image
        image = np.zeros((24, 32, 3), dtype=np.uint8)
        image[:, : 6 + 6 * i, 0] = 255
        Image.fromarray(image).save(tmp_path / f"red{i}.png")
    manifest = tmp_path / "m.jsonl"
    manifest.write_text("".join(json.dumps({"image": f"red{i}.png"}) + "\n" for i in range(3)))
    with FakeServer() as server:
        server.delay = 0.02  # requests overlap, so the cap on them is seen

        def explain(out, *more):
            argv = ["explain", "--batch", str(manifest), "--out", str(out), "--model",
                    "openai:" + server.url, "--served-model", "fake", "--concurrency", "4",
                    "--regions", "6", "--targets", "1", *more]  # fmt: skip
            assert cli.main(argv) == 0

        def results(out):  # each actor's first item also asks the server's mode: its
            seen = comparable(out)  # count of requests is not the run's without Ray
            for item in seen["items"].values():
                item["result.json"]["extras"].pop("requests")
            return seen

        explain(tmp_path / "here")
        alone = server.max_in_flight
        server.max_in_flight = 0
        explain(tmp_path / "two", "--workers", "2")
        assert results(tmp_path / "two") == results(tmp_path / "here")
        assert server.max_in_flight <= 4 < 2 * alone  # 2 actors x 2, where one alone sent 4
        asked = server.requests
        shutil.rmtree(tmp_path / "two" / "0002-red1")  # as if the run had stopped before it
        explain(tmp_path / "two", "--workers", "2")
        # only its caption was asked again (answers are generated anew); every image it
        # scored came from the run's cache
        assert server.requests == asked + 1
        assert results(tmp_path / "two") == results(tmp_path / "here")
