"""The training plan in plain words: where it trains, how long, how much memory. The technical plan (LoRA,
bf16, tokens per pass...) stays one click away for those who want it."""

from __future__ import annotations

WHERE = {"cpu": "this computer's processor", "cuda": "this computer's graphics card", "mps": "this Mac's graphics chip"}


def duration_words(seconds: float) -> str:
    minutes = max(1, round(seconds / 60))
    if minutes < 60:
        return f"{minutes} minute{'s' if minutes != 1 else ''}"
    hours, rest = divmod(minutes, 60)
    return f"{hours} h {rest:02d} min"


def plain_plan(plan, eta_s: float | None = None) -> str:
    """"Trains on this computer's processor in about 30 minutes, using up to 2 GB of memory." """
    where = WHERE.get(str(plan.device).lower(), str(plan.device))
    eta = eta_s if eta_s is not None else plan.eta_s
    when = f" in about {duration_words(eta)}" if eta else " (timing a few steps to say how long…)"
    gigabytes = max(0.1, plan.memory_needed / 1e9)
    return (f"Trains on {where}{when}, using up to {gigabytes:.1f} GB of memory "
            f"({plan.total_steps} learning steps).")
