"""Reading a message: which concepts it names, which are negated, and how they group.

The words are matched against the lexicon's phrases; negations mark what they reach ("no
fever, chills or pus", "the bleeding stopped"); the message is cut into sentences (at full
stops, question marks, "but"...) so that "worse" or "for 3 days" qualify the symptoms of their
own sentence, or every symptom when their sentence names none ("It's getting worse.").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from content.triage.phrases import PhraseIndex
from content.triage.schema import TOPIC_KINDS, ConceptKind, Direction, Lexicon
from content.triage.tokens import COMMA, SENTENCE_END, Normalizer, Token

_ITEMS = frozenset({ConceptKind.SYMPTOM, ConceptKind.ADVICE, ConceptKind.MODIFIER})
_QUESTIONS = frozenset({ConceptKind.PERMISSION, ConceptKind.INFO, ConceptKind.RECOMMENDATION})
# How far back a negation that follows its word ("the swelling is gone") reaches.
POST_REACH = 3
# How many words may sit between an advice topic and a question cue that follows it.
VERB_GAP = 2


@dataclass(frozen=True, slots=True)
class Occurrence:
    """One phrase found in the message."""

    concept: str
    kind: ConceptKind
    start: int
    end: int
    sentence: int
    text: str
    corrected: bool
    negated: bool


@dataclass(frozen=True, slots=True)
class Mention:
    """A topic the message names, with everything that qualifies it.

    Attributes:
        topic: the policy topic.
        concept: the concept that named it ("stinging" names `burning`).
        kind: symptom or advice.
        start: the word it starts at (order of mention).
        weak: named only by a weak phrase ("spots").
        context: the concept ids and topics present in its sentence, and in sentences that name
            no topic.
        duration: how long the message says it has lasted, in days, if it says.
        question: for advice, the kind of question asked about it (permission, info or
            recommendation), if any.
        asked: for advice, whether the question is about it rather than a symptom near it.
    """

    topic: str
    concept: str
    kind: ConceptKind
    start: int
    weak: bool
    context: frozenset[str]
    duration: float | None = None
    question: ConceptKind | None = None
    asked: bool = False


@dataclass(frozen=True, slots=True)
class Reading:
    """Everything read in one message."""

    tokens: tuple[Token, ...]
    occurrences: tuple[Occurrence, ...]
    symptoms: tuple[Mention, ...]
    advice: tuple[Mention, ...]
    negated_symptoms: tuple[str, ...]
    service: bool
    offtopic: bool


class Reader:
    """Reads messages with one lexicon."""

    def __init__(self, lexicon: Lexicon, normalizer: Normalizer, index: PhraseIndex) -> None:
        """Keep the lexicon, its normalizer and its phrase index."""
        self.lexicon = lexicon
        self.normalizer = normalizer
        self.index = index
        self._fillers = frozenset(map(normalizer.canonical, lexicon.negation_fillers))
        self._lists = frozenset(map(normalizer.canonical, lexicon.negation_lists))
        self._implications = {cid: _implications(lexicon, cid) for cid in lexicon.concepts}
        durations = lexicon.durations
        self._units = durations.units
        self._numbers = durations.numbers
        self._since = {tuple(k.split()): v for k, v in durations.since.items()}
        self._lead = frozenset(durations.lead)
        self._since_words = frozenset(durations.since_words)
        self._lead_with_still = frozenset(durations.lead_with_still)
        self._still = frozenset(durations.still)
        self._trail = {tuple(t.split()) for t in durations.trail}
        self._longer = {tuple(t.split()) for t in durations.longer}

    def read(self, text: str) -> Reading:
        """Read ``text``."""
        tokens = self.normalizer.tokens(text)
        words = [t.word for t in tokens]
        concepts = self.lexicon.concepts
        found = self.index.find(words)
        boundaries = {
            start for p, start, _ in found if concepts[p.concept].kind is ConceptKind.BOUNDARY
        }
        sentence_of: list[int] = []
        current = 0
        for position, word in enumerate(words):
            if position in boundaries:
                current += 1
            sentence_of.append(current)
            if word == SENTENCE_END:
                current += 1
        raw = [
            Occurrence(
                concept=phrase.concept,
                kind=concepts[phrase.concept].kind,
                start=start,
                end=end,
                sentence=sentence_of[start],
                text=" ".join(dict.fromkeys(t.raw for t in tokens[start:end])),
                corrected=any(t.corrected for t in tokens[start:end]),
                negated=False,
            )
            for phrase, start, end in found
        ]
        negated = self._negate(raw, words)
        occurrences = tuple(o if i not in negated else _negated(o) for i, o in enumerate(raw))
        return self._group(tokens, words, occurrences, sentence_of)

    def _negate(self, occurrences: Sequence[Occurrence], words: Sequence[str]) -> set[int]:
        """The indexes of the occurrences that a negation reaches."""
        at_start = {o.start: i for i, o in enumerate(occurrences)}
        negated: set[int] = set()
        for index, cue in enumerate(occurrences):
            if cue.kind is not ConceptKind.NEGATION:
                continue
            direction = self.lexicon.concepts[cue.concept].direction
            if direction in (Direction.POST, Direction.BOTH):
                target = self._negated_before(occurrences, index, words)
                if target is not None:
                    negated.add(target)
                    negated |= self._listed_before(occurrences, target, words)
                    continue
            if direction in (Direction.PRE, Direction.BOTH):
                negated |= self._negated_after(occurrences, at_start, cue, words)
        return negated

    def _negated_before(
        self, occurrences: Sequence[Occurrence], index: int, words: Sequence[str]
    ) -> int | None:
        cue = occurrences[index]
        for back in range(index - 1, -1, -1):
            item = occurrences[back]
            if item.sentence != cue.sentence or cue.start - item.end > POST_REACH:
                return None
            if item.kind in _ITEMS:
                between = words[item.end : cue.start]
                return back if all(w in self._fillers for w in between) else None
            if not self._is_filler(item, words):
                return None
        return None

    def _listed_before(
        self, occurrences: Sequence[Occurrence], target: int, words: Sequence[str]
    ) -> set[int]:
        """The items listed before a negated one with "or" ("bukhar ya peep nahi": both)."""
        at_end = {o.end: i for i, o in enumerate(occurrences) if o.kind in _ITEMS}
        listed: set[int] = set()
        start = occurrences[target].start
        while start >= 2 and words[start - 1] in self._lists and start - 1 in at_end:
            previous = at_end[start - 1]
            listed.add(previous)
            start = occurrences[previous].start
        return listed

    def _negated_after(
        self,
        occurrences: Sequence[Occurrence],
        at_start: dict[int, int],
        cue: Occurrence,
        words: Sequence[str],
    ) -> set[int]:
        reached: set[int] = set()
        position, budget = cue.end, self.lexicon.negation_scope
        # After a symptom, only a list goes on ("no fever, chills or pus"); "no pus red
        # cheeks" negates the pus alone: when unsure, the less negated reading.
        last_topic: str | None = None
        separated = False
        while position < len(words) and budget > 0:
            if position in at_start:
                index = at_start[position]
                item = occurrences[index]
                if item.kind in _ITEMS:
                    topic = self._topic_of(item.concept)
                    if (
                        last_topic is not None
                        and not separated
                        and topic != last_topic
                        and not self._list_ahead(words, position)
                    ):
                        break
                    reached.add(index)
                    if item.kind in TOPIC_KINDS:
                        last_topic, separated = topic, False
                elif item.kind is not ConceptKind.NEGATION and not self._is_filler(item, words):
                    break
                else:
                    budget -= 1
                position = item.end
                continue
            word = words[position]
            if word == COMMA or word in self._lists:
                # "no fever, chills or pus" is a list; "no pus, the redness..." is not.
                following = self._next_item(occurrences, at_start, words, position + 1)
                if not self._list_ahead(words, position) or following is None:
                    break
                separated = True
                position += 1
                continue
            if word in self._fillers:
                position += 1
                budget -= 1
                continue
            break
        return reached

    def _next_item(
        self,
        occurrences: Sequence[Occurrence],
        at_start: dict[int, int],
        words: Sequence[str],
        position: int,
    ) -> int | None:
        """The item that comes next after fillers ("or any chills"), if one does."""
        while position < len(words):
            if position in at_start:
                item = occurrences[at_start[position]]
                if item.kind in _ITEMS:
                    return at_start[position]
                if not self._is_filler(item, words):
                    return None
                position = item.end
            elif words[position] in self._fillers:
                position += 1
            else:
                return None
        return None

    def _list_ahead(self, words: Sequence[str], position: int) -> bool:
        """Whether an "or"/"nor" closes a list later in this sentence."""
        return any(w in self._lists for w in words[position : self._sentence_end(words, position)])

    @staticmethod
    def _sentence_end(words: Sequence[str], position: int) -> int:
        for index in range(position, len(words)):
            if words[index] == SENTENCE_END:
                return index
        return len(words)

    def _is_filler(self, occurrence: Occurrence, words: Sequence[str]) -> bool:
        """A neutral phrase made of negation fillers ("really", "very") that a negation crosses."""
        if occurrence.kind is not ConceptKind.NEUTRAL:
            return False
        return all(w in self._fillers for w in words[occurrence.start : occurrence.end])

    def _present(self, occurrences: Sequence[Occurrence]) -> dict[int, set[str]]:
        """The concepts each sentence holds, with what they imply; negated ones left out."""
        concepts = self.lexicon.concepts
        present: dict[int, set[str]] = {}
        for index, occurrence in enumerate(occurrences):
            here = present.setdefault(occurrence.sentence, set())
            concept = concepts[occurrence.concept]
            if occurrence.negated:
                if concept.negated_as is not None:
                    here |= self._closure(concept.negated_as)
                continue
            here |= self._closure(occurrence.concept)
            if concept.before_symptom is not None:
                following = occurrences[index + 1] if index + 1 < len(occurrences) else None
                if (
                    following is not None
                    and following.start == occurrence.end
                    and following.kind is ConceptKind.SYMPTOM
                    and not following.negated
                ):
                    here |= self._closure(concept.before_symptom)
        return present

    def _closure(self, concept_id: str) -> set[str]:
        """A concept, what it implies, and the topics of those that are topics."""
        concepts = self.lexicon.concepts
        seen = self._implied(concept_id)
        topics = {concepts[c].topic or c for c in seen if concepts[c].kind in TOPIC_KINDS}
        return set(seen) | topics

    def _implied(self, concept_id: str) -> frozenset[str]:
        """A concept and what it implies, and so on."""
        return self._implications[concept_id]

    def _group(
        self,
        tokens: Sequence[Token],
        words: Sequence[str],
        occurrences: tuple[Occurrence, ...],
        sentence_of: Sequence[int],
    ) -> Reading:
        concepts = self.lexicon.concepts
        present = self._present(occurrences)
        topical = {s for s, names in present.items() if any(self._is_topic(name) for name in names)}
        floating: set[str] = set()
        for sentence, names in present.items():
            if sentence not in topical:
                floating |= names
        context = {s: frozenset(present[s] | floating) for s in present}
        hypothetical = {
            o.sentence for o in occurrences if o.kind is ConceptKind.HYPOTHETICAL and not o.negated
        }
        lasted = self._durations(words, sentence_of, hypothetical)
        floating_duration = max((d for s, d in lasted.items() if s not in topical), default=None)

        def duration_of(sentence: int) -> float | None:
            values = [d for d in (lasted.get(sentence), floating_duration) if d is not None]
            return max(values) if values else None

        symptoms: list[Mention] = []
        advice: list[Mention] = []
        negated_symptoms: list[str] = []
        for index, occurrence in enumerate(occurrences):
            named = self._implied(occurrence.concept)
            for concept_id in sorted(named, key=lambda c: c != occurrence.concept):
                concept = concepts[concept_id]
                if concept.kind not in TOPIC_KINDS:
                    continue
                topic = concept.topic or concept_id
                if occurrence.negated:
                    if concept.kind is ConceptKind.SYMPTOM:
                        negated_symptoms.append(topic)
                    if concept.kind is ConceptKind.SYMPTOM or concept_id != occurrence.concept:
                        continue
                mention = Mention(
                    topic=topic,
                    concept=concept_id,
                    kind=concept.kind,
                    start=occurrence.start,
                    weak=concept.weak,
                    context=context.get(occurrence.sentence, frozenset()),
                    duration=duration_of(occurrence.sentence),
                )
                if concept.kind is ConceptKind.SYMPTOM:
                    symptoms.append(mention)
                else:
                    advice.append(self._question(mention, index, occurrences, topical))
        service = any(o.kind is ConceptKind.SERVICE and not o.negated for o in occurrences)
        offtopic = any(o.kind is ConceptKind.OFFTOPIC and not o.negated for o in occurrences)
        return Reading(
            tokens=tuple(tokens),
            occurrences=occurrences,
            symptoms=tuple(symptoms),
            advice=tuple(advice),
            negated_symptoms=tuple(dict.fromkeys(negated_symptoms)),
            service=service,
            offtopic=offtopic,
        )

    def _topic_of(self, concept_id: str) -> str:
        concept = self.lexicon.concepts[concept_id]
        return concept.topic or concept_id

    def _is_topic(self, name: str) -> bool:
        concept = self.lexicon.concepts.get(name)
        return concept is not None and concept.kind in TOPIC_KINDS

    @staticmethod
    def _question(
        mention: Mention,
        index: int,
        occurrences: Sequence[Occurrence],
        topical: set[int],
    ) -> Mention:
        """Which question is asked about an advice mention, and whether it is asked about it."""
        own = occurrences[index]
        same = [o for o in occurrences if o.sentence == own.sentence]
        cues_before = [o for o in same if o.kind in _QUESTIONS and o.end <= own.start]
        cues_after = [o for o in same if o.kind in _QUESTIONS and o.start >= own.end]
        elsewhere = [o for o in occurrences if o.kind in _QUESTIONS and o.sentence not in topical]
        symptom_here = any(o.kind is ConceptKind.SYMPTOM and not o.negated for o in same)
        direct = False
        if cues_before:
            nearest = cues_before[-1]
            between = [
                o
                for o in same
                if nearest.end <= o.start < own.start
                and o.kind is ConceptKind.SYMPTOM
                and not o.negated
            ]
            direct = not between
        elif cues_after and cues_after[0].start - own.end <= VERB_GAP:
            # Urdu puts the question after the verb ("chhilke utaar sakti hoon?", "can I peel
            # the flakes off?"): a cue right after the advice asks about it.
            direct = not any(
                o.kind is ConceptKind.SYMPTOM and own.end <= o.start < cues_after[0].start
                for o in same
            )
        candidates = cues_before[-1:] or cues_after[:1] or elsewhere[:1]
        cue = candidates[0] if candidates else None
        asked = direct or (cue is not None and not symptom_here)
        return Mention(
            topic=mention.topic,
            concept=mention.concept,
            kind=mention.kind,
            start=mention.start,
            weak=mention.weak,
            context=mention.context,
            duration=mention.duration,
            question=cue.kind if cue is not None else None,
            asked=asked,
        )

    def _durations(
        self, words: Sequence[str], sentence_of: Sequence[int], hypothetical: set[int]
    ) -> dict[int, float]:
        """The longest duration each sentence states, in days ("for 3 days", "since yesterday")."""
        found: dict[int, float] = {}

        def note(position: int, days: float) -> None:
            sentence = sentence_of[position]
            if sentence not in hypothetical:
                found[sentence] = max(days, found.get(sentence, 0.0))

        for position, word in enumerate(words):
            if word in self._since_words:
                for phrase, days in self._since.items():
                    if tuple(words[position + 1 : position + 1 + len(phrase)]) == phrase:
                        note(position, days)
            unit = self._units.get(word)
            if unit is None:
                continue
            amount, first = self._amount(words, position)
            if amount is None:
                continue
            sentence = sentence_of[position]
            before = words[max(first - 3, 0) : first]
            sentence_words = {w for w, s in zip(words, sentence_of, strict=True) if s == sentence}
            lead = any(
                w in self._lead
                and (w not in self._lead_with_still or not self._still.isdisjoint(sentence_words))
                for w in before
            )
            trail = any(
                tuple(words[position + 1 : position + 1 + len(t)]) == t for t in self._trail
            )
            if not (lead or trail):
                continue
            longer = any(tuple(words[max(first - len(t), 0) : first]) == t for t in self._longer)
            note(position, amount * unit + (1 if longer and unit >= 1 else 0))
        return found

    def _amount(self, words: Sequence[str], unit_at: int) -> tuple[float | None, int]:
        """The number before a unit ("3", "three", "a couple of") and where it starts."""
        before = unit_at - 1
        if before < 0:
            return None, unit_at
        word = words[before]
        if word == "of" and before >= 1 and words[before - 1] in self._numbers:
            before -= 1
            word = words[before]
        if word.replace(".", "", 1).isdigit():
            return float(word), before
        if word in self._numbers:
            if before >= 1 and words[before - 1] in ("a", "an") and word != "a":
                return self._numbers[word], before - 1
            return self._numbers[word], before
        if words[unit_at].endswith("s"):
            # "for days", "for weeks": at least two of them.
            return 2.0, unit_at
        return None, unit_at


def _negated(occurrence: Occurrence) -> Occurrence:
    return Occurrence(
        concept=occurrence.concept,
        kind=occurrence.kind,
        start=occurrence.start,
        end=occurrence.end,
        sentence=occurrence.sentence,
        text=occurrence.text,
        corrected=occurrence.corrected,
        negated=True,
    )


def _implications(lexicon: Lexicon, concept_id: str) -> frozenset[str]:
    """A concept and what it implies, and so on."""
    seen: set[str] = set()
    stack = [concept_id]
    while stack:
        current = stack.pop()
        if current not in seen:
            seen.add(current)
            stack.extend(lexicon.concepts[current].implies)
    return frozenset(seen)
