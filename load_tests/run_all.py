"""Run every benchmark module of load_tests/ (those named bench_*.py), one after the other."""

from __future__ import annotations

import importlib
import pkgutil

import load_tests


def main() -> None:
    for module in sorted(m.name for m in pkgutil.iter_modules(load_tests.__path__) if m.name.startswith("bench_")):
        print(f"== {module}")
        importlib.import_module(f"load_tests.{module}").main()


if __name__ == "__main__":
    main()
