"""Who signs the C2PA manifests: the operator's certificate and key (configuration), or else a
per-install development certificate made on first use under var/ and reported as untrusted.

The key material is loaded once per process; each thread gets its own native signer (the
library's handles are not shared across threads).
"""

import datetime as dt
import logging
import os
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

import c2pa
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from django.conf import settings

logger = logging.getLogger("generation.provenance")

DEV_FILE = "dev-signer.pem"  # the development key and its chain, in one file
DEV_ORGANIZATION = "Qwen Image Studio (development, untrusted)"


class SignerUnavailable(Exception):
    """No usable certificate and key (bad configuration, unreadable files)."""


@dataclass(frozen=True)
class SignerConfig:
    chain: bytes  # PEM: the signing certificate first, then its issuers
    key: bytes  # PEM private key
    alg: c2pa.C2paSigningAlg
    origin: str  # "operator" or "development"
    subject: str
    issuer: str
    not_after: dt.datetime


_lock = threading.Lock()
_config: SignerConfig | None = None
_local = threading.local()
_generation = 0  # bumped by signer_reset so threads drop their native signers


def signer_reset() -> None:
    """Forget the loaded key (tests that change the configuration; a rotated key)."""
    global _config, _generation
    with _lock:
        _config = None
        _generation += 1


def signer_config() -> SignerConfig:
    global _config
    with _lock:
        if _config is None:
            _config = _load()
        return _config


def signer_describe() -> dict:
    """What an operator sees about the signer (no key material)."""
    try:
        config = signer_config()
    except SignerUnavailable as error:
        return {"origin": "none", "error": str(error)}
    return {
        "origin": config.origin,
        "subject": config.subject,
        "issuer": config.issuer,
        "algorithm": config.alg.name.lower(),
        "not_after": config.not_after.isoformat(),
    }


def native_signer() -> c2pa.Signer:
    """This thread's c2pa.Signer for the current key."""
    if getattr(_local, "generation", None) != _generation or _local.signer is None:
        config = signer_config()
        info = c2pa.C2paSignerInfo(
            alg=config.alg,
            sign_cert=config.chain,
            private_key=config.key,
            ta_url=(settings.PROVENANCE_TSA_URL or None) and settings.PROVENANCE_TSA_URL.encode(),
        )
        _local.signer = c2pa.Signer.from_info(info)
        _local.generation = _generation
    return _local.signer


# --- Loading -------------------------------------------------------------------------------


def _read(path: str, what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as error:
        raise SignerUnavailable(f"Cannot read the signing {what} ({path}): {error}") from None


def _load() -> SignerConfig:
    cert = settings.PROVENANCE_SIGNING_CERT_PEM.encode() or (
        _read(settings.PROVENANCE_SIGNING_CERT_FILE, "certificate")
        if settings.PROVENANCE_SIGNING_CERT_FILE
        else b""
    )
    key = settings.PROVENANCE_SIGNING_KEY_PEM.encode() or (
        _read(settings.PROVENANCE_SIGNING_KEY_FILE, "key")
        if settings.PROVENANCE_SIGNING_KEY_FILE
        else b""
    )
    if cert or key:
        if not (cert and key):
            raise SignerUnavailable("Configure both the signing certificate and its key.")
        return _config_from(cert, key, origin="operator")
    cert, key = _development_pair()
    return _config_from(cert, key, origin="development")


def _config_from(chain: bytes, key_pem: bytes, *, origin: str) -> SignerConfig:
    try:
        certificates = x509.load_pem_x509_certificates(chain)
        key = serialization.load_pem_private_key(key_pem, password=None)
    except (ValueError, TypeError) as error:
        raise SignerUnavailable(
            f"The signing certificate or key is not valid PEM: {error}"
        ) from None
    leaf = certificates[0]
    if leaf.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    ) != key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    ):
        raise SignerUnavailable("The signing key does not belong to the first certificate.")
    return SignerConfig(
        chain=chain,
        key=key_pem,
        alg=_algorithm(key),
        origin=origin,
        subject=leaf.subject.rfc4514_string(),
        issuer=leaf.issuer.rfc4514_string(),
        not_after=leaf.not_valid_after_utc,
    )


def _algorithm(key) -> c2pa.C2paSigningAlg:
    if isinstance(key, ec.EllipticCurvePrivateKey):
        by_curve = {
            "secp256r1": c2pa.C2paSigningAlg.ES256,
            "secp384r1": c2pa.C2paSigningAlg.ES384,
            "secp521r1": c2pa.C2paSigningAlg.ES512,
        }
        if key.curve.name in by_curve:
            return by_curve[key.curve.name]
    if isinstance(key, rsa.RSAPrivateKey):
        return c2pa.C2paSigningAlg.PS256
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return c2pa.C2paSigningAlg.ED25519
    raise SignerUnavailable("Use an EC (P-256/384/521), RSA (PSS) or Ed25519 signing key.")


# --- The development certificate -----------------------------------------------------------


def _development_pair() -> tuple[bytes, bytes]:
    """The install's development key and chain, made once (first writer wins, atomically)."""
    directory = Path(settings.PROVENANCE_DIR)
    path = directory / DEV_FILE
    if not path.exists():
        directory.mkdir(parents=True, exist_ok=True)
        key, chain = _make_development_pair()
        handle, temporary = tempfile.mkstemp(dir=directory, prefix=".dev-signer-")
        try:
            os.fchmod(handle, 0o600)
            with os.fdopen(handle, "wb") as file:
                file.write(key + chain)
            try:
                os.link(temporary, path)  # fails if another process got there first
                logger.warning(
                    "provenance: made a development signing certificate at %s; verifiers "
                    "report it as untrusted. Configure PROVENANCE_SIGNING_CERT_FILE and "
                    "PROVENANCE_SIGNING_KEY_FILE for production.",
                    path,
                )
            except FileExistsError:
                pass
        finally:
            os.unlink(temporary)
    data = path.read_bytes()
    marker = b"-----BEGIN CERTIFICATE-----"
    split = data.index(marker)
    return data[split:], data[:split]


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, DEV_ORGANIZATION),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _make_development_pair() -> tuple[bytes, bytes]:
    """A per-install root and a signing certificate it issued (c2pa refuses a self-signed
    leaf, so the install signs itself one level up); PEM key, PEM chain (leaf, root)."""
    now = dt.datetime.now(dt.UTC)
    validity = dict(
        not_valid_before=now - dt.timedelta(days=1), not_valid_after=now + dt.timedelta(days=3650)
    )
    root_key = ec.generate_private_key(ec.SECP256R1())
    root_name = _name("Qwen Image Studio development root")
    root = (
        x509.CertificateBuilder(subject_name=root_name, issuer_name=root_name, **validity)
        .public_key(root_key.public_key())
        .serial_number(x509.random_serial_number())
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(sign=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(root_key.public_key()), False)
        .sign(root_key, hashes.SHA256())
    )
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder(
            subject_name=_name("Qwen Image Studio development signer"),
            issuer_name=root_name,
            **validity,
        )
        .public_key(leaf_key.public_key())
        .serial_number(x509.random_serial_number())
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(sign=True), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(leaf_key.public_key()), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()), False
        )
        .sign(root_key, hashes.SHA256())
    )
    key_pem = leaf_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    pem = serialization.Encoding.PEM
    return key_pem, leaf.public_bytes(pem) + root.public_bytes(pem)


def _key_usage(*, sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=sign,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=not sign,
        crl_sign=not sign,
        encipher_only=False,
        decipher_only=False,
    )
