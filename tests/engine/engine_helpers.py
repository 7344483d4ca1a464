from pathlib import Path

from localtune.dataset.prompts import Example, completion_text, prompt_messages

CHAT_TEMPLATE = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + "
    "'<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
CANARY = "Quillfeather"  # a word that appears only in the examples, for the leak test

SITUATIONS = [
    ("Amira reassigned a task without telling Jonas, who heard about it from a client.", "problematic",
     "Changing someone's work without a word undermines trust."),
    ("Lena asked the team to review her plan before the Friday release.", "reasonable",
     "Asking for review before a release is good practice."),
    ("Kwame criticised a colleague's report in a meeting but offered help afterwards.", "mixed",
     "The criticism was public, but the follow-up was kind and useful."),
    ("Priya skipped the second medication check because the ward was short-staffed.", "problematic",
     "Double checks exist for exactly the busy moments."),
    (f"{CANARY} documented the handover in writing and walked the night shift through it.", "reasonable",
     "A written and spoken handover is the norm."),
    ("Rafael stayed late to finish a report and claimed the hours as agreed.", "reasonable",
     "Overtime that is agreed and recorded is fair."),
]


def make_examples(n: int, seed: int = 0) -> list[Example]:
    import random

    rng = random.Random(seed)
    out = []
    for i in range(n):
        situation, label, why = SITUATIONS[i % len(SITUATIONS)]
        extra = " It had happened before." * rng.randint(0, 3)
        out.append(Example(prompt_messages(situation=situation + extra, industry="Office", viewpoint="employee"),
                           completion_text(label, why + " More detail follows." * rng.randint(0, 2)), label,
                           "employee", "Office", f"g{i}"))
    return out




def fake_cpu(bf16: bool = False):
    """A CPU that does (AMX, AVX512-BF16) or does not do bf16 in hardware, whatever this machine is."""
    from localtune.engine.hardware import Hardware

    return Hardware("cpu", "test CPU with bf16" if bf16 else "test CPU", cpu_cores=2, ram_total=16 * 1024**3,
                    ram_available=12 * 1024**3, bf16=bf16)


def collect(events) -> list:
    return list(events)


def files_with(roots, needle: str) -> list[str]:
    """Files under any root whose bytes contain `needle` (UTF-8 or UTF-16)."""
    patterns = [needle.encode(enc) for enc in ("utf-8", "utf-16-le", "utf-16-be")]
    hits = []
    for root in roots:
        for p in Path(root).rglob("*"):
            if p.is_file() and not p.is_symlink() and any(pat in p.read_bytes() for pat in patterns):
                hits.append(str(p))
    return hits
