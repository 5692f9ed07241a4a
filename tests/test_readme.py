"""The README's Python examples run as written, and say what they really give."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


@pytest.fixture(scope="module")
def namespace(tmp_path_factory, monkeypatch_module):
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert len(blocks) >= 2, "the README lost its Python examples"
    monkeypatch_module.chdir(tmp_path_factory.mktemp("readme"))  # it saves circle.npz
    names: dict = {}
    after: list[dict] = []  # the names as each block left them (later blocks reuse some)
    for block in blocks:
        exec(compile(block, str(README), "exec"), names)  # noqa: S102 - our own README
        after.append(dict(names))
    yield after
    for value in names.values():
        if hasattr(value, "wait") and hasattr(value, "close"):  # widgets' worker threads
            value.wait(30)
            value.close()


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


def test_the_usage_example_explains_the_circle_on_the_circle(namespace):
    namespace = namespace[0]
    assert namespace["gen"].text == "a red circle and a blue square"
    result = namespace["result"]
    circle = namespace["scene"].object_mask(0)
    top = result.labels == result.order[0]
    assert circle[top].mean() >= 0.5
    assert Path("circle.npz").is_file()


def test_the_hallucination_example_gives_the_outcome_its_comment_states(namespace):
    namespace = namespace[1]
    outcome = namespace["outcome"]
    assert outcome.corrected and outcome.answer.text == "no"
    assert outcome.removed_area == pytest.approx(0.027, abs=0.0005)
    metrics = namespace["ew"].hallucination_metrics([outcome])
    assert metrics["csr_at_10"] == 1.0
    heat = namespace["diagnosis"].hallucination_map
    assert heat.shape == namespace["scene"].image.shape[:2] and np.isclose(heat.max(), 1.0)
