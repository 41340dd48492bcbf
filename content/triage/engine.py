"""The triage engine: a message and the day since the session in, a Verdict out.

Safety rules of POLICY.md, in the order they are applied:

1. Every symptom the message names (and does not negate) is assessed on its own: its level on
   the registered day, raised by what qualifies it (worse, spreading, severe, fever...).
2. The most serious finding wins; an urgent one wins over any other reading of the message.
3. Only when no finding is clinic or urgent can an aftercare question ("can I wear makeup?")
   be answered instead of the symptoms beside it.
4. A message that names neither a symptom nor an aftercare topic is unknown: the answer says
   what the bot can help with and how to reach the clinic, and never guesses. So is one about
   prices or other treatments, and small talk that only brushes an aftercare word ("is it
   sunny?").
5. Before the session (day < 0) nothing has healed: a symptom is urgent when it would be on the
   session day, and otherwise a matter for the clinic before the session (rules.yaml
   ``before_session``); questions are answered for after the session, ``allowed`` null.
"""

from __future__ import annotations

import copy
import functools
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from content.plan import AdviceRule, CarePlan
from content.triage.data import (
    DATA_DIR,
    DEFAULT_LANGUAGE,
    LANGUAGES,
    TriageData,
    data_files,
    load_data,
)
from content.triage.phrases import Phrase, PhraseIndex
from content.triage.reading import Mention, Reader, Reading
from content.triage.schema import GAP, ConceptKind, Escalation, Lexicon, parse_phrase
from content.triage.tokens import Normalizer
from content.triage.verdict import (
    ESCALATING,
    Clarification,
    Level,
    Match,
    Verdict,
    severity,
)

_SPACES = re.compile(r"\s+")
_CONTACT = "\x00contact\x00"  # where the contact goes, until the spaces are collapsed
_SHOWN = frozenset({ConceptKind.SYMPTOM, ConceptKind.ADVICE, ConceptKind.MODIFIER})
_UNRANKED = 100


@dataclass(frozen=True, slots=True)
class Finding:
    """One symptom, assessed: its topic (after any re-labelling), level and why."""

    topic: str
    level: Level
    reason: str | None
    late: bool
    start: int
    context: frozenset[str]


class ClarificationError(ValueError):
    """A clarification id the engine did not make."""


class LanguageError(ValueError):
    """A language the triage has no answers in."""


