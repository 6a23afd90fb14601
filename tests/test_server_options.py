"""Every option of mediasoup.Server() is validated at construction."""

from __future__ import annotations

import hashlib
import pathlib
from typing import Any

import pytest

import mediasoup
from mediasoup import _mediasoup

from .conftest import LOOPBACK


@pytest.mark.parametrize(
    ("bad", "error", "message"),
    [
        ({"numWorkers": 0}, ValueError, "numWorkers must be within 1-65535, not 0"),
        ({"numWorkers": -3}, ValueError, "numWorkers must be within 1-65535, not -3"),
        ({"numWorkers": "2"}, TypeError, "numWorkers must be an int, not str"),
        ({"numWorkers": True}, TypeError, "numWorkers must be an int, not bool"),
        ({"numWorkers": 1.5}, TypeError, "numWorkers must be an int, not float"),
        ({"logLevel": "chicken"}, ValueError, "'chicken'"),
        ({"logLevel": 1}, TypeError, "logLevel must be a str, not int"),
        ({"rtcListenIPv4": "::1"}, ValueError, "rtcListenIPv4 must be an IPv4 address"),
        ({"rtcListenIPv4": "192.0.2.1"}, ValueError, "rtcListenIPv4 '192.0.2.1' cannot be bound"),
        ({"rtcListenIPv4": 127}, TypeError, "rtcListenIPv4 must be a str or a bool, not int"),
        ({"rtcListenIPv6": "127.0.0.1"}, ValueError, "rtcListenIPv6 must be an IPv6 address"),
        ({"rtcListenIPv4": False, "rtcListenIPv6": False}, ValueError, "both False"),
        ({"rtcMinPort": 80}, ValueError, "rtcMinPort must be within 1024-65535, not 80"),
        ({"rtcMaxPort": 65536}, ValueError, "rtcMaxPort must be within 1024-65535, not 65536"),
        ({"rtcMinPort": 2**70}, ValueError, "rtcMinPort must be within 1024-65535"),
        ({"rtcMinPort": 30000, "rtcMaxPort": 20000}, ValueError, "rtcMinPort 30000 is greater than rtcMaxPort 20000"),
        ({"rtcMinPort": 30000, "rtcMaxPort": 30001, "numWorkers": 3}, ValueError, "too few for numWorkers=3"),
        ({"rtcMinPort": "10000"}, TypeError, "rtcMinPort must be an int, not str"),
        ({"dtlsCertificateFile": "/nonexistent/cert.pem"}, ValueError, "dtlsPrivateKeyFile is not"),
        ({"dtlsPrivateKeyFile": "/nonexistent/key.pem"}, ValueError, "dtlsCertificateFile is not"),
        (
            {"dtlsCertificateFile": "/nonexistent/cert.pem", "dtlsPrivateKeyFile": "/nonexistent/key.pem"},
            ValueError,
            "dtlsCertificateFile '/nonexistent/cert.pem' cannot be read",
        ),
        ({"dtlsCertificateFile": 5, "dtlsPrivateKeyFile": 6}, TypeError, "dtlsCertificateFile must be a str, not int"),
        ({"rtcAnnouncedIPv4": "not-an-ip"}, ValueError, "rtcAnnouncedIPv4 must be an IPv4 address, not 'not-an-ip'"),
        ({"rtcAnnouncedIPv6": "1.2.3.4", "rtcListenIPv6": "::1"}, ValueError, "rtcAnnouncedIPv6 must be an IPv6 address"),
        ({"rtcAnnouncedIPv6": "2001:db8::1"}, ValueError, "rtcListenIPv6 is False"),
        ({"chicken": 1}, TypeError, "unknown option 'chicken'"),
        ({"rtcListenIPv4": "0.0.0.0"}, ValueError, "needs rtcAnnouncedIPv4"),
    ],
)
async def test_invalid_options_fail_at_construction(bad: dict[str, Any], error: type[Exception], message: str) -> None:
    with pytest.raises(error) as raised:
        mediasoup.Server({**LOOPBACK, **bad})
    assert message in str(raised.value)


async def test_options_answer_to_camel_and_snake_case_in_a_dict_and_keywords() -> None:
    server = mediasoup.Server({"num_workers": 1, "rtc_listen_ipv6": False}, rtc_listen_ipv4="127.0.0.1", log_level="error")
    try:
        await server
        settings = (await server.dump())["settings"]
        assert settings["numWorkers"] == 1
        assert settings["logLevel"] == "error"
        assert settings["rtcListenIPv4"] == "127.0.0.1"
        assert settings["rtcListenIPv6"] is None
    finally:
        server.close()


async def test_an_option_given_twice_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="given twice"):
        mediasoup.Server({"numWorkers": 1}, numWorkers=2)
    with pytest.raises(TypeError, match="given twice"):
        mediasoup.Server(numWorkers=1, num_workers=2, **LOOPBACK)
    with pytest.raises(TypeError, match="dict of options"):
        mediasoup.Server(["numWorkers"])  # type: ignore[arg-type]


def test_a_server_needs_a_running_event_loop() -> None:
    with pytest.raises(RuntimeError, match="running asyncio event loop"):
        mediasoup.Server(numWorkers=1, **LOOPBACK)


