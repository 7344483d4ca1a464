"""Consent before the one network feature: downloading a base model from the Hugging Face Hub by its id."""

from __future__ import annotations

import re

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QLineEdit, QVBoxLayout, QWidget

HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
CONSENT = (
    "<p>localtune will connect to <b>huggingface.co</b> and download the files of the model "
    "<b>{id}</b>: its configuration, tokenizer and weights (<code>*.json</code>, <code>*.safetensors</code>, "
    "<code>*.model</code>, <code>*.txt</code>). Models are often several gigabytes.</p>"
    "<p><b>Nothing from your journal is sent.</b> The request names only the model. The files are public and "
    "are stored unencrypted in localtune's model folder; after the download, training and reading run offline "
    "as before.</p>"
    "<p>This is the only thing localtune ever does over the network, and only when you press Download.</p>"
)


class DownloadDialog(QDialog):
    """Asks for a Hub id ("owner/name") and shows exactly what will be downloaded before enabling Download."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Download a base model")
        self.hub_id = QLineEdit()
        self.hub_id.setPlaceholderText("owner/name, for example HuggingFaceTB/SmolLM2-360M-Instruct")
        self.consent = QLabel()
        self.consent.setWordWrap(True)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.download = self.buttons.addButton("Download", QDialogButtonBox.ButtonRole.AcceptRole)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Model id on the Hugging Face Hub"))
        layout.addWidget(self.hub_id)
        layout.addWidget(self.consent)
        layout.addWidget(self.buttons)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        self.hub_id.textChanged.connect(self._update)
        self._update()

    def chosen(self) -> str:
        return self.hub_id.text().strip()

    def _update(self) -> None:
        valid = bool(HUB_ID.match(self.chosen()))
        self.download.setEnabled(valid)
        self.consent.setText(CONSENT.format(id=self.chosen() if valid else "owner/name"))
