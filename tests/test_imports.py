"""The import structure of the package: no cycle, owners above what they own.

Imports under ``if TYPE_CHECKING:`` count: a cycle of type-only imports is
still a cycle for a reader, and the first one to become a runtime import
breaks ``import mediasoup``.
"""

from __future__ import annotations

import ast
import inspect
import pathlib
import subprocess
import sys

import grimp
import mediasoup

ROOT = pathlib.Path(__file__).parent.parent
PACKAGE_PARENT = pathlib.Path(inspect.getfile(mediasoup)).parent.parent
PACKAGE = "mediasoup"
# The extension module: grimp reads Python sources only, so it resolves
# `from . import _mediasoup` to the package itself (whose __init__ imports
# everything, hence a false cycle). The extension imports no module of the
# package when it is imported: it is a leaf.
EXTENSION = "mediasoup._mediasoup"


def _import_graph() -> grimp.ImportGraph:
    graph = grimp.build_graph(PACKAGE, cache_dir=None)
    graph.add_module(EXTENSION)
    for importer in graph.find_modules_that_directly_import(PACKAGE):
        details = graph.get_import_details(importer=importer, imported=PACKAGE)
        if all(_imports_modules_only(graph, importer, detail["line_contents"]) for detail in details):
            graph.remove_import(importer=importer, imported=PACKAGE)
            if importer != PACKAGE:
                graph.add_import(importer=importer, imported=EXTENSION)
    return graph


def _imports_modules_only(graph: grimp.ImportGraph, importer: str, line: str) -> bool:
    """Whether ``line`` (``from . import _mediasoup, errors``…) imports modules
    of the package only, and no name defined in the package's __init__."""
    statement = ast.parse(line.strip()).body[0]
    if not isinstance(statement, ast.ImportFrom):
        return False
    base = statement.module or ""
    if statement.level:
        # `from .` is the importer's package: the importer itself if it is a package's __init__.
        package = importer if importer == PACKAGE or graph.find_children(importer) else importer.rpartition(".")[0]
        parts = package.split(".")
        base = ".".join(parts[: len(parts) - statement.level + 1] + ([base] if base else []))
    return all(f"{base}.{alias.name}" in graph.modules for alias in statement.names)


def _cycles(graph: grimp.ImportGraph) -> list[tuple[str, ...]]:
    """The shortest cycle through each import that is part of one, each once."""
    found: set[tuple[str, ...]] = set()
    for importer in sorted(graph.modules):
        for imported in sorted(graph.find_modules_directly_imported_by(importer)):
            back = graph.find_shortest_chain(importer=imported, imported=importer)
            if back is None:
                continue
            cycle = (importer, *back[:-1])
            start = cycle.index(min(cycle))
            found.add(cycle[start:] + cycle[:start])
    return sorted(found, key=lambda cycle: (len(cycle), cycle))


def _describe(graph: grimp.ImportGraph, cycle: tuple[str, ...]) -> str:
    steps = []
    for importer, imported in zip(cycle, cycle[1:] + cycle[:1]):
        detail = graph.get_import_details(importer=importer, imported=imported)[0]
        steps.append(f"  {importer} → {imported}, line {detail['line_number']}: {detail['line_contents']}")
    return "\n".join(steps)


def test_the_package_has_no_import_cycle() -> None:
    graph = _import_graph()
    cycles = _cycles(graph)
    # The shortest first: they are the imports to undo; the longer ones run through them.
    shown = "\n\n".join(_describe(graph, cycle) for cycle in cycles[:3])
    more = f"\n\n(and {len(cycles) - 3} more)" if len(cycles) > 3 else ""
    assert not cycles, f"{len(cycles)} import cycles (type-checking imports included):\n{shown}{more}"


def test_the_import_graph_counts_type_checking_imports() -> None:
    graph = _import_graph()
    # _object.py imports Channel under `if TYPE_CHECKING:` only.
    assert graph.direct_import_exists(importer="mediasoup._object", imported="mediasoup._channel")
    # The extension is a leaf the package's modules import, not the package.
    assert graph.direct_import_exists(importer="mediasoup.server", imported=EXTENSION)
    assert not graph.direct_import_exists(importer="mediasoup.server", imported=PACKAGE)


def test_the_cycle_check_names_the_imports_of_a_cycle() -> None:
    graph = _import_graph()
    # As if transport.py named its peer's class under TYPE_CHECKING.
    graph.add_import(importer="mediasoup.transport", imported="mediasoup.peer", line_number=1, line_contents="from .peer import Peer")
    cycles = _cycles(graph)
    assert ("mediasoup.peer", "mediasoup.transport") in cycles
    assert "mediasoup.transport → mediasoup.peer, line 1: from .peer import Peer" in _describe(graph, ("mediasoup.peer", "mediasoup.transport"))


def test_importing_the_package_from_inside_it_is_a_cycle() -> None:
    graph = _import_graph()
    # `from . import Room` in peer.py: the package's __init__ imports peer.py.
    graph.add_import(importer="mediasoup.peer", imported=PACKAGE, line_number=1, line_contents="from . import Room")
    assert ("mediasoup", "mediasoup.peer") in _cycles(graph)
    assert not _imports_modules_only(graph, "mediasoup.peer", "from . import Room")
    assert _imports_modules_only(graph, "mediasoup.webrtc.ortc", "from .. import _mediasoup")
    assert _imports_modules_only(graph, "mediasoup.webrtc", "from . import sdp")
    assert _imports_modules_only(graph, PACKAGE, "from . import _mediasoup, errors, extra, webrtc")


def test_the_import_contracts_are_kept() -> None:
    """The layers of pyproject.toml's [tool.importlinter] (server → room →
    peer → rtp_sender → rtp_receiver → transport → _object → _channel) and
    no cycle between sibling modules."""
    config = ROOT / "pyproject.toml"
    script = f"import sys; from importlinter.cli import lint_imports; sys.exit(lint_imports({str(config)!r}, no_cache=True, no_logo=True))"
    # Run from the package's parent directory: the same package as this test imports.
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=PACKAGE_PARENT, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_import_mediasoup_reaches_webrtc_in_a_fresh_interpreter() -> None:
    result = subprocess.run(
        [sys.executable, "-c", "import mediasoup; mediasoup.webrtc.RTCPeerConnection"],
        capture_output=True,
        text=True,
        cwd=PACKAGE_PARENT,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr


def test_import_mediasoup_leaves_the_media_layer_and_pyav_unloaded() -> None:
    """mediasoup.media (extra mediasoup[media]) is imported by its users only."""
    script = "import sys, mediasoup; print(sorted(m for m in sys.modules if m == 'av' or m.startswith(('av.', 'mediasoup.media'))))"
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=PACKAGE_PARENT, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
