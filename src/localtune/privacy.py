"""Process-wide privacy settings. Every entry point calls `harden()` before anything else.

Hugging Face libraries read their offline and telemetry switches at import time, so these variables must
be in the environment before the first `import transformers` anywhere in the process.
"""

import logging
import os
import sys

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
    # Hub kernels: compute code downloaded at run time. transformers and `kernels` honour these switches;
    # `block_hub_kernels()` also makes the package unimportable, for libraries that try it unasked.
    "USE_HUB_KERNELS": "NO",
    "DISABLE_KERNEL_MAPPING": "1",
}

# Import names of packages whose purpose is fetching code from the network. transformers >= 5.25 depends on
# `kernels`, so it is installed beside the app; bitsandbytes tries it on import on CPUs with AVX512-BF16.
HUB_CODE_PACKAGES = ("kernels",)


def harden(*, allow_network: bool = False) -> None:
    """Set the offline/telemetry environment and disable core dumps.

    `allow_network` is only for the explicit, user-requested model download.
    """
    for key, value in OFFLINE_ENV.items():
        os.environ[key] = value
    if allow_network:
        for key in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
            os.environ[key] = "0"
    block_hub_kernels()
    disable_core_dumps()


def block_hub_kernels() -> None:
    """Make Hub-kernel packages unimportable in this process, before any library can try them.

    A `None` in sys.modules is Python's own "this module cannot be imported": `import kernels` raises
    ImportError and `importlib.util.find_spec` answers None, which is how transformers checks for it. The
    libraries then keep their built-in code. bitsandbytes logs its fallback as a warning that names the Hub;
    that record says nothing the user can act on, so it is dropped.
    """
    for name in HUB_CODE_PACKAGES:
        if sys.modules.get(name) is not None:
            raise RuntimeError(f"{name} was imported before localtune.privacy.harden()")
        sys.modules[name] = None
    logging.getLogger("bitsandbytes.backends.cpu.ops").addFilter(_drop_hub_kernel_records)


def _drop_hub_kernel_records(record: logging.LogRecord) -> bool:
    return "kernels" not in record.getMessage()


def disable_core_dumps() -> bool:
    """A core dump would hold decrypted journal text and the vault key. Returns True when disabled.

    On Linux the process is also made non-dumpable (PR_SET_DUMPABLE 0): no core file whatever the limit or
    core_pattern pipe says, and other processes of the same user cannot ptrace it or read its /proc/PID/mem.
    """
    try:
        import resource
    except ImportError:  # Windows: no core dumps to disable
        return False
    try:
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    except (ValueError, OSError):
        return False
    if sys.platform.startswith("linux"):
        _set_not_dumpable()
    return True


def _set_not_dumpable() -> None:
    import contextlib
    import ctypes

    PR_SET_DUMPABLE = 4
    # A libc without prctl: the rlimit above still holds.
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
