"""A resumable run folder, the one store of `explain --batch` and `evaluate`.

    OUT/run.json        what the whole run asks (model, options, ...), written first
    OUT/ID/row.json     a finished item: what it asked for ("asked") and what it came to
    OUT/ID/error.json   a failed item: what it asked for and its one-line error
    OUT/ID/...          the item's own files (result.npz, ...), beside its row
    OUT/.ID.partial/    an item being written, renamed to ID once complete
    OUT/summary.json    and other run-wide files, each written aside and renamed in

Records are plain JSON dicts: the store knows nothing of models, manifests or benchmarks.
An item is done when its row records the same "asked" as now and its files are there.
Callers put content in "asked" (a hash of the image's bytes, see `file_sha256`), never a
path, so a run resumes from any working folder. A run that asks for something else than
the folder's run.json is refused (`RunMismatch`): one folder never holds two runs' results.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path

RUN_FILE = "run.json"
ROW_FILE = "row.json"
ERROR_FILE = "error.json"
SUMMARY_FILE = "summary.json"
_ABSENT = object()


def file_sha256(path) -> str | None:
    """The sha256 of a file's bytes, the key of its content (of a folder, such as a clip's
    frames: of each visible file's name and bytes, by name); None when it cannot be read."""
    try:
        path = Path(path)
        if not path.is_dir():
            return hashlib.sha256(path.read_bytes()).hexdigest()
        digest = hashlib.sha256()
        for file in sorted(f for f in path.iterdir() if f.is_file() and f.name[0] != "."):
            name = file.name.encode()
            digest.update(len(name).to_bytes(8, "big") + name)
            data = file.read_bytes()
            digest.update(len(data).to_bytes(8, "big") + data)
        return digest.hexdigest()
    except (OSError, TypeError):
        return None


class RunMismatch(ValueError):
    """The folder holds a run that asked for other options than this one."""

    def __init__(self, folder: Path, differences: list[tuple[str, object, object]]):
        self.folder = Path(folder)
        self.differences = differences  # (key, the folder's value, this run's value)
        found = describe_differences(differences)
        super().__init__(
            f"{str(folder)!r} holds a run with other options ({found}): give this run "
            "another folder, or delete that one to start over"
        )


def differences(recorded: dict, wanted: dict) -> list[tuple[str, object, object]]:
    """(key, recorded value, wanted value) of every key that differs; dicts key by key."""
    found = []
    for key in dict.fromkeys([*recorded, *wanted]):
        there, now = recorded.get(key, _ABSENT), wanted.get(key, _ABSENT)
        if isinstance(there, dict) and isinstance(now, dict):
            found += differences(there, now)  # "search", not "options.search"
        elif there != now:
            found.append((key, there, now))
    return found


def describe_differences(found: list[tuple[str, object, object]], names: dict | None = None) -> str:
    """One line: "search 'greedy' there, 'lazy' now; ...", keys renamed through `names`."""
    names = names or {}
    return "; ".join(
        f"{names.get(key, key)} {_shown(there)} there, {_shown(now)} now"
        for key, there, now in found
    )


def _shown(value) -> str:
    if value is _ABSENT:
        return "unset"
    if value is None:
        return "none"
    if isinstance(value, list) and len(value) > 3:  # item ids: how many, first and last
        return f"{len(value)} ({_shown(value[0])} ... {_shown(value[-1])})"
    if isinstance(value, str):
        return repr(value)
    return json.dumps(value)


def _plain(record):
    """The record as it reads back from JSON (tuples as lists), for comparing."""
    return json.loads(json.dumps(record))


class RunFolder:
    """One run's folder. `needs`: the files a finished item holds besides its row."""

    def __init__(self, folder, needs: Sequence[str] = ()):
        self.folder = Path(folder)
        self.needs = tuple(needs)

    # -- the run ---------------------------------------------------------------------------
    def start(self, run: dict) -> None:
        """Begin or resume the run that `run` describes (RunMismatch when the folder holds
        another, before anything is written); leftovers of a killed write are removed."""
        recorded = self.run()
        if recorded is not None:
            found = differences(recorded, _plain(run))
            if found:
                raise RunMismatch(self.folder, found)
        self.folder.mkdir(parents=True, exist_ok=True)
        for stale in self.folder.glob(".*.partial"):
            if stale.is_dir():
                shutil.rmtree(stale, ignore_errors=True)
            else:
                stale.unlink(missing_ok=True)
        self.write_json(RUN_FILE, run)

    def run(self) -> dict | None:
        """The run record (run.json), or None when there is no readable one."""
        recorded = self._read(self.folder / RUN_FILE)
        return recorded if isinstance(recorded, dict) else None

    def write_json(self, name: str, data) -> Path:
        return self.write_text(name, json.dumps(data, indent=1))

    def write_text(self, name: str, text: str) -> Path:
        """A run-wide file, written aside and renamed in: never read half-written."""
        path = self.folder / name
        aside = self.folder / f".{name}.partial"
        aside.write_text(text, encoding="utf-8")
        aside.replace(path)
        return path

    def write_summary(self, rows: list[dict]) -> Path:
        return self.write_json(SUMMARY_FILE, rows)

    # -- items -----------------------------------------------------------------------------
    def path(self, item_id: str, name: str | None = None) -> Path:
        """An item's folder, or a file in it."""
        folder = self.folder / item_id
        return folder if name is None else folder / name

    def done(self, item_id: str, asked: dict) -> dict | None:
        """The row of an item finished with these inputs and options, else None."""
        row = self._read(self.path(item_id, ROW_FILE))
        if not isinstance(row, dict) or row.get("asked") != _plain(asked):
            return None
        if not all(self.path(item_id, name).is_file() for name in self.needs):
            return None
        return row

    def row(self, item_id: str) -> dict | None:
        """The item's record as it stands: its row, else its error record, else None."""
        for name in (ROW_FILE, ERROR_FILE):
            record = self._read(self.path(item_id, name))
            if isinstance(record, dict):
                return record
        return None

    def error(self, item_id: str) -> dict | None:
        record = self._read(self.path(item_id, ERROR_FILE))
        return record if isinstance(record, dict) else None

    def write_item(
        self, item_id: str, row: dict, write_files: Callable[[Path], object] | None = None
    ) -> dict:
        """A finished item: `write_files(folder)` writes its files, then its row; all of it
        aside in .ID.partial, renamed over whatever the item's folder held before."""
        return self._put(item_id, ROW_FILE, row, write_files)

    def write_error(self, item_id: str, record: dict) -> dict:
        """A failed item's record, replacing whatever the item's folder held before."""
        return self._put(item_id, ERROR_FILE, record, None)

    def _put(self, item_id: str, name: str, record: dict, write_files) -> dict:
        text = json.dumps(record, indent=1)  # a record that is not plain JSON fails here
        partial = self.folder / f".{item_id}.partial"
        shutil.rmtree(partial, ignore_errors=True)
        try:
            partial.mkdir(parents=True)
            if write_files is not None:
                write_files(partial)
            (partial / name).write_text(text, encoding="utf-8")
            folder = self.path(item_id)
            if folder.exists():  # an earlier try's record, or another item's result
                shutil.rmtree(folder)
            partial.rename(folder)
        except BaseException:  # a failed or interrupted write leaves nothing half-written
            shutil.rmtree(partial, ignore_errors=True)
            raise
        return json.loads(text)

    @staticmethod
    def _read(path: Path):
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
