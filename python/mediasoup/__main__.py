"""``python -m mediasoup``: the package's version, and the browser demo.

    python -m mediasoup --version
    python -m mediasoup demo [--host 127.0.0.1] [--port 8080] [--tls]
"""

from __future__ import annotations

import argparse
import sys

from ._mediasoup import __version__


def main(argv: list[str] | None = None) -> None:
    arguments = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(prog="python -m mediasoup", description="mediasoup for Python: a WebRTC SFU for asyncio.")
    parser.add_argument("--version", action="version", version=f"mediasoup {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="command")
    commands.add_parser("demo", help="serve the browser demo (python -m mediasoup demo --help)", add_help=False)
    if arguments[:1] == ["demo"]:
        try:
            from .demo import app
        except ImportError as missing:
            raise SystemExit(f"the demo needs aiohttp ({missing}): pip install 'mediasoup[demo]'") from None
        app.main(arguments[1:], prog="python -m mediasoup demo")
        return
    parser.parse_args(arguments)
    parser.print_help()


if __name__ == "__main__":
    main()
