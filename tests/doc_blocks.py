"""The ```python blocks of the README and of the docs pages, run as the tests run them.

The blocks of one file run in order in one namespace (a page's examples may build on each
other, never on another page's). A block whose first line starts with NOT_RUN
("# not run in tests: WHY") needs what the tests do not have (a hub checkpoint, a GPU, a
server, a data set) and is skipped; docs/internals.md documents the marker.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

NOT_RUN = "# not run in tests:"
_FENCE = re.compile(r"^```python\n(.*?)^```", flags=re.S | re.M)


@dataclass(frozen=True)
class Block:
    path: Path
    line: int  # of the block's first code line in its file
    code: str

    @property
    def skip_reason(self) -> str | None:
        first = self.code.lstrip("\n").splitlines()[0] if self.code.strip() else ""
        return first[len(NOT_RUN) :].strip() if first.startswith(NOT_RUN) else None


def python_blocks(path: Path) -> list[Block]:
    """Every ```python block of a Markdown file, in order."""
    text = Path(path).read_text(encoding="utf-8")
    return [
        Block(Path(path), text.count("\n", 0, match.start(1)) + 1, match.group(1))
        for match in _FENCE.finditer(text)
    ]


def run_blocks(blocks: list[Block]) -> list[dict]:
    """Run the blocks that are not marked, in one namespace, in the current folder; returns
    the names as each run block left them. Tracebacks point at the file and its lines."""
    names: dict = {}
    after: list[dict] = []
    for block in blocks:
        if block.skip_reason is not None:
            continue
        source = "\n" * (block.line - 1) + block.code
        exec(compile(source, str(block.path), "exec"), names)  # noqa: S102 - our own docs
        after.append(dict(names))
    return after


def close_widgets(names: dict) -> None:
    """Let the widgets a block made finish their worker threads, then close them."""
    for value in names.values():
        if hasattr(value, "wait") and hasattr(value, "close") and hasattr(value, "explainer"):
            try:
                value.wait(30)
            finally:
                value.close()
