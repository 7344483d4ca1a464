"""localtune-cli: the headless twin of the app.

Passphrases are asked without echo on a terminal; when stdin is not a terminal each prompt reads one line
from stdin. They are never command-line arguments. Errors are one clear line on stderr.
"""

from __future__ import annotations

import argparse
import os
import sys

from .. import privacy


def build_parser() -> argparse.ArgumentParser:
    from . import bundle_cmds, journal_cmds

    parser = argparse.ArgumentParser(
        prog="localtune-cli", description="Your encrypted workplace journal and private AI, from the command line."
    )
    parser.add_argument("--home", metavar="DIR", help="keep all localtune state under DIR (default: your user folders)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    journal_cmds.register(commands)
    bundle_cmds.register(commands)
    try:
        from . import training_cmds
    except ImportError:  # training commands arrive with the engine
        pass
    else:
        training_cmds.register(commands)
        from . import model_cmds

        model_cmds.register(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    privacy.harden()
    from ..errors import Cancelled, LocaltuneError

    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.handler(args) or 0
    except Cancelled as exc:
        print(f"localtune: {exc}", file=sys.stderr)
        return 130
    except LocaltuneError as exc:
        print(f"localtune: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("localtune: interrupted; nothing after the last saved change was kept.", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:  # a bug: one line for the user, the traceback only on request
        if os.environ.get("LOCALTUNE_DEBUG"):
            raise
        print(f"localtune: unexpected error ({type(exc).__name__}: {exc}). Set LOCALTUNE_DEBUG=1 for details.", file=sys.stderr)
        return 70


if __name__ == "__main__":
    sys.exit(main())
