"""The layers stay apart: what each import loads, and where the engine may reach upward.

engine/ is numpy and the model protocol; the package root loads no torch; the wire format
and the offline page need no widget. Explanation's three presentation methods (figure,
to_html, show) are the engine's only way up, imported when called.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ENGINE = ROOT / "eagle_widget" / "engine"
HEAVY = ("torch", "transformers", "anywidget", "ipywidgets", "matplotlib")


def loaded_after(code: str) -> set[str]:
    """Top-level packages among HEAVY that a fresh interpreter has loaded after `code`."""
    listing = "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))"
    probe = f"{code}\nimport json, sys\n{listing}"
    proc = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=ROOT,
        env={"PYTHONPATH": f"{ROOT}{':'}{ROOT / 'tests'}", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return set(json.loads(proc.stdout.strip().splitlines()[-1])) & set(HEAVY)


def test_the_engine_loads_no_torch_transformers_widget_or_matplotlib():
    assert loaded_after("import eagle_widget.engine") == set()


def test_the_package_loads_no_torch():
    loaded = loaded_after("import eagle_widget")
    assert "torch" not in loaded and "transformers" not in loaded


def test_an_offline_page_is_built_without_the_widget_or_matplotlib(tmp_path):
    code = (
        "import eagle_widget as ew\n"
        "from widget_models import caption_model, scene\n"
        "ex = ew.explain(caption_model(), scene(), targets=[1], n_regions=9)\n"
        f"page = ex.to_html({str(tmp_path / 'page.html')!r})\n"
        "assert page.stat().st_size > 10_000\n"
    )
    assert loaded_after(code) == set()
    assert (tmp_path / "page.html").is_file()


def _upward_imports(path: Path) -> list[tuple[str, str]]:
    """(enclosing function, module) of every import in `path` that leaves the engine."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found: list[tuple[str, str]] = []

    def visit(node, where: str) -> None:
        for child in ast.iter_child_nodes(node):
            inner = where
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                inner = f"{where}.{child.name}" if where else child.name
            if isinstance(child, ast.ImportFrom) and (
                child.level >= 2 or (child.module or "").startswith("eagle_widget")
            ):
                found.append((where, "." * child.level + (child.module or "")))
            elif isinstance(child, ast.Import):
                names = [a.name for a in child.names if a.name.startswith("eagle_widget")]
                found.extend((where, name) for name in names)
            visit(child, inner)

    visit(tree, "")
    return found


def test_the_engine_reaches_upward_only_from_explanations_presentation_methods():
    upward = {
        (f"{path.name}:{where}", module)
        for path in sorted(ENGINE.glob("*.py"))
        for where, module in _upward_imports(path)
    }
    assert upward == {
        ("explanation.py:Explanation.figure", "..figures"),
        ("explanation.py:Explanation.to_html", "..export"),
        ("explanation.py:Explanation.show", "..widget"),
        ("method_comparison.py:Comparison.figure", "..figures"),
        ("method_comparison.py:Comparison.to_html", "..export"),
        ("method_comparison.py:Comparison.show", "..widget"),
    }


@pytest.mark.parametrize("module", ["wire.py", "export.py"])
def test_the_wire_format_and_the_page_do_not_import_the_widget(module):
    tree = ast.parse((ROOT / "eagle_widget" / module).read_text())
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    imported |= {
        a.name for node in ast.walk(tree) if isinstance(node, ast.Import) for a in node.names
    }
    assert not imported & {"widget", "anywidget", "traitlets"}


TRAINING = ROOT / "eagle_widget" / "models" / "demo" / "training"


def test_the_runtime_never_imports_the_demo_models_training_code():
    """Loading the demo model, explaining with it and building a widget load no training module;
    no package module outside training/ imports it."""
    code = (
        "import sys, eagle_widget as ew\n"
        "model = ew.load_demo_model()\n"
        "scene = ew.scenes.make_scene(seed=1)\n"
        "ew.explain(model, scene.image, n_regions=9)\n"
        "ew.EagleWidget(model, scene.image).close()\n"
        "print([m for m in sys.modules if '.demo.training' in m])\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip().splitlines()[-1] == "[]"

    importers = set()
    for path in sorted((ROOT / "eagle_widget").rglob("*.py")):
        if TRAINING in path.parents:
            continue
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.ImportFrom):
                names = [node.module or ""] + [a.name for a in node.names]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            if any(name == "training" or ".training" in name for name in names):
                importers.add(str(path.relative_to(ROOT)))
    assert importers == set()


# the presentation methods of a result (and of a comparison of results, the same three)
PRESENTATION = {
    "explanation.py": {"Explanation.figure", "Explanation.to_html", "Explanation.show"},
    "method_comparison.py": {"Comparison.figure", "Comparison.to_html", "Comparison.show"},
}


def _import_graph() -> dict[str, set[str]]:
    """Module -> the package modules it imports (at any depth, lazily or not), leaving out the
    imports inside Explanation's presentation methods, the documented way up."""
    package = ROOT / "eagle_widget"
    names = {}
    for path in package.rglob("*.py"):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        names[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path

    def targets(module: str, is_package: bool, node: ast.ImportFrom) -> list[str]:
        here = module.split(".") if is_package else module.split(".")[:-1]
        base = ".".join(here[: len(here) - node.level + 1] + [node.module or ""]).strip(".")
        if node.level == 0:
            base = node.module or ""
        return [f"{base}.{a.name}" if f"{base}.{a.name}" in names else base for a in node.names]

    graph: dict[str, set[str]] = {}
    for module, path in names.items():
        found: set[str] = set()
        for where, node in _imports_with_place(ast.parse(path.read_text())):
            if path.parent.name == "engine" and where in PRESENTATION.get(path.name, ()):
                continue
            if isinstance(node, ast.ImportFrom):
                found.update(targets(module, path.name == "__init__.py", node))
            else:
                found.update(a.name for a in node.names)
        graph[module] = {m for m in found if m in names and m != module}
    return graph


def _imports_with_place(tree) -> list[tuple[str, ast.stmt]]:
    out = []

    def visit(node, where: str) -> None:
        for child in ast.iter_child_nodes(node):
            inner = where
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                inner = f"{where}.{child.name}" if where else child.name
            if isinstance(child, (ast.Import, ast.ImportFrom)):
                out.append((where, child))
            visit(child, inner)

    visit(tree, "")
    return out


def test_the_import_graph_has_no_circle_but_the_presentation_methods():
    graph = _import_graph()
    circles = []
    for start in sorted(graph):  # a module that can reach itself again lies on a circle
        seen, todo = set(), list(graph[start])
        while todo:
            module = todo.pop()
            if module not in seen:
                seen.add(module)
                todo.extend(graph[module])
        if start in seen:
            circles.append(start)
    assert circles == []
