"""Process-wide privacy settings. Every entry point calls `harden()` before anything else.

Hugging Face libraries read their offline and telemetry switches at import time, so these variables must
be in the environment before the first `import transformers` anywhere in the process.
"""

import os

OFFLINE_ENV = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "HF_HUB_DISABLE_IMPLICIT_TOKEN": "1",
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "DO_NOT_TRACK": "1",
    "TOKENIZERS_PARALLELISM": "false",
    "BITSANDBYTES_NOWELCOME": "1",
}


def harden(*, allow_network: bool = False) -> None:
    """Set the offline/telemetry environment and disable core dumps.

    `allow_network` is only for the explicit, user-requested model download.
    """
    for key, value in OFFLINE_ENV.items():
        os.environ[key] = value
    if allow_network:
        for key in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
            os.environ[key] = "0"
    disable_core_dumps()


def disable_core_dumps() -> bool:
    """A core dump would hold decrypted journal text and the vault key. Returns True when disabled."""
    try:
        import resource
    except ImportError:  # Windows: no core dumps to disable
        return False
    try:
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    except (ValueError, OSError):
        return False
    return True
