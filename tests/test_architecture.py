"""The import layers of gvcourse (ARCHITECTURE.md): a module imports only modules of lower layers.

Imports inside functions count too: a lazy import still ties the lower module to the higher one.
"""

from __future__ import annotations

import ast

from notebooks import ROOT

PACKAGE = ROOT / "gvcourse"

# module (dotted, relative to gvcourse) -> layer; keep in step with the table in ARCHITECTURE.md
LAYERS = {
    "_checks": 0,
    "activations": 1, "tensor_norms": 1, "layers": 1, "seeding": 1, "reproducibility": 1, "data": 1,
    "optimizers": 1, "log_ticks": 1, "transformer": 2, "autograd": 1,
    "theory": 2, "sequence": 2, "activation_stats": 2, "graph_layout": 2, "nets": 2,
    "gan": 3, "plots": 3, "flow_hooks": 3,
    "monitor": 4,
    "train": 5, "explore": 5,
    "diagnosis": 6,
    "labs": 7,
    "__init__": 8,
}
#: No module of gvcourse is longer than this (issue 20: one concept per file, one a reader can hold).
MAX_LINES = 400


def _modules() -> dict[str, ast.Module]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        name = ".".join(path.relative_to(PACKAGE).with_suffix("").parts)
        out[name] = ast.parse(path.read_text(), filename=str(path))
    return out


def _layer(module: str) -> int:
    """A module of a subpackage (``labs.lab1``) sits in its package's layer."""
    return LAYERS[module.split(".")[0]]


def _gvcourse_imports(name: str, tree: ast.Module) -> set[str]:
    package = name.split(".")[:-1]  # gvcourse/labs/lab1.py and gvcourse/labs/__init__.py are in package labs
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = package[: len(package) - (node.level - 1)]
            if node.module:
                found.add(".".join([*base, node.module]))
            else:
                found.update(".".join([*base, alias.name]) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("gvcourse"):
            found.add(node.module.removeprefix("gvcourse").lstrip(".") or "__init__")
        elif isinstance(node, ast.Import):
            found.update(a.name.removeprefix("gvcourse.") for a in node.names if a.name.startswith("gvcourse."))
    return {m for m in found if m}


def test_every_module_has_a_layer():
    missing = sorted(name for name in _modules() if name.split(".")[0] not in LAYERS)
    assert not missing, f"add these modules to LAYERS here and to ARCHITECTURE.md: {missing}"


def test_no_module_imports_a_higher_or_equal_layer():
    wrong = []
    for name, tree in _modules().items():
        top = name.split(".")[0]
        for target in _gvcourse_imports(name, tree):
            if target.split(".")[0] == top:  # within one subpackage
                continue
            if _layer(target) >= _layer(name) and top != "__init__":
                wrong.append(f"{name} (layer {_layer(name)}) imports {target} (layer {_layer(target)})")
    assert not wrong, "\n".join(wrong)


def test_the_package_does_not_import_tests_or_scripts():
    for name, tree in _modules().items():
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                mods = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                assert not any(m.split(".")[0] in {"tests", "scripts", "notebooks", "sitebuild"} for m in mods), name


def test_no_private_name_crosses_a_package_boundary():
    """``from .monitor import _sq_norm`` is refused: what another part of the package needs is public."""
    wrong = []
    for name, tree in _modules().items():
        package = name.split(".")[:-1]
        for node in ast.walk(tree):
            if not (isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").startswith("gvcourse"))):
                continue
            if node.level:
                base = package[: len(package) - (node.level - 1)]
                target = ".".join([*base, *([node.module] if node.module else [])])
            else:
                target = node.module.removeprefix("gvcourse").lstrip(".")
            private = [a.name for a in node.names if a.name.startswith("_")]
            if private:
                wrong.append(f"{name} imports {', '.join(private)} from {target or 'gvcourse'}")
    assert not wrong, "\n".join(wrong)


def test_no_module_is_too_long():
    long = {name: n for name, tree in _modules().items()
            if (n := len((PACKAGE / (name.replace(".", "/") + ".py")).read_text().splitlines())) > MAX_LINES}
    assert not long, f"split these modules (more than {MAX_LINES} lines): {long}"


def test_every_subpackage_ships_in_a_pip_install():
    """Colab installs gvcourse from git (not editable): pyproject must list every package directory."""
    from pathlib import Path

    import tomllib

    root = Path(__file__).resolve().parents[1]
    listed = set(tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    on_disk = {".".join(p.parent.relative_to(root).parts) for p in (root / "gvcourse").rglob("__init__.py")}
    assert on_disk <= listed, f"add to [tool.setuptools] packages: {sorted(on_disk - listed)}"


def test_gvcourse_diagnose_is_the_function_and_its_report_is_importable_from_diagnosis():
    """Issue 20: ``gvcourse.diagnose`` was a function hiding a module of the same name. The module is gone (its
    code is gvcourse/diagnosis/run.py); what a user reads in the report comes from ``gvcourse.diagnosis``,
    as that package's docstring, ARCHITECTURE.md and the playbook chapter say."""
    import inspect

    import gvcourse
    from gvcourse.diagnosis import (
        CHAPTERS,
        EXPLODING_RATIO,
        MODES,
        VANISHING_RATIO,
        VERDICTS,
        DiagnosisReport,
        LayerReport,
        Suggestion,
        TimeReport,
        diagnose,
    )

    assert inspect.isfunction(gvcourse.diagnose) and gvcourse.diagnose is diagnose
    assert "diagnose" in gvcourse.__all__
    assert not (PACKAGE / "diagnose.py").exists() and diagnose.__module__ == "gvcourse.diagnosis.run"
    assert all(inspect.isclass(c) for c in (DiagnosisReport, LayerReport, Suggestion, TimeReport))
    assert 0 < VANISHING_RATIO < 1 < EXPLODING_RATIO
    assert set(VERDICTS) == {"healthy", "vanishing", "exploding"} and "train" in MODES and CHAPTERS
    assert inspect.signature(diagnose).return_annotation in (DiagnosisReport, "DiagnosisReport")
