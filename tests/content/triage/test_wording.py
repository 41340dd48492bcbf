"""How answers read: the clinic's contact one item a line, advice that agrees with itself."""

from __future__ import annotations

import pytest

from content.triage import Level
from tests.content.triage.conftest import Ask

CONTACT = (
    "North Clinic\nPhone: +92 51 2345678\nWhatsApp: +92 300 1234567\nAddress: 1 Blue Area, "
    "Islamabad"
)


@pytest.mark.parametrize(
    ("text", "day"),
    [
        ("yellow crust on my cheek", 3),  # clinic
        ("my lips and tongue are swelling and I cannot breathe", 2),  # urgent
        ("what is the capital of France", 5),  # unknown
    ],
)
def test_the_clinic_contact_is_one_item_a_line(ask: Ask, text: str, day: int) -> None:
    answer = ask(text, day, contact=CONTACT).answer
    lines = answer.splitlines()
    assert "Your clinic: North Clinic" in lines, answer
    assert "Phone: +92 51 2345678" in lines
    assert "WhatsApp: +92 300 1234567" in lines
    assert any(line.startswith("Address: 1 Blue Area, Islamabad") for line in lines)
    assert lines[0] not in {"Your clinic: North Clinic"}  # the answer comes first


def test_without_a_contact_the_answer_is_one_paragraph(ask: Ask) -> None:
    answer = ask("yellow crust on my cheek", 3).answer
    assert "\n" not in answer and "\x00" not in answer
    assert "booking confirmation" in answer


@pytest.mark.parametrize("day", [14, 15, 20, 40])
def test_sunbathing_from_day_14_is_a_consistent_yes(ask: Ask, day: int) -> None:
    verdict = ask("can I go sunbathing?", day)
    assert verdict.level is Level.ADVICE and verdict.allowed is True
    assert verdict.answer.startswith("Yes")
    assert "avoid" not in verdict.answer.lower(), verdict.answer
    assert "SPF 30+" in verdict.answer  # the plan's condition, as the policy says


@pytest.mark.parametrize("day", [0, 3, 6, 10])
def test_sunbathing_before_day_14_is_a_consistent_not_yet(ask: Ask, day: int) -> None:
    verdict = ask("can I go sunbathing?", day)
    assert verdict.allowed is False
    assert verdict.answer.startswith("Not yet")
    assert "from day 14" in verdict.answer
