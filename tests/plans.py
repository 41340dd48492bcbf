"""A small care plan for engine tests, independent of the wording of the real one."""

from __future__ import annotations

from typing import Any

from content.plan import CarePlan


def small_plan(**overrides: Any) -> CarePlan:
    """Five milestones over a week, with phases like the real plan's."""
    data: dict[str, Any] = {
        "id": "small",
        "title": "Small test plan",
        "version": 1,
        "series": {
            "min_sessions": 3,
            "max_sessions": 6,
            "interval_min_weeks": 4,
            "interval_max_weeks": 6,
            "maintenance_min_months": 6,
            "maintenance_max_months": 12,
        },
        "phases": [
            {
                "id": "prep",
                "name": "Before",
                "start_day": -1,
                "end_day": -1,
                "summary": "s",
                "key_advice": "prep advice",
            },
            {
                "id": "first_48h",
                "name": "First 48 hours",
                "start_day": 0,
                "end_day": 1,
                "summary": "s",
                "key_advice": "48h advice",
            },
            {
                "id": "first_week",
                "name": "First week",
                "start_day": 2,
                "end_day": 6,
                "summary": "s",
                "key_advice": "week advice",
            },
            {
                "id": "later",
                "name": "Later",
                "start_day": 7,
                "summary": "s",
                "key_advice": "later advice",
            },
        ],
        "milestones": [
            {
                "id": "evening_before",
                "phase": "prep",
                "offset": {"days": -1},
                "at": "19:00",
                "expires_after": {"hours": 12},
                "text": "Tomorrow is the day.",
            },
            {
                "id": "day0_evening",
                "phase": "first_48h",
                "offset": {"days": 0},
                "at": "18:00",
                "expires_after": {"hours": 14},
                "text": "No makeup for 48 hours.",
                "buttons": ["done", "snooze", "question"],
            },
            {
                "id": "day1_morning",
                "phase": "first_48h",
                "offset": {"days": 1},
                "at": "09:00",
                "expires_after": {"hours": 10},
                "text": "Gentle cleanser, lukewarm water.",
            },
            {
                "id": "day3_peeling",
                "phase": "first_week",
                "offset": {"days": 3},
                "at": "09:00",
                "expires_after": {"hours": 12},
                "text": "Peeling: do not pick.",
            },
            {
                "id": "day28_book",
                "phase": "later",
                "offset": {"days": 28},
                "at": "10:00",
                "expires_after": {"days": 7},
                "text": "Book your next session.",
                "buttons": ["book", "booked"],
                "series_max": 5,
            },
        ],
    }
    data.update(overrides)
    return CarePlan.model_validate(data)
