"""Every text of the widget stays legible on an offline page, light and dark.

The hosts are checked in their real front ends: JupyterLab and Notebook 7 in their light
and dark themes by tests/browser/test_widget_browser.py, VS Code's widget renderer in its
four themes by tests/browser/test_vscode_host.py. Here the offline page: its default (white)
and its dark switch (the one JupyterLab sets on <body>), in a finished result, an error
message and a diagnosis. The bar is WCAG AA, 4.5:1, for every visible text.
"""

from __future__ import annotations

import pytest
from legibility import described, illegible
from offline_page import OfflinePage
from widget_models import YesNoModel, caption_model, scene, yes_no_scene

import eagle_widget as ew

THEMES = {
    "page default": False,
    "page dark": True,  # the page's own dark switch, as JupyterLab sets it
}

APPLY_THEME = """(dark) => { if (dark) document.body.dataset.jpThemeLight = "false"; }"""


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    """Offline pages of a word-level result (a click on another word shows an error) and
    of a diagnosed wrong "yes" (the diagnosis panel: answers, curve, removed area)."""
    folder = tmp_path_factory.mktemp("themes")
    word = ew.explain(caption_model(cell=16), scene(cell=16), targets="red", n_regions=16)
    model, image, question = YesNoModel(), yes_no_scene(), "Is there a blue square?"
    diagnosis = ew.diagnose(model, image, question, correct="no", n_regions=16)
    outcome = ew.mitigate(model, image, question, diagnosis.explanation)
    assert outcome.corrected  # the panel then shows the revised answer too
    return {
        "word": word.to_html(folder / "word.html"),
        "diagnosis": diagnosis.explanation.to_html(folder / "diagnosis.html"),
    }


def themed(browser, path, theme: str) -> OfflinePage:
    page = OfflinePage(browser, path)
    page.page.evaluate(APPLY_THEME, THEMES[theme])
    page.page.wait_for_timeout(400)  # the widget refits to the new surface
    return page


@pytest.mark.browser
@pytest.mark.parametrize("theme", list(THEMES))
def test_every_text_is_legible_in_a_result_and_an_error(browser, pages, theme):
    page = themed(browser, pages["word"], theme)
    try:
        widget = page.page.locator(".eagle-widget")
        assert widget.get_attribute("data-scheme") == ("dark" if THEMES[theme] else "light")
        assert not (bad := illegible(widget)), f"{theme}, result: {described(bad)}"
        # a saved page offers no click that fails (issue 23), so the error box is shown
        # directly, with the styles a kernel's error gets
        page.page.evaluate(
            "() => { const box = document.querySelector('[data-role=error]'); box.hidden = false; "
            "box.querySelector('.ew-error-text').textContent = 'RuntimeError: simulated failure'; }"
        )
        assert page.page.locator("[data-role=error]").is_visible()
        assert not (bad := illegible(widget)), f"{theme}, error: {described(bad)}"
        assert page.errors == []
    finally:
        page.close()


@pytest.mark.browser
@pytest.mark.parametrize("theme", list(THEMES))
def test_every_text_is_legible_in_a_diagnosis(browser, pages, theme):
    page = themed(browser, pages["diagnosis"], theme)
    try:
        widget = page.page.locator(".eagle-widget")
        panel = page.page.locator("[data-role=diagnosis]")
        assert panel.is_visible() and "no" in panel.inner_text()
        assert not (bad := illegible(widget)), f"{theme}, diagnosis: {described(bad)}"
        assert page.errors == []
    finally:
        page.close()
