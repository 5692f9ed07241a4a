"""The batch runner without Ray: one writer, errors as messages, and the Ray options' checks.

The Ray back end itself is tested in ray_cases.py (through test_ray.py).
"""

from __future__ import annotations

import json
import sys

import pytest

from eagle_widget import cli
from eagle_widget.batch import run_jobs


def test_the_local_runner_sets_up_once_and_writes_every_outcome():
    setups = []

    def setup():
        setups.append(1)
        return 10

    def work(context, item):
        if item == "bad":
            raise ValueError(f"no good: {item}")
        return context + item

    written = []
    stats = run_jobs([1, "bad", 2], work, setup=setup, write=written.append, size=lambda r: r)
    assert setups == [1]
    assert [(o.item, o.result, o.error) for o in written] == [
        (1, 11, None), ("bad", None, "no good: bad"), (2, 12, None)
    ]  # fmt: skip
    assert (stats[0].items, stats[0].failed, stats[0].work) == (3, 1, 23)


def test_the_local_runner_loads_nothing_for_no_items():
    def setup():
        raise AssertionError("a model was loaded for an empty batch")

    assert run_jobs([], lambda c, i: i, setup=setup, write=print)[0].items == 0


@pytest.mark.parametrize(
    "options, expected",
    [({"workers": 0}, "workers must be at least 1"),
     ({"gpus_per_worker": -1, "workers": 1}, "gpus_per_worker must be 0 or more")],
)  # fmt: skip
def test_bad_runner_options_are_named(options, expected):
    with pytest.raises(ValueError, match=expected):
        run_jobs([1], lambda c, i: i, setup=lambda: None, write=print, **options)


def loader(spec, device, dtype):
    raise AssertionError("the model was loaded although the command was refused")


def test_workers_without_ray_installed_say_how_to_install_it(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "ray", None)  # find_spec("ray") is None: not installed
    manifest = tmp_path / "m.jsonl"
    manifest.write_text(json.dumps({"image": "a.png"}) + "\n")
    argv = ["explain", "--batch", str(manifest), "--out", str(tmp_path / "o"), "--workers", "2"]
    assert cli.main(argv, load=loader) == 2
    assert 'pip install "eagle-widget[ray]"' in capsys.readouterr().err


def test_a_ray_client_address_without_grpcio_says_how_to_install_it(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "grpc", None)  # Ray is here, Ray Client's grpcio is not
    manifest = tmp_path / "m.jsonl"
    manifest.write_text(json.dumps({"image": "a.png"}) + "\n")
    argv = ["explain", "--batch", str(manifest), "--out", str(tmp_path / "o")]
    assert cli.main([*argv, "--ray", "ray://127.0.0.1:10001"], load=loader) == 2
    err = capsys.readouterr().err
    assert "ray://127.0.0.1:10001 goes through Ray Client, which needs grpcio" in err
    assert 'pip install "eagle-widget[ray]"' in err


@pytest.mark.parametrize(
    "extra, expected",
    [(["--workers", "2"], "go with --batch"), (["--ray", "auto"], "go with --batch"),
     (["--workers", "0"], "positive integer"), (["--gpus-per-worker", "-1"], "number >= 0")],
)  # fmt: skip
def test_ray_options_are_checked(extra, expected, tmp_path, capsys):
    argv = ["explain", str(tmp_path / "a.png"), "--out", str(tmp_path / "o"), *extra]
    assert cli.main(argv, load=loader) == 2
    assert expected in capsys.readouterr().err


def test_gpus_per_worker_needs_workers_or_a_cluster(tmp_path, capsys):
    manifest = tmp_path / "m.jsonl"
    manifest.write_text(json.dumps({"image": "a.png"}) + "\n")
    argv = ["explain", "--batch", str(manifest), "--out", str(tmp_path / "o"),
            "--gpus-per-worker", "1"]  # fmt: skip
    assert cli.main(argv, load=loader) == 2
    assert "--gpus-per-worker goes with --workers or --ray" in capsys.readouterr().err


def test_workers_a_cluster_cannot_place_are_refused_by_name():
    """Issue 27: a worker Ray cannot place would keep its item forever; refuse it first."""
    from eagle_widget.batch.ray_backend import _check_fits

    with pytest.raises(ValueError, match="asks for GPUs, and the Ray cluster has none"):
        _check_fits({"CPU": 8.0}, 1, 1, 1)
    with pytest.raises(
        ValueError, match="4 workers x 0.5 GPUs need 2 GPUs.*has 1: ask for at most 2"
    ):
        _check_fits({"CPU": 8.0, "GPU": 1.0}, 4, 1, 0.5)
    with pytest.raises(ValueError, match="3 workers x 2 CPUs need 6 CPUs.*has 4"):
        _check_fits({"CPU": 4.0}, 3, 2, 0)
    _check_fits({"CPU": 4.0, "GPU": 2.0}, 4, 1, 0.5)  # fits: no error
