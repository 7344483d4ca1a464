"""Where localtune keeps its state.

By default the platform's user data/cache/config folders; `LOCALTUNE_HOME` (or `--home DIR`) moves all
of them under one folder, which is what tests and portable installs use.
"""

from __future__ import annotations

import os
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
        for folder in (self.data, self.cache, self.config):
            folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        return self


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
