"""A test PKI shaped as IGC-Santé's, made at test time with ``cryptography``: authorities (a root, an
intermediate), certificates for a server on loopback or a client, their CRLs, written as PEM files."""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

NOW = dt.datetime.now(dt.UTC)


@dataclass
class Authority:
    name: x509.Name
    key: ec.EllipticCurvePrivateKey
    certificate: x509.Certificate


def name(cn: str, ou: str | None = None) -> x509.Name:
    parts = [x509.NameAttribute(NameOID.COUNTRY_NAME, "FR"),
             x509.NameAttribute(NameOID.ORGANIZATION_NAME, "TEST-SANTE")]
    if ou:
        parts.append(x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, ou))
    return x509.Name([*parts, x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def issue(subject: x509.Name, key: ec.EllipticCurvePrivateKey, issuer: Authority | None, *, ca: bool = False,
          server: bool = False, not_before: dt.datetime | None = None, days: int = 30) -> x509.Certificate:
    start = not_before or NOW - dt.timedelta(days=1)
    builder = (x509.CertificateBuilder().subject_name(subject).public_key(key.public_key())
               .issuer_name(issuer.name if issuer else subject).serial_number(x509.random_serial_number())
               .not_valid_before(start).not_valid_after(start + dt.timedelta(days=days))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if ca:
        builder = builder.add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False),
                                        critical=True)
    else:
        builder = builder.add_extension(x509.ExtendedKeyUsage(
            [ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
    if server:
        builder = builder.add_extension(x509.SubjectAlternativeName(
            [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False)
    return builder.sign(issuer.key if issuer else key, hashes.SHA256())


def authority(cn: str, parent: Authority | None = None) -> Authority:
    private, subject = key(), name(cn, "IGC-SANTE TEST")
    return Authority(subject, private, issue(subject, private, parent, ca=True, days=365))


def crl(authority: Authority, revoked: list[x509.Certificate]) -> x509.CertificateRevocationList:
    builder = (x509.CertificateRevocationListBuilder().issuer_name(authority.name)
               .last_update(NOW - dt.timedelta(hours=1)).next_update(NOW + dt.timedelta(days=7)))
    for certificate in revoked:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(certificate.serial_number)
            .revocation_date(NOW - dt.timedelta(minutes=5)).build())
    return builder.sign(authority.key, hashes.SHA256())


def pem(*items: x509.Certificate | x509.CertificateRevocationList) -> bytes:
    return b"".join(item.public_bytes(serialization.Encoding.PEM) for item in items)


def write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> Path:
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    return path


@dataclass
class Files:
    """A small PKI on disk: the CA to trust, a server's chain and key, a client's certificate and key."""

    ca: Path
    server_certificate: Path
    server_key: Path
    client_certificate: Path
    client_key: Path
    other_client_certificate: Path  # of another CA: refused by a server that trusts ours only
    other_client_key: Path


def files(folder: Path, client_cn: str = "client.test.sante.fr") -> Files:
    """A root, an intermediate CA under it, a server certificate for localhost and 127.0.0.1 (its chain with the
    intermediate) and a client certificate (issued by the intermediate), in ``folder``."""
    root = authority("TEST ACR-IGC-SANTE")
    intermediate = authority("TEST AC IGC-SANTE ORGANISATIONS", root)
    server_key = key()
    (folder / "server.pem").write_bytes(pem(issue(name("localhost"), server_key, intermediate, server=True),
                                            intermediate.certificate))
    write_key(folder / "server.key", server_key)
    (folder / "ca.pem").write_bytes(pem(root.certificate, intermediate.certificate))
    client_key = key()
    (folder / "client.pem").write_bytes(pem(issue(name(client_cn, "0002 130029754"), client_key, intermediate),
                                            intermediate.certificate))
    write_key(folder / "client.key", client_key)
    other, other_key = authority("ANOTHER CA"), key()
    (folder / "other.pem").write_bytes(pem(issue(name(client_cn), other_key, other)))
    write_key(folder / "other.key", other_key)
    return Files(ca=folder / "ca.pem", server_certificate=folder / "server.pem", server_key=folder / "server.key",
                 client_certificate=folder / "client.pem", client_key=folder / "client.key",
                 other_client_certificate=folder / "other.pem", other_client_key=folder / "other.key")
