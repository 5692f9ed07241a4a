"""An offline page written by eagle_widget.export, opened in chromium from disk, network off."""

from __future__ import annotations

from pathlib import Path

import numpy as np

CANVAS = (
    "const c = document.querySelector('[data-role=mask-canvas]'); "
    "const px = (x, y) => Array.from(c.getContext('2d').getImageData(x, y, 1, 1).data)"
)


CENTRES = (
    "const at = (b) => px(Math.floor(((b % 4) + 0.5) * c.width / 4), "
    "Math.floor((Math.floor(b / 4) + 0.5) * c.height / 4)); "
    "return Array.from({length: 16}, (_, b) => at(b).slice(0, 3));"
)


class OfflinePage:
    """A page opened from disk with networking off; every request and error is recorded."""

    def __init__(self, browser, path: Path):
        self.context = browser.new_context(offline=True, viewport={"width": 1100, "height": 900})
        self.requests: list[str] = []
        self.errors: list[str] = []

        def only_local(route):
            url = route.request.url
            self.requests.append(url)
            if url.startswith(("file:", "blob:", "data:")):
                route.continue_()
            else:
                route.abort()

        self.context.route("**/*", only_local)
        self.page = self.context.new_page()
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        self.page.goto(path.resolve().as_uri())
        self.page.wait_for_selector("body[data-ready]", state="attached", timeout=15000)
        assert self.page.evaluate("document.body.dataset.ready") == "true", self.errors

    def canvas(self) -> np.ndarray:
        """The map canvas: the RGB of the centre of each of the 4 x 4 blocks, (16, 3).

        Waits until the image has been drawn under the map (opaque pixels).
        """
        self.page.wait_for_function(
            f"() => {{ {CANVAS}; return c.width > 0 && px(1, 1)[3] === 255; }}"
        )
        centres = self.page.evaluate(f"() => {{ {CANVAS}; {CENTRES} }}")
        return np.array(centres, dtype=float)

    def show_mode(self, mode: str) -> None:
        """Pick a map mode in the toolbar (the default view is "focus", no colour map)."""
        self.page.click(f"[data-role=map-mode] [data-mode={mode}]")
        self.page.wait_for_function(
            "(m) => document.querySelector('[data-role=mask-canvas]').dataset.mode === m", arg=mode
        )
        self.page.wait_for_timeout(150)  # one animation frame at least

    def click_word(self, index: int, expect_status: str = "done") -> None:
        self.page.click(f"[data-word-index='{index}']")
        self.page.wait_for_function(
            "(s) => document.querySelector('.eagle-widget').dataset.status === s", arg=expect_status
        )
        self.page.wait_for_timeout(150)  # one animation frame at least

    def close(self) -> None:
        self.context.close()
