"""A clip's film strip in real JupyterLab and Notebook 7, through Debian's chromium (issue 24).

One notebook: a finished clip result shown (Explanation.show) and a live EagleWidget on the
same clip and search, slowed down to watch. The shown strip answers the arrow keys and
Escape without the keys reaching the notebook; the live one streams into the strip and ends
on the very map the finished result shows. The captions are checked for contrast in the
host's light and dark themes, against their backdrop and against the image beneath them.
"""

from __future__ import annotations

import time

import pytest
from strip import (
    CAPTIONS,
    FRAMES,
    LIVE,
    N_REGIONS,
    SETUP,
    SHOWN,
    F,
    captions_legibility,
    check_strip,
    check_zoomed,
    wait_captions,
    wait_frame,
)
from test_widget_browser import (
    NOTEBOOK_STATE,
    URLS,
    mask_hash,
    notebook_of,
    run_all_cells,
    steps_of,
    wait_status,
)


def notebook() -> dict:
    return notebook_of("# A clip", SETUP, SHOWN, LIVE)


# the hosts' own bundles: Notebook 7 throws in its settings registry's load signal
# ("reading 'schema'") on this fresh settings folder; not the widget's to answer for
HOST_BUNDLES = ("/static/notebook/", "/static/lab/")


def widget_errors(errors: list[str]) -> list[str]:
    """The page errors not thrown in the host's own code (by the first frame of the stack)."""

    def first_frame(stack: str) -> str:
        return next((line for line in stack.splitlines() if line.lstrip().startswith("at ")), "")

    return [e for e in errors if not any(b in first_frame(e) for b in HOST_BUNDLES)]


@pytest.mark.browser
@pytest.mark.timeout(240)
@pytest.mark.parametrize("app", ["lab", "notebook"])
def test_a_clips_strip_in_the_notebook_keys_themes_and_a_live_run(app, browser, jupyter, artifacts):
    server, name = jupyter(app, notebook(), name="clip.ipynb")
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(f"{e}\n{e.stack}"))
    try:
        page.goto(server.url + URLS[app].format(name=name))
        page.wait_for_function(
            "() => window.jupyterapp && document.querySelector('.jp-Notebook .jp-Cell')",
            timeout=60_000,
        )
        page.wait_for_timeout(1000)
        run_all_cells(page)
        widgets = page.locator(".eagle-widget")
        widgets.nth(1).wait_for(timeout=90_000)
        shown, live = widgets.nth(0), widgets.nth(1)
        wait_captions(shown)
        check_strip(shown)
        run_keys(page, shown)
        check_light_captions(app, shown, artifacts)
        run_live(page, shown, live)
        check_dark_captions(app, page, shown, live, artifacts)
        assert widget_errors(errors) == []
    except Exception:
        page.screenshot(path=str(artifacts / f"{app}-clip-failure.png"), full_page=True)
        (artifacts / f"{app}-clip-server.log").write_text(server.read_log())
        raise
    finally:
        page.close()


