"""The tests' own house: test modules share through tests/support/ and their folders' helpers.py, never by
importing one another; the benchmarks import the tests' support, never the reverse."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def _imports(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.append(node.module)
        elif isinstance(node, ast.Import):
            found.extend(alias.name for alias in node.names)
    return found


def test_no_test_module_imports_another() -> None:
    offending = [(str(p.relative_to(TESTS)), m) for p in sorted(TESTS.rglob("*.py")) for m in _imports(p)
                 if m.startswith("tests.") and m.rsplit(".", 1)[-1].startswith("test_")]
    assert offending == []


def test_the_tests_never_import_the_benchmarks() -> None:
    offending = [(str(p.relative_to(TESTS)), m) for p in sorted(TESTS.rglob("*.py")) for m in _imports(p)
                 if m == "load_tests" or m.startswith("load_tests.")]
    assert offending == []
