"""The national platform's way in: mutual TLS through Debian's nginx with deploy/nginx/snp-mtls.conf, in
front of a served app that trusts that nginx alone (SNP_TRUSTED_PROXIES). A test PKI shaped as IGC-Santé's
(a root, an intermediate CA, their CRLs) is made here with ``cryptography``; the platform's certificate is
registered with ``snp users add --certificate``. One nginx serves every case."""

from __future__ import annotations

import datetime as dt
import json
import os
import ssl
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from app.auth.tokens import create_token
from app.platform.config import Settings
from tests.support.command_line import snp
from tests.support.database import TEST_SECRET
from tests.support.factories import new_rpps
from tests.support.front import mtls_nginx, nginx_binary
from tests.support.pki import NOW, Authority
from tests.support.pki import authority as _authority
from tests.support.pki import crl as _crl
from tests.support.pki import issue as _issue
from tests.support.pki import key as _key
from tests.support.pki import name as _name
from tests.support.pki import pem as _pem
from tests.support.pki import write_key as _write_key
from tests.support.serving import served

pytestmark = pytest.mark.skipif(nginx_binary() is None and not os.environ.get("SNP_REQUIRE_NGINX"),
                                reason="nginx is installed by `make test`")

ROOT = Path(__file__).resolve().parents[1]
PS_OID = "urn:oid:1.2.250.1.71.4.2.1"
# The platform's subject, as IGC-Santé writes an organisation's: its CN and OU are what we check.
PLATFORM = {"cn": "ptf-sas.test.sante.fr", "ou": "0002 130029754"}


@dataclass
class Pki:
    folder: Path
    root: Authority
    intermediate: Authority
    clients: dict[str, tuple[Path, Path]]  # name → (certificate, key)

    def context(self, client: str | None) -> ssl.SSLContext:
        """A TLS client trusting our server's root, presenting ``client``'s certificate."""
        context = ssl.create_default_context(cafile=str(self.folder / "root.pem"))
        if client is not None:
            certificate, key = self.clients[client]
            context.load_cert_chain(str(certificate), str(key))
        return context

    def header(self, client: str) -> str:
        """The certificate as nginx passes it on ($ssl_client_escaped_cert)."""
        return quote(self.clients[client][0].read_text(), safe="")


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> Pki:
    folder = tmp_path_factory.mktemp("pki")
    root = _authority("TEST ACR-IGC-SANTE")
    intermediate = _authority("TEST AC IGC-SANTE ORGANISATIONS", root)
    server_key = _key()
    (folder / "server.pem").write_bytes(_pem(_issue(_name("localhost"), server_key, intermediate, server=True),
                                             intermediate.certificate))
    _write_key(folder / "server.key", server_key)
    (folder / "root.pem").write_bytes(_pem(root.certificate))
    (folder / "ca.pem").write_bytes(_pem(root.certificate, intermediate.certificate))
    other = _authority("ANOTHER CA")
    platform = _name(PLATFORM["cn"], PLATFORM["ou"])
    made = {
        "platform": (platform, intermediate, {}),
        "renewed": (platform, intermediate, {"not_before": NOW - dt.timedelta(hours=1)}),  # a new key, same names
        "expired": (platform, intermediate, {"not_before": NOW - dt.timedelta(days=40)}),
        "other-ca": (platform, other, {}),
        "unregistered": (_name("agenda.test.fr", PLATFORM["ou"]), intermediate, {}),
        "revoked": (_name("revoked.test.fr", "0002 130029754"), intermediate, {}),
    }
    clients, certificates = {}, {}
    for name, (subject, issuer, options) in made.items():
        key = _key()
        certificates[name] = _issue(subject, key, issuer, **options)
        (folder / f"{name}.pem").write_bytes(_pem(certificates[name]))
        clients[name] = (folder / f"{name}.pem", _write_key(folder / f"{name}.key", key))
    # nginx checks every certificate of the chain against its CA's CRL: one for each CA.
    (folder / "crl.pem").write_bytes(_pem(_crl(root, []), _crl(intermediate, [certificates["revoked"]])))
    return Pki(folder, root, intermediate, clients)


