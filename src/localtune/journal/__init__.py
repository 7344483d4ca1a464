"""The scenario journal: plain data, the repository over the vault, import and export."""

from .models import ASSESSMENTS, USES, Perspective, Scenario

__all__ = ["ASSESSMENTS", "USES", "Perspective", "Scenario"]
