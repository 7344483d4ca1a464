"""What this machine can train on: CUDA GPU, Apple GPU (MPS) or CPU, with the memory each has free."""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Hardware:
    device: str  # "cuda" | "mps" | "cpu"
    name: str
    cpu_cores: int
    ram_total: int  # bytes
    ram_available: int  # bytes
    vram_total: int = 0  # bytes (CUDA only)
    vram_free: int = 0
    bf16: bool = False  # fast bf16 matmuls on `device`
    nf4: bool = True  # bitsandbytes' 4-bit NF4 works on `device` (on an Apple GPU only where it says so)

    @property
    def memory_free(self) -> int:
        """Memory training can use on the training device."""
        return self.vram_free if self.device == "cuda" else self.ram_available

    def describe(self) -> str:
        gib = 1024**3
        cpu = f"{self.cpu_cores} CPU cores, {self.ram_available / gib:.1f} of {self.ram_total / gib:.1f} GiB RAM free"
        if self.device == "cuda":
            return (f"GPU {self.name}: {self.vram_free / gib:.1f} of {self.vram_total / gib:.1f} GiB free"
                    f"{', bf16' if self.bf16 else ''}; {cpu}")
        if self.device == "mps":
            return (f"Apple GPU (shares RAM){', bf16' if self.bf16 else ', fp16'}"
                    f"{'' if self.nf4 else ', no 4-bit'}; {cpu}")
        return f"CPU {self.name}: {cpu}"


def _meminfo() -> tuple[int, int]:
    """(total, available) RAM in bytes from /proc/meminfo, else sysconf (available unknown -> total)."""
    try:
        with open("/proc/meminfo") as f:
            fields = {line.split(":")[0]: int(line.split()[1]) * 1024 for line in f}
        return fields["MemTotal"], fields.get("MemAvailable", fields["MemFree"])
    except (OSError, KeyError, ValueError, IndexError):
        pass
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        total = 8 * 1024**3
    try:
        avail = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        avail = total // 2
    return total, avail


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform

    return platform.processor() or platform.machine()


def cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def detect(device: str | None = None, *, flags: set[str] | None = None) -> Hardware:
    """Look at the machine. `device` forces "cpu"/"cuda"/"mps" (tests, or a user override); `flags`, the CPU's
    flags as already read (`cpu_flags()`, by default read now)."""
    import torch

    total, avail = _meminfo()
    common = dict(cpu_cores=cores(), ram_total=total, ram_available=avail)
    if device in (None, "cuda") and torch.cuda.is_available():
        free, vtotal = torch.cuda.mem_get_info()
        return Hardware("cuda", torch.cuda.get_device_name(), vram_total=vtotal, vram_free=free,
                        bf16=torch.cuda.is_bf16_supported(), **common)
    if device in (None, "mps") and getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return Hardware("mps", "Apple GPU", bf16=_mps_works("bf16"), nf4=_mps_works("nf4"), **common)
    return Hardware("cpu", _cpu_name(), bf16=cpu_bf16(cpu_flags() if flags is None else flags), **common)


def _mps_works(what: str) -> bool:
    """Whether the Apple GPU runs bf16 matmuls (macOS 14 and later) or bitsandbytes' 4-bit NF4 (only builds with
    an MPS backend): tried on a tiny tensor, since neither is announced reliably."""
    try:
        import torch

        x = torch.ones(64, 64, device="mps", dtype=torch.bfloat16 if what == "bf16" else torch.float16)
        if what == "bf16":
            (x @ x).sum().item()
            return True
        import bitsandbytes.functional as bf

        packed, state = bf.quantize_4bit(x, quant_type="nf4")
        bf.dequantize_4bit(packed, state).sum().item()
        return True
    except Exception:  # noqa: BLE001 - any failure means "not on this machine"
        return False


def cpu_bf16(flags: set[str]) -> bool:
    """Whether the CPU multiplies bf16 in hardware (AMX or AVX512-BF16). Without, bf16 is emulated and slower
    than fp32; with, the trainer times both on the first steps and keeps the faster (train._Trial)."""
    return bool({"amx_bf16", "avx512_bf16"} & flags)


def cpu_flags() -> set[str]:
    """The CPU's feature flags as /proc/cpuinfo lists them (empty where there is none)."""
    try:
        with open("/proc/cpuinfo") as f:
            line = next((line for line in f if line.startswith("flags")), "")
    except OSError:
        return set()
    return set(line.partition(":")[2].split())