def _admin() -> dict[str, str]:
    return {"Authorization": "Bearer " + create_token(Settings(jwt_secret=TEST_SECRET), role="admin", territories=[])}


@pytest.fixture(scope="module")
def world(database_url: str, pki: Pki, tmp_path_factory) -> Iterator[dict]:
    # The app trusts 127.0.0.1 (the nginx); the tests' direct requests come from 127.0.0.2.
    with served(database_url, extra_env={"SNP_TRUSTED_PROXIES": "127.0.0.1"}) as app_url:
        with httpx.Client(base_url=app_url, headers=_admin()) as c:
            rpps = new_rpps()
            doctor = c.post("/v1/practitioners", json={"rpps": rpps, "family_name": "Foret", "given_name": "Pierre",
                                                       "territory_codes": ["36"]}).json()
            site = c.post("/v1/sites", json={"name": "MSP Saint-Jean", "kind": "msp", "address": "2 rue de la Gare",
                                             "postcode": "36000", "lat": 46.81, "lon": 1.69,
                                             "territory_code": "36"}).json()
            start = (NOW + dt.timedelta(hours=2)).replace(second=0, microsecond=0)
            slot = c.post("/v1/slots", json={"practitioner_id": doctor["id"], "site_id": site["id"],
                                             "start": start.isoformat(), "mode": "in_person",
                                             "end": (start + dt.timedelta(minutes=20)).isoformat()})
            assert slot.status_code == 201, slot.text
        with pytest.MonkeyPatch.context() as patch:
            added = snp(database_url, patch, "users", "add", "--name", "Plateforme SAS", "--certificate",
                        str(pki.clients["platform"][0]))
        assert added.exit_code == 0, added.output
        with httpx.Client(base_url=app_url, headers=_admin()) as c:
            users = c.get("/v1/users", params={"role": "platform"}).json()
        registered = [(u["certificate_cn"], u["certificate_ou"]) for u in users if u["certificate_cn"]]
        assert registered == [(PLATFORM["cn"], f"OU={PLATFORM['ou']}")]
        assert "TEST AC IGC-SANTE ORGANISATIONS" in users[0]["certificate_issuer"]
        files = {"SNP_MTLS_CERTIFICATE": pki.folder / "server.pem", "SNP_MTLS_KEY": pki.folder / "server.key",
                 "SNP_MTLS_CLIENT_CA": pki.folder / "ca.pem", "SNP_MTLS_CRL": pki.folder / "crl.pem"}
        with mtls_nginx(tmp_path_factory.mktemp("nginx-mtls"), app_url.removeprefix("http://"), files) as port:
            yield {"front": f"https://127.0.0.1:{port}", "app": app_url, "rpps": rpps, "slot": slot.json()}


def _search(world: dict) -> dict[str, str]:
    return {"schedule.actor:Practitioner.identifier": f"{PS_OID}|8{world['rpps']}", "status": "free",
            "start": f"ge{NOW.replace(microsecond=0).isoformat()}"}


def _through_front(world: dict, pki: Pki, client: str | None, **headers: str) -> httpx.Response:
    with httpx.Client(verify=pki.context(client), timeout=10) as c:
        return c.get(world["front"] + "/fhir/Slot", params=_search(world), headers=headers)


