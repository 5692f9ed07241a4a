"""A clip's film strip under VS Code's own widget renderer, with a real kernel (issue 24).

The host is tests/browser/vscode.py's. A finished clip result is shown (Explanation.show):
its captions render, ArrowRight shows frame 2 large and Escape returns, and neither key
reaches VS Code (the webview forwards the keys its window sees to the editor). The captions
are checked for contrast in the four themes captured from VS Code, with vscode-jupyter's
white output background and without it, against their backdrop and the image beneath.
"""

from __future__ import annotations

import pytest
import vscode
from strip import SETUP, SHOWN, captions_legibility, check_strip, check_zoomed, wait_captions
from strip import wait_frame as wait_frame_of


@pytest.fixture(scope="module")
def host(browser, vscode_server):
    """The host page with its kernel and the shown clip result; yields (page, widget, errors)."""
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
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
        assert page.evaluate(run, [SHOWN, {}]) == 1  # one widget output
        widget = page.locator(".eagle-widget").first
        widget.wait_for(timeout=60_000)
        wait_captions(widget)
        yield page, widget, errors
    finally:
        page.close()


def forwarded(page) -> list[str]:
    return page.evaluate("window.vscodeHost.forwardedKeys")


@pytest.mark.browser
def test_the_strip_renders_its_captions_and_its_keys_stay_out_of_vscode(host):
    page, widget, errors = host
    check_strip(widget)
    canvas = widget.locator("[data-role=mask-canvas]")
    canvas.focus()
    page.evaluate("window.vscodeHost.forwardedKeys.length = 0")
    canvas.press("ArrowRight")
    wait_frame_of(page, widget, "1")
    check_zoomed(widget, 1)
    canvas.press("ArrowUp")  # not the strip's key, but kept from the editor
    canvas.press("Escape")
    wait_frame_of(page, widget, "")
    check_strip(widget)
    assert forwarded(page) == []
    # the control: with the whole strip shown Escape is not the strip's, and VS Code gets it
    canvas.press("Escape")
    assert forwarded(page) == ["Escape"]
    assert errors == []


@pytest.mark.browser
@pytest.mark.parametrize("white_rule", [True, False], ids=["white-output", "transparent-output"])
def test_the_captions_are_legible_in_every_vscode_theme(host, white_rule):
    page, widget, errors = host
    canvas = widget.locator("[data-role=mask-canvas]")
    for name, theme in vscode.themes().items():
        page.evaluate("([t, white]) => window.vscodeHost.setTheme(t, {whiteRule: white})",
                      [theme, white_rule])  # fmt: skip
        page.wait_for_timeout(500)  # the widget refits after the host's restyle
        dark = name in {"dark", "hc"} and not white_rule
        assert widget.get_attribute("data-scheme") == ("dark" if dark else "light"), name
        assert not (bad := captions_legibility(widget)), f"{name}, strip: {bad}"
        canvas.focus()
        canvas.press("End")  # frame F large, and the "All frames" button
        wait_frame_of(page, widget, "3")
        assert widget.locator("[data-role=frames-all]").is_visible()
        assert not (bad := captions_legibility(widget)), f"{name}, frame 4: {bad}"
        canvas.press("Escape")
        wait_frame_of(page, widget, "")
    assert errors == []
