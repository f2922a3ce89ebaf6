"""Client certificates (mutual TLS with IGC-Santé certificates, as the national SAS platform connects).

The TLS handshake is the front's (deploy/nginx/snp-mtls.conf.template): it checks the chain, the CRL and
the dates, and passes the certificate it verified in ``X-Client-Cert`` (``$ssl_client_escaped_cert``, the
PEM URL-escaped), or nothing. The app believes that header only from ``SNP_TRUSTED_PROXIES``
(``app/http/proxies.py`` drops it from anyone else) and reads here who the certificate names.

A certificate is known by its issuer and its subject's CN and OU, as the guide's platform checks ours
(the security page: "contrôle du Common Name (CN) et Organizational Unit (OU)"): a renewed certificate
keeps them, so the registration outlives it. The certificate is parsed by ``cryptography``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from urllib.parse import unquote

from cryptography import x509
from cryptography.x509.oid import NameOID

from app.platform.errors import Unauthorized

HEADER = "x-client-cert"
# Wide enough for IGC-Santé's issuers and subjects (the columns of users; see app/auth/models.py).
ISSUER_MAX, CN_MAX, OU_MAX = 500, 200, 500


@dataclass(frozen=True)
class ClientCertificate:
    """Who a certificate names (the registry's key) and when it is valid."""

    issuer: str  # the issuer's distinguished name, RFC 4514
    cn: str  # the subject's common name
    ou: str  # the subject's organizational units, RFC 4514 (``OU=a,OU=b``), empty when it has none
    not_before: dt.datetime
    not_after: dt.datetime

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.issuer, self.cn, self.ou)

    def describe(self) -> str:
        return f"CN={self.cn}" + (f", {self.ou}" if self.ou else "") + f" (issuer {self.issuer})"


class UnreadableCertificate(ValueError):
    """Not a PEM certificate, or one that names no CN."""


def parse(pem: str | bytes) -> ClientCertificate:
    """Who a PEM certificate names (URL-escaped, as nginx's ``$ssl_client_escaped_cert``, or plain)."""
    text = unquote(pem.decode("latin-1") if isinstance(pem, bytes) else pem).strip()
    try:
        certificate = x509.load_pem_x509_certificate(text.encode("latin-1"))
        issuer = certificate.issuer.rfc4514_string()
        names = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        units = certificate.subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)
        cn = str(names[0].value) if names else ""
        ou = ",".join(unit.rfc4514_string() for unit in units)
    except ValueError as exc:
        raise UnreadableCertificate("not a PEM certificate") from exc
    if not cn:
        raise UnreadableCertificate("the certificate's subject has no CN")
    if len(issuer) > ISSUER_MAX or len(cn) > CN_MAX or len(ou) > OU_MAX:
        raise UnreadableCertificate("the certificate's issuer or subject is too long")
    return ClientCertificate(issuer=issuer, cn=cn, ou=ou, not_before=certificate.not_valid_before_utc,
                             not_after=certificate.not_valid_after_utc)


def presented(header: str, now: dt.datetime | None = None) -> ClientCertificate:
    """The certificate a trusted front verified and passed on, refused (401) when it cannot be read or is
    outside its validity (the front checks the dates too: this holds if the front is misconfigured)."""
    try:
        certificate = parse(header)
    except UnreadableCertificate as exc:
        raise Unauthorized(f"The client certificate cannot be read: {exc}", field="X-Client-Cert") from exc
    now = now or dt.datetime.now(dt.UTC)
    if now >= certificate.not_after:
        raise Unauthorized(f"The client certificate expired on {certificate.not_after.isoformat()}: present the "
                           "renewed one", field="X-Client-Cert")
    if now < certificate.not_before:
        raise Unauthorized(f"The client certificate is valid only from {certificate.not_before.isoformat()}",
                           field="X-Client-Cert")
    return certificate
