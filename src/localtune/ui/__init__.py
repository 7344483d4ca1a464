"""The PySide6 desktop app (the only part of localtune that imports Qt)."""
