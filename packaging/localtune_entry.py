"""The frozen build's single entry point.

    localtune                 the desktop app
    localtune --selftest      check the installation end to end (prints OK or what failed; exit 0/1)
    localtune cli ARGS        the command line (on Windows also `localtune-cli.exe`, a console executable)

One executable rather than one per command: PyInstaller embeds all Python modules in each executable.
"""

import multiprocessing
import sys
from pathlib import Path


def main() -> int:
    args = sys.argv[1:]
    if "--selftest" in args:
        from localtune.ui.selftest import main as selftest

        return selftest([a for a in args if a != "--selftest"])
    if Path(sys.executable).stem == "localtune-cli" or args[:1] == ["cli"]:
        from localtune.cli import main as cli

        return cli(args[1:] if args[:1] == ["cli"] else args)
    from localtune.ui.app import main as app

    return app(sys.argv)


if __name__ == "__main__":
    multiprocessing.freeze_support()  # a library starting a worker process must not start a second app
    sys.exit(main())
