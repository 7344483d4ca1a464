"""Journal entries -> training examples: redaction, the prompt format, the held-out split and the readiness
checks. Pure Python: nothing here imports torch, transformers or Qt."""

from .checks import Finding, Report, readiness
from .examples import build_examples, preview, scenario_examples
from .prompts import LABELS, Example
from .redact import Redactor
from .split import Split, SplitSummary, split_dataset

__all__ = [
    "LABELS",
    "Example",
    "Finding",
    "Redactor",
    "Report",
    "Split",
    "SplitSummary",
    "build_examples",
    "preview",
    "readiness",
    "scenario_examples",
    "split_dataset",
]