class Engine:
    """Triage with one set of data files; build it with ``load_engine``.

    It reads English, Urdu script and Roman Urdu in every message (one lexicon, no language
    detection), and answers in the language it is asked to (``lang``: en, ur or ur-Latn).
    """

    def __init__(self, data: TriageData) -> None:
        """Compile the lexicon into a reader and index the rules."""
        self.data = data
        self.rules = data.rules
        self.lang = DEFAULT_LANGUAGE
        self.answers = data.answers
        lexicon = data.lexicon
        phrases = [
            Phrase(cid, parse_phrase(text))
            for cid, concept in lexicon.concepts.items()
            for text in concept.phrases
        ]
        # The Roman Urdu words and the concepts they are words of (see Normalizer).
        self.roman_meanings = _meanings(lexicon, phrases)
        normalizer = Normalizer(
            lexicon, _vocabulary(lexicon, phrases), data.words.known, self.roman_meanings
        )
        canonical = [
            Phrase(p.concept, tuple(_canonical_part(normalizer, w) for w in p.words))
            for p in phrases
        ]
        self.reader = Reader(lexicon, normalizer, PhraseIndex(canonical))
        self._rank = {topic: rank for rank, topic in enumerate(self.rules.priority)}
        self._last = {topic: rank + 1 for rank, topic in enumerate(self.rules.last)}
        self._settling = frozenset(self.rules.settling)
        self._alternatives = {
            id(esc): tuple(frozenset(item.split("|")) for item in esc.with_)
            for rule in self.rules.symptoms.values()
            for esc in rule.escalate
        }
        self._speakers = {DEFAULT_LANGUAGE: self}
        for lang in LANGUAGES:
            if lang != DEFAULT_LANGUAGE:
                speaker = copy.copy(self)
                speaker.lang, speaker.answers = lang, data.answers_in(lang)
                self._speakers[lang] = speaker

    def speaking(self, lang: str) -> Engine:
        """This engine answering in ``lang`` (en, ur or ur-Latn); it reads the same.

        Raises:
            LanguageError: not a language the triage answers in.
        """
        try:
            return self._speakers[lang]
        except KeyError:
            raise LanguageError(
                f"no triage answers in {lang!r}; use one of {', '.join(LANGUAGES)}"
            ) from None

    def read(self, text: str) -> Reading:
        """What the engine reads in ``text`` (for tests and debugging)."""
        return self.reader.read(text)

    def triage(
        self,
        text: str,
        day: int,
        plan: CarePlan,
        *,
        contact: str | None = None,
        lang: str | None = None,
    ) -> Verdict:
        """Triage one message from a patient on ``day`` since the session.

        Args:
            text: the message, as the patient wrote it.
            day: days since the session (the registered day: a day named in the text does not
                change it, but "for 3 days" is evidence of how long a symptom has lasted).
            plan: the patient's care plan; its advice rules answer "can I...?" questions.
            contact: how to reach the clinic, when known; put in clinic and urgent answers.
            lang: the language of the answer (en, ur, ur-Latn); None is this engine's.

        Raises:
            LanguageError: ``lang`` is not one the triage answers in.
        """
        if lang is not None and lang != self.lang:
            return self.speaking(lang).triage(text, day, plan, contact=contact)
        reading = self.reader.read(text)
        matched = tuple(
            Match(o.concept, o.text, o.negated, o.corrected)
            for o in reading.occurrences
            if o.kind in _SHOWN
        )
        symptoms = [m for m in reading.symptoms if not m.weak] or list(reading.symptoms)
        if day < 0:
            findings = [self._before_session(self._assess_mention(m, day)) for m in symptoms]
        else:
            findings = [self._assess_mention(m, day) for m in symptoms]
        top = max(findings, key=self._seriousness) if findings else None
        advice = [m for m in reading.advice if not m.weak] or list(reading.advice)
        asked = [m for m in advice if m.asked]
        if top is not None and top.level in ESCALATING:
            return self._symptom_verdict(top, day, matched, contact)
        small_talk = reading.offtopic and not any(m.asked and not m.weak for m in reading.advice)
        if top is None and (reading.service or small_talk):
            # Prices and other treatments are the clinic's; "is it sunny?" is small talk.
            return self._unknown(day, matched, contact)
        if advice and (top is None or asked):
            verdict = self._advice_verdict((asked or advice)[0], day, plan, matched, contact)
            if top is not None and top.level is Level.WATCH:
                # The question is answered, and the symptom to keep an eye on is not dropped.
                aside = self._symptom_verdict(top, day, matched, contact, clarify=False)
                verdict = replace(verdict, answer=f"{verdict.answer} {aside.answer}")
            return verdict
        if top is not None:
            return self._symptom_verdict(top, day, matched, contact)
        if reading.negated_symptoms:
            settled = self.answers.before_session.settled if day < 0 else self.answers.settled
            return Verdict(
                topic=reading.negated_symptoms[0],
                level=Level.NORMAL,
                allowed=None,
                answer=self._render(settled, day=day, contact=contact),
                day=day,
                matched=matched,
            )
        return self._unknown(day, matched, contact)

    def resolve(
        self,
        clarification_id: str,
        answer: bool,
        day: int,
        plan: CarePlan,
        *,
        contact: str | None = None,
        lang: str | None = None,
    ) -> Verdict:
        """The final verdict once the patient answers a clarifying question yes or no.

        A "yes" makes the verdict what the question's outcome says (never less serious than
        before); a "no" keeps the topic and level the question was asked about.

        Raises:
            ClarificationError: the id is not one this engine makes.
            LanguageError: ``lang`` is not one the triage answers in.
        """
        if lang is not None and lang != self.lang:
            return self.speaking(lang).resolve(clarification_id, answer, day, plan, contact=contact)
        del plan  # symptoms do not depend on the plan; kept for a uniform signature
        ask, topic, level = _parse_clarification(clarification_id)
        outcome = self.rules.questions.get(ask)
        texts = self.answers.symptoms.get(topic)
        if outcome is None or texts is None or texts.for_level(level) is None:
            raise ClarificationError(f"unknown clarification {clarification_id!r}")
        if answer and severity(outcome.level) > severity(level):
            finding = Finding(outcome.topic, outcome.level, outcome.because, False, 0, frozenset())
        else:
            rule = self.rules.symptoms.get(topic)
            late = level is Level.CLINIC and rule is not None and rule.level_on(day) is level
            finding = Finding(topic, level, None, late, 0, frozenset())
        return self._symptom_verdict(finding, day, (), contact, clarify=False)

    # ------------------------------------------------------------------ symptoms

    def _assess_mention(self, mention: Mention, day: int) -> Finding:
        present = mention.context | {mention.concept, mention.topic}
        if day < 0:  # the signs that are urgent on any day, read as on the session day
            day = self.rules.before_session.read_as_day
        found = self._assess(mention.topic, present, mention.concept, day, mention.duration)
        return Finding(found.topic, found.level, found.reason, found.late, mention.start, present)

    def _before_session(self, finding: Finding) -> Finding:
        """Before the session an urgent sign stays urgent; any other symptom is for the clinic."""
        if finding.level is Level.URGENT:
            return finding
        return replace(finding, level=self.rules.before_session.level, reason=None, late=False)

    def _assess(
        self,
        topic: str,
        present: frozenset[str],
        via: str,
        day: int,
        duration: float | None,
    ) -> Finding:
        rule = self.rules.symptoms[topic]
        for esc in rule.escalate:
            if (
                esc.level is None
                and esc.topic is not None
                and self._applies(esc, present, via, day)
            ):
                return self._assess(esc.topic, present, via, day, duration)
        level = rule.level_on(day)
        if level is not None and duration is not None and duration > day:
            # "Still red after two weeks" on a day registered earlier: the more cautious level.
            longer = rule.level_on(int(duration))
            if longer is not None and severity(longer) > severity(level):
                level = longer
        late = level is Level.CLINIC
        label, reason = topic, None
        for esc in rule.escalate:
            if esc.level is None or not self._applies(esc, present, via, day):
                continue
            if level is None or severity(esc.level) > severity(level):
                level, label, reason, late = esc.level, esc.topic or topic, esc.because, False
        if level is None:
            if rule.otherwise is None:  # the data checks rule this out
                raise AssertionError(f"no level for {topic!r}")
            return self._assess(rule.otherwise, present, via, day, duration)
        return Finding(label, level, reason, late, 0, present)

    def _applies(self, esc: Escalation, present: frozenset[str], via: str, day: int) -> bool:
        if esc.from_day is not None and day < esc.from_day:
            return False
        if esc.via and via not in esc.via:
            return False
        return all(not (options.isdisjoint(present)) for options in self._alternatives[id(esc)])

    def _seriousness(self, finding: Finding) -> tuple[int, int, bool, int, int]:
        """Sort key: the most serious finding is the largest (see rules.yaml ``priority``)."""
        return (
            severity(finding.level),
            -self._rank.get(finding.topic, _UNRANKED),
            self._settling.isdisjoint(finding.context),
            -self._last.get(finding.topic, 0),
            -finding.start,
        )

    def _clarification(self, finding: Finding) -> Clarification | None:
        rule = self.rules.symptoms.get(finding.topic)
        if rule is None:
            return None
        for clarify in rule.clarify:
            outcome = self.rules.questions[clarify.ask]
            if finding.level not in clarify.levels:
                continue
            if severity(outcome.level) <= severity(finding.level):
                continue
            if not all(
                not frozenset(item.split("|")).isdisjoint(finding.context) for item in clarify.with_
            ):
                continue
            return Clarification(
                id=f"{clarify.ask}:{finding.topic}:{finding.level.value}",
                question=self.answers.questions[clarify.ask],
                if_yes_topic=outcome.topic,
                if_yes_level=outcome.level,
            )
        return None

    def _symptom_verdict(
        self,
        finding: Finding,
        day: int,
        matched: tuple[Match, ...],
        contact: str | None,
        *,
        clarify: bool = True,
    ) -> Verdict:
        texts = self.answers.symptoms[finding.topic]
        reason = finding.reason
        if day < 0 and finding.level is not Level.URGENT:
            before = self.answers.before_session
            reason = None  # before the session: "tell your clinic", not a healing-day reason
            answer = self._render(
                before.frame,
                day=day,
                contact=contact,
                text=before.symptoms.get(finding.topic, before.symptom),
            )
        else:
            because = ""
            if finding.reason is not None:
                because = self.answers.because[finding.reason]
            elif finding.late and texts.late is not None:
                because = texts.late
            text = texts.for_level(finding.level) or ""
            answer = self._render(
                self.answers.frames[finding.level],
                day=day,
                contact=contact,
                text=self._render(text, day=day, contact=contact),
                because=self._render(because, day=day, contact=contact) + (" " if because else ""),
            )
        return Verdict(
            topic=finding.topic,
            level=finding.level,
            allowed=None,
            answer=answer,
            day=day,
            matched=matched,
            clarify=self._clarification(finding) if clarify else None,
            reason=reason,
        )

    # ------------------------------------------------------------------ advice and the rest

    def _advice_verdict(
        self,
        mention: Mention,
        day: int,
        plan: CarePlan,
        matched: tuple[Match, ...],
        contact: str | None,
    ) -> Verdict:
        texts = self.answers.advice
        try:
            rule = plan.advice_rule(mention.topic)
        except KeyError:
            answer = self._render(texts.missing, day=day, contact=contact)
            return Verdict(mention.topic, Level.ADVICE, None, answer, day, matched)
        if day < 0:
            return self._advice_before_session(mention.topic, rule, day, plan, matched, contact)
        allowed = _allowed(rule, day, mention.question)
        if rule.never:
            lead = texts.never
        elif allowed is True:
            lead = texts.allowed
        elif allowed is False:
            opens = rule.allowed_from_day is not None and rule.allowed_from_day > day
            lead = texts.not_yet if opens else texts.not_yet_open
        else:
            lead = texts.info
        answer = self._render(
            lead, day=day, contact=contact, answer=rule.answer, from_day=rule.allowed_from_day
        )
        return Verdict(mention.topic, Level.ADVICE, allowed, answer, day, matched)

    def _advice_before_session(
        self,
        topic: str,
        rule: AdviceRule,
        day: int,
        plan: CarePlan,
        matched: tuple[Match, ...],
        contact: str | None,
    ) -> Verdict:
        """A "can I...?" before the session: the answer for after it, and what to do until then."""
        texts = self.answers.before_session
        phase = plan.phase_for_day(day)
        preparing = ""
        if phase.start_day < 0:  # the plan's own pre-treatment phase, when it has one
            preparing = self._render(
                texts.preparing, day=day, contact=contact, advice=phase.key_advice
            )
        answer = self._render(
            texts.advice, day=day, contact=contact, answer=rule.answer, before=preparing
        )
        return Verdict(topic, Level.ADVICE, None, answer, day, matched)

    def _unknown(self, day: int, matched: tuple[Match, ...], contact: str | None) -> Verdict:
        answer = self._render(self.answers.unknown, day=day, contact=contact)
        return Verdict(None, Level.UNKNOWN, None, answer, day, matched)

    def _render(self, template: str, *, day: int, contact: str | None, **values: object) -> str:
        # The template's folded lines become one paragraph; the clinic's contact keeps its
        # own lines (name, phone, WhatsApp, address), on a line of its own.
        text = template.format(day=day, contact_line=_CONTACT, **values)
        text = _SPACES.sub(" ", text).strip()
        if not contact:
            return text.replace(_CONTACT, self.answers.contact.unknown)
        lines = "\n".join(" ".join(line.split()) for line in contact.splitlines() if line.strip())
        block = self.answers.contact.known.format(contact=lines)
        return text.replace(" " + _CONTACT, "\n" + block).replace(_CONTACT, block)


