"""QuestionService on SQLite and PostgreSQL: one question row and at most one escalation per
question, and no escalation for a patient without a clinic (nobody would read it)."""

from __future__ import annotations

from sqlalchemy import select

from storage.models import Escalation, Question
from tests.scheduler.test_clinics import World, world  # noqa: F401


async def rows(world: World) -> tuple[list[Question], list[Escalation]]:  # noqa: F811
    async with world.database.session() as session:
        questions = list((await session.scalars(select(Question).order_by(Question.id))).all())
        escalations = list(
            (await session.scalars(select(Escalation).order_by(Escalation.id))).all()
        )
        return questions, escalations


async def a_clinic_patient(world: World, chat_id: int) -> None:  # noqa: F811
    clinic, _ = await world.clinic("North Clinic")
    await world.care.consent(chat_id=chat_id)
    await world.clinics.join_patient(code=await world.patient_link(clinic), chat_id=chat_id)


async def test_a_patient_without_a_clinic_is_counted_but_not_escalated(
    world: World,  # noqa: F811
) -> None:
    await world.care.consent(chat_id=5)
    recorded = await world.questions.record(
        chat_id=5, day=1, topic="infection", level="urgent", escalate=True
    )
    assert recorded is not None
    assert (recorded.escalation_id, recorded.has_clinic) == (None, False)
    questions, escalations = await rows(world)
    assert [(q.topic, q.level) for q in questions] == [("infection", "urgent")]
    assert escalations == []
    assert await world.questions.counts() == {("infection", "urgent", 1): 1}


async def test_a_clinic_patient_gets_one_escalation(world: World) -> None:  # noqa: F811
    await a_clinic_patient(world, 6)
    recorded = await world.questions.record(
        chat_id=6, day=2, topic="infection", level="clinic", escalate=True
    )
    assert recorded is not None and recorded.has_clinic and recorded.escalation_id is not None


async def test_a_clarification_updates_the_question_its_count_and_its_escalation(
    world: World,  # noqa: F811
) -> None:
    await a_clinic_patient(world, 6)
    first = await world.questions.record(
        chat_id=6, day=2, topic="infection", level="clinic", escalate=True
    )
    assert first is not None
    raised = await world.questions.clarify(
        chat_id=6, question_id=first.question_id, topic="fever", level="urgent", escalate=True
    )
    assert raised is not None
    assert (raised.question_id, raised.escalation_id) == (first.question_id, first.escalation_id)
    questions, escalations = await rows(world)
    assert [(q.topic, q.level) for q in questions] == [("fever", "urgent")]
    assert [(e.topic, e.level) for e in escalations] == [("fever", "urgent")]
    counts = {key: n for key, n in (await world.questions.counts()).items() if n}
    assert counts == {("fever", "urgent", 2): 1}


async def test_a_clarification_opens_the_escalation_a_calm_answer_had_not(
    world: World,  # noqa: F811
) -> None:
    await a_clinic_patient(world, 6)
    first = await world.questions.record(
        chat_id=6, day=4, topic="swelling", level="watch", escalate=False
    )
    assert first is not None and first.escalation_id is None
    raised = await world.questions.clarify(
        chat_id=6, question_id=first.question_id, topic="infection", level="clinic", escalate=True
    )
    assert raised is not None and raised.escalation_id is not None
    questions, escalations = await rows(world)
    assert len(questions) == 1 and len(escalations) == 1


async def test_nobody_clarifies_another_patients_question(world: World) -> None:  # noqa: F811
    await a_clinic_patient(world, 6)
    await world.care.consent(chat_id=7)
    first = await world.questions.record(
        chat_id=6, day=2, topic="infection", level="clinic", escalate=True
    )
    assert first is not None
    assert (
        await world.questions.clarify(
            chat_id=7, question_id=first.question_id, topic="fever", level="urgent", escalate=True
        )
        is None
    )
    questions, _ = await rows(world)
    assert [(q.topic, q.level) for q in questions] == [("infection", "clinic")]
