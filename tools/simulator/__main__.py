"""``python -m tools.simulator simulate | demo | seed``."""

from tools.simulator.cli import app

app()
