"""Errors a new user met (issue 23, section 2, row 10): each says what is wrong once, where
(file, line, key), in the words of the interface used, and before any slow work."""

import json

import numpy as np
import pytest
from PIL import Image
from widget_models import caption_model, scene

import eagle_widget as ew
from eagle_widget import cli
from eagle_widget.console import describe
from eagle_widget.models.served import OpenAIModel, ServerError


def never_load(spec, device, dtype):
    raise AssertionError("the model must not load for input that can be refused before")


def run(argv, capsys, load=never_load):
    code = cli.main([str(a) for a in argv], load=load)
    out, err = capsys.readouterr()
    return code, err


def test_a_missing_image_is_named_once(tmp_path, capsys):
    missing = tmp_path / "x.png"
    code, err = run(["explain", missing, "--out", tmp_path / "out"], capsys)
    assert code == 1 and err.count(str(missing)) == 1, err


def test_a_tiny_image_is_refused_before_the_model_loads(tmp_path, capsys):
    Image.fromarray(np.full((4, 30, 3), 90, np.uint8)).save(tmp_path / "tiny.png")
    code, err = run(["explain", tmp_path / "tiny.png", "--out", tmp_path / "out"], capsys)
    assert code == 1 and "4 x 30 pixels" in err and "needs at least 8 x 8" in err, err
    assert "loading model" not in err


def prepare(capsys, tmp_path, task, annotations: str, name="notes.jsonl"):
    (tmp_path / "imgs").mkdir(exist_ok=True)
    (tmp_path / name).write_text(annotations)
    argv = ["prepare", task, "--annotations", tmp_path / name, "--images", tmp_path / "imgs"]
    return run([*argv, "--out", tmp_path / "list.json"], capsys)


def test_prepare_names_the_file_the_line_and_the_missing_key(tmp_path, capsys):
    good = {"image": "a.jpg", "text": "Is there a cat?", "label": "no"}
    lines = [json.dumps(good), json.dumps({"image": "b.jpg", "text": "Is there a dog?"})]
    code, err = prepare(capsys, tmp_path, "repope", "\n".join(lines) + "\n")
    assert code == 2 and "notes.jsonl" in err and "line 2 has no 'label'" in err, err
    assert "KeyError" not in err
    code, err = prepare(capsys, tmp_path, "repope", json.dumps(good) + "\n\n{bad\n")
    assert code == 2 and "line 3 is not valid JSON" in err and "line 1 column" not in err, err
    code, err = prepare(capsys, tmp_path, "coco-caption", "", name="captions.json")
    assert code == 2 and "captions.json" in err and "not valid JSON" in err, err
    instances = {"images": [{"id": 1, "file_name": "a.jpg"}], "categories": [{"id": 3}],
                 "annotations": []}  # fmt: skip
    code, err = prepare(capsys, tmp_path, "coco-object", json.dumps(instances), "inst.json")
    assert code == 2 and "categories[0] has no 'name'" in err, err


def test_a_bad_manifest_line_says_its_own_line_not_line_1(tmp_path):
    (tmp_path / "m.jsonl").write_text('{"image": "a.png"}\n{"image": "b.png",,}\n')
    error = cli.read_manifest(tmp_path / "m.jsonl")[1]["error"]
    assert error.startswith("manifest line 2: not valid JSON") and "line 1" not in error, error


@pytest.mark.parametrize("kind", ["text", "pickle", "other npz"])
def test_loading_a_foreign_file_says_it_is_not_a_result_without_numpys_pickle_hint(tmp_path, kind):
    path = tmp_path / "foreign.npz"
    if kind == "text":
        path.write_text("hello")
    elif kind == "pickle":
        np.save(tmp_path / "objects.npy", np.array([{"a": 1}], dtype=object))
        path = tmp_path / "objects.npy"
    else:
        np.savez(path, weights=np.arange(3))
    with pytest.raises(ValueError) as error:
        ew.Explanation.load(path)
    message = str(error.value)
    assert "is not an eagle-widget explanation file" in message
    assert "pickle" not in message and "unsafely" not in message, message


def test_the_command_line_names_its_flag_for_the_request_budget(tmp_path, capsys):
    fake_openai = pytest.importorskip("fake_openai")
    pytest.importorskip("openai")
    Image.fromarray(scene(cell=16)).save(tmp_path / "scene.png")
    with fake_openai.FakeServer() as server:
        argv = ["explain", tmp_path / "scene.png", "--model", "openai:" + server.url]
        argv += ["--served-model", "fake", "--max-requests", "3", "--out", tmp_path / "out"]
        code, err = run(argv, capsys)
    assert code == 1 and "more than --max-requests 3" in err, err
    assert "max_requests=" not in err


def test_a_server_that_never_answered_promises_no_cache():
    model = OpenAIModel("http://127.0.0.1:9/v1", "m", max_retries=0, log=lambda line: None)
    with pytest.raises(ServerError) as error:
        model.generate(np.zeros((16, 16, 3), np.uint8), "Describe.")
    assert "no answer from http://127.0.0.1:9/v1" in str(error.value)
    assert "cached" not in str(error.value)


def test_the_command_line_shows_a_server_error_without_its_class_name(tmp_path, capsys):
    class DeadServer:
        def generate(self, image, prompt, max_new_tokens=64):
            raise ServerError("no answer from http://127.0.0.1:9/v1 (Connection error.)")

        token_probs = caption_model().token_probs

    Image.fromarray(scene(cell=16)).save(tmp_path / "scene.png")
    code, err = run(["explain", tmp_path / "scene.png", "--out", tmp_path / "out"], capsys,
                    load=lambda spec, device, dtype: DeadServer())  # fmt: skip
    assert code == 1 and "eagle-widget: error: no answer from http://127.0.0.1:9/v1" in err, err
    assert "ServerError" not in err
    assert describe(KeyError("label")) == "KeyError: 'label'"  # a foreign error keeps its name