async def test_defaults_are_the_seeds(server: mediasoup.Server) -> None:
    settings = (await server.dump())["settings"]
    assert (settings["rtcMinPort"], settings["rtcMaxPort"]) == (10000, 59999)
    assert settings["dtlsCertificateFile"] is None


async def test_default_num_workers_is_the_cpu_count() -> None:
    import os

    async with mediasoup.Server(logLevel="warn", **LOOPBACK) as server:
        assert len((await server.dump())["workers"]) == os.cpu_count()


async def test_ipv6_loopback_can_be_the_only_listen_address() -> None:
    async with mediasoup.Server(numWorkers=1, rtcListenIPv4=False, rtcListenIPv6="::1") as server:
        settings = (await server.dump())["settings"]
        assert settings["rtcListenIPv4"] is None
        assert settings["rtcListenIPv6"] == "::1"


async def test_announced_addresses_reach_the_workers() -> None:
    async with mediasoup.Server(numWorkers=1, rtcAnnouncedIPv4="203.0.113.7", **LOOPBACK) as server:
        dump = await server.dump()
        (worker,) = dump["workers"].values()
        assert worker["rtcAnnouncedIPv4"] == "203.0.113.7"
        assert dump["settings"]["rtcAnnouncedIPv4"] == "203.0.113.7"


def _write_certificate(directory: pathlib.Path, name: str) -> tuple[pathlib.Path, pathlib.Path, bytes]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    import datetime

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    cert_path = directory / f"{name}-cert.pem"
    key_path = directory / f"{name}-key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path, certificate.public_bytes(serialization.Encoding.DER)


async def test_a_certificate_from_pem_files_is_used_and_its_fingerprints_shown(tmp_path: pathlib.Path) -> None:
    cert_path, key_path, der = _write_certificate(tmp_path, "mine")
    # os.PathLike is accepted as well as str.
    async with mediasoup.Server(numWorkers=1, dtlsCertificateFile=cert_path, dtlsPrivateKeyFile=str(key_path), **LOOPBACK) as server:
        dump = await server.dump()
    fingerprints = {entry["algorithm"]: entry["value"] for entry in dump["dtlsFingerprints"]}
    expected = hashlib.sha256(der).hexdigest()
    assert fingerprints["sha-256"] == mediasoup.extra.fingerprintToSDP(expected)
    assert fingerprints["sha-512"] == mediasoup.extra.fingerprintToSDP(hashlib.sha512(der).hexdigest())
    assert dump["settings"]["dtlsCertificateFile"] == str(cert_path)


async def test_a_key_that_does_not_match_the_certificate_is_refused(tmp_path: pathlib.Path) -> None:
    cert_path, _, _ = _write_certificate(tmp_path, "one")
    _, other_key, _ = _write_certificate(tmp_path, "two")
    with pytest.raises(ValueError, match="does not match"):
        await mediasoup.Server(numWorkers=1, dtlsCertificateFile=cert_path, dtlsPrivateKeyFile=other_key, **LOOPBACK)


async def test_a_key_dtls_cannot_sign_with_is_refused(tmp_path: pathlib.Path) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID
    import datetime

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "rsa")])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(1).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "rsa-cert.pem", tmp_path / "rsa-key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    with pytest.raises(ValueError, match="ECDSA"):
        await mediasoup.Server(numWorkers=1, dtlsCertificateFile=cert_path, dtlsPrivateKeyFile=key_path, **LOOPBACK)


async def test_invalid_pem_is_refused(tmp_path: pathlib.Path) -> None:
    cert_path, key_path, _ = _write_certificate(tmp_path, "ok")
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n")
    with pytest.raises(ValueError, match="dtlsCertificateFile"):
        await mediasoup.Server(numWorkers=1, dtlsCertificateFile=garbage, dtlsPrivateKeyFile=key_path, **LOOPBACK)
    with pytest.raises(ValueError, match="dtlsPrivateKeyFile is not a usable PEM private key"):
        await mediasoup.Server(numWorkers=1, dtlsCertificateFile=cert_path, dtlsPrivateKeyFile=cert_path, **LOOPBACK)


async def test_a_generated_certificate_is_shared_by_all_workers(options: dict[str, Any]) -> None:
    options["numWorkers"] = 2
    async with mediasoup.Server(options) as server:
        first = server._settings.worker_settings(0)
        second = server._settings.worker_settings(1)
        assert first["dtlsCertificateDer"] == second["dtlsCertificateDer"]
        assert (first["rtcMinPort"], first["rtcMaxPort"]) != (second["rtcMinPort"], second["rtcMaxPort"])


def test_the_options_table_is_the_seeds() -> None:
    names = [name for name, *_ in _mediasoup.SERVER_OPTIONS]
    assert names[:8] == [
        "numWorkers", "logLevel", "rtcListenIPv4", "rtcListenIPv6",
        "rtcMinPort", "rtcMaxPort", "dtlsCertificateFile", "dtlsPrivateKeyFile",
    ]
    assert "rtcAnnouncedIPv4" in names and "rtcAnnouncedIPv6" in names