def run_keys(page, shown) -> None:
    """Left / Right pick a frame, Escape returns, Up / Down do nothing: none reaches the
    notebook (no other cell made active, no heading folded). A control at the end: the same
    ArrowDown on a selected cell does move the notebook's selection."""
    canvas = shown.locator("[data-role=mask-canvas]")
    canvas.focus()  # makes the widget's cell the active one
    before = page.evaluate(NOTEBOOK_STATE)
    assert before[0] == 2  # the heading, the setup, then the shown result
    canvas.press("ArrowRight")
    wait_frame(page, shown, "1")
    check_zoomed(shown, 1)
    for key in ("ArrowDown", "ArrowUp"):  # not the strip's keys, but kept from Lumino
        canvas.press(key)
    canvas.press("ArrowLeft")
    wait_frame(page, shown, "0")
    check_zoomed(shown, 0)
    canvas.press("End")
    wait_frame(page, shown, str(F - 1))
    assert page.evaluate(NOTEBOOK_STATE) == before, "a key reached the notebook"
    canvas.press("Escape")
    wait_frame(page, shown, "")
    check_strip(shown)
    assert page.evaluate(NOTEBOOK_STATE) == before, "Escape reached the notebook"
    shown.locator(f"{CAPTIONS} >> nth=2").click()
    wait_frame(page, shown, "2")
    check_zoomed(shown, 2)
    shown.locator("[data-role=frames-all]").click()
    wait_frame(page, shown, "")
    # the control: a cell selected outside the widget, ArrowDown in command mode moves on
    page.locator(".jp-Notebook .jp-Cell").nth(0).locator(".jp-InputPrompt").click()
    page.keyboard.press("Escape")
    assert page.evaluate(NOTEBOOK_STATE)[0] == 0
    page.keyboard.press("ArrowDown")
    page.wait_for_function(
        "() => window.jupyterapp.shell.currentWidget.content.activeCellIndex === 1"
    )


def check_light_captions(app, shown, artifacts) -> None:
    page = shown.page
    assert not (bad := captions_legibility(shown)), f"{app} light, strip: {bad}"
    shown.locator("[data-role=mask-canvas]").press("Home")  # zoomed: "All frames" too
    wait_frame(page, shown, "0")
    assert shown.locator("[data-role=frames-all]").is_visible()
    assert not (bad := captions_legibility(shown)), f"{app} light, frame 1: {bad}"
    shown.screenshot(path=str(artifacts / f"{app}-clip-frame1-light.png"))
    shown.locator("[data-role=mask-canvas]").press("Escape")
    wait_frame(page, shown, "")
    shown.screenshot(path=str(artifacts / f"{app}-clip-strip-light.png"))


def run_live(page, shown, live) -> None:
    """The live widget streams into the strip: its captions stay while steps arrive, and the
    finished map is the shown result's, pixel for pixel (same clip, scorer and search)."""
    wait_status(live, "idle", 60)
    wait_captions(live)
    check_strip(live)
    live.locator("[data-role=explain-sentence]").click()
    wait_status(live, {"explaining"}, 20)
    page.wait_for_function(
        "el => Number(el.querySelector('[data-role=step-counter]').dataset.steps) >= 1",
        arg=live.element_handle(),
        timeout=20_000,
    )
    first, hash_first = steps_of(live), mask_hash(live)
    time.sleep(1.5)
    assert live.get_attribute("data-status") == "explaining"  # still running: 0.5 s a pass
    assert steps_of(live) > first, "no step arrived"
    assert mask_hash(live) != hash_first, "the strip did not change while steps arrived"
    check_strip(live)  # mid-run: the captions and dividers are there
    wait_status(live, "done", 120)
    assert steps_of(live) == N_REGIONS
    assert live.locator("[data-role=step-counter]").get_attribute("data-total") == str(N_REGIONS)
    curves = live.locator("[data-role=curves]")
    assert curves.get_attribute("data-insertion-points") == str(N_REGIONS + 1)
    check_strip(live)
    assert live.locator(FRAMES).get_attribute("data-frame") == ""
    assert mask_hash(live) == mask_hash(shown), "the live run ended on another map"


def check_dark_captions(app, page, shown, live, artifacts) -> None:
    page.evaluate(
        "() => { window.jupyterapp.commands.execute('apputils:change-theme',"
        " {theme: 'JupyterLab Dark'}); }"
    )
    page.wait_for_function("() => document.body.dataset.jpThemeLight === 'false'", timeout=20_000)
    page.wait_for_timeout(500)
    assert shown.get_attribute("data-scheme") == "dark"
    for what, widget in (("shown", shown), ("live", live)):
        assert not (bad := captions_legibility(widget)), f"{app} dark, {what}: {bad}"
    shown.screenshot(path=str(artifacts / f"{app}-clip-strip-dark.png"))
