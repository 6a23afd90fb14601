"""Executes examples/notebook.ipynb and writes it, with its outputs, to
docs/notebook.ipynb, and its plot to docs/notebook-plot.png.

    PYTHONPATH=python python examples/render_notebook.py

The kernel is ipykernel's ``python3`` run by this interpreter (jupyter_client
puts ``sys.executable`` in place of the kernel spec's ``python``), with this
process's environment and mediasoup's package directory first on its
``PYTHONPATH``: the notebook imports the mediasoup this script imports.
tests/test_notebook.py runs the same :func:`execute`.
"""

from __future__ import annotations

import base64
import inspect
import os
import pathlib
import sys
from typing import Any

import nbclient
import nbformat

ROOT = pathlib.Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "examples" / "notebook.ipynb"
RENDERED = ROOT / "docs" / "notebook.ipynb"
PLOT = ROOT / "docs" / "notebook-plot.png"
# The notebook runs a 10 s call; a cell that takes longer than this is stuck.
CELL_TIMEOUT = 60


def kernel_environment() -> dict[str, str]:
    """This process's environment, with the directory that holds the
    imported mediasoup package first on PYTHONPATH."""
    import mediasoup

    package_parent = str(pathlib.Path(inspect.getfile(mediasoup)).resolve().parent.parent)
    paths = [package_parent, *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(dict.fromkeys(paths))}


def execute(notebook: pathlib.Path = NOTEBOOK) -> Any:
    """The notebook, executed in a fresh kernel; raises ``CellExecutionError`` on a cell's error."""
    document = nbformat.read(notebook, as_version=4)
    client = nbclient.NotebookClient(
        document,
        kernel_name="python3",
        timeout=CELL_TIMEOUT,
        resources={"metadata": {"path": str(notebook.parent)}},
    )
    client.execute(env=kernel_environment())
    return document


def plot_of(document: Any) -> bytes:
    """The PNG of the notebook's (only) figure."""
    for cell in document.cells:
        for output in cell.get("outputs", []):
            if "image/png" in output.get("data", {}):
                return base64.b64decode(output["data"]["image/png"])
    raise LookupError("the notebook drew no figure")


def main() -> None:
    document = execute()
    nbformat.write(document, RENDERED)
    PLOT.write_bytes(plot_of(document))
    print(f"wrote {RENDERED.relative_to(ROOT)} and {PLOT.relative_to(ROOT)}", file=sys.stderr)


if __name__ == "__main__":
    main()
