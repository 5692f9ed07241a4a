"""A saved notebook's widgets where no live widget renders them, in chromium with the network
blocked: the pages of `jupyter nbconvert --to html`, and VS Code reopening the notebook with
no kernel (vscode_host, ?kernel=none). The notebook is run headless by nbclient on the demo
model (tests/saved_notebook.py); each widget must show its finished result's picture.
"""

from __future__ import annotations

import json

import pytest
from saved_notebook import DISPLAY_CELLS, WIDGET_VIEW, executed_notebook, nbconvert_html

PNG = "image/png"


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    pytest.importorskip("nbclient")
    nbformat = pytest.importorskip("nbformat")
    folder = tmp_path_factory.mktemp("saved")
    path = executed_notebook(folder)
    return path, nbformat.read(path, as_version=4)


def finished_pictures(nb) -> list[str]:
    """The saved PNGs (base64) of the widget cells, in order."""
    pictures = []
    for cell in DISPLAY_CELLS:
        (output,) = [o for o in nb.cells[cell].outputs if WIDGET_VIEW in o.get("data", {})]
        pictures.append("".join(output["data"][PNG]).replace("\n", ""))
    return pictures


def offline(browser, url: str):
    """A page at `url` with every request but file:// blocked: (page, blocked urls)."""
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    blocked: list[str] = []

    def route(request_route):
        url = request_route.request.url
        if url.startswith(("file:", "data:")):
            request_route.continue_()
        else:
            blocked.append(url)
            request_route.abort()

    page.route("**/*", route)
    page.goto(url)
    page.wait_for_load_state("load")
    return page, blocked


def shown_pictures(page, selector: str) -> list[dict]:
    """The data-URL images under `selector`: their base64 and decoded size."""
    return page.eval_on_selector_all(
        selector,
        """imgs => imgs.filter(i => i.src.startsWith('data:image/png;base64,')).map(i => ({
            data: i.src.slice('data:image/png;base64,'.length),
            width: i.naturalWidth, complete: i.complete}))""",
    )


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_nbconvert_pages_show_the_finished_results_offline(browser, saved, tmp_path):
    """A notebook saved without widget state, and the README's offline recipe for one saved
    with it: each widget's output is the picture of its final result, drawn offline."""
    import nbformat

    path, nb = saved
    stateless = nbformat.from_dict(nb)
    del stateless.metadata["widgets"]
    nbformat.write(stateless, tmp_path / "stateless.ipynb")
    pages = {
        "saved without widget state": nbconvert_html(tmp_path / "stateless.ipynb", tmp_path / "a"),
        "--ClearMetadataPreprocessor": nbconvert_html(
            path, tmp_path / "b", "--ClearMetadataPreprocessor.enabled=True"
        ),
    }
    wanted = finished_pictures(nb)
    for name, html in pages.items():
        page, _ = offline(browser, html.as_uri())
        try:
            page.wait_for_function(
                "() => [...document.images].every(i => i.complete)", timeout=30_000
            )
            shown = shown_pictures(page, ".jp-OutputArea-output img")
            assert [s["data"] for s in shown] == wanted, name
            assert all(s["width"] == 700 for s in shown), f"{name}: a picture did not decode"
            texts = page.locator(".jp-OutputArea-output").all_inner_texts()
            assert not [t for t in texts if "EagleWidget" in t], name  # no text stand-in
        finally:
            page.close()


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_the_page_of_a_notebook_with_widget_state_asks_the_cdn_for_the_html_manager(
    browser, saved, tmp_path
):
    """What the README says of that page: it needs the network for the live widget."""
    path, _ = saved
    page, blocked = offline(browser, nbconvert_html(path, tmp_path / "state").as_uri())
    try:
        page.wait_for_timeout(500)
        assert any("unpkg.com/@jupyter-widgets/html-manager@" in url for url in blocked), blocked
    finally:
        page.close()


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_vscode_with_no_kernel_shows_the_finished_results_not_an_error(
    browser, saved, vscode_server
):
    _, nb = saved
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        page.goto(f"{vscode_server.url}/static/vscode/index.html?kernel=none")
        page.wait_for_selector("body[data-ready]", state="attached", timeout=60_000)
        assert page.evaluate("document.body.dataset.ready") == "true", page.evaluate(
            "window.vscodeHost.log"
        )
        render = "async outputs => (await window.vscodeHost.ready).renderSaved(outputs)"
        for cell, picture in zip(DISPLAY_CELLS, finished_pictures(nb)):
            outputs = json.loads(json.dumps(nb.cells[cell].outputs))
            shown = page.evaluate(render, outputs)
            assert shown[0] == PNG, f"cell {cell + 1} shows {shown}"
            (img,) = shown_pictures(page, ".saved:last-child img")
            assert img["data"] == picture
            page.wait_for_function(
                "() => [...document.querySelectorAll('.saved img')].every(i => i.naturalWidth)"
            )
        # the bundle as it was before the picture: VS Code had nothing but the text left
        (before,) = [o for o in nb.cells[1].outputs if WIDGET_VIEW in o.get("data", {})]
        before = {**before, "data": {k: v for k, v in before["data"].items() if k != PNG}}
        assert page.evaluate(render, [json.loads(json.dumps(before))]) == ["text/plain"]
        assert page.locator(".saved .error").count() == 0
        assert errors == []
    finally:
        page.close()
