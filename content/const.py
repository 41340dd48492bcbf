"""Constants of the content package: the default plan and the topics of the triage policy.

The topic names are those of the tables in shared/triage/POLICY.md; plan content may only
refer to these, so a typo in a plan file is an error at load time, not a silent mismatch.
"""

from __future__ import annotations

DEFAULT_PLAN = "microneedling"

SYMPTOM_TOPICS: frozenset[str] = frozenset(
    {
        "redness",
        "swelling",
        "warmth",
        "sensitivity",
        "dryness",
        "peeling",
        "itching",
        "bleeding",
        "bruising",
        "breakout",
        "burning",
        "pain",
        "pigmentation",
        "infection",
        "fever",
        "cold_sore",
        "allergy",
        "scarring",
        "eye",
    }
)

ADVICE_TOPICS: frozenset[str] = frozenset(
    {
        "makeup",
        "sun",
        "sunscreen",
        "actives",
        "moisturizer",
        "cleansing",
        "hot_water",
        "exercise",
        "swimming",
        "touching",
        "results",
        "next_session",
        "maintenance",
    }
)

ALL_TOPICS: frozenset[str] = SYMPTOM_TOPICS | ADVICE_TOPICS
