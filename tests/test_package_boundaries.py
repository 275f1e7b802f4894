"""The product package never imports the developer tooling (`bench/`), and its core never imports Dash or the UI.

Each check imports modules in a fresh interpreter and reads `sys.modules`, so a stray import anywhere in
the chain (not just a direct one) fails it.
"""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import recommender

REPO = Path(__file__).resolve().parents[1]
FORBIDDEN_FOR_CORE = ("bench", "dash", "dash_bootstrap_components", "flask", "recommender.ui")


def product_modules() -> list[str]:
    names = [info.name for info in pkgutil.walk_packages(recommender.__path__, "recommender.")]
    return sorted(name for name in names if not name.endswith("__main__"))


def loaded_after_import(modules: list[str]) -> list[str]:
    script = ("import importlib, json, sys\n"
              f"for name in {modules!r}:\n"
              "    importlib.import_module(name)\n"
              "print(json.dumps(sorted(sys.modules)))\n")
    proc = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def offenders(loaded: list[str], forbidden: tuple[str, ...]) -> list[str]:
    return [name for name in loaded if any(name == f or name.startswith(f + ".") for f in forbidden)]


def test_the_module_list_covers_core_ui_and_commands() -> None:
    names = product_modules()
    assert {"recommender.engine", "recommender.ui.app", "recommender.commands.benchmark"} <= set(names)


def test_the_core_imports_neither_the_ui_nor_the_tooling() -> None:
    core = [name for name in product_modules() if not name.startswith("recommender.ui")]
    assert offenders(loaded_after_import(core), FORBIDDEN_FOR_CORE) == []


def test_no_product_module_imports_the_tooling() -> None:
    assert offenders(loaded_after_import(product_modules()), ("bench",)) == []


def test_the_check_sees_an_import_of_the_tooling() -> None:
    """The checker itself works: the alias's own target is the tooling, and importing it is seen."""
    assert offenders(loaded_after_import(["bench.cli"]), ("bench",))
