"""Every text of the widget stays legible under the themes of the notebook hosts.

VS Code cannot run here, so its notebook output is emulated as VS Code builds it: theme
classes on <body> (vscode-light, vscode-dark, vscode-high-contrast, plus
vscode-high-contrast-light) and --vscode-* colour variables on the root, with no --jp-*
variables (microsoft/vscode-jupyter#7161). The colours below are close to VS Code's Light
Modern, Dark Modern and two High Contrast themes; the high-contrast accent (focusBorder) is a
light orange, on which white text is illegible. JupyterLab and Notebook 7 are checked in
their real light and dark themes by tests/browser. The bar is WCAG AA, 4.5:1, for every
visible text, in a finished result, an error message and a diagnosis.
"""

from __future__ import annotations

import pytest
from legibility import described, illegible
from offline_page import OfflinePage
from widget_models import YesNoModel, caption_model, scene, yes_no_scene

import eagle_widget as ew

THEMES = {
    "page default": ("", {}),
    "page dark": (None, {}),  # the page's own dark switch, as JupyterLab sets it
    "VS Code light": (
        "vscode-light",
        {"editor-background": "#ffffff", "editor-foreground": "#3b3b3b",
         "descriptionForeground": "#3b3b3b", "panel-border": "#e5e5e5",
         "focusBorder": "#005fb8"},
    ),
    "VS Code dark": (
        "vscode-dark",
        {"editor-background": "#1f1f1f", "editor-foreground": "#cccccc",
         "descriptionForeground": "#9d9d9d", "panel-border": "#2b2b2b",
         "focusBorder": "#0078d4"},
    ),
    "VS Code high contrast": (
        "vscode-high-contrast",
        {"editor-background": "#000000", "editor-foreground": "#ffffff",
         "descriptionForeground": "#ffffff", "panel-border": "#6fc3df",
         "focusBorder": "#f38518"},
    ),
    "VS Code high contrast light": (
        "vscode-high-contrast vscode-high-contrast-light",
        {"editor-background": "#ffffff", "editor-foreground": "#292929",
         "descriptionForeground": "#292929", "panel-border": "#0f4a85",
         "focusBorder": "#006bbd"},
    ),
}  # fmt: skip

APPLY_THEME = """([classes, colours]) => {
  if (classes === null) document.body.dataset.jpThemeLight = "false";
  else document.body.className = classes;
  for (const [name, value] of Object.entries(colours))
    document.documentElement.style.setProperty("--vscode-" + name, value);
  document.body.style.background = colours["editor-background"] || "";
}"""


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
    page.page.evaluate(APPLY_THEME, list(THEMES[theme]))
    page.page.wait_for_timeout(100)  # a frame for the restyle
    return page


@pytest.mark.browser
@pytest.mark.parametrize("theme", list(THEMES))
def test_every_text_is_legible_in_a_result_and_an_error(browser, pages, theme):
    page = themed(browser, pages["word"], theme)
    try:
        widget = page.page.locator(".eagle-widget")
        assert not (bad := illegible(widget)), f"{theme}, result: {described(bad)}"
        page.click_word(2, expect_status="error")  # " square" was not explained
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
