"""The "is this normal?" triage: a patient's message and day since the session in, a Verdict out.

The lexicon, rules and answers are data beside this package (``*.yaml``), validated when the
engine loads; ``load_engine`` caches the compiled engine. Nothing here touches the network.
"""

from content.triage.data import LANGUAGES, DataProblem, TriageDataError
from content.triage.engine import (
    ClarificationError,
    Engine,
    LanguageError,
    load_engine,
    resolve_clarification,
    screen,
    triage,
)
from content.triage.verdict import Clarification, Level, Match, Verdict

__all__ = [
    "Clarification",
    "ClarificationError",
    "DataProblem",
    "LANGUAGES",
    "Engine",
    "LanguageError",
    "Level",
    "Match",
    "TriageDataError",
    "Verdict",
    "load_engine",
    "resolve_clarification",
    "screen",
    "triage",
]
