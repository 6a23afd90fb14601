"""The public surface: errors, extra, aliases and stubs that match the runtime."""

from __future__ import annotations

import inspect
import pathlib
import subprocess
import sys

import pytest

import mediasoup
from mediasoup import _mediasoup, errors, extra


def test_errors_derive_from_mediasoup_error() -> None:
    assert issubclass(errors.InvalidStateError, errors.MediasoupError)
    assert issubclass(errors.UnsupportedError, errors.MediasoupError)
    assert issubclass(errors.MediasoupError, Exception)
    assert mediasoup.errors is errors and mediasoup.extra is extra


def test_fingerprint_helpers_are_the_seeds() -> None:
    assert extra.fingerprintFromSDP("75:1B:9F:0A") == "751b9f0a"
    assert extra.fingerprintToSDP("751b9f0a") == "75:1B:9F:0A"
    assert extra.fingerprint_from_sdp is extra.fingerprintFromSDP
    assert extra.fingerprint_to_sdp is extra.fingerprintToSDP
    for bad in (None, 5, b"75:1B", ""):
        with pytest.raises(TypeError, match="non-empty str"):
            extra.fingerprintFromSDP(bad)  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="non-empty str"):
            extra.fingerprintToSDP(bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="not an SDP fingerprint"):
        extra.fingerprintFromSDP("hello")
    with pytest.raises(ValueError, match="not a fingerprint"):
        extra.fingerprintToSDP("xyz")


@pytest.mark.parametrize("cls", [mediasoup.Server, mediasoup.Room, mediasoup.Peer, mediasoup.Transport, mediasoup.DirectTransport, mediasoup.PlainTransport, mediasoup.RtpReceiver, mediasoup.RtpSender])
def test_every_camel_case_member_has_its_snake_case_alias(cls: type) -> None:
    for name, member in vars(cls).items():
        if name.startswith("_") or not any(ch.isupper() for ch in name):
            continue
        alias = _mediasoup.snake_case(name)
        assert getattr(cls, alias, None) is member, f"{cls.__name__}.{name} has no alias {alias}"


def test_stubs_match_the_runtime() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mypy.stubtest", "mediasoup"],
        capture_output=True,
        text=True,
        cwd=pathlib.Path(__file__).parent,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_package_type_checks() -> None:
    package = pathlib.Path(inspect.getfile(mediasoup)).parent
    assert (package / "py.typed").exists()
    assert (package / "_mediasoup.pyi").exists()
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "-p", "mediasoup"],
        capture_output=True,
        text=True,
        cwd=pathlib.Path(__file__).parent,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_docs_table_lists_every_server_option() -> None:
    text = (pathlib.Path(__file__).parent.parent / "docs" / "server.md").read_text()
    for name, types, _default, _doc in _mediasoup.SERVER_OPTIONS:
        escaped = types.replace("|", "\\|")
        assert f"| `{name}` | {escaped} |" in text, name


def test_the_docs_list_every_header_extension_and_channel_message() -> None:
    """docs/server.md's header-extension table and docs/architecture.md's
    message table say what the worker has (both went stale once)."""
    docs = pathlib.Path(__file__).parent.parent / "docs"
    server = docs.joinpath("server.md").read_text()
    kinds: dict[tuple[int, str], list[str]] = {}
    for extension in _mediasoup.room_rtp_capabilities()["headerExtensions"]:
        kinds.setdefault((extension["preferredId"], extension["uri"]), []).append(extension["kind"])
    for (preferred_id, uri), of in kinds.items():
        assert f"| {preferred_id} | {uri} | {', '.join(sorted(of))} |" in server, uri
    architecture = docs.joinpath("architecture.md").read_text()
    for method in _mediasoup.CHANNEL_METHODS:
        # Listed whole, or as `.name` in its object's line (`rtpSender.create`, `.close`; …).
        group, name = method.split(".")
        line = architecture.split(f"`{group}.", 1)[1].split(";", 1)[0]
        assert f"`{method}`" in architecture or f"`.{name}`" in line, method
    for event in _mediasoup.NOTIFICATION_EVENTS:
        assert f"`{event}`" in architecture, event
