"""The triage data files as pydantic models: lexicon, known words, rules and answers.

Each model checks what it can see on its own; checks between files (a rule naming a concept
the lexicon lacks, a level without an answer) are in ``content.triage.data``.
"""

from __future__ import annotations

import functools
import re
import string
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from content.triage.script import ARABIC_LETTERS
from content.triage.verdict import SYMPTOM_LEVELS, Level

ID = re.compile(r"^[a-z][a-z0-9_]*$")
WORD = re.compile(rf"^(?:[a-z0-9]+|[{ARABIC_LETTERS}]+)$")
GAP = ".."
PREFIX_MIN = 3
# Characters that do not change how an emoji reads: variation selectors and skin tones.
EMOJI_NOISE = frozenset({"\ufe0e", "\ufe0f", "\u200d", *map(chr, range(0x1F3FB, 0x1F400))})


class _Strict(BaseModel):
    """Base for data models: unknown keys are errors, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


@functools.lru_cache(maxsize=16384)
def parse_phrase(text: str) -> tuple[str, ...]:
    """Split a phrase into its words, checking the phrase syntax of lexicon.yaml.

    Cached: each phrase is checked by the model, by the data checks and by the engine.
    """
    words = tuple(text.split())
    if not words:
        raise ValueError("a phrase needs at least one word")
    for index, word in enumerate(words):
        if word == GAP:
            if index in (0, len(words) - 1):
                raise ValueError(f"{text!r}: a '..' gap must sit between two words")
            if words[index - 1] == GAP:
                raise ValueError(f"{text!r}: two gaps in a row")
            continue
        for option in word.split("|"):
            stem = option.removesuffix("*")
            if not WORD.match(stem):
                raise ValueError(
                    f"{text!r}: {option!r} is not a lower-case word; write phrases as they read "
                    'after rewriting ("can not", not "can\'t")'
                )
            # Urdu script writes a stem in fewer letters ("رہ*" for rahi, raha, rahe).
            shortest = PREFIX_MIN if stem.isascii() else PREFIX_MIN - 1
            if option.endswith("*") and len(stem) < shortest:
                raise ValueError(f"{text!r}: a prefix needs at least {PREFIX_MIN} letters")
    return words


def template_fields(template: str) -> set[str]:
    """The placeholder names of a ``str.format`` template; ValueError if it does not parse."""
    names = {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}
    bad = sorted(n for n in names if not n.isidentifier())
    if bad:
        raise ValueError(f"placeholders must be plain names like {{day}}, not {bad}")
    return names


def _symptom_level(level: Level) -> Level:
    if level not in SYMPTOM_LEVELS:
        raise ValueError(
            f"{level.value!r} is not a symptom level; use normal, watch, clinic, urgent"
        )
    return level


class ConceptKind(StrEnum):
    """What a concept of the lexicon is for (see the header of lexicon.yaml)."""

    SYMPTOM = "symptom"
    ADVICE = "advice"
    MODIFIER = "modifier"
    NEGATION = "negation"
    PSEUDO = "pseudo"
    PERMISSION = "permission"
    INFO = "info"
    RECOMMENDATION = "recommendation"
    SYMPTOM_QUESTION = "symptom_question"
    HYPOTHETICAL = "hypothetical"
    OFFTOPIC = "offtopic"
    SERVICE = "service"
    NEUTRAL = "neutral"
    BOUNDARY = "boundary"


TOPIC_KINDS = frozenset({ConceptKind.SYMPTOM, ConceptKind.ADVICE})


class Direction(StrEnum):
    """Which way a negation reaches: the words after it, before it, or either."""

    PRE = "pre"
    POST = "post"
    BOTH = "both"


class Concept(_Strict):
    """One concept: the phrases that say it and how it combines with others."""

    kind: ConceptKind
    phrases: tuple[str, ...] = Field(min_length=1)
    topic: str | None = None
    weak: bool = False
    implies: tuple[str, ...] = ()
    negated_as: str | None = None
    before_symptom: str | None = None
    direction: Direction = Direction.PRE

    @field_validator("phrases")
    @classmethod
    def _phrases(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for phrase in value:
            parse_phrase(phrase)
        duplicates = sorted({p for p in value if value.count(p) > 1})
        if duplicates:
            raise ValueError(f"phrases listed twice: {', '.join(map(repr, duplicates))}")
        return value

    @model_validator(mode="after")
    def _fields_fit_kind(self) -> Concept:
        if self.kind not in TOPIC_KINDS and (self.topic is not None or self.weak):
            raise ValueError("only symptom and advice concepts have a topic or are weak")
        if self.kind is not ConceptKind.NEGATION and self.direction is not Direction.PRE:
            raise ValueError("only negation concepts have a direction")
        return self


class Rewrite(_Strict):
    """A regular expression applied to the lower-cased message before it is split into words."""

    pattern: str
    replace: str

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a regular expression: {exc}") from None
        return value


class Durations(_Strict):
    """How "for 3 days", "since yesterday" or "2 weeks later" are read, in days."""

    units: dict[str, float] = Field(min_length=1)
    numbers: dict[str, float] = {}
    since_words: tuple[str, ...] = ()
    since: dict[str, float] = {}
    lead: tuple[str, ...] = ()
    lead_with_still: tuple[str, ...] = ()
    still: tuple[str, ...] = ()
    trail: tuple[str, ...] = ()
    longer: tuple[str, ...] = ()

    @field_validator("units", "numbers")
    @classmethod
    def _single_words(cls, value: dict[str, float]) -> dict[str, float]:
        bad = sorted(k for k in value if not WORD.match(k))
        if bad:
            raise ValueError(f"keys must be single lower-case words: {bad}")
        return value

    @field_validator("since")
    @classmethod
    def _phrases(cls, value: dict[str, float]) -> dict[str, float]:
        for phrase in value:
            parse_phrase(phrase)
        return value


class Lexicon(_Strict):
    """lexicon.yaml: spelling, emoji and the phrases of every concept."""

    rewrite: tuple[Rewrite, ...] = ()
    replace: dict[str, str] = {}
    emoji: dict[str, str] = {}
    negation_fillers: tuple[str, ...] = ()
    negation_scope: int = Field(default=6, ge=1, le=20)
    negation_lists: tuple[str, ...] = ()
    durations: Durations
    concepts: dict[str, Concept] = Field(min_length=1)
    # The Roman Urdu words of lexicon-ur.yaml (filled in when it is merged): the words whose
    # spelling variants are read by their consonant skeleton.
    roman: tuple[str, ...] = ()

    @field_validator("replace")
    @classmethod
    def _replace_words(cls, value: dict[str, str]) -> dict[str, str]:
        for key, words in value.items():
            if not WORD.match(key):
                raise ValueError(f"{key!r}: only single lower-case words are replaced")
            if not all(WORD.match(w) for w in words.split()):
                raise ValueError(f"{key!r}: the replacement must be lower-case words")
        return value

    @field_validator("emoji")
    @classmethod
    def _one_character(cls, value: dict[str, str]) -> dict[str, str]:
        for key in value:
            if len([c for c in key if c not in EMOJI_NOISE]) != 1:
                raise ValueError(f"{key!r}: an emoji key must be a single character")
        return value

    @field_validator("concepts")
    @classmethod
    def _ids(cls, value: dict[str, Concept]) -> dict[str, Concept]:
        bad = sorted(k for k in value if not ID.match(k))
        if bad:
            raise ValueError(f"concept ids must be lower-case identifiers: {bad}")
        return value


class DurationWords(_Strict):
    """lexicon-ur.yaml ``durations``: words added to those of lexicon.yaml."""

    units: dict[str, float] = {}
    numbers: dict[str, float] = {}
    since_words: tuple[str, ...] = ()
    since: dict[str, float] = {}
    lead: tuple[str, ...] = ()
    lead_with_still: tuple[str, ...] = ()
    still: tuple[str, ...] = ()
    trail: tuple[str, ...] = ()
    longer: tuple[str, ...] = ()


class LexiconAddition(_Strict):
    """lexicon-ur.yaml: Urdu script and Roman Urdu, added to the concepts of lexicon.yaml.

    A concept id with a list adds phrases to that concept of lexicon.yaml; with a mapping it
    is a new concept (written as in lexicon.yaml).
    """

    replace: dict[str, str] = {}
    negation_fillers: tuple[str, ...] = ()
    negation_lists: tuple[str, ...] = ()
    durations: DurationWords = DurationWords()
    concepts: dict[str, tuple[str, ...] | Concept] = {}


class Words(_Strict):
    """words.yaml: real English words that must never be corrected towards our words."""

    known: tuple[str, ...] = ()

    @field_validator("known")
    @classmethod
    def _words(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        bad = sorted(w for w in value if not WORD.match(w))
        if bad:
            raise ValueError(f"known words must be single lower-case words: {bad[:10]}")
        return value


class Window(_Strict):
    """The level of a symptom from day ``from`` to day ``to`` (open-ended without ``to``)."""

    level: Level
    from_day: int = Field(alias="from", ge=0)
    to_day: int | None = Field(default=None, alias="to")

    _level = field_validator("level")(_symptom_level)

    @model_validator(mode="after")
    def _ordered(self) -> Window:
        if self.to_day is not None and self.to_day < self.from_day:
            raise ValueError(f"'to' ({self.to_day}) is before 'from' ({self.from_day})")
        return self

    def contains(self, day: int) -> bool:
        """Whether ``day`` falls in the window."""
        return self.from_day <= day and (self.to_day is None or day <= self.to_day)


def _alternatives(value: tuple[str, ...]) -> tuple[str, ...]:
    for item in value:
        if not all(ID.match(part) for part in item.split("|")):
            raise ValueError(f"{item!r}: write concept ids, or alternatives as 'a|b'")
    return value


class Escalation(_Strict):
    """A combination that raises (or re-reads) a symptom: see the header of rules.yaml."""

    with_: tuple[str, ...] = Field(alias="with", min_length=1)
    via: tuple[str, ...] = ()
    from_day: int | None = None
    level: Level | None = None
    topic: str | None = None
    because: str | None = None

    _with = field_validator("with_")(_alternatives)

    @field_validator("level")
    @classmethod
    def _level(cls, value: Level | None) -> Level | None:
        return None if value is None else _symptom_level(value)

    @model_validator(mode="after")
    def _does_something(self) -> Escalation:
        if self.level is None and self.topic is None:
            raise ValueError("an escalation needs a level, a topic to read it as, or both")
        if self.level is None and self.because is not None:
            raise ValueError("a re-reading without a level takes its reason from the other topic")
        return self


class Clarify(_Strict):
    """When to offer a clarifying question."""

    ask: str
    levels: tuple[Level, ...] = Field(min_length=1)
    with_: tuple[str, ...] = Field(default=(), alias="with")

    _with = field_validator("with_")(_alternatives)

    @field_validator("levels")
    @classmethod
    def _levels(cls, value: tuple[Level, ...]) -> tuple[Level, ...]:
        return tuple(_symptom_level(level) for level in value)


class SymptomRule(_Strict):
    """How one symptom topic gets its level."""

    days: tuple[Window, ...] = ()
    escalate: tuple[Escalation, ...] = ()
    otherwise: str | None = None
    clarify: tuple[Clarify, ...] = ()

    @field_validator("days")
    @classmethod
    def _contiguous(cls, value: tuple[Window, ...]) -> tuple[Window, ...]:
        expected: int | None = 0
        for index, window in enumerate(value):
            if expected is None:
                raise ValueError(f"window {index} follows an open-ended one")
            if window.from_day != expected:
                raise ValueError(
                    f"window {index} starts on day {window.from_day}; expected day {expected} "
                    "(windows start at day 0 and follow each other without gaps)"
                )
            expected = None if window.to_day is None else window.to_day + 1
        if value and expected is not None:
            raise ValueError("the last window must be open-ended (no 'to')")
        return value

    @model_validator(mode="after")
    def _always_a_level(self) -> SymptomRule:
        if not self.days and self.otherwise is None:
            raise ValueError("a symptom needs day windows, or 'otherwise' to read it as another")
        if self.days and self.otherwise is not None:
            raise ValueError("'otherwise' is only for a symptom without day windows")
        return self

    def level_on(self, day: int) -> Level | None:
        """The level of the day windows on ``day`` (before day 0: day 0); None without windows."""
        day = max(day, 0)
        for window in self.days:
            if window.contains(day):
                return window.level
        return None


class Outcome(_Strict):
    """What a "yes" to a clarifying question means."""

    topic: str
    level: Level
    because: str | None = None

    _level = field_validator("level")(_symptom_level)


class BeforeSession(_Strict):
    """How symptoms read before the session (day < 0): POLICY.md's "Before the session".

    Nothing has healed yet, so the day windows do not apply: a symptom is read as on
    ``read_as_day`` to find the signs that are urgent on any day, and anything less is ``level``.
    """

    read_as_day: int = Field(default=0, ge=0)
    level: Level = Level.CLINIC

    _level = field_validator("level")(_symptom_level)


class Rules(_Strict):
    """rules.yaml: the symptom table of the policy, as data."""

    before_session: BeforeSession = BeforeSession()
    priority: tuple[str, ...] = ()
    settling: tuple[str, ...] = ()
    last: tuple[str, ...] = ()
    symptoms: dict[str, SymptomRule] = Field(min_length=1)
    questions: dict[str, Outcome] = {}


class ContactTexts(_Strict):
    """The contact sentence, with and without a known contact."""

    known: str
    unknown: str


class SymptomTexts(_Strict):
    """The texts of one symptom topic, by level, and the reason when it is late."""

    normal: str | None = None
    watch: str | None = None
    clinic: str | None = None
    urgent: str | None = None
    late: str | None = None

    def for_level(self, level: Level) -> str | None:
        """The text for a symptom level, if there is one."""
        text: str | None = getattr(self, level.value, None)
        return text


class AdviceTexts(_Strict):
    """The leads put before the care plan's advice answer."""

    allowed: str
    not_yet: str
    not_yet_open: str
    never: str
    info: str
    missing: str


class BeforeSessionTexts(_Strict):
    """What the triage says before the session (day < 0): no healing days in any of it."""

    frame: str = Field(description="a symptom that is not urgent: {text} is the topic's text")
    symptom: str = Field(description="the topic's text when ``symptoms`` has none for it")
    symptoms: dict[str, str] = Field(default={}, description="by symptom topic")
    advice: str = Field(description="an aftercare question, answered for after the session")
    preparing: str = Field(description="the plan's pre-treatment advice, put in {before}")
    settled: str


class Answers(_Strict):
    """answers.yaml: every sentence of the triage's answers."""

    contact: ContactTexts
    frames: dict[Level, str]
    because: dict[str, str] = {}
    symptoms: dict[str, SymptomTexts]
    advice: AdviceTexts
    unknown: str
    settled: str
    before_session: BeforeSessionTexts
    questions: dict[str, str] = {}

    @field_validator("frames")
    @classmethod
    def _every_level(cls, value: dict[Level, str]) -> dict[Level, str]:
        missing = [level.value for level in SYMPTOM_LEVELS if level not in value]
        if missing:
            raise ValueError(f"no frame for {', '.join(missing)}")
        return value
