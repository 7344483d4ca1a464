"""Where localtune keeps its state.

By default the platform's user data/cache/config folders; `LOCALTUNE_HOME` (or `--home DIR`) moves all
of them under one folder, which is what tests and portable installs use.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

APP = "localtune"


@dataclass(frozen=True)
class Paths:
    data: Path
    cache: Path
    config: Path

    @property
    def vault(self) -> Path:
        return self.data / "vault.db"

    @property
    def vault_header(self) -> Path:
        return self.data / "vault.kdf.json"

    @property
    def lock_file(self) -> Path:
        return self.data / "vault.lock"

    @property
    def models(self) -> Path:
        """Base models: public data, kept in plain safetensors."""
        return self.cache / "models"

    def ensure(self) -> Paths:
        """Create the folders private to the user (0700, whatever the umask), and make the data folder 0700
        again if something widened it."""
        for folder in (self.data, self.cache, self.config):
            _private_folder(folder)
        if stat.S_IMODE(self.data.stat().st_mode) != 0o700:
            os.chmod(self.data, 0o700)
        return self


def _private_folder(folder: Path) -> None:
    """mkdir -p where every folder created is 0700 (Path.mkdir(parents=True) gives new parents the umask's mode)."""
    missing = []
    while not folder.is_dir():
        missing.append(folder)
        if folder.parent == folder:
            break
        folder = folder.parent
    for created in reversed(missing):
        try:
            created.mkdir(mode=0o700)
        except FileExistsError:
            if not created.is_dir():
                raise
            continue
        os.chmod(created, 0o700)


def resolve(home: str | os.PathLike | None = None) -> Paths:
    home = home or os.environ.get("LOCALTUNE_HOME")
    if home:
        root = Path(home).expanduser().resolve()
        return Paths(data=root / "data", cache=root / "cache", config=root / "config")
    import platformdirs

    return Paths(
        data=Path(platformdirs.user_data_dir(APP, appauthor=False)),
        cache=Path(platformdirs.user_cache_dir(APP, appauthor=False)),
        config=Path(platformdirs.user_config_dir(APP, appauthor=False)),
    )
