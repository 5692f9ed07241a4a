"""The widget in real JupyterLab and Notebook 7, driven through Debian's chromium.

A generated notebook shows two widgets: one that streams slowly enough to watch, one whose
model fails in the background thread. They use the embedded demo model when its weights are
built, else a synthetic captioning model with known answers (tests/widget_models.py).
Everything is asserted from the DOM; screenshots go to test-artifacts/.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from legibility import described, illegible

TESTS = Path(__file__).resolve().parents[1]
REGIONS = 36  # asked for; superpixels may give a few fewer


def _demo_model_available() -> bool:
    try:
        from eagle_widget.models.demo import WEIGHTS_DIR
    except ImportError:
        return False
    return Path(WEIGHTS_DIR).is_dir()


DEMO = _demo_model_available()

SETUP = f"""\
import sys
sys.path.insert(0, {str(TESTS)!r})
import eagle_widget as ew
from widget_models import FlakyModel, Slowed, caption_model, scene"""

if DEMO:  # the embedded demo model, slowed down enough to watch it stream
    LIVE = f"""\
model = ew.load_demo_model()
picture = ew.scenes.make_scene(seed=7, objects=[("red", "circle"), ("blue", "square")])
slow = Slowed(model, delay=0.1)
explainer = ew.Explainer(slow, n_regions={REGIONS}, search="greedy")
w = ew.EagleWidget(slow, picture.image, explainer=explainer)
w"""
    FAILING = """\
flaky = FlakyModel(model, fail_after=3)
w_err = ew.EagleWidget(flaky, picture.image, explainer=ew.Explainer(flaky, n_regions=16))
w_err"""
    WORD, OTHER = "circle", "square"
else:  # a synthetic model with known answers (tests/widget_models.py)
    LIVE = f"""\
model = caption_model(rows=6, cols=6, cell=16, delay=0.15)
explainer = ew.Explainer(model, n_regions={REGIONS}, search="greedy")
w = ew.EagleWidget(model, scene(rows=6, cols=6, cell=16), explainer=explainer)
w"""
    FAILING = """\
flaky = FlakyModel(caption_model(), fail_after=3)
w_err = ew.EagleWidget(flaky, scene(), explainer=ew.Explainer(flaky, n_regions=16))
w_err"""
    WORD, OTHER = "square", "blue"

CANVAS_HASH = """c => {
  const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
  let h = 0;
  for (let i = 0; i < d.length; i++) h = (Math.imul(h, 31) + d[i]) >>> 0;
  return h;
}"""

INKED_PIXELS = """c => {
  const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
  let n = 0;
  for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++;
  return n;
}"""

URLS = {"lab": "/lab/tree/{name}", "notebook": "/notebooks/{name}"}


def notebook_of(heading: str, *sources: str) -> dict:
    """A notebook of a markdown heading, then one code cell per source. The heading stands
    above the widgets: ArrowLeft in command mode folds its section (the key tests' control)."""

    def cell(source: str) -> dict:
        return {
            "cell_type": "code",
            "execution_count": None,
            "metadata": {},
            "outputs": [],
            "source": source,
        }

    return {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
            "language_info": {"name": "python"},
        },
        "cells": [
            {"cell_type": "markdown", "metadata": {}, "source": heading},
            *(cell(source) for source in sources),
        ],
    }


def notebook() -> dict:
    return notebook_of("# EAGLE in the browser", SETUP, LIVE, FAILING)


def status_of(widget) -> str:
    return widget.get_attribute("data-status")


def steps_of(widget) -> int:
    return int(widget.locator("[data-role=step-counter]").get_attribute("data-steps") or 0)


def wait_status(widget, wanted: str | set[str], timeout: float = 60.0) -> str:
    wanted = {wanted} if isinstance(wanted, str) else wanted
    end = time.monotonic() + timeout
    while (status := status_of(widget)) not in wanted:
        assert time.monotonic() < end, f"status stayed {status!r}, wanted {sorted(wanted)}"
        time.sleep(0.1)
    return status


