"""examples/notebook.ipynb runs from top to bottom in a real kernel: a
server, a two-peer aiortc call, the rich tables and the stats plot."""

from __future__ import annotations

import importlib.util
import pathlib
import sys
from types import ModuleType

import pytest

ROOT = pathlib.Path(__file__).parent.parent

pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")
pytest.importorskip("matplotlib")


def _render_module() -> ModuleType:
    """examples/render_notebook.py, which executes the notebook as the docs' copy is made."""
    spec = importlib.util.spec_from_file_location("render_notebook", ROOT / "examples" / "render_notebook.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("render_notebook", module)
    spec.loader.exec_module(module)
    return module


def test_the_notebook_runs_and_shows_tables_and_a_plot() -> None:
    render = _render_module()
    # A cell's error raises nbclient's CellExecutionError (with the cell and its traceback).
    document = render.execute()
    outputs = [output for cell in document.cells if cell.cell_type == "code" for output in cell.outputs]
    assert not [output for output in outputs if output.output_type == "error"]
    html = [output["data"]["text/html"] for output in outputs if "text/html" in output.get("data", {})]
    # The objects' tables, a dump's and the stats'.
    assert any(view.startswith('<table class="mediasoup-object"') and ">Room <code" in view for view in html)
    assert any(view.startswith('<table class="mediasoup-dump"') for view in html)
    assert any(view.startswith('<table class="mediasoup-stats"') and "<b>outbound-rtp</b>" in view for view in html)
    assert any(">connected</span>" in view for view in html)
    assert render.plot_of(document).startswith(b"\x89PNG")
    # The last cell closes the server.
    assert '">closed</span>' in html[-1] and html[-1].startswith("<table")