def _allowed(rule: AdviceRule, day: int, question: ConceptKind | None) -> bool | None:
    """Whether the advice topic is allowed on ``day``, for the question that was asked.

    "How/which/do I need" questions get None; "can I" questions and statements get the plan's
    answer. Between the last day something is not allowed and the first day it is (hot water
    on day 3), the policy is silent and the answer is "not yet": when unsure, the more
    cautious one. "Should I" asks "can I" of what the plan restricts, and "do I need" of what
    it never restricts (sunscreen, moisturiser), which is None before its first day too.
    """
    if rule.never:
        return False
    restricted = rule.not_allowed_until_day is not None
    if question is ConceptKind.INFO or (question is ConceptKind.RECOMMENDATION and not restricted):
        return None
    allowed = rule.allowed_on(day)
    opens_later = rule.allowed_from_day is not None and day < rule.allowed_from_day
    if allowed is None and restricted and opens_later:
        return False
    return allowed


def _parse_clarification(clarification_id: str) -> tuple[str, str, Level]:
    parts = clarification_id.split(":")
    if len(parts) != 3:
        raise ClarificationError(f"unknown clarification {clarification_id!r}")
    ask, topic, level_text = parts
    try:
        level = Level(level_text)
    except ValueError:
        raise ClarificationError(f"unknown clarification {clarification_id!r}") from None
    return ask, topic, level