def token_index(widget, text: str) -> int:
    """data-token-index of the caption token that reads `text`."""
    indices = widget.locator("[data-token-index]").evaluate_all(
        "(els, text) => els.filter((e) => e.querySelector('.ew-token-text').textContent === text)"
        ".map((e) => Number(e.dataset.tokenIndex))",
        text,
    )
    assert indices, f"no token {text!r} in the caption"
    return indices[0]


# a cell's prompt once it runs or ran: [*]: or [1]:
STARTED = (
    "() => [...document.querySelectorAll('.jp-InputPrompt')]"
    ".some((p) => /\\[(\\*|\\d+)\\]/.test(p.textContent))"
)


# "ready" once the open notebook's kernel is connected and idle, "dialog" while a dialog
# (Lab's "Select Kernel") waits for an answer
KERNEL_STATE = """() => {
  if (document.querySelector('.jp-Dialog')) return 'dialog';
  const context = window.jupyterapp?.shell?.currentWidget?.sessionContext;
  const kernel = context?.session?.kernel;
  const connected = context?.isReady && kernel?.connectionStatus === 'connected';
  return connected && kernel.status === 'idle' ? 'ready' : false;
}"""


def wait_for_kernel(page, timeout: float = 90.0) -> None:
    """Wait until the notebook's kernel is connected and idle. A "Select Kernel" dialog (Lab
    asks when a command meets a session without a kernel yet) is answered with its default,
    the notebook's own kernel."""
    end = time.monotonic() + timeout
    while True:
        left = max(1.0, end - time.monotonic())
        state = page.wait_for_function(KERNEL_STATE, timeout=1000 * left).json_value()
        if state == "ready":
            return
        page.locator(".jp-Dialog .jp-mod-accept").click()
        assert time.monotonic() < end, "the kernel did not become ready"


