"""One sender of appointments to each SAMU: in the guide, the national platform (``fr.health.ptfsas``) tells
the SAMUs of every appointment agenda managers declare to it. With the declarer on, our own Hub publisher
never starts, and a configuration that would have a SAMU told twice refuses to start."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from types import SimpleNamespace

import pytest

from app import workers
from app.platform.config import Settings

PLATFORM = "https://ptf-sas.example.fr/fhir"
BROKER = "amqp://guest:guest@127.0.0.1:5672/"


def test_a_samu_addressed_beside_the_platform_refuses_the_settings() -> None:
    with pytest.raises(ValueError, match="national platform already tells the SAMUs"):
        Settings(ptf_sas_fhir_url=PLATFORM, hub_amqp_url=BROKER, hub_samu_ids={"36": "fr.health.samu360"})


def test_the_app_does_not_start_when_a_samu_would_be_told_twice() -> None:
    env = {**os.environ, "SNP_PTF_SAS_FHIR_URL": PLATFORM, "SNP_HUB_AMQP_URL": BROKER,
           "SNP_HUB_SAMU_IDS": json.dumps({"36": "fr.health.samu360"})}
    result = subprocess.run([sys.executable, "-c", "import app.main"], env=env, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode != 0
    assert "SNP_HUB_SAMU_IDS" in result.stderr and "SNP_PTF_SAS_FHIR_URL" in result.stderr


def test_with_the_platform_declared_to_our_hub_publisher_never_starts() -> None:
    state = SimpleNamespace(sessionmaker=None)
    assert workers._hub(state, Settings(ptf_sas_fhir_url=PLATFORM, hub_amqp_url=BROKER)) is None
    assert workers._hub(state, Settings(hub_amqp_url=None)) is None

