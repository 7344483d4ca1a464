"""UI fixtures; the helpers live in ui_testing (a unique module name, unlike conftest)."""

from ui_testing import demo_paths, demo_template, window  # noqa: F401
