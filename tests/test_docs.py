"""The documentation site: it builds offline with warnings as errors, every page is there and
reachable, no link is broken, the demo page holds a real explanation, the code cites pages
and sections that exist, and the pages' Python examples run and give what they say."""

from __future__ import annotations

import html
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import unquote, urlsplit

import numpy as np
import pytest
from doc_blocks import close_widgets, python_blocks, run_blocks

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
PAGES = sorted(p.relative_to(DOCS) for p in DOCS.rglob("*.md") if "_build" not in p.parts)
CODE_PAGES = [page for page in PAGES if python_blocks(DOCS / page)]
DEMO_CAPTION = ["a", " red", " circle", " and", " a", " blue", " square"]
# file names the code writes or reads that are not pages (run folders, the model card)
NOT_PAGES = {"table", "MODEL_CARD", "README"}


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("site")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    command = [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html"]
    built = subprocess.run(
        [*command, str(DOCS), str(out)], capture_output=True, text=True, env=env, cwd=out
    )
    assert built.returncode == 0, f"the docs build failed:\n{built.stdout}\n{built.stderr}"
    return out


def _links(page: Path) -> list[str]:
    text = page.read_text(encoding="utf-8")
    return [html.unescape(v) for v in re.findall(r'\s(?:href|src)="([^"]*)"', text)]


def _local(link: str) -> bool:
    return bool(link) and not re.match(r"^[a-z][a-z0-9+.-]*:", link, flags=re.I)


def test_every_page_is_built_and_reachable_from_the_front_page(site):
    built = {site / page.with_suffix(".html") for page in PAGES}
    assert all(path.is_file() for path in built), sorted(p for p in built if not p.is_file())
    seen, todo = set(), [site / "index.html"]
    while todo:
        page = todo.pop().resolve()
        if page in seen or page.suffix != ".html" or not page.is_file():
            continue
        seen.add(page)
        for link in filter(_local, _links(page)):
            todo.append(page.parent / unquote(urlsplit(link).path or page.name))
    unreachable = sorted(str(p.relative_to(site)) for p in built if p.resolve() not in seen)
    assert not unreachable, f"pages no link leads to: {unreachable}"


def test_no_link_points_at_a_missing_file_or_anchor(site):
    broken = []
    for page in site.rglob("*.html"):
        if "_demo" in page.parts or "_sources" in page.parts:
            continue
        for link in filter(_local, _links(page)):
            parts = urlsplit(link)
            target, anchor = parts.path, parts.fragment
            path = (page.parent / unquote(target)) if target else page
            if not path.exists():
                broken.append(f"{page.relative_to(site)} -> {link}")
            elif anchor and path.suffix == ".html":
                ids = re.findall(r'\sid="([^"]*)"', path.read_text(encoding="utf-8"))
                if unquote(anchor) not in ids:
                    broken.append(f"{page.relative_to(site)} -> {link} (no such anchor)")
    assert not broken, "\n".join(broken)


def test_the_site_loads_nothing_from_the_network(site):
    loads = re.compile(r"<(?:script|img|iframe|link|source)\b[^>]*\s(?:src|href)=\"(?:https?:)?//")
    online = [str(p.relative_to(site)) for p in site.rglob("*.html") if loads.search(p.read_text())]
    assert not online, f"pages that fetch from the network: {online}"


def test_the_demo_page_embeds_an_offline_explanation_of_the_demo_scene(site):
    frames = re.findall(r'<iframe[^>]*\ssrc="([^"]+)"', (site / "demo.html").read_text())
    assert frames == ["_demo/explanation.html"]
    text = (site / frames[0]).read_text(encoding="utf-8")
    assert not re.search(r"https?://", text)
    state = re.search(
        r'<script type="application/json" id="eagle-state">(.*?)</script>', text, re.S
    )
    assert state, "the page holds no eagle-state"
    state = json.loads(state.group(1))
    assert state["status"] == "done" and state["tokens"] == DEMO_CAPTION
    assert 16 <= state["n_regions"] <= 32 and state["has_model"] is False


def _cited_pages(text: str) -> list[str]:
    return [name for name in re.findall(r"(?<![\w/.-])(?:docs/)?([\w-]+)\.md\b", text)]


def test_the_code_cites_pages_and_method_sections_that_exist():
    method = (DOCS / "method.md").read_text(encoding="utf-8")
    sections = set(re.findall(r"^## (\d+)\. ", method, flags=re.M))
    sources = [*ROOT.joinpath("eagle_widget").rglob("*.py"), *ROOT.joinpath("bench").glob("*.py")]
    sources += list(ROOT.joinpath("js", "src").rglob("*.js"))
    missing, cited = [], 0
    for source in sources:
        text = source.read_text(encoding="utf-8")
        for name in _cited_pages(text):
            if name not in NOT_PAGES:
                cited += 1
                if not (DOCS / f"{name}.md").is_file():
                    missing.append(f"{source.relative_to(ROOT)}: {name}.md")
        for number in re.findall(r"method\.md(?:'s)?,? (?:section|s\.) ?(\d+)", text):
            cited += 1
            if number not in sections:
                missing.append(f"{source.relative_to(ROOT)}: method.md section {number}")
    assert cited >= 10, "the citation scan found almost nothing: is its pattern stale?"
    assert not missing, "cited but not in docs/:\n" + "\n".join(missing)


# -- the pages' Python examples --------------------------------------------------------------


@pytest.fixture(scope="module")
def examples(tmp_path_factory):
    """Each page's blocks run once, on demand, in a folder of their own."""
    done: dict[Path, list[dict]] = {}

    def run(page: Path) -> list[dict]:
        if page not in done:
            here = Path.cwd()
            run.folders[page] = tmp_path_factory.mktemp(page.stem)
            os.chdir(run.folders[page])
            try:
                done[page] = run_blocks(python_blocks(DOCS / page))
            finally:
                os.chdir(here)
        return done[page]

    run.folders = {}
    yield run
    for after in done.values():
        if after:
            close_widgets(after[-1])


@pytest.mark.parametrize("page", CODE_PAGES, ids=str)
def test_the_python_blocks_of_every_page_run(examples, page):
    blocks = python_blocks(DOCS / page)
    unexplained = [b.line for b in blocks if b.skip_reason == ""]
    assert not unexplained, f"{page}: blocks marked not run without a reason, lines {unexplained}"
    ran = examples(page)
    assert len(ran) == sum(b.skip_reason is None for b in blocks)


def test_most_examples_run_and_only_marked_ones_are_skipped():
    blocks = [b for page in CODE_PAGES for b in python_blocks(DOCS / page)]
    skipped = [b for b in blocks if b.skip_reason is not None]
    assert len(blocks) >= 8 and len(skipped) * 3 <= len(blocks), [b.line for b in skipped]


def test_getting_started_explains_the_circle_and_streams_one_step_per_region(examples):
    first, stream = examples(Path("getting-started.md"))
    assert first["gen"].text == "a red circle and a blue square"
    result, again = first["result"], first["again"]
    assert np.array_equal(again.order, result.order) and again.labels.shape == (64, 64)
    assert first["heat"].max() == 1.0 and first["prior"] + first["visual"] > 0.5
    regions = [step.region for step in stream["steps"]]
    assert sorted(regions) == list(range(len(regions))) and len(regions) >= 8  # each once


def test_the_widget_page_explains_the_circle_in_the_background(examples):
    (names,) = examples(Path("widget.md"))
    result = names["result"]
    assert [result.generation.tokens[i] for i in result.positions] == [" circle"]
    assert names["viewer"].has_model is False


def test_the_hallucination_example_gives_the_outcome_its_comment_states(examples):
    (names,) = examples(Path("hallucinations.md"))
    outcome = names["outcome"]
    assert outcome.corrected and outcome.answer.text == "no"
    assert outcome.removed_area == pytest.approx(0.027, abs=0.0005)
    metrics = names["ew"].hallucination_metrics([outcome])
    assert metrics["csr_at_10"] == 1.0
    heat = names["diagnosis"].hallucination_map
    assert heat.shape == names["scene"].image.shape[:2] and np.isclose(heat.max(), 1.0)


def test_the_own_model_example_finds_the_red_square(examples):
    (names,) = examples(Path("models.md"))
    result = names["result"]
    top = result.labels == result.order[0]
    assert top[16:48, 56:88].sum() == top.sum() > 0
    assert result.p_full[0] == 1.0 and result.p_blank[0] == 0.0


def test_the_metric_examples_give_the_values_their_comments_state(examples):
    (names,) = examples(Path("benchmarks.md"))
    assert names["auc"] == pytest.approx(0.1 + 0.2 + 0.475)
    assert names["lenient"] is True and names["strict"] is False
    assert names["ours"] == 0.5 and names["theirs"] == 1.0
    assert names["mean_ratio"] == pytest.approx(0.525)


def test_the_batch_example_writes_both_items_and_resumes_without_work(examples):
    (names,) = examples(Path("ray.md"))
    assert (names["report"].done, names["report"].failed) == (2, 0)
    assert names["again"].skipped == 2 and names["again"].failed == 0


def test_the_demo_page_example_writes_an_offline_page(examples):
    (names,) = examples(Path("demo.md"))
    page = examples.folders[Path("demo.md")] / names["page"]
    assert "eagle-state" in page.read_text(encoding="utf-8")
