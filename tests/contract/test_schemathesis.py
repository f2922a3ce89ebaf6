"""The contract holds: schemathesis, as a new integrator would run it, against the served app.

Every check (all of them, enabled in ``schemathesis.toml`` beside this file, since ``--checks all`` on
the command line would override its per-operation entries), every phase (examples, coverage,
fuzzing, stateful), a token of each role, a fixed seed and a bounded number of examples: 0 failures.
What is switched off is switched off by operation in that file, each with its reason.
"""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.auth.principal import ROLES
from app.auth.tokens import create_token
from app.platform.config import Settings
from tests.support.database import TEST_SECRET
from tests.support.serving import sharing

CONFIG = Path(__file__).resolve().parent / "schemathesis.toml"
SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"


@pytest.fixture(scope="module")
def served_url(database_url: str, shared_base: str) -> Iterator[str]:
    with sharing(shared_base, database_url) as base:
        yield base


def token(role: str) -> str:
    practitioner = uuid.UUID(int=7) if role == "effector" else None
    return create_token(Settings(jwt_secret=TEST_SECRET), role=role, territories=["36"],
                        practitioner_id=practitioner, ttl_seconds=3600,
                        referrer_kind="pharmacist" if role == "referrer" else None)


@pytest.mark.slow
@pytest.mark.parametrize("role", ROLES)
def test_every_answer_of_the_api_is_the_one_its_document_promises(role: str, served_url: str) -> None:
    run = subprocess.run(
        [str(SCHEMATHESIS), "--config-file", str(CONFIG), "run", f"{served_url}/openapi.json",
         "--phases", "examples,coverage,fuzzing,stateful",
         "--header", f"Authorization: Bearer {token(role)}",
         "--max-examples", "8", "--seed", "20261130", "--generation-deterministic",
         "--request-timeout", "20", "--suppress-health-check", "all", "--no-color"],
        capture_output=True, text=True, timeout=600,
    )
    assert run.returncode == 0, run.stdout[-20000:] + run.stderr[-2000:]
