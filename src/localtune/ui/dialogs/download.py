"""Consent before the one network feature: downloading a base model from the Hugging Face Hub.

The dialog lists the catalog's recommended models (those that suit this computer first) or takes any Hub id,
and says which host will be asked, for what and (from the catalog) about how much. A gated model takes the
user's Hub token here; the page keeps it only in the encrypted vault. The exact size is asked for again,
from the Hub's file list, before any file is fetched (`TrainPage.add_model`).
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QVBoxLayout,
    QWidget,
)

CONSENT = (
    "<p>localtune will connect to <b>{host}</b> and download the files of the model <b>{id}</b>: its "
    "configuration, tokenizer and weights (<code>*.json</code>, <code>*.safetensors</code>, "
    "<code>tokenizer.model</code>, <code>*.txt</code>), {size}. It first asks {host} for the list of files and "
    "shows you the exact size before fetching them.</p>"
    "<p><b>Nothing from your journal is sent.</b> The requests name only the model. The files are public and "
    "are stored unencrypted in localtune's model folder; after the download, training and reading run offline "
    "as before. A download that stops resumes where it stopped.</p>"
    "<p>This is the only thing localtune ever does over the network, and only when you press Download.</p>"
)


class DownloadDialog(QDialog):
    """Pick a recommended model or type a Hub id ("owner/name"); Download is enabled only for a valid one."""

    def __init__(self, parent: QWidget | None = None, *, hardware=None, token_saved: bool = False):
        from ...services import local_models

        super().__init__(parent)
        self._is_hub_id = local_models.is_hub_id
        self._host = local_models.hub_host()
        self.setWindowTitle("Download a base model")
        self.entries = {e.hub_id: e for e in local_models.catalog_entries()}
        picks = [e.id for e in local_models.recommended(hardware)] if hardware is not None else []
        self.catalog = QListWidget()
        self.catalog.setMaximumHeight(180)
        ordered = sorted(self.entries.values(), key=lambda e: (picks.index(e.id) if e.id in picks else len(picks),
                                                               e.params))
        for e in ordered:
            size = f"about {e.size_about / 1e9:.1f} GB" if e.size_about else "size from the Hub"
            mark = "★ Recommended for this computer — " if e.id in picks else ""
            text = f"{mark}{e.family} {e.params / 1e9:.1f}B ({e.hub_id}), {size}, {e.license}" + \
                (", gated" if e.gated else "")
            item = QListWidgetItem(text)
            item.setData(Qt.ItemDataRole.UserRole, e.hub_id)
            item.setToolTip(e.describe())
            self.catalog.addItem(item)
        self.hub_id = QLineEdit()
        self.hub_id.setPlaceholderText("owner/name, for example HuggingFaceTB/SmolLM2-360M-Instruct")
        self.token = QLineEdit()
        self.token.setEchoMode(QLineEdit.EchoMode.Password)
        self.token.setPlaceholderText("a saved token is used" if token_saved else "only for gated models")
        self.consent = QLabel()
        self.consent.setWordWrap(True)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.download = self.buttons.addButton("Download", QDialogButtonBox.ButtonRole.AcceptRole)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Recommended models (★ suit this computer)"))
        layout.addWidget(self.catalog)
        layout.addWidget(QLabel("Model id on the Hugging Face Hub"))
        layout.addWidget(self.hub_id)
        layout.addWidget(QLabel("Hub access token, for a gated model (kept only in your encrypted vault)"))
        layout.addWidget(self.token)
        layout.addWidget(self.consent)
        layout.addWidget(self.buttons)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        self.hub_id.textChanged.connect(self._update)
        self.catalog.currentItemChanged.connect(
            lambda item, _old: self.hub_id.setText(item.data(Qt.ItemDataRole.UserRole)) if item else None)
        self._update()

    def chosen(self) -> str:
        return self.hub_id.text().strip()

    def chosen_token(self) -> str:
        return self.token.text().strip()

    def _update(self) -> None:
        valid = self._is_hub_id(self.chosen())
        self.download.setEnabled(valid)
        entry = self.entries.get(self.chosen())
        size = (f"about {entry.size_about / 1e9:.2f} GB according to localtune's catalog" if entry and entry.size_about
                else "of a size the Hub's file list will tell (models are often several gigabytes)")
        if entry is not None:
            size += ("; the weights are checked against the catalog's sha256" if entry.hashes_sourced else
                     "; the catalog has no hashes for it, so the download is checked against the Hub's own")
        self.consent.setText(CONSENT.format(host=self._host, id=self.chosen() if valid else "owner/name", size=size))
