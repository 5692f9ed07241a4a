"""What the map shows, read back from the canvas of an offline page in chromium: the image
under the heat map (its opacity control), and in the kept and removed views exactly the
image the model scored (a result records no fill: the default, 0)."""

from __future__ import annotations

import numpy as np
import pytest
from offline_page import OfflinePage
from widget_models import RED, caption_model, scene

import eagle_widget as ew
from eagle_widget.palette import importance_rgb

IMAGE = scene(cell=16)
CENTRES = IMAGE[8::16, 8::16].reshape(16, 3).astype(float)  # block b at row b // 4, col b % 4


@pytest.fixture(scope="module")
def page(browser, tmp_path_factory):
    word = ew.explain(caption_model(cell=16), IMAGE, targets="red", n_regions=16)
    assert word.order[0] == RED
    page = OfflinePage(browser, word.to_html(tmp_path_factory.mktemp("views") / "word.html"))
    yield page
    page.close()


def show(page, mode: str, k: int | None = None, opacity: int | None = None) -> np.ndarray:
    page.page.click(f"button[data-mode={mode}]")
    if k is not None:
        page.page.locator("[data-role=slider]").fill(str(k))
    if opacity is not None:
        page.page.locator("[data-role=opacity]").fill(str(opacity))
    page.page.wait_for_timeout(200)  # a frame
    return page.canvas()


@pytest.mark.browser
def test_kept_and_removed_show_the_masked_image_the_model_scored(page):
    kept = show(page, "kept", k=1)
    assert np.array_equal(kept[RED], CENTRES[RED])  # the top region, as it is
    others = np.arange(16) != RED
    assert np.array_equal(kept[others], np.zeros((15, 3)))  # the fill, nothing of the image
    removed = show(page, "removed", k=1)
    assert np.array_equal(removed[RED], [0, 0, 0])
    assert np.array_equal(removed[others], CENTRES[others])


@pytest.mark.browser
def test_the_image_shows_under_the_heat_map_as_its_opacity_says(page):
    clear = show(page, "heat", opacity=0)
    assert np.abs(clear - 0.65 * CENTRES).max() <= 1.5  # the image, dimmed a little
    solid = show(page, "heat", opacity=100)
    assert np.array_equal(solid[RED], importance_rgb(1.0))  # the top region: the scale's top
    default = show(page, "heat", opacity=70)
    # in between: the image mixes in, so blocks of one heat value differ with the picture
    assert not np.array_equal(default[RED], solid[RED])
    assert np.abs(default[RED] - (0.7 * solid[RED] + 0.3 * 0.65 * CENTRES[RED])).max() <= 2
    assert page.errors == []
