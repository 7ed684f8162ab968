"""Certificates for the VTN's TLS and the VENs' client certificates, and their fingerprints.

OpenADR 2.0b secures simpleHTTP with mutual TLS: the VTN presents a server certificate,
every VEN a client certificate, and the VTN identifies a VEN by the fingerprint of that
certificate, registered beforehand by the FSP (``VenRegistration.fingerprint``). The same
key pair signs the XML payloads (XMLDSig), so a message is bound to the certificate too.

Production certificates come from the OpenADR Alliance's PKI or the operator's own CA;
``dev_pki`` makes a throw-away CA and certificates for tests and local runs. Private keys
are written only where asked (a temporary folder in tests) and are never committed.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from openleadr.utils import certificate_fingerprint


def fingerprint(cert_pem: str | bytes) -> str:
    """The OpenADR fingerprint: the last 10 bytes of the certificate's SHA-256 (DER), as
    colon-separated upper-case hex, e.g. ``6A:D2:...:4F`` (what openleadr compares)."""
    return str(certificate_fingerprint(cert_pem))


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _pem_key(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def make_ca(common_name: str = "Flexplatform dev OpenADR CA", days: int = 30
            ) -> tuple[bytes, bytes]:
    """A self-signed CA: (certificate PEM, private key PEM)."""
    key = _key()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True,
                                         crl_sign=True, content_commitment=False,
                                         key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, encipher_only=False,
                                         decipher_only=False), critical=True)
            .sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM), _pem_key(key)


def issue(ca_cert_pem: bytes, ca_key_pem: bytes, common_name: str, *, server: bool,
          hosts: tuple[str, ...] = ("localhost", "127.0.0.1"), days: int = 30
          ) -> tuple[bytes, bytes]:
    """A leaf certificate signed by the CA: a server one (with ``hosts`` as subject
    alternative names) or a client one. Returns (certificate PEM, private key PEM)."""
    ca_cert = x509.load_pem_x509_certificate(ca_cert_pem)
    ca_key = serialization.load_pem_private_key(ca_key_pem, None)
    key = _key()
    now = dt.datetime.now(dt.UTC)
    b = (x509.CertificateBuilder()
         .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
         .issuer_name(ca_cert.subject).public_key(key.public_key())
         .serial_number(x509.random_serial_number())
         .not_valid_before(now - dt.timedelta(minutes=5))
         .not_valid_after(now + dt.timedelta(days=days))
         .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
         .add_extension(x509.ExtendedKeyUsage(
             [ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH]),
             critical=False))
    if server:
        names: list[x509.GeneralName] = []
        for h in hosts:
            try:
                names.append(x509.IPAddress(ipaddress.ip_address(h)))
            except ValueError:
                names.append(x509.DNSName(h))
        b = b.add_extension(x509.SubjectAlternativeName(names), critical=False)
    cert = b.sign(ca_key, hashes.SHA256())  # type: ignore[arg-type]
    return cert.public_bytes(serialization.Encoding.PEM), _pem_key(key)


def dev_pki(folder: Path, ven_names: list[str], hosts: tuple[str, ...] = ("localhost",
            "127.0.0.1")) -> dict[str, str]:
    """Write ca.pem, vtn.pem/vtn.key and <ven>.pem/<ven>.key into ``folder``; returns each
    certificate's fingerprint by name ('vtn' and the VEN names)."""
    folder.mkdir(parents=True, exist_ok=True)
    ca_cert, ca_key = make_ca()
    (folder / "ca.pem").write_bytes(ca_cert)
    out: dict[str, str] = {}
    for name, server in [("vtn", True), *((n, False) for n in ven_names)]:
        cert, key = issue(ca_cert, ca_key, name, server=server, hosts=hosts)
        (folder / f"{name}.pem").write_bytes(cert)
        k = folder / f"{name}.key"
        k.write_bytes(key)
        k.chmod(0o600)
        out[name] = fingerprint(cert)
    return out
