"""The PySide6 desktop app (the only part of localtune that imports Qt)."""

from ._compat import fix_binding_refcounts

fix_binding_refcounts()
