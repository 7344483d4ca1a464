"""File choosers that leave no history behind.

Qt's own (non-native) dialog is used, so no desktop "recent files" list learns the names; Qt saves its dialog
state and visited folders to its QtProject settings when a dialog closes, so that group is removed again.
"""

from __future__ import annotations

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QFileDialog, QWidget

JOURNAL_FILES = "Journal files (*.jsonl *.csv);;All files (*)"
BACKUP_FILES = "localtune backups (*.ltbackup);;All files (*)"
MODEL_FILES = "Model files (*.gguf);;All files (*)"
PDF_FILES = "PDF documents (*.pdf);;All files (*)"


def scrub_qt_history() -> None:
    settings = QSettings(QSettings.Scope.UserScope, "QtProject")
    settings.remove("FileDialog")
    settings.sync()


def _choose(parent: QWidget | None, caption: str, filters: str, save: bool, folder: bool = False) -> str:
    dialog = QFileDialog(parent, caption, "", filters)
    dialog.setOption(QFileDialog.Option.DontUseNativeDialog, True)
    dialog.setHistory([])
    if save:
        dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
    elif folder:
        dialog.setFileMode(QFileDialog.FileMode.Directory)
        dialog.setOption(QFileDialog.Option.ShowDirsOnly, True)
    else:
        dialog.setFileMode(QFileDialog.FileMode.ExistingFile)
    chosen = dialog.selectedFiles()[0] if dialog.exec() and dialog.selectedFiles() else ""
    dialog.setParent(None)
    del dialog  # its destructor writes the settings we then remove
    scrub_qt_history()
    return chosen


def open_file(parent: QWidget | None, caption: str, filters: str = JOURNAL_FILES) -> str:
    return _choose(parent, caption, filters, save=False)


def open_folder(parent: QWidget | None, caption: str) -> str:
    return _choose(parent, caption, "", save=False, folder=True)


def save_file(parent: QWidget | None, caption: str, filters: str = JOURNAL_FILES) -> str:
    return _choose(parent, caption, filters, save=True)


class ReplaceGuard:
    """Asks before a write replaces an existing file, without a modal box: the first click on a destination that
    exists says so, and a second click on the same destination confirms. The core then still replaces only a
    file localtune wrote (an earlier export or backup) and refuses anything else."""

    def __init__(self) -> None:
        self._confirmed: str | None = None

    def check(self, path: str) -> tuple[bool, str | None]:
        """(go ahead, overwrite?) and a question to show when the user must confirm first."""
        from pathlib import Path

        if not Path(path).exists():
            self._confirmed = None
            return True, None
        if self._confirmed == path:
            self._confirmed = None
            return True, "overwrite"
        self._confirmed = path
        return False, (f"{Path(path).name} already exists. Click again to replace it; only a file localtune "
                       "wrote earlier can be replaced.")
