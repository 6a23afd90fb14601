"""The PyO3 extension (src/): options, worker processes, the Channel."""

import asyncio
from collections.abc import Callable
from typing import Any, Final, final

__all__ = [
    "ServerSettings",
    "WorkerProcess",
    "run_worker",
    "room_rtp_capabilities",
    "codec_match",
    "fingerprint_from_sdp",
    "fingerprint_to_sdp",
    "snake_case",
    "self_signed_certificate",
    "_settle",
    "_before_exit",
    "SERVER_OPTIONS",
    "MAX_PEER_NAME_CHARS",
    "MAX_DEPTH",
    "CHANNEL_METHODS",
    "NOTIFICATION_EVENTS",
    "TRANSPORT_OPTIONS",
    "ROOM_SETTINGS",
    "AUDIO_LEVEL_INTERVAL_MS",
    "SCTP_MAX_MESSAGE_SIZE",
    "SCTP_MAX_SEND_MESSAGE_SIZE",
    "__version__",
]

__version__: Final[str]
SERVER_OPTIONS: Final[list[tuple[str, str, str, str]]]
# The longest peer name, in characters.
MAX_PEER_NAME_CHARS: Final[int]
# How deeply dicts and lists may nest inside one argument sent to a worker.
MAX_DEPTH: Final[int]
# Every Channel method and notification event, as the worker's table names them.
CHANNEL_METHODS: Final[list[str]]
NOTIFICATION_EVENTS: Final[list[str]]
# The options of peer.createTransport(), all bools, with their defaults.
TRANSPORT_OPTIONS: Final[list[tuple[str, bool]]]
# Room() options beyond the codecs, with their defaults.
ROOM_SETTINGS: Final[dict[str, bool | int]]
# The bounds of Room(audioLevelInterval=…), in milliseconds.
AUDIO_LEVEL_INTERVAL_MS: Final[tuple[int, int]]
# The largest data-channel message a transport receives (its maxMessageSize),
# and the largest it sends (str0m's direct API keeps SCTP's 64 KiB default).
SCTP_MAX_MESSAGE_SIZE: Final[int]
SCTP_MAX_SEND_MESSAGE_SIZE: Final[int]

@final
class ServerSettings:
    def __new__(cls, options: dict[str, Any]) -> ServerSettings: ...
    @property
    def num_workers(self) -> int: ...
    @property
    def log_level(self) -> str: ...
    def set_log_level(self, level: object) -> None: ...
    @property
    def port_ranges(self) -> list[tuple[int, int]]: ...
    @property
    def dtls_fingerprints(self) -> list[dict[str, str]]: ...
    def load_certificate(self) -> None: ...
    def worker_settings(self, index: int) -> dict[str, Any]: ...
    def dump(self) -> dict[str, Any]: ...

@final
class WorkerProcess:
    @staticmethod
    def spawn(
        executable: str,
        python_path: str | None,
        on_notification: Callable[[str, str | None, Any], object],
        on_exit: Callable[[int | None, str | None, str], object],
        on_media: Callable[[], object],
    ) -> WorkerProcess: ...
    @property
    def pid(self) -> int: ...
    @property
    def closed(self) -> bool: ...
    def request(self, method: str, data: Any = None) -> asyncio.Future[Any]: ...
    def init(self, settings: dict[str, Any]) -> asyncio.Future[Any]: ...
    def take_media(self) -> list[tuple[int, int, int, bytes]]: ...
    def send_media(self, handle: int, packet: bytes) -> bool: ...
    def send_media_data(self, handle: int, stream_id: int, binary: bool, data: bytes) -> bool: ...
    def close(self) -> None: ...
    def kill(self) -> None: ...
    def _send_raw(self, data: bytes) -> None: ...

def run_worker() -> int: ...
def room_rtp_capabilities(media_codecs: Any = None) -> dict[str, Any]: ...
def codec_match(room_codec: dict[str, Any], codec: dict[str, Any]) -> int | None: ...
def fingerprint_from_sdp(fingerprint: str) -> str: ...
def fingerprint_to_sdp(fingerprint: str) -> str: ...
def snake_case(name: str) -> str: ...
def self_signed_certificate(names: list[str]) -> tuple[bytes, bytes]: ...
def _settle(future: asyncio.Future[Any], error: BaseException | None, value: Any) -> None: ...
def _before_exit() -> None: ...
