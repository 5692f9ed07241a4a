"""The README's Python example runs as written, and says what it really gives."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from doc_blocks import close_widgets, python_blocks, run_blocks

README = Path(__file__).resolve().parents[1] / "README.md"


@pytest.fixture(scope="module")
def namespace(tmp_path_factory, monkeypatch_module):
    blocks = python_blocks(README)
    assert blocks and all(b.skip_reason is None for b in blocks), "the README's example"
    monkeypatch_module.chdir(tmp_path_factory.mktemp("readme"))  # it saves circle.npz
    after = run_blocks(blocks)
    yield after
    close_widgets(after[-1])


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
    assert "eagle-state" in Path("circle.html").read_text(encoding="utf-8")


def test_the_readme_is_short_and_links_pages_that_exist():
    text = README.read_text(encoding="utf-8")
    assert len(text.splitlines()) < 200
    root = README.parent
    links = [link.split("#")[0] for link in re.findall(r"\]\(([^)\s]+)\)", text)]
    local = [link for link in links if "://" not in link]
    assert any(link.startswith("docs/") for link in local)
    missing = [link for link in local if not (root / link).exists()]
    assert not missing, f"the README links to files that do not exist: {missing}"


def test_the_two_commands_are_the_demo_and_the_whole_suite():
    text = README.read_text(encoding="utf-8")
    assert "\nbash scripts/demo.sh " in text and "\nbash scripts/test.sh " in text
