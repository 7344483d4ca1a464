"""The desktop app's entry point (`localtune`). The full app is built on the Qt-free core."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    from .. import privacy

    privacy.harden()
    from PySide6.QtWidgets import QApplication, QLabel, QMainWindow

    app = QApplication.instance() or QApplication(argv if argv is not None else sys.argv)
    app.setApplicationName("localtune")
    window = QMainWindow()
    window.setWindowTitle("localtune")
    label = QLabel(
        "localtune\n\nYour journal lives in an encrypted vault on this computer.\n"
        "The desktop pages are on their way; meanwhile use localtune-cli."
    )
    label.setMargin(32)
    window.setCentralWidget(label)
    window.resize(640, 400)
    window.show()
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
