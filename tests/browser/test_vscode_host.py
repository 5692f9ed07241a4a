"""The widget under VS Code's own widget renderer, with a real kernel (tests/browser/vscode.py).

One kernel and one page: a captioning widget, a yes/no widget and one whose output scrolls
into view late. Explain, stream, click a word, export, diagnose and keys are driven once;
legibility is checked for the four themes captured from VS Code, with vscode-jupyter's
white widget background and without it (its pending fix).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import vscode
from legibility import described, illegible

TESTS = Path(__file__).resolve().parents[1]

SETUP = f"""\
import sys
sys.path.insert(0, {str(TESTS)!r})
import eagle_widget as ew
from widget_models import YesNoModel, caption_model, scene, yes_no_scene"""

LIVE = """\
model = caption_model(delay=0.1)
w = ew.EagleWidget(model, scene(), explainer=ew.Explainer(model, n_regions=16, search="greedy"))
w"""

YES_NO = """\
yes_no = YesNoModel(delay=0.05)
w_dx = ew.EagleWidget(yes_no, yes_no_scene(), prompt="Is there a blue square?",
                      explainer=ew.Explainer(yes_no, n_regions=16, search="greedy"))
w_dx"""

LATE = """\
w_late = ew.EagleWidget(model, scene())
w_late"""

# the widget's own surface (scheme) for each theme: white under vscode-jupyter's rule,
# else the editor's background
DARK_THEMES = {"dark", "hc"}


@pytest.fixture(scope="module")
def host(browser, vscode_server):
    """The host page with its kernel, the three widgets shown; yields (page, widgets, errors)."""
    page = browser.new_page(viewport={"width": 1280, "height": 1000}, accept_downloads=True)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        page.goto(f"{vscode_server.url}/static/vscode/index.html")
        page.wait_for_selector("body[data-ready]", state="attached", timeout=60_000)
        log = page.evaluate("window.vscodeHost.log")
        assert page.evaluate("document.body.dataset.ready") == "true", log
        page.evaluate("t => window.vscodeHost.setTheme(t)", vscode.themes()["light"])
        run = "async ([code, options]) => (await window.vscodeHost.ready).run(code, options)"
        page.evaluate(run, [SETUP, {}])
        for code in (LIVE, YES_NO):
            assert page.evaluate(run, [code, {}]) == 1
        assert page.evaluate(run, [LATE, {"lazy": True, "spacer": 3000}]) == 1
        widgets = page.locator(".eagle-widget")
        widgets.nth(1).wait_for(timeout=60_000)
        yield page, widgets, errors
    finally:
        page.close()


def wait_status(widget, wanted: str, timeout: float = 60.0) -> None:
    end = time.monotonic() + timeout
    while (status := widget.get_attribute("data-status")) != wanted:
        assert time.monotonic() < end, f"status stayed {status!r}, wanted {wanted!r}"
        time.sleep(0.1)


def finished(widget, button: str) -> None:
    """Wait for a finished result; press `button` first if none is coming (a test run alone)."""
    if widget.get_attribute("data-status") == "generating":
        wait_status(widget, "idle")
    if widget.get_attribute("data-status") == "idle":
        widget.locator(f"button[data-role={button}]").click()
    wait_status(widget, "done", 120)


def steps_of(widget) -> int:
    return int(widget.locator("[data-role=step-counter]").get_attribute("data-steps") or 0)


@pytest.mark.browser
@pytest.mark.timeout(300)
def test_explain_stream_export_and_diagnose_run_under_the_vscode_renderer(host):
    page, widgets, errors = host
    live, yes_no = widgets.nth(0), widgets.nth(1)
    wait_status(live, "idle")
    assert live.locator("[data-role=caption]").inner_text().split() == [
        "A", "red", "square", "on", "blue", "."]  # fmt: skip
    live.locator('[data-token-index="1"]').click()  # " red": steps stream in
    wait_status(live, "explaining", 20)
    page.wait_for_function(
        "el => Number(el.querySelector('[data-role=step-counter]').dataset.steps) >= 1",
        arg=live.element_handle(), timeout=20_000)  # fmt: skip
    first = steps_of(live)
    wait_status(live, "done", 90)
    assert steps_of(live) == 16 > first
    assert live.locator("[data-role=curves]").get_attribute("data-insertion-points") == "17"
    with page.expect_download() as png:
        live.locator("[data-role=export-png]").click()
    assert Path(png.value.path()).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with page.expect_download() as exported:  # the kernel answers through the comm
        live.locator("[data-role=export-json]").click()
    data = json.loads(Path(exported.value.path()).read_text())
    assert sorted(data["order"]) == list(range(16)) and data["positions"] == [1]

    wait_status(yes_no, "idle")
    yes_no.locator("button[data-role=diagnose]").click()
    wait_status(yes_no, "done", 90)
    assert yes_no.locator("[data-role=revised-answer]").inner_text() == "no"
    assert yes_no.locator("[data-role=mask-canvas]").get_attribute("data-outlined") == "1"
    assert errors == []


@pytest.mark.browser
def test_keys_of_the_widgets_controls_do_not_reach_vscode(host):
    page, widgets, _ = host
    live = widgets.nth(0)
    finished(live, "explain-sentence")
    slider = live.locator("[data-role=slider]")
    page.evaluate("window.vscodeHost.forwardedKeys.length = 0")
    before = int(slider.input_value())
    slider.focus()
    for key in ("ArrowLeft", "ArrowDown", "Home", "ArrowRight"):
        slider.press(key)
    assert int(slider.input_value()) == 1 != before  # Home went to 0, ArrowRight to 1
    live.locator("button[data-mode=kept]").press("Enter")
    mask = live.locator("[data-role=mask-canvas]").element_handle()
    page.wait_for_function("el => el.dataset.mode === 'kept'", arg=mask)
    live.locator("[data-word-index='2']").press("ArrowUp")
    assert page.evaluate("window.vscodeHost.forwardedKeys") == []
    slider.press("x")  # not the slider's: VS Code still gets it
    assert page.evaluate("window.vscodeHost.forwardedKeys") == ["x"]


@pytest.mark.browser
@pytest.mark.parametrize("white_rule", [True, False], ids=["white-output", "transparent-output"])
def test_every_text_is_legible_in_every_vscode_theme(host, white_rule):
    page, widgets, _ = host
    finished(widgets.nth(0), "explain-sentence")
    finished(widgets.nth(1), "diagnose")
    for name, theme in vscode.themes().items():
        page.evaluate("([t, white]) => window.vscodeHost.setTheme(t, {whiteRule: white})",
                      [theme, white_rule])  # fmt: skip
        page.wait_for_timeout(500)  # the widget refits after the host's restyle
        dark = name in DARK_THEMES and not white_rule
        for shown, widget in (("result", widgets.nth(0)), ("diagnosis", widgets.nth(1))):
            assert not (bad := illegible(widget)), f"{name}, {shown}: {described(bad)}"
            assert widget.get_attribute("data-scheme") == ("dark" if dark else "light"), name


@pytest.mark.browser
def test_a_widget_scrolled_into_view_late_renders_and_fits_the_theme(host):
    page, widgets, _ = host
    page.evaluate("t => window.vscodeHost.setTheme(t, {whiteRule: false})", vscode.themes()["dark"])
    assert widgets.count() == 2  # the third output waits below the fold
    page.locator(".cell_container").last.scroll_into_view_if_needed()
    late = widgets.nth(2)
    late.wait_for(timeout=30_000)
    wait_status(late, "idle", 60)
    assert not (bad := illegible(late)), described(bad)
    assert late.get_attribute("data-scheme") == "dark"
