"""Loading the triage data files, with every problem reported by file, location and line.

The files live beside this module: lexicon.yaml (what the triage reads), lexicon-ur.yaml (its
Urdu script and Roman Urdu words, merged into the concepts of lexicon.yaml), words.yaml (real
words never corrected), rules.yaml (the policy's symptom table, the same in every language) and
answers.yaml (what it says), with answers-ur.yaml (Urdu script) and answers-ur-Latn.yaml
(Roman Urdu) saying the same in the patient's language. Each is validated on its own, then
against the others; all problems are collected before anything is raised, so whoever edits the
wording sees every mistake at once.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from content.const import ADVICE_TOPICS, SYMPTOM_TOPICS
from content.triage.schema import (
    TOPIC_KINDS,
    Answers,
    ConceptKind,
    Lexicon,
    LexiconAddition,
    Rules,
    Words,
    parse_phrase,
    template_fields,
)
from content.triage.script import fold_urdu
from content.triage.verdict import Level

DATA_DIR = Path(__file__).resolve().parent
LEXICON, WORDS, RULES, ANSWERS = "lexicon.yaml", "words.yaml", "rules.yaml", "answers.yaml"
LEXICON_UR = "lexicon-ur.yaml"
# The answer files by language (BCP 47 tags, as the bot stores a patient's language).
LANGUAGES = {"en": ANSWERS, "ur": "answers-ur.yaml", "ur-Latn": "answers-ur-Latn.yaml"}
DEFAULT_LANGUAGE = "en"
FILES = (LEXICON, WORDS, RULES, ANSWERS, LEXICON_UR, LANGUAGES["ur"], LANGUAGES["ur-Latn"])

Loc = tuple[str | int, ...]
# libyaml's loader when PyYAML has it: the same nodes and marks, several times faster.
_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_Model = TypeVar("_Model", bound=BaseModel)

# Which placeholders each kind of template may use.
_FRAME_FIELDS = {"text", "because", "contact_line", "day"}
_DAY = {"day"}
_ADVICE_FIELDS = {"day", "answer", "from_day", "contact_line"}
_CLOSING_FIELDS = {"contact_line", "day"}
# Before the session there is no day of healing to speak of: no {day}, no {from_day}.
_BEFORE_FRAME_FIELDS = {"text", "contact_line"}
_BEFORE_ADVICE_FIELDS = {"answer", "before", "contact_line"}


@dataclass(frozen=True)
class DataProblem:
    """One problem in a triage data file: which file, which line (1-based), where, and what."""

    path: Path
    line: int | None
    location: str
    message: str

    def format(self) -> str:
        """The problem as one line: ``path:line: location: message``."""
        where = f"{self.path}:{self.line}" if self.line is not None else str(self.path)
        return f"{where}: {self.location}: {self.message}"


class TriageDataError(Exception):
    """Triage data that cannot be used, with every problem found in it."""

    def __init__(self, problems: Iterable[DataProblem]) -> None:
        """Record the problems; the message lists them one per line."""
        self.problems = list(problems)
        count = len(self.problems)
        lines = "\n".join(p.format() for p in self.problems)
        super().__init__(f"{count} problem{'s' if count != 1 else ''} in the triage data:\n{lines}")


@dataclass(frozen=True)
class TriageData:
    """The validated data files; ``answers`` is English, ``translations`` the other languages."""

    lexicon: Lexicon
    words: Words
    rules: Rules
    answers: Answers
    directory: Path
    translations: dict[str, Answers] = dataclasses.field(default_factory=dict)

    def answers_in(self, lang: str) -> Answers:
        """The answers in ``lang`` (English for a language we have no answers in)."""
        return self.translations.get(lang, self.answers)


@dataclass
class _File:
    path: Path
    root: yaml.Node | None = None
    data: Any = None

    def problem(self, loc: Loc, message: str) -> DataProblem:
        location, line = locate(self.root, loc) if self.root is not None else ("file", None)
        return DataProblem(self.path, line, location, message)


def data_files(directory: Path = DATA_DIR) -> list[Path]:
    """The paths of the data files in ``directory``."""
    return [directory / name for name in FILES]


def load_data(directory: Path = DATA_DIR) -> TriageData:
    """Read and validate the data files of ``directory``.

    Raises:
        TriageDataError: a file is missing, is not YAML, or does not validate; ``problems``
            lists every problem with its file and line.
    """
    problems: list[DataProblem] = []
    files = {name: _File(directory / name) for name in FILES}
    for file in files.values():
        problems += _read(file)
    addition = _validate(files[LEXICON_UR], LexiconAddition, problems)
    if addition is not None and files[LEXICON].root is not None:
        unknown = sorted(set(addition.concepts) - set(files[LEXICON].data.get("concepts", {})))
        for cid in unknown:
            if isinstance(addition.concepts[cid], tuple):
                problems.append(files[LEXICON_UR].problem(("concepts", cid), "unknown concept"))
        if not unknown or all(not isinstance(addition.concepts[c], tuple) for c in unknown):
            files[LEXICON].data = merge_lexicon(files[LEXICON].data, addition)
    lexicon = _validate(files[LEXICON], Lexicon, problems)
    words = _validate(files[WORDS], Words, problems)
    rules = _validate(files[RULES], Rules, problems)
    answers = _validate(files[ANSWERS], Answers, problems)
    translations = {
        lang: _validate(files[name], Answers, problems)
        for lang, name in LANGUAGES.items()
        if name != ANSWERS
    }
    if lexicon is None or words is None or rules is None or answers is None:
        raise TriageDataError(problems)
    problems += _check_lexicon(lexicon, files[LEXICON])
    problems += _check_rules(rules, lexicon, answers, files[RULES])
    english = list(_check_answers(answers, rules, files[ANSWERS]))
    problems += english
    broken = {p.location for p in english}  # not compared again in every translation
    checked: dict[str, Answers] = {}
    for lang, translated in translations.items():
        if translated is not None:
            file = files[LANGUAGES[lang]]
            problems += _check_answers(translated, rules, file)
            problems += _check_translation(answers, translated, file, broken)
            checked[lang] = translated
    if problems:
        raise TriageDataError(problems)
    return TriageData(lexicon, words, rules, answers, directory, checked)


def merge_lexicon(data: Any, addition: LexiconAddition) -> dict[str, Any]:
    """lexicon.yaml's data with the Urdu and Roman Urdu of lexicon-ur.yaml added.

    Every Urdu word is folded to the form messages are read in (script.py), so the file may be
    typed with any keyboard. The ASCII words that lexicon.yaml does not use become ``roman``:
    the words whose spelling variants are read by their consonant skeleton.
    """
    merged = dict(data)
    concepts = {cid: dict(concept) for cid, concept in (data.get("concepts") or {}).items()}
    roman: set[str] = set()

    def fold(text: str) -> str:
        folded = fold_urdu(text)
        roman.update(
            w.removesuffix("*")
            for part in folded.split()
            for w in part.split("|")
            if w.isascii() and w.removesuffix("*").isalpha()
        )
        return folded

    for cid, value in addition.concepts.items():
        if isinstance(value, tuple):
            phrases = list(concepts[cid].get("phrases") or [])
            concepts[cid]["phrases"] = phrases + [fold(p) for p in value]
        else:
            new = value.model_dump(exclude_defaults=True, mode="json")
            new["phrases"] = [fold(p) for p in value.phrases]
            concepts[cid] = new
    merged["concepts"] = concepts
    merged["replace"] = {
        **(data.get("replace") or {}),
        **{fold(k): fold(v) for k, v in addition.replace.items()},
    }
    for key in ("negation_fillers", "negation_lists"):
        merged[key] = [*(data.get(key) or []), *(fold(w) for w in getattr(addition, key))]
    durations = dict(data.get("durations") or {})
    for key, value in addition.durations.model_dump(exclude_defaults=True).items():
        if isinstance(value, dict):
            durations[key] = {
                **(durations.get(key) or {}),
                **{fold(k): v for k, v in value.items()},
            }
        else:
            durations[key] = [*(durations.get(key) or []), *(fold(w) for w in value)]
    merged["durations"] = durations
    english = {
        w.removesuffix("*")
        for concept in (data.get("concepts") or {}).values()
        for phrase in concept.get("phrases") or ()
        for part in str(phrase).split()
        for w in part.split("|")
    }
    merged["roman"] = sorted(roman - english)
    return merged


def _check_translation(
    english: Answers, translated: Answers, file: _File, broken: set[str]
) -> Iterator[DataProblem]:
    """A translation says everything the English says, with the same placeholders.

    ``broken`` are the locations of English texts that are wrong themselves (reported once).
    """

    def walk(en: Any, other: Any, loc: Loc) -> Iterator[DataProblem]:
        dotted = ".".join(map(str, loc))
        if any(dotted == b or dotted.startswith(b + ".") for b in broken):
            return
        if isinstance(en, dict):
            for key, value in en.items():
                if value is None:
                    continue
                if not isinstance(other, dict) or other.get(key) is None:
                    yield file.problem(loc, f"missing {'.'.join(map(str, (*loc, key)))}")
                else:
                    yield from walk(value, other[key], (*loc, key))
        elif isinstance(en, str) and isinstance(other, str):
            try:
                same = template_fields(en) == template_fields(other)
            except ValueError:
                return  # reported by _check_answers
            if not same:
                yield file.problem(loc, "the placeholders differ from answers.yaml")

    yield from walk(english.model_dump(mode="json"), translated.model_dump(mode="json"), ())


def _read(file: _File) -> list[DataProblem]:
    try:
        text = file.path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return [DataProblem(file.path, None, "file", f"cannot read the file: {exc}")]
    loader = _Loader(text)
    try:
        file.root = loader.get_single_node()
        file.data = loader.construct_document(file.root) if file.root is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        message = f"{exc.context}: {exc.problem}" if exc.context else str(exc.problem)
        return [DataProblem(file.path, line, "yaml", message)]
    except yaml.YAMLError as exc:
        return [DataProblem(file.path, None, "yaml", str(exc))]
    finally:
        loader.dispose()
    if file.root is None:
        return [DataProblem(file.path, None, "file", "the file is empty")]
    return []


def _validate(file: _File, model: type[_Model], problems: list[DataProblem]) -> _Model | None:
    if file.root is None:
        return None
    try:
        return model.model_validate(file.data)
    except ValidationError as exc:
        for error in exc.errors():
            message = error["msg"].removeprefix("Value error, ")
            if error["type"] == "extra_forbidden":
                message = "unknown key"
            elif error["type"] == "missing":
                message = "missing required key"
            elif isinstance(error.get("input"), str | int | float | bool):
                message = f"{message} (got {error['input']!r})"
            problems.append(file.problem(error["loc"], message))
        return None


def _check_lexicon(lexicon: Lexicon, file: _File) -> Iterator[DataProblem]:
    concepts = lexicon.concepts
    owner: dict[tuple[str, ...], str] = {}
    topics_seen: set[str] = set()
    for cid, concept in concepts.items():
        for index, ref in enumerate(concept.implies):
            if ref not in concepts:
                yield file.problem(("concepts", cid, "implies", index), f"unknown concept {ref!r}")
        for field in ("negated_as", "before_symptom"):
            ref = getattr(concept, field)
            if ref is not None and ref not in concepts:
                yield file.problem(("concepts", cid, field), f"unknown concept {ref!r}")
        if concept.kind in TOPIC_KINDS:
            topic = concept.topic or cid
            known = SYMPTOM_TOPICS if concept.kind is ConceptKind.SYMPTOM else ADVICE_TOPICS
            if topic not in known:
                where: Loc = ("concepts", cid, "topic") if concept.topic else ("concepts", cid)
                yield file.problem(
                    where, f"{topic!r} is not a {concept.kind.value} topic of the policy"
                )
            topics_seen.add(topic)
        for index, phrase in enumerate(concept.phrases):
            words = parse_phrase(phrase)
            if words in owner:
                yield file.problem(
                    ("concepts", cid, "phrases", index),
                    f"{phrase!r} is also a phrase of {owner[words]!r}; a phrase has one meaning",
                )
            else:
                owner[words] = cid
    for topic in sorted((SYMPTOM_TOPICS | ADVICE_TOPICS) - topics_seen):
        yield file.problem(("concepts",), f"no concept says the policy topic {topic!r}")


def _check_rules(
    rules: Rules, lexicon: Lexicon, answers: Answers, file: _File
) -> Iterator[DataProblem]:
    names = set(lexicon.concepts) | SYMPTOM_TOPICS | ADVICE_TOPICS

    def refs(items: tuple[str, ...], loc: Loc) -> Iterator[DataProblem]:
        for index, item in enumerate(items):
            for part in item.split("|"):
                if part not in names:
                    yield file.problem((*loc, index), f"unknown concept {part!r}")

    for topic in sorted(SYMPTOM_TOPICS - set(rules.symptoms)):
        yield file.problem(("symptoms",), f"no rule for the symptom topic {topic!r}")
    for topic, rule in rules.symptoms.items():
        if topic not in SYMPTOM_TOPICS:
            yield file.problem(("symptoms", topic), f"{topic!r} is not a symptom topic")
            continue
        for index, esc in enumerate(rule.escalate):
            loc: Loc = ("symptoms", topic, "escalate", index)
            yield from refs(esc.with_, (*loc, "with"))
            yield from refs(esc.via, (*loc, "via"))
            if esc.topic is not None and esc.topic not in SYMPTOM_TOPICS:
                yield file.problem((*loc, "topic"), f"{esc.topic!r} is not a symptom topic")
            if esc.because is not None and esc.because not in answers.because:
                yield file.problem((*loc, "because"), f"answers.yaml has no reason {esc.because!r}")
        if rule.otherwise is not None and rule.otherwise not in SYMPTOM_TOPICS:
            yield file.problem(
                ("symptoms", topic, "otherwise"), f"{rule.otherwise!r} is not a symptom topic"
            )
        for index, clarify in enumerate(rule.clarify):
            loc = ("symptoms", topic, "clarify", index)
            if clarify.ask not in rules.questions:
                yield file.problem((*loc, "ask"), f"no question {clarify.ask!r} in 'questions'")
            yield from refs(clarify.with_, (*loc, "with"))
    cycle = _rereading_cycle(rules)
    if cycle:
        yield file.problem(
            ("symptoms", cycle[0]), f"topics re-read each other: {' -> '.join(cycle)}"
        )
    for qid, outcome in rules.questions.items():
        if outcome.topic not in SYMPTOM_TOPICS:
            yield file.problem(("questions", qid, "topic"), f"{outcome.topic!r} is not a symptom")
        if outcome.because is not None and outcome.because not in answers.because:
            yield file.problem(
                ("questions", qid, "because"), f"answers.yaml has no reason {outcome.because!r}"
            )
        if qid not in answers.questions:
            yield file.problem(("questions", qid), "answers.yaml has no wording for this question")
    for key in ("priority", "last"):
        for index, topic in enumerate(getattr(rules, key)):
            if topic not in SYMPTOM_TOPICS:
                yield file.problem((key, index), f"{topic!r} is not a symptom topic")
    yield from refs(rules.settling, ("settling",))


def _rereading_cycle(rules: Rules) -> list[str]:
    """A chain of topics that re-read each other in a circle, if there is one."""
    edges: dict[str, set[str]] = {}
    for topic, rule in rules.symptoms.items():
        targets = {e.topic for e in rule.escalate if e.level is None and e.topic is not None}
        if rule.otherwise is not None:
            targets.add(rule.otherwise)
        edges[topic] = targets

    def walk(topic: str, path: list[str]) -> list[str]:
        if topic in path:
            return [*path[path.index(topic) :], topic]
        for target in sorted(edges.get(topic, ())):
            found = walk(target, [*path, topic])
            if found:
                return found
        return []

    for start in sorted(edges):
        found = walk(start, [])
        if found:
            return found
    return []


def reachable_levels(rules: Rules) -> dict[str, set[Level]]:
    """Every (topic, level) a verdict can have, by topic: each needs an answer text."""
    reach: dict[str, set[Level]] = {}
    for topic, rule in rules.symptoms.items():
        for window in rule.days:
            reach.setdefault(topic, set()).add(window.level)
        for esc in rule.escalate:
            if esc.level is not None:
                reach.setdefault(esc.topic or topic, set()).add(esc.level)
    for outcome in rules.questions.values():
        reach.setdefault(outcome.topic, set()).add(outcome.level)
    return reach


def _check_answers(answers: Answers, rules: Rules, file: _File) -> Iterator[DataProblem]:
    def fields(template: str, allowed: set[str], loc: Loc) -> Iterator[DataProblem]:
        try:
            used = template_fields(template)
        except ValueError as exc:
            yield file.problem(loc, str(exc))
            return
        extra = sorted(used - allowed)
        if extra:
            yield file.problem(
                loc,
                f"unknown placeholder {', '.join('{' + e + '}' for e in extra)}; "
                f"this text may use {', '.join('{' + a + '}' for a in sorted(allowed)) or 'none'}",
            )

    yield from fields(answers.contact.known, {"contact"}, ("contact", "known"))
    yield from fields(answers.contact.unknown, set(), ("contact", "unknown"))
    for level, frame in answers.frames.items():
        yield from fields(frame, _FRAME_FIELDS, ("frames", level.value))
    for key, text in answers.because.items():
        yield from fields(text, _DAY, ("because", key))
    for topic, topic_texts in answers.symptoms.items():
        if topic not in SYMPTOM_TOPICS:
            yield file.problem(("symptoms", topic), f"{topic!r} is not a symptom topic")
        for key, text in topic_texts.model_dump(exclude_none=True).items():
            yield from fields(text, _DAY, ("symptoms", topic, key))
    for key, text in answers.advice.model_dump().items():
        yield from fields(text, _ADVICE_FIELDS, ("advice", key))
    yield from fields(answers.unknown, _CLOSING_FIELDS, ("unknown",))
    yield from fields(answers.settled, _CLOSING_FIELDS, ("settled",))
    before = answers.before_session
    yield from fields(before.frame, _BEFORE_FRAME_FIELDS, ("before_session", "frame"))
    yield from fields(before.symptom, set(), ("before_session", "symptom"))
    for topic, text in before.symptoms.items():
        where: Loc = ("before_session", "symptoms", topic)
        if topic not in SYMPTOM_TOPICS:
            yield file.problem(where, f"{topic!r} is not a symptom topic")
        yield from fields(text, set(), where)
    yield from fields(before.advice, _BEFORE_ADVICE_FIELDS, ("before_session", "advice"))
    yield from fields(before.preparing, {"advice"}, ("before_session", "preparing"))
    yield from fields(before.settled, {"contact_line"}, ("before_session", "settled"))
    for qid, text in answers.questions.items():
        yield from fields(text, set(), ("questions", qid))
        if qid not in rules.questions:
            yield file.problem(("questions", qid), f"rules.yaml asks no question {qid!r}")
    for topic, levels in sorted(reachable_levels(rules).items()):
        texts = answers.symptoms.get(topic)
        for level in sorted(levels, key=list(Level).index):
            if texts is None or texts.for_level(level) is None:
                loc: Loc = ("symptoms", topic) if texts is not None else ("symptoms",)
                yield file.problem(
                    loc, f"no {level.value!r} text for {topic!r}, which rules.yaml can reach"
                )


def locate(root: yaml.Node, loc: Loc) -> tuple[str, int | None]:
    """A readable path for ``loc`` ("concepts.redness.phrases[3]") and the line it starts on."""
    node: yaml.Node | None = root
    line: int | None = root.start_mark.line + 1
    text = ""
    for part in loc:
        child: yaml.Node | None = None
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode) and key.value == str(part):
                    child, line = value, key.start_mark.line + 1
                    break
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if part < len(node.value):
                child = node.value[part]
                line = child.start_mark.line + 1
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
        node = child
    return text or "file", line
