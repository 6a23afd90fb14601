"""The names Python uses for the Channel are the worker's: every method it
sends and every event it handles is in the worker's table
(media_worker/src/channel/message.rs, exported by the extension), and every
entry of the table is used. A typo in a method name would otherwise surface
only when that request is sent."""

from __future__ import annotations

import ast
import inspect
import pathlib
import re

import mediasoup
from mediasoup import _mediasoup
from mediasoup.peer import TRANSPORT_OPTIONS

PACKAGE = pathlib.Path(inspect.getfile(mediasoup)).parent
# `<object>.<name>`: how the Channel names methods and events, for the
# objects the table names.
OBJECTS = sorted({name.split(".")[0] for name in [*_mediasoup.CHANNEL_METHODS, *_mediasoup.NOTIFICATION_EVENTS] if "." in name})
CHANNEL_NAME = re.compile(rf"^({'|'.join(OBJECTS)})\.[a-z][A-Za-z]*$")


def _string_literals(tree: ast.AST) -> list[tuple[str, int]]:
    """The string constants of a module that are not docstrings, with their lines."""
    docstrings = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                docstrings.add(id(first.value))
    return [
        (node.value, node.lineno)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
    ]


def _channel_names_in_python() -> dict[str, str]:
    """Each Channel name the package's sources use → where it is first used."""
    names: dict[str, str] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        for value, line in _string_literals(ast.parse(path.read_text(), str(path))):
            if CHANNEL_NAME.match(value) and not value.endswith(".py"):
                names.setdefault(value, f"{path.relative_to(PACKAGE.parent)}:{line}")
    return names


def test_python_sends_and_handles_only_names_of_the_workers_table() -> None:
    table = set(_mediasoup.CHANNEL_METHODS) | set(_mediasoup.NOTIFICATION_EVENTS)
    unknown = {name: where for name, where in _channel_names_in_python().items() if name not in table}
    assert not unknown, f"not in the worker's Channel table: {unknown}"


def test_every_method_and_event_of_the_table_is_used() -> None:
    used = set(_channel_names_in_python())
    # worker.init is sent by the extension (src/worker_process.rs), log records are
    # handled there too: neither reaches the Python package.
    unused_methods = set(_mediasoup.CHANNEL_METHODS) - used - {"worker.init"}
    unused_events = set(_mediasoup.NOTIFICATION_EVENTS) - used - {"log"}
    assert not unused_methods and not unused_events, (unused_methods, unused_events)


def test_transport_options_are_the_workers() -> None:
    assert TRANSPORT_OPTIONS == dict(_mediasoup.TRANSPORT_OPTIONS)
    assert all(isinstance(default, bool) for default in TRANSPORT_OPTIONS.values())


def test_a_misspelt_name_would_be_caught() -> None:
    tree = ast.parse('"""room.create in a docstring."""\nchannel.request("rtpSender.getStat", {})\n')
    found = [value for value, _ in _string_literals(tree) if CHANNEL_NAME.match(value)]
    assert found == ["rtpSender.getStat"]
    assert "rtpSender.getStat" not in _mediasoup.CHANNEL_METHODS