def run_all_cells(page, timeout: float = 60.0) -> None:
    """Run every cell of the open notebook, once its kernel is ready (a run sent earlier can
    be dropped, or open the "Select Kernel" dialog). The command's promise settles only when
    every cell ran: it is not awaited."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    end = time.monotonic() + timeout
    while True:
        wait_for_kernel(page)
        page.evaluate("() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); }")
        try:
            page.wait_for_function(STARTED, timeout=10_000)
            return
        except PlaywrightTimeout:
            assert time.monotonic() < end, "no cell started: is the kernel running?"


# the active cell and the number of hidden (folded) cells
NOTEBOOK_STATE = """() => {
  const notebook = window.jupyterapp.shell.currentWidget.content;
  return [notebook.activeCellIndex, notebook.widgets.filter((c) => c.isHidden).length];
}"""


def mask_hash(widget) -> int:
    return widget.locator("[data-role=mask-canvas]").evaluate(CANVAS_HASH)


@pytest.mark.browser
@pytest.mark.timeout(240)
@pytest.mark.parametrize("app", ["lab", "notebook"])
def test_widget_streams_stops_and_reports_errors_in_the_browser(app, browser, jupyter, artifacts):
    server, name = jupyter(app, notebook())
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    console = []
    page.on("console", lambda msg: console.append(f"{msg.type}: {msg.text}"))
    try:
        run_flow(app, server, name, page, artifacts)
    except Exception:
        page.screenshot(path=str(artifacts / f"{app}-failure.png"), full_page=True)
        (artifacts / f"{app}-console.log").write_text("\n".join(console))
        (artifacts / f"{app}-server.log").write_text(server.read_log())
        raise
    finally:
        page.close()


def run_flow(app, server, name, page, artifacts: Path) -> None:
    page.goto(server.url + URLS[app].format(name=name))
    page.wait_for_function(
        "() => window.jupyterapp && document.querySelector('.jp-Notebook .jp-Cell')",
        timeout=60_000,
    )
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60_000)
    page.wait_for_timeout(1000)
    page.screenshot(path=str(artifacts / f"{app}-loaded.png"))
    run_all_cells(page)
    widgets = page.locator(".eagle-widget")
    widgets.nth(1).wait_for(timeout=90_000)
    live, failing = widgets.nth(0), widgets.nth(1)

    # opening: caption generated, reliance bars drawn
    wait_status(live, "idle", 60)
    n_tokens = live.locator("[data-token-index]").count()
    words = live.locator("[data-role=caption]").inner_text().split()
    assert WORD in words and OTHER in words
    bars = live.locator("[data-role=caption] [data-role=reliance-bar]")
    assert bars.count() == n_tokens
    word, other = token_index(live, WORD), token_index(live, OTHER)
    word_bar = live.locator(f'[data-token-index="{word}"] [data-role=reliance-bar]')
    assert float(word_bar.get_attribute("data-visual")) > 0.2  # the image carries the word
    assert word_bar.locator(".ew-bar-visual").bounding_box()["width"] > 0
    assert live.locator("[data-role=reliance]").get_attribute("data-ready") == "true"
    if not DEMO:  # known answers of the synthetic model
        assert words == ["A", "red", "square", "on", "blue", "."]
        red_bar = live.locator('[data-token-index="1"] [data-role=reliance-bar]')
        assert float(red_bar.get_attribute("data-visual")) == pytest.approx(0.8, abs=1e-3)

    # a click explains the word; steps stream in
    live.locator(f'[data-token-index="{word}"]').click()
    wait_status(live, "explaining", 20)
    page.wait_for_function(
        "el => Number(el.querySelector('[data-role=step-counter]').dataset.steps) >= 1",
        arg=live.element_handle(),
        timeout=20_000,
    )
    steps_a, hash_a = steps_of(live), mask_hash(live)
    time.sleep(1.5)
    steps_b, hash_b = steps_of(live), mask_hash(live)
    assert steps_b > steps_a, f"step counter did not rise: {steps_a} -> {steps_b}"
    assert hash_b != hash_a, "the mask canvas did not change while steps arrived"
    live.screenshot(path=str(artifacts / f"{app}-streaming.png"))

    # Stop cancels
    live.locator("[data-role=stop]").click()
    wait_status(live, "cancelled", 15)
    stopped_at = steps_of(live)
    n_regions = int(live.locator("[data-role=step-counter]").get_attribute("data-total"))
    assert 16 <= n_regions <= REGIONS
    assert stopped_at < n_regions
    time.sleep(0.5)
    assert steps_of(live) == stopped_at
    assert "stopped" in live.locator("[data-role=status]").inner_text()

    # the whole sentence runs to the end: curves, AUCs, per-token preview, views
    live.locator("[data-role=explain-sentence]").click()
    wait_status(live, "explaining", 20)
    wait_status(live, "done", 120)
    assert steps_of(live) == n_regions
    curves = live.locator("[data-role=curves]")
    assert curves.get_attribute("data-insertion-points") == str(n_regions + 1)
    assert 0 < float(curves.get_attribute("data-insertion-auc")) <= 1
    assert "insertion AUC 0." in curves.inner_text()
    assert curves.locator("canvas").evaluate(INKED_PIXELS) > 500
    heat = mask_hash(live)
    live.locator(f'[data-token-index="{other}"]').hover()  # its own map
    page.wait_for_timeout(300)
    assert mask_hash(live) != heat, "hovering a token did not preview its own map"
    page.mouse.move(0, 0)
    page.wait_for_timeout(300)
    assert mask_hash(live) == heat
    live.locator("[data-mode=kept]").click()
    page.wait_for_timeout(200)
    kept = mask_hash(live)
    assert kept != heat
    live.locator("[data-role=slider]").fill("3")
    page.wait_for_timeout(200)
    assert mask_hash(live) != kept
    assert f"top 3 of {n_regions} regions" in live.inner_text()

    # keys on the widget's controls stay in the widget: no cell moves, no heading folds
    slider = live.locator("[data-role=slider]")
    slider.focus()  # makes the widget's cell the active one
    before = page.evaluate(NOTEBOOK_STATE)
    for key in ("ArrowUp", "ArrowLeft", "ArrowLeft", "ArrowDown"):  # 3 -> 4 -> 3 -> 2 -> 1
        slider.press(key)
    live.locator("button[data-mode=removed]").press("ArrowUp")
    live.locator(f'[data-token-index="{other}"]').press("ArrowLeft")
    page.wait_for_timeout(200)
    assert f"top 1 of {n_regions} regions" in live.inner_text()
    assert page.evaluate(NOTEBOOK_STATE) == before, "a key reached the notebook"
    live.locator("[data-role=slider]").fill("3")
    live.locator("[data-mode=heat]").click()
    live.locator("[data-role=boundaries]").check()
    page.wait_for_timeout(200)
    live.screenshot(path=str(artifacts / f"{app}-done-light.png"))
    assert not (bad := illegible(live)), f"{app} light: {described(bad)}"

    # exports: PNG drawn in the browser, JSON from the kernel
    with page.expect_download() as png:
        live.locator("[data-role=export-png]").click()
    exported = Path(png.value.path()).read_bytes()
    assert exported[:8] == b"\x89PNG\r\n\x1a\n"
    (artifacts / f"{app}-export.png").write_bytes(exported)
    with page.expect_download() as js:
        live.locator("[data-role=export-json]").click()
    data = json.loads(Path(js.value.path()).read_text())
    assert sorted(data["order"]) == list(range(n_regions))
    assert data["positions"] == list(range(n_tokens))

    # an error in the background thread shows in the widget, which stays usable
    wait_status(failing, "idle", 30)
    failing.locator(f'[data-token-index="{token_index(failing, WORD)}"]').click()
    wait_status(failing, "error", 30)
    error = failing.locator("[data-role=error]")
    assert error.is_visible()
    assert "RuntimeError: simulated model failure" in error.inner_text()
    assert failing.locator("[data-role=explain-sentence]").is_enabled()
    failing.screenshot(path=str(artifacts / f"{app}-error.png"))
    assert not (bad := illegible(failing)), f"{app} light, error: {described(bad)}"

    # dark theme
    page.evaluate(
        "() => { window.jupyterapp.commands.execute('apputils:change-theme',"
        " {theme: 'JupyterLab Dark'}); }"
    )
    page.wait_for_function("() => document.body.dataset.jpThemeLight === 'false'", timeout=20_000)
    page.wait_for_timeout(500)
    bg = live.evaluate("el => getComputedStyle(el).backgroundColor")
    channels = [int(c) for c in bg[bg.index("(") + 1 : bg.index(")")].split(",")[:3]]
    assert sum(channels) / 3 < 100, f"dark theme background is {bg}"
    live.screenshot(path=str(artifacts / f"{app}-done-dark.png"))
    for shown, widget in (("result", live), ("error", failing)):
        assert not (bad := illegible(widget)), f"{app} dark, {shown}: {described(bad)}"


# -- diagnose mode -----------------------------------------------------------------------
# YesNoModel (tests/widget_models.py) wrongly says "yes" because it sees block DRIVER; the
# user presses Diagnose, which explains "no" and removes regions until the answer flips.
DIAGNOSE = """\
from widget_models import YesNoModel, yes_no_scene
yes_no = YesNoModel(delay=0.1)
w_dx = ew.EagleWidget(yes_no, yes_no_scene(), prompt="Is there a blue square?",
                      explainer=ew.Explainer(yes_no, n_regions=16, search="greedy"))
