"""Screenshots of the widget on the demo model for the README (docs/*.png).

    .venv-test/bin/python scripts/screenshots.py [--out docs]

Each result is written as the offline page (the same front end bundle the widget runs) and
photographed in Debian's chromium through Playwright, with the network off.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"


def results():
    """(file name, Explanation) pairs: a sentence-level caption and a diagnosed hallucination."""
    import eagle_widget as ew
    from eagle_widget.models.demo.training.quality import BLUE_SQUARE, wrong_yes_cases

    model = ew.load_demo_model()
    scene = ew.scenes.make_scene(seed=7, objects=[("red", "circle"), ("blue", "square")])
    caption = ew.explain(model, scene.image, n_regions=36, search="lazy")
    yield "widget.png", caption

    _, wrong = wrong_yes_cases(model.model, 100)[0]
    question = ew.scenes.question(*BLUE_SQUARE)
    diagnosis = ew.diagnose(model, wrong.image, question, correct="no", n_regions=32)
    ew.mitigate(model, wrong.image, question, diagnosis.explanation)
    diagnosis.explanation.mitigation.correct = "no"
    yield "diagnose.png", diagnosis.explanation


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs"))
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox"])
        context = browser.new_context(offline=True, viewport={"width": 880, "height": 900})
        for name, explanation in results():
            page = context.new_page()
            page.goto(explanation.to_html(Path(tmp) / f"{name}.html").resolve().as_uri())
            page.wait_for_selector("body[data-ready]", state="attached", timeout=15000)
            page.wait_for_timeout(500)  # the map's image decodes asynchronously
            page.locator(".eagle-widget").screenshot(path=str(args.out / name))
            print(f"wrote {args.out / name}")
        browser.close()


if __name__ == "__main__":
    main()