def _outcome(response: httpx.Response, status: int) -> str:
    """The diagnostics of the OperationOutcome ``response`` must be, with ``status``."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/fhir+json")
    body = response.json()
    assert body["resourceType"] == "OperationOutcome" and body["issue"][0]["severity"] == "error"
    return body["issue"][0]["diagnostics"]


class TestThroughTheFront:
    def test_the_platforms_certificate_searches_the_slots(self, world, pki) -> None:
        found = _through_front(world, pki, "platform")
        assert found.status_code == 200, found.text
        bundle = found.json()
        assert bundle["resourceType"] == "Bundle"
        assert [e["resource"]["id"] for e in bundle["entry"]] == [world["slot"]["id"]]

    def test_the_platforms_certificate_creates_reads_and_withdraws_a_regulator_account(self, world, pki) -> None:
        body = json.loads((ROOT / "tests" / "fhir" / "guide" / "Practitioner-ExamplePractitionerRegul4.json")
                          .read_text(encoding="utf-8"))
        del body["id"]
        technical = body["identifier"][0]["value"]
        guide = {"Content-Type": "application/json+fhir", "Accept": "application/json+fhir"}
        with httpx.Client(verify=pki.context("platform"), timeout=10) as c:
            made = c.post(world["front"] + "/fhir/Practitioner", content=json.dumps(body), headers=guide)
            assert made.status_code == 201, made.text
            path = "/fhir/Practitioner/" + made.headers["location"].rsplit("/", 1)[1]
            assert c.get(world["front"] + path).json()["identifier"][0]["value"] == technical
            withdrawn = c.put(world["front"] + "/fhir/Practitioner", content=json.dumps({**body, "active": False}),
                              params={"identifier": f"urn:oid:1.2.250.1.213.3.6|{technical}"}, headers=guide)
            assert (withdrawn.status_code, withdrawn.json()["active"]) == (200, False), withdrawn.text
        # A certificate of the right CA that is not the platform's registers nobody.
        with httpx.Client(verify=pki.context("unregistered"), timeout=10) as c:
            _outcome(c.post(world["front"] + "/fhir/Practitioner", content=json.dumps(body), headers=guide), 403)

    def test_a_renewed_certificate_with_the_same_issuer_cn_and_ou_needs_no_new_registration(self, world,
                                                                                          pki) -> None:
        assert _through_front(world, pki, "renewed").status_code == 200

    def test_a_certificate_of_another_ca_is_refused_by_nginx(self, world, pki) -> None:
        # The same subject as the platform's: only the chain tells them apart.
        diagnostics = _outcome(_through_front(world, pki, "other-ca"), 403)
        assert diagnostics.startswith("The client certificate was refused (FAILED:unable to verify")

    def test_a_revoked_certificate_is_refused_by_nginx(self, world, pki) -> None:
        assert "(FAILED:certificate revoked)" in _outcome(_through_front(world, pki, "revoked"), 403)

    def test_an_expired_certificate_is_refused_by_nginx(self, world, pki) -> None:
        assert "(FAILED:certificate has expired)" in _outcome(_through_front(world, pki, "expired"), 403)

    def test_a_certificate_of_the_right_ca_not_registered_is_403(self, world, pki) -> None:
        diagnostics = _outcome(_through_front(world, pki, "unregistered"), 403)
        assert "not registered" in diagnostics and "agenda.test.fr" in diagnostics

    def test_without_a_certificate_a_header_the_client_wrote_is_not_passed_on(self, world, pki) -> None:
        _outcome(_through_front(world, pki, None, **{"X-Client-Cert": pki.header("platform")}), 401)

    def test_only_the_fhir_facade_is_served_there(self, world, pki) -> None:
        with httpx.Client(verify=pki.context("platform"), timeout=10) as c:
            _outcome(c.get(world["front"] + "/v1/calls"), 404)

    def test_a_tls_1_2_client_is_served_as_the_guide_connects(self, world, pki) -> None:
        context = pki.context("platform")
        context.maximum_version = ssl.TLSVersion.TLSv1_2
        with httpx.Client(verify=context, timeout=10) as c:
            assert c.get(world["front"] + "/fhir/Slot", params=_search(world)).status_code == 200


class TestRegistration:
    def test_a_renewal_is_already_known_so_registering_it_again_is_refused(self, world, pki, database_url,
                                                                           monkeypatch) -> None:
        again = snp(database_url, monkeypatch, "users", "add", "--name", "Plateforme SAS (renouvelé)",
                    "--certificate", str(pki.clients["renewed"][0]))
        assert again.exit_code == 1 and "already registered" in " ".join(again.output.split())

    def test_a_certificate_gives_the_platform_role_only(self, world, pki, database_url, monkeypatch) -> None:
        refused = snp(database_url, monkeypatch, "users", "add", "--name", "X", "--role", "admin",
                      "--certificate", str(pki.clients["unregistered"][0]))
        assert refused.exit_code == 2 and "platform" in refused.output


    def test_the_platform_disabled_is_shut_out_and_its_role_stays_platform(self, world, pki) -> None:
        with httpx.Client(base_url=world["app"], headers=_admin()) as c:
            user = next(u for u in c.get("/v1/users", params={"role": "platform"}).json() if u["certificate_cn"])
            made_admin = c.patch(f"/v1/users/{user['id']}", json={"role": "admin"})
            assert (made_admin.status_code, made_admin.json()["field"]) == (422, "role")
            assert c.patch(f"/v1/users/{user['id']}", json={"active": False}).status_code == 200
            try:
                assert "not registered" in _outcome(_through_front(world, pki, "platform"), 403)
            finally:
                assert c.patch(f"/v1/users/{user['id']}", json={"active": True}).status_code == 200
        assert _through_front(world, pki, "platform").status_code == 200


class TestStraightToTheApp:
    def test_the_header_from_an_untrusted_address_grants_nothing(self, world, pki) -> None:
        transport = httpx.HTTPTransport(local_address="127.0.0.2")
        with httpx.Client(transport=transport, timeout=10) as c:
            refused = c.get(world["app"] + "/fhir/Slot", params=_search(world),
                            headers={"X-Client-Cert": pki.header("platform")})
        _outcome(refused, 401)

    def test_from_the_trusted_front_the_same_header_is_believed(self, world, pki) -> None:
        # What the refusal above owes to the address alone.
        found = httpx.get(world["app"] + "/fhir/Slot", params=_search(world),
                          headers={"X-Client-Cert": pki.header("platform")})
        assert found.status_code == 200, found.text

    def test_an_expired_certificate_is_refused_by_the_app_too(self, world, pki) -> None:
        refused = httpx.get(world["app"] + "/fhir/Slot", params=_search(world),
                            headers={"X-Client-Cert": pki.header("expired")})
        assert "expired" in _outcome(refused, 401)

    def test_a_header_that_is_no_certificate_is_401(self, world) -> None:
        refused = httpx.get(world["app"] + "/fhir/Slot", params=_search(world), headers={"X-Client-Cert": "forged"})
        assert "cannot be read" in _outcome(refused, 401)


class TestCrlRefresh:
    """deploy/nginx/snp-crl-refresh, which the timer runs: checked CRLs installed in one step, or none."""

    def _run(self, pki: Pki, folder: Path, crls: list[x509.CertificateRevocationList]) -> subprocess.CompletedProcess:
        urls = []
        for index, crl in enumerate(crls):
            (folder / f"{index}.crl").write_bytes(crl.public_bytes(serialization.Encoding.DER))
            urls.append(f"file://{folder / f'{index}.crl'}")
        (folder / "urls").write_text("# the IGC-Santé CAs\n" + "\n".join(urls) + "\n")
        env = {**os.environ, "SNP_CRL_URLS": str(folder / "urls"), "SNP_MTLS_CLIENT_CA": str(pki.folder / "ca.pem"),
               "SNP_MTLS_CRL": str(folder / "installed.pem"), "SNP_CRL_RELOAD": f"touch {folder / 'reloaded'}"}
        return subprocess.run([str(ROOT / "deploy" / "nginx" / "snp-crl-refresh")], env=env, capture_output=True,
                              text=True, timeout=30)

    def test_checked_crls_are_installed_and_nginx_reloaded_and_a_foreign_one_changes_nothing(self, pki,
                                                                                           tmp_path) -> None:
        done = self._run(pki, tmp_path, [_crl(pki.root, []), _crl(pki.intermediate, [])])
        assert done.returncode == 0, done.stderr
        end = b"-----END X509 CRL-----\n"
        installed = [x509.load_pem_x509_crl(part + end)
                     for part in (tmp_path / "installed.pem").read_bytes().split(end) if part.strip()]
        assert [c.issuer for c in installed] == [pki.root.name, pki.intermediate.name]
        assert (tmp_path / "reloaded").exists()
        (tmp_path / "reloaded").unlink()
        before = (tmp_path / "installed.pem").read_bytes()

        foreign = _authority("ANOTHER CA")
        refused = self._run(pki, tmp_path, [_crl(pki.root, []), _crl(foreign, [])])
        assert refused.returncode == 1 and "not signed" in refused.stderr
        assert (tmp_path / "installed.pem").read_bytes() == before and not (tmp_path / "reloaded").exists()
