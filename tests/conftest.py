"""Shared fixtures; the helpers live in lt_testing (a unique module name, unlike conftest)."""

from lt_testing import journal, paths, vault  # noqa: F401