def _vocabulary(lexicon: Lexicon, phrases: list[Phrase]) -> Iterator[str]:
    """Every word the lexicon uses: what a typo can be corrected to."""
    for phrase in phrases:
        for word in phrase.words:
            if word != GAP:
                yield word.removesuffix("*")
    for value in lexicon.replace.values():
        yield from value.split()
    yield from lexicon.negation_fillers
    yield from lexicon.negation_lists
    durations = lexicon.durations
    yield from durations.units
    yield from durations.numbers
    groups: tuple[Iterable[str], ...] = (
        durations.since,
        durations.since_words,
        durations.lead,
        durations.lead_with_still,
        durations.still,
        durations.trail,
        durations.longer,
    )
    for group in groups:
        for phrase_text in group:
            yield from phrase_text.split()


def _canonical_part(normalizer: Normalizer, part: str) -> str:
    """A phrase word ("a|b", "stem*" kept) with its Roman Urdu words in their one spelling."""
    return "|".join(
        option if option.endswith("*") else normalizer.canonical(option)
        for option in part.split("|")
    )


def _meanings(lexicon: Lexicon, phrases: list[Phrase]) -> dict[str, frozenset[str]]:
    """The Roman Urdu words of the lexicon, each with the concepts whose phrases use it."""
    roman = set(lexicon.roman)
    meanings: dict[str, set[str]] = {word: set() for word in roman}
    for phrase in phrases:
        for part in phrase.words:
            for option in part.split("|"):
                word = option.removesuffix("*")
                if word in roman:
                    meanings[word].add(phrase.concept)
    return {word: frozenset(concepts) for word, concepts in meanings.items()}


