"""A cluster of several Ray nodes that the user started, joined by `ray="auto"` and through
Ray Client (`ray="ray://..."`) (issue 27).

Not collected on its own: tests/test_ray_cluster.py runs this module inside a network
namespace that has only loopback (as tests/test_ray.py runs ray_cases.py). One cluster
serves the module: a head of 1 CPU (the driver's machine, which holds the images) and a
second node of 4 CPUs declaring 2 GPUs that do not exist (Ray schedules them and sets
CUDA_VISIBLE_DEVICES all the same; the demo model stays on the CPU), started under
`unshare -m` with an empty tmpfs over the images' folder, so it cannot see them. Every node
is stopped by its pid; the last case kills the GPU node's raylet mid-run.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path

import pytest
from PIL import Image
from ray_cases import MEASURED, comparable, loopback_only

from eagle_widget.batch import run_batch
from eagle_widget.batch.ray_backend import LocalCluster

OPTIONS = {"n_regions": 8, "search": "lazy"}


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    from eagle_widget.models.demo.scenes import make_scene

    folder = tmp_path_factory.mktemp("driver-only")
    lines = []
    for i, pair in enumerate([("red", "circle"), ("blue", "square"), ("green", "triangle"),
                              ("yellow", "circle")]):  # fmt: skip
        name = f"{i}-{pair[1]}.png"
        Image.fromarray(make_scene(20 + i, objects=[pair]).image).save(folder / name)
        lines.append({"image": str(folder / name), "id": f"item{i}", "targets": pair[1]})
    manifest = folder.parent / "manifest.jsonl"
    manifest.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return folder, manifest


@pytest.fixture(scope="module")
def cluster(images):
    if not loopback_only():
        pytest.fail("run tests/test_ray_cluster.py: these tests need a loopback-only namespace")
    import ray

    folder, _ = images
    hide = ["unshare", "-m", "sh", "-c", f'mount -t tmpfs tmpfs \'{folder}\' && exec "$0" "$@"']
    with LocalCluster(cpus=1) as head:
        head.connect()
        gpu_node = head.add_node(cpus=4, gpus=2, wrap=hide)
        nodes = {n["NodeID"]: n for n in ray.nodes() if n["Alive"]}
        gpu_id = next(i for i, n in nodes.items() if n["Resources"].get("GPU"))
        ray.shutdown()  # the runs join it themselves, as a user's driver does
        saved = os.environ.get("RAY_ADDRESS")
        os.environ["RAY_ADDRESS"] = head.address
        try:
            yield {"head": head, "gpu_node": gpu_node, "gpu_node_id": gpu_id}
        finally:
            if saved is None:
                os.environ.pop("RAY_ADDRESS", None)
            else:
                os.environ["RAY_ADDRESS"] = saved


@pytest.fixture(scope="module")
def sequential(images, tmp_path_factory):
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as each actor: the same arithmetic, the same bits
    try:
        out = tmp_path_factory.mktemp("sequential")
        run_batch(images[1], "demo", out=out, **OPTIONS)
    finally:
        torch.set_num_threads(threads)
    return comparable(out)


def test_the_gpu_node_cannot_see_the_drivers_images(cluster, images):
    import ray

    ray.init(address="auto", log_to_driver=False)
    try:

        @ray.remote(num_gpus=1)
        def sees(path):
            return Path(path).exists()

        assert ray.get(sees.remote(str(next(images[0].iterdir())))) is False
    finally:
        ray.shutdown()


def test_gpu_workers_join_the_users_cluster_run_where_the_gpus_are_and_write_the_same_files(
    cluster, images, sequential, tmp_path, capsys
):
    report = run_batch(images[1], "demo", out=tmp_path / "gpu", ray="auto", workers=2,
                       gpus_per_worker=1, **OPTIONS)  # fmt: skip
    assert comparable(tmp_path / "gpu") == sequential  # images went as bytes: all succeeded
    places = [w.where for w in report.workers]
    assert all(p["node"] == cluster["gpu_node_id"] for p in places)
    assert sorted(p["gpus"][0] for p in places) == ["0", "1"]  # one GPU each, distinct
    assert sorted(p["cuda_visible_devices"] for p in places) == ["0", "1"]
    err = capsys.readouterr().err
    assert "2 workers on a cluster of 2 nodes" in err and "starting a local Ray" not in err
    assert f"on node {cluster['gpu_node_id'][:8]}, GPU " in err
    assert cluster["head"].process.poll() is None  # joining stopped nothing it did not start


def test_half_a_gpu_each_puts_two_workers_on_every_gpu(cluster, images, sequential, tmp_path):
    report = run_batch(images[1], "demo", out=tmp_path / "half", ray="auto", workers=4,
                       gpus_per_worker=0.5, **OPTIONS)  # fmt: skip
    assert comparable(tmp_path / "half") == sequential
    gpus = sorted(w.where["gpus"][0] for w in report.workers if w.where)
    assert gpus == ["0", "0", "1", "1"]


def test_more_gpus_than_the_cluster_has_is_refused_before_any_model_loads(
    cluster, images, tmp_path
):
    def never(*_):
        raise AssertionError("no model may load")

    with pytest.raises(
        ValueError, match="3 workers x 1 GPUs need 3 GPUs, and the Ray cluster has 2"
    ):
        run_batch(images[1], "demo", out=tmp_path / "o", ray="auto", workers=3, gpus_per_worker=1,
                  load=never, **OPTIONS)  # fmt: skip


def test_through_ray_client_a_batch_and_an_evaluate_write_what_they_write_here(
    cluster, images, sequential, tmp_path, capsys
):
    """`--ray ray://HOST:PORT`: the driver talks to the cluster through Ray Client, and the
    GPU node, which cannot see the images, still explains its items from their bytes."""
    import functools

    import torch

    import eagle_widget as ew
    from eagle_widget.batch.explain import load_model
    from eagle_widget.benchmarks import Options, prepare
    from eagle_widget.models.demo.scenes import CAPTION_PROMPT

    client = cluster["head"].client_address
    assert client.startswith("ray://127.0.0.1:")
    report = run_batch(images[1], "demo", out=tmp_path / "client", ray=client, workers=2,
                       gpus_per_worker=1, **OPTIONS)  # fmt: skip
    assert comparable(tmp_path / "client") == sequential
    assert {w.where["node"] for w in report.workers} == {cluster["gpu_node_id"]}
    assert "2 workers on a cluster of 2 nodes" in capsys.readouterr().err

    folder = images[0]
    names = sorted(p.name for p in folder.iterdir())[:2]
    sizes = [Image.open(folder / n).size for n in names]  # (width, height)
    pictures = [{"id": i, "file_name": n, "height": h, "width": w}
                for i, (n, (w, h)) in enumerate(zip(names, sizes))]  # fmt: skip
    captions = [{"id": i, "image_id": i, "caption": "a shape"} for i in range(len(names))]
    (tmp_path / "captions.json").write_text(
        json.dumps({"images": pictures, "annotations": captions})
    )
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as each actor
    try:
        demo = ew.load_demo_model()
        entries = prepare("coco-caption", demo, tmp_path / "captions.json", folder,
                          prompt=CAPTION_PROMPT)  # fmt: skip
        (tmp_path / "list.json").write_text(json.dumps(entries))
        items = ew.benchmarks.load("coco-caption", tmp_path / "list.json", folder,
                                   prompt=CAPTION_PROMPT)  # fmt: skip
        options = Options(n_regions=8, search="lazy")
        here = ew.benchmarks.evaluate(demo, items, out=tmp_path / "here", options=options,
                                      model_name="demo")  # fmt: skip
    finally:
        torch.set_num_threads(threads)
    there = ew.benchmarks.evaluate(
        None, items, out=tmp_path / "there", options=options, model_name="demo", workers=2,
        ray=client, gpus_per_worker=1, setup=functools.partial(load_model, "demo", None, None),
    )  # fmt: skip
    assert [row["status"] for row in here.rows] == ["scored"] * 2

    def scored(result):
        return [{k: v for k, v in row.items() if k not in MEASURED} for row in result.rows]

    assert scored(there) == scored(here)
    assert (tmp_path / "there" / "table.md").read_text() == (
        tmp_path / "here" / "table.md"
    ).read_text()
    assert cluster["head"].process.poll() is None  # the client stopped nothing it did not start


def test_a_driver_killed_mid_run_resumes_from_its_folder_on_the_same_cluster(
    cluster, images, sequential, tmp_path
):
    """SIGKILL, not Ctrl-C: the driver gets no chance to tidy up. The cluster it joined
    lives on, and a new driver finishes the run from the folder, items done once each."""
    import subprocess
    import sys

    out = tmp_path / "killed"
    driver = (
        "import sys; from eagle_widget.batch import run_batch; "
        f"run_batch(sys.argv[1], 'demo', out=sys.argv[2], ray='auto', workers=2, **{OPTIONS!r})"
    )
    log = tmp_path / "driver.log"
    with open(log, "w") as sink:  # a file, not a pipe nobody reads while it runs
        proc = subprocess.Popen([sys.executable, "-c", driver, str(images[1]), str(out)],
                                stdout=sink, stderr=subprocess.STDOUT)  # fmt: skip
    deadline = time.monotonic() + 600
    try:
        while not list(out.glob("item*/row.json")):
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "no item finished"
            time.sleep(0.1)
    finally:
        proc.kill()
        proc.wait(timeout=120)
    finished = len(list(out.glob("item*/row.json")))
    assert cluster["head"].process.poll() is None  # the user's cluster outlives the driver
    report = run_batch(images[1], "demo", out=out, ray="auto", workers=2, **OPTIONS)
    assert report.skipped == finished and report.done == 4
    assert comparable(out) == sequential  # no item twice, none half-written


def test_a_lost_node_loses_no_finished_item_and_its_items_finish_elsewhere(
    cluster, images, sequential, tmp_path, capsys
):
    """Last: kills the GPU node's raylet by its pid while the run is under way."""
    import psutil

    node = psutil.Process(cluster["gpu_node"].pid)
    out = tmp_path / "lost"
    killed = []

    ended = threading.Event()  # the run is over (or failed): stop waiting to kill

    def kill_once_an_item_is_done():
        while not ended.is_set() and not any(out.glob("item*/row.json")):
            time.sleep(0.2)
        if not any(out.glob("item*/row.json")):  # the run failed before any item
            return
        raylets = [p for p in node.children(recursive=True) if "raylet" in p.name()]
        for raylet in raylets:
            os.kill(raylet.pid, signal.SIGKILL)
            killed.append(raylet.pid)

    killer = threading.Thread(target=kill_once_an_item_is_done)
    killer.start()

    def slow_demo(*_):  # the demo model, a third of a second slower per batch of images,
        # so that items are still in flight when the raylet dies (the same numbers)
        from eagle_widget.batch.explain import load_model

        model = load_model("demo", None, None)
        scores = model.token_probs

        def token_probs(*args, **kwargs):
            time.sleep(0.3)
            return scores(*args, **kwargs)

        model.token_probs = token_probs
        return model

    try:  # CPU workers: Ray may place them on either node; the head keeps room for one
        report = run_batch(images[1], "demo", out=out, ray="auto", workers=2, load=slow_demo,
                           **OPTIONS)  # fmt: skip
    finally:
        ended.set()
        killer.join()
    assert killed, "the GPU node had no raylet to kill"
    assert report.done == 4 and report.failed == 0
    assert comparable(out) == sequential
    assert "; retrying it" in capsys.readouterr().err  # an item in flight there went elsewhere
