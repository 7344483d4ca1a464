"""The desktop app's entry point (`localtune`).

Startup stays light: Qt and the core's storage modules only. torch and transformers are imported when a page
needs them (the Train page's hardware check), never here.
"""

from __future__ import annotations

import hashlib
import sys

HANDOVER = b"show"


def instance_name(paths) -> str:
    """One name per vault folder, so two homes (tests, portable installs) do not collide."""
    digest = hashlib.sha256(str(paths.data).encode()).hexdigest()[:16]
    return f"localtune-{digest}"


def hand_over(name: str, timeout_ms: int = 500) -> bool:
    """Ask a running instance to show itself; True when there is one."""
    from PySide6.QtNetwork import QLocalSocket

    socket = QLocalSocket()
    socket.connectToServer(name)
    if not socket.waitForConnected(timeout_ms):
        return False
    socket.write(HANDOVER)
    socket.flush()
    socket.waitForBytesWritten(timeout_ms)
    socket.disconnectFromServer()
    return True


def listen(name: str, window):
    """Serve hand-overs: a second launch brings this window to the front."""
    from PySide6.QtNetwork import QLocalServer

    QLocalServer.removeServer(name)  # a stale socket from a crashed run
    server = QLocalServer(window)
    server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)

    def arrived() -> None:
        conn = server.nextPendingConnection()
        if conn is None:
            return
        conn.disconnected.connect(conn.deleteLater)
        window.showNormal()
        window.raise_()
        window.activateWindow()
        window.statusBar().showMessage("localtune was already open; here it is.", 5000)

    server.newConnection.connect(arrived)
    server.listen(name)
    return server


def main(argv: list[str] | None = None) -> int:
    from .. import privacy

    privacy.harden()
    try:
        import PySide6  # noqa: F401
    except ImportError:  # a core-only install: localtune-cli works, the app needs its extra
        print('The desktop app needs PySide6, which this installation does not have: pip install "localtune[app]" '
              "(localtune-cli works without it).", file=sys.stderr)
        return 1
    if "--selftest" in (sys.argv if argv is None else argv)[1:]:  # before any QApplication: it makes its own
        from .selftest import main as selftest

        return selftest([])
    from PySide6.QtWidgets import QApplication, QMessageBox

    from ..paths import resolve
    from . import theme

    argv = list(sys.argv if argv is None else argv)
    app = QApplication.instance() or QApplication(argv)
    app.setApplicationName("localtune")
    app.setOrganizationName("localtune")
    app.setDesktopFileName("io.github.localtune.Localtune")  # the .desktop file the installers ship
    theme.apply("system", app)
    paths = resolve()
    name = instance_name(paths)
    if hand_over(name):
        QMessageBox.information(None, "localtune is already open",
                                "localtune is already running; its window has been brought to the front.")
        return 0

    from .main_window import MainWindow

    window = MainWindow(paths)
    window._instance_server = listen(name, window)
    window.start()
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
