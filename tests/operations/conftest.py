"""One served app with every probe of /metrics configured, for the modules of tests/operations that scrape it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from cryptography.x509.oid import NameOID

from tests.support.database import TEST_SECRET
from tests.support.identity_provider import running_provider
from tests.support.processes import free_port
from tests.support.serving import served


@dataclass
class Configured:
    base: str
    certificate_expires: dt.datetime


def _certificate(path: Path, key_path: Path, not_after: dt.datetime) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    key_path.write_bytes(key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "snp-ptf-client")])
    certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                   .serial_number(x509.random_serial_number()).not_valid_before(not_after - dt.timedelta(days=365))
                   .not_valid_after(not_after).sign(key, hashes.SHA256()))
    path.write_bytes(certificate.public_bytes(Encoding.PEM))


@pytest.fixture(scope="session")
def configured(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Configured]:
    """A served app with every probe configured: a live identity provider; a Hub broker and a national platform
    nobody listens for (the declarer starts, its cursor set, and tells nothing); the platform's client
    certificate, expiring in 20 days."""
    folder = tmp_path_factory.mktemp("certificates")
    expires = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(days=20)
    _certificate(folder / "client.pem", folder / "client.key", expires)
    with running_provider() as provider:
        env = {"SNP_JWT_SECRET": TEST_SECRET, "SNP_OIDC_ISSUER": provider.issuer,
               "SNP_OIDC_JWKS_URL": provider.issuer + "/protocol/openid-connect/certs",
               "SNP_HUB_AMQP_URL": f"amqp://guest:guest@127.0.0.1:{free_port()}/",
               "SNP_PTF_SAS_FHIR_URL": f"http://127.0.0.1:{free_port()}/fhir", "SNP_PTF_SAS_DECLARE_SECONDS": "0.2",
               "SNP_PTF_SAS_TIMEOUT_SECONDS": "0.5", "SNP_PTF_SAS_CLIENT_CERT": str(folder / "client.pem"),
               "SNP_PTF_SAS_CLIENT_KEY": str(folder / "client.key")}
        with served(database_url, env) as base:
            yield Configured(base, expires)
