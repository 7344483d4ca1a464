"""The built .deb, installed into an empty root: its self-test passes and its window shows under Xvfb.

Needs a built package: `packaging/linux/build.sh`, then LOCALTUNE_DEB=path/to.deb (what .ci/run does).
"""

import importlib.util
import os
from pathlib import Path

import pytest

DEB = os.environ.get("LOCALTUNE_DEB")
SCRIPT = Path(__file__).resolve().parents[2] / "packaging" / "linux" / "check_installed.py"


@pytest.mark.timeout(1800)  # a frozen QLoRA run on a busy 2-core machine takes minutes
@pytest.mark.slow
def test_installed_deb_passes_selftest_and_shows_its_window(tmp_path):
    spec = importlib.util.spec_from_file_location("check_installed", SCRIPT)
    check = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(check)
    shot = tmp_path / "first-start.png"
    result = check.main([DEB, "--screenshot", str(shot)])
    assert result["deb_bytes"] <= 400 * 1000 * 1000
    assert result["selftest_s"] > 0
    assert 0 < result["start_cold_s"] < 180 and 0 < result["start_warm_s"] < 180
    if shot.exists():  # ImageMagick's `import` took it: a real picture of the screen, not a blank one
        assert shot.stat().st_size > 5000