def load_engine(directory: Path | str | None = None) -> Engine:
    """The engine of the packaged data (or of ``directory``), cached until a file changes.

    Raises:
        TriageDataError: a data file is missing or invalid; ``problems`` says where.
    """
    path = Path(directory).resolve() if directory is not None else DATA_DIR
    stamps = tuple(_stamp(p) for p in data_files(path))
    return _load(path, stamps)


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_mtime_ns, stat.st_size


@functools.lru_cache(maxsize=8)
def _load(path: Path, stamps: tuple[tuple[int, int] | None, ...]) -> Engine:
    # The stamps are part of the cache key only, so an edited file is read again.
    del stamps
    return Engine(load_data(path))


def triage(
    text: str,
    day: int,
    plan: CarePlan,
    *,
    contact: str | None = None,
    lang: str = DEFAULT_LANGUAGE,
    engine: Engine | None = None,
) -> Verdict:
    """Triage one message on ``day`` since the session, answered in ``lang``.

    See ``Engine.triage``.
    """
    return (engine or load_engine()).triage(text, day, plan, contact=contact, lang=lang)


def screen(
    text: str,
    day: int | None,
    plan: CarePlan,
    *,
    contact: str | None = None,
    lang: str = DEFAULT_LANGUAGE,
    engine: Engine | None = None,
) -> Verdict | None:
    """The verdict on ``text`` only when it is a red flag (urgent) or a matter for the clinic.

    What to check before any pending prompt reads a message: a prompt must never swallow a red
    flag. ``day`` None (no session registered yet) is read as the session day, and only an
    urgent reading counts then, since there is no healing to compare with. Pure and fast: no
    I/O, the engine is cached.
    """
    verdict = (engine or load_engine()).triage(
        text, 0 if day is None else day, plan, contact=contact, lang=lang
    )
    if verdict.level is Level.URGENT or (day is not None and verdict.level is Level.CLINIC):
        return verdict
    return None


def resolve_clarification(
    verdict_or_id: Verdict | str,
    answer: bool,
    day: int,
    plan: CarePlan,
    *,
    contact: str | None = None,
    lang: str = DEFAULT_LANGUAGE,
    engine: Engine | None = None,
) -> Verdict:
    """The final verdict after a yes/no answer to a verdict's clarifying question.

    ``verdict_or_id`` is the verdict that asked, or its ``clarify.id`` (what a button keeps).

    Raises:
        ClarificationError: the verdict asks nothing, or the id is not one the engine makes.
    """
    if isinstance(verdict_or_id, Verdict):
        if verdict_or_id.clarify is None:
            raise ClarificationError("this verdict asks no clarifying question")
        clarification_id = verdict_or_id.clarify.id
    else:
        clarification_id = verdict_or_id
    return (engine or load_engine()).resolve(
        clarification_id, answer, day, plan, contact=contact, lang=lang
    )
