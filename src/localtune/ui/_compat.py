"""Work-around for a reference-counting bug in the Qt bindings, applied when `localtune.ui` is imported.

PySide6 6.12.0 on Python 3.11 returns `None` from every void method, and `True` from `Signal.emit()`,
without taking a reference. Each such call steals one reference; after enough calls (minutes of normal use,
or one long test run) the interpreter aborts with "none_dealloc: deallocating None" or "bool_dealloc".
Python 3.12+ makes these singletons immortal, which is why the bug does not show there.

The cure belongs in the dependency pins (a PySide6 without the bug, or Python >= 3.12). Until then, where the
leak is measured (not guessed from version numbers), localtune does what Python 3.12 does: it gives `None`,
`True` and `False` a reference count so large that no number of stolen references can bring it to zero.
These objects are never freed before the interpreter exits anyway, so nothing else changes.
"""

from __future__ import annotations

import ctypes
import sys

PROBES = 64
_BOOST = 1 << 40


def _steals(obj, call) -> bool:
    before = sys.getrefcount(obj)
    for _ in range(PROBES):
        call()
    lost = before - sys.getrefcount(obj)
    for _ in range(max(lost, 0)):  # give back what the probe took
        ctypes.pythonapi.Py_IncRef(ctypes.py_object(obj))
    return lost >= PROBES // 2


def _immortalize(obj) -> None:
    # ob_refcnt is the first field of every object in CPython (non-debug builds).
    ctypes.c_ssize_t.from_address(id(obj)).value += _BOOST


def fix_binding_refcounts() -> list[str]:
    """Apply the work-around where needed; returns the names of the singletons it protected."""
    if sys.version_info >= (3, 12) or sys.implementation.name != "cpython":
        return []
    from PySide6.QtCore import QObject, QTimer, Signal

    class _Probe(QObject):
        ping = Signal()

    probe, timer = _Probe(), QTimer()
    fixed = []
    if sys.getrefcount(None) < _BOOST and _steals(None, timer.stop):
        _immortalize(None)
        fixed.append("None")
    if sys.getrefcount(True) < _BOOST and _steals(True, probe.ping.emit):
        _immortalize(True)
        _immortalize(False)
        fixed += ["True", "False"]
    return fixed
