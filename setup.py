"""What goes into the package (the rest is in pyproject.toml): every package under src/, and the top-level
resources/ folder as `localtune.resources` with its data: the demo journal, the model catalog, the icons and
the Linux desktop entry and metainfo. The wheel, the editable install and the installers carry it the same way
(tests/test_resources.py)."""

from setuptools import find_packages, setup

setup(
    packages=[*find_packages("src"), "localtune.resources"],
    package_dir={"": "src", "localtune.resources": "resources"},
    package_data={"localtune.resources": ["catalog.json", "demo/*.jsonl", "icons/*", "linux/*"]},
)