w_dx"""

# RGBA of canvas pixel (x, y) in the canvas's own pixels
PIXEL = """(c, [x, y]) => Array.from(c.getContext("2d").getImageData(x, y, 1, 1).data)"""


def diagnose_notebook() -> dict:
    nb = notebook()
    heading, setup = nb["cells"][:2]
    nb["cells"] = [heading, setup, {**setup, "source": DIAGNOSE}]
    return nb


@pytest.mark.browser
@pytest.mark.timeout(180)
@pytest.mark.parametrize("app", ["lab", "notebook"])
def test_diagnose_mode_shows_the_revised_answer_curve_and_removed_region(
    app, browser, jupyter, artifacts
):
    server, name = jupyter(app, diagnose_notebook(), name="diagnose.ipynb")
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    console = []
    page.on("console", lambda msg: console.append(f"{msg.type}: {msg.text}"))
    try:
        page.goto(server.url + URLS[app].format(name=name))
        page.wait_for_function(
            "() => window.jupyterapp && document.querySelector('.jp-Notebook .jp-Cell')",
            timeout=60_000,
        )
        page.wait_for_timeout(1000)
        run_all_cells(page)
        widget = page.locator(".eagle-widget").first
        widget.wait_for(timeout=90_000)
        wait_status(widget, "idle", 60)  # the answer "yes" is there
        diagnose = widget.locator("button[data-role=diagnose]")
        diagnose.wait_for(state="visible", timeout=10_000)  # drawn in the next frame
        assert "\u201cno\u201d" in diagnose.get_attribute("title")
        diagnose.click()
        # the counterfactual run streams like any other, then the answer is revised
        wait_status(widget, {"explaining", "done"}, 60)
        # the button alone does not say which answer is right: a counterfactual (issue 11, 22)
        assert "counterfactual “no”" in widget.locator("[data-role=status]").inner_text()
        wait_status(widget, "done", 90)
        panel = widget.locator("[data-role=diagnosis]")
        assert panel.is_visible()
        assert widget.locator("[data-role=original-answer]").inner_text() == "yes"
        assert widget.locator("[data-role=revised-answer]").inner_text() == "no"
        assert "6.3% of the image (1 region" in panel.inner_text()
        curve = widget.locator("[data-role=diagnosis-curve]")
        assert curve.get_attribute("data-points") == "9"  # nothing removed + 8 cuts
        assert curve.get_attribute("data-cut-area") == "0.0625"
        assert curve.bounding_box()["width"] > 150
        n_vertices = curve.locator("[data-role=diagnosis-line]").evaluate(
            "el => el.points.numberOfItems"
        )
        assert n_vertices == 9
        assert widget.locator("[data-role=diagnosis-cut]").count() == 1
        # the map switched to the diagnosis: the driver block (row 1, column 2 of 4 x 4)
        # is outlined, its inside is hot
        mask = widget.locator("[data-role=mask-canvas]")
        assert mask.get_attribute("data-mode") == "diagnose"
        assert mask.get_attribute("data-outlined") == "1"
        size = mask.evaluate("c => c.width")
        cell = size // 4
        edge = mask.evaluate(PIXEL, [2 * cell + 1, cell + cell // 2])
        inside = mask.evaluate(PIXEL, [2 * cell + cell // 2, cell + cell // 2])
        other = mask.evaluate(PIXEL, [cell // 2, 3 * cell + cell // 2])
        assert edge[:3] == [0, 229, 255], f"the removed region is not outlined: {edge}"
        assert sum(inside[:3]) > sum(other[:3]) + 150, (inside, other)
        button = widget.locator("button[data-mode=diagnose]")
        assert button.is_visible() and button.get_attribute("aria-pressed") == "true"
        widget.screenshot(path=str(artifacts / f"{app}-diagnose.png"))
        assert not (bad := illegible(widget)), f"{app}, diagnosis: {described(bad)}"
        diagnosed = mask_hash(widget)
        widget.locator("button[data-mode=heat]").click()
        page.wait_for_timeout(300)
        assert mask.get_attribute("data-mode") == "heat" and mask_hash(widget) != diagnosed
        button.click()
        page.wait_for_timeout(300)
        assert mask_hash(widget) == diagnosed
    except Exception:
        page.screenshot(path=str(artifacts / f"{app}-diagnose-failure.png"), full_page=True)
        (artifacts / f"{app}-diagnose-console.log").write_text("\n".join(console))
        (artifacts / f"{app}-diagnose-server.log").write_text(server.read_log())
        raise
    finally:
        page.close()
