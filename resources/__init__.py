"""The app's non-code resources, installed as the package `localtune.resources` (pyproject's package-dir maps
it to this top-level folder): the demo journal (demo/), the model catalog (catalog.json), the icons (icons/),
the Linux desktop entry and AppStream metainfo (linux/). Read them with
`importlib.resources.files("localtune.resources")`; the wheel, the editable install and the installers carry
them all (tests/test_resources.py, tests/packaging)."""
