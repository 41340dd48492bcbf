"""The triage data files: validated at load with every problem located, and in line with the
policy (shared/triage/POLICY.md) and the care plan."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from content.const import ADVICE_TOPICS, SYMPTOM_TOPICS
from content.plan import CarePlan
from content.triage import Engine, Level, TriageDataError, load_engine
from content.triage.data import DATA_DIR, FILES

POLICY = Path(__file__).resolve().parents[4] / "shared" / "triage" / "POLICY.md"


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """A copy of the packaged data files to break."""
    for name in FILES:
        shutil.copy(DATA_DIR / name, tmp_path / name)
    return tmp_path


def edit(path: Path, old: str, new: str) -> None:
    """Replace ``old`` (which must be there once) with ``new`` in a data file."""
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{old!r} is not once in {path.name}"
    path.write_text(text.replace(old, new), encoding="utf-8")


def problems_of(directory: Path) -> list[str]:
    """The formatted problems load_engine reports for ``directory``."""
    with pytest.raises(TriageDataError) as caught:
        load_engine(directory)
    return [p.format() for p in caught.value.problems]


def test_the_packaged_data_loads_once(engine: Engine) -> None:
    """load_engine() validates once and then returns the same engine."""
    assert load_engine() is engine
    assert load_engine(DATA_DIR) is engine


def test_an_edited_file_is_read_again(data_dir: Path, plan: CarePlan) -> None:
    """The cache is keyed on the files' modification: a clinic's new wording is picked up."""
    first = load_engine(data_dir)
    assert load_engine(data_dir) is first
    edit(data_dir / "answers.yaml", "Your clinic: {contact}.", "Call us on {contact}!")
    second = load_engine(data_dir)
    assert second is not first
    verdict = second.triage("I have a fever", 1, plan, contact="0300 1234567")
    assert "Call us on 0300 1234567!" in verdict.answer


def test_a_yaml_error_points_at_its_line(data_dir: Path) -> None:
    """Broken YAML is reported with the file and the line of the problem."""
    edit(data_dir / "rules.yaml", "  redness:\n    days:", "  redness:\n    days: [")
    [problem] = problems_of(data_dir)
    assert re.match(rf"{re.escape(str(data_dir / 'rules.yaml'))}:\d+: yaml: ", problem)


def test_every_problem_of_every_file_is_listed_at_once(data_dir: Path) -> None:
    """An unknown concept, an unknown placeholder and a bad phrase: three files, three lines."""
    edit(
        data_dir / "lexicon.yaml",
        "    implies: [redness, worsening]",
        "    implies: [redness, wrose]",
    )
    edit(data_dir / "rules.yaml", "      - {with: [streaks], level: urgent, because: streaks}\n"
         "      - {with: [warmth", "      - {with: [streak], level: urgent, because: streaks}\n"
         "      - {with: [warmth")  # fmt: skip
    edit(data_dir / "answers.yaml", "Your clinic: {contact}.", "Your clinic: {phone}.")
    problems = problems_of(data_dir)
    assert len(problems) == 3, problems
    lexicon, rules, answers = sorted(
        problems, key=lambda p: FILES.index(Path(p.split(":")[0]).name)
    )
    assert (
        "lexicon.yaml:" in lexicon
        and "concepts.redder.implies[1]: unknown concept 'wrose'" in lexicon
    )
    assert "symptoms.redness.escalate[4].with[0]: unknown concept 'streak'" in rules
    assert "contact.known: unknown placeholder {phone}" in answers
    # Each names its line.
    assert all(re.match(r".+\.yaml:\d+: ", p) for p in problems)


def test_a_level_the_rules_can_reach_needs_an_answer(data_dir: Path) -> None:
    """Severe pain is clinic: without a clinic text for pain, some verdict would be empty."""
    edit(data_dir / "answers.yaml", '  pain:\n    clinic: "', '  pain:\n    urgent: "')
    [problem] = problems_of(data_dir)
    assert "answers.yaml" in problem and "symptoms.pain: no 'clinic' text for 'pain'" in problem


def test_an_unknown_key_is_reported_with_its_path(data_dir: Path) -> None:
    """A key the model does not know is named where it is."""
    edit(data_dir / "answers.yaml", "  swelling:\n    normal:", "  swelling:\n    unused:")
    [problem] = problems_of(data_dir)
    assert "symptoms.swelling.unused: unknown key" in problem


def test_day_windows_must_follow_each_other(data_dir: Path) -> None:
    """A gap between windows leaves days without a level."""
    edit(
        data_dir / "rules.yaml",
        "      - {level: watch, from: 4, to: 6}",
        "      - {level: watch, from: 5, to: 6}",
    )
    [problem] = problems_of(data_dir)
    assert "symptoms.redness.days: window 1 starts on day 5; expected day 4" in problem


def test_a_phrase_has_one_meaning(data_dir: Path) -> None:
    """The same phrase under two concepts is ambiguous, and refused."""
    edit(data_dir / "lexicon.yaml", "    phrases: [hives, hive,", "    phrases: [hives, hive, pus,")
    [problem] = problems_of(data_dir)
    assert "concepts.allergy.phrases[2]: 'pus' is also a phrase of 'infection'" in problem


@pytest.mark.parametrize(
    ("phrase", "message"),
    [
        ("can't breathe", "not a lower-case word"),
        ("hive ..", "a '..' gap must sit between two words"),
        ("hi* there", "a prefix needs at least 3 letters"),
    ],
)
def test_phrase_syntax_is_checked(data_dir: Path, phrase: str, message: str) -> None:
    """Contractions, a gap at the end, or a too short prefix are reported where they are."""
    edit(data_dir / "lexicon.yaml", "phrases: [hives, hive,", f'phrases: [hives, "{phrase}",')
    [problem] = problems_of(data_dir)
    assert "concepts.allergy.phrases" in problem and message in problem


def test_a_missing_file_is_named(data_dir: Path) -> None:
    """Each missing file is a problem of its own."""
    (data_dir / "words.yaml").unlink()
    [problem] = problems_of(data_dir)
    assert problem.startswith(str(data_dir / "words.yaml")) and "cannot read the file" in problem


def test_the_error_message_lists_the_problems(data_dir: Path) -> None:
    """str(error) is a summary line and then one ``path:line: where: what`` per problem."""
    edit(data_dir / "answers.yaml", "Your clinic: {contact}.", "Your clinic: {phone}.")
    with pytest.raises(TriageDataError) as caught:
        load_engine(data_dir)
    lines = str(caught.value).splitlines()
    assert lines[0] == "1 problem in the triage data:"
    assert lines[1].startswith(f"{data_dir / 'answers.yaml'}:")


def test_every_topic_is_named_and_ruled(engine: Engine) -> None:
    """Every policy topic has phrases; every symptom topic has a rule."""
    concepts = engine.data.lexicon.concepts
    named = {c.topic or cid for cid, c in concepts.items() if c.kind.value in ("symptom", "advice")}
    assert named == SYMPTOM_TOPICS | ADVICE_TOPICS
    assert set(engine.rules.symptoms) == SYMPTOM_TOPICS


def test_protected_words_are_not_lexicon_words(engine: Engine) -> None:
    """A protected word that the lexicon uses would protect nothing."""
    protected = set(engine.data.words.known)
    assert protected.isdisjoint(engine.reader.normalizer.vocabulary)


def test_what_a_phase_expects_is_normal_on_each_of_its_days(engine: Engine, plan: CarePlan) -> None:
    """The plan's ``expected`` symptoms and the triage rules agree, day by day."""
    for phase in plan.phases:
        last = phase.end_day if phase.end_day is not None else phase.start_day + 30
        for topic in phase.expected:
            rule = engine.rules.symptoms[topic]
            off = [
                d
                for d in range(max(phase.start_day, 0), last + 1)
                if rule.level_on(d) is not Level.NORMAL
            ]
            assert not off, f"{topic} is expected in {phase.id} but not normal on days {off}"


def _policy_windows() -> dict[str, dict[int, str]]:
    """For each symptom of POLICY.md's table, the level it gives each day it names."""
    text = POLICY.read_text(encoding="utf-8")
    section = text.split("## Symptoms by day", 1)[1].split("\n## ", 1)[0]
    table: dict[str, dict[int, str]] = {}
    for row in section.splitlines():
        if not row.startswith("| `"):
            continue
        cells = [c.strip() for c in row.strip().strip("|").split("|")]
        topic = re.match(r"`([a-z_]+)`", cells[0])
        assert topic
        days: dict[int, str] = {}
        for level, cell in zip(("normal", "watch", "clinic", "urgent"), cells[1:], strict=True):
            if cell.startswith("any day"):
                days.update(dict.fromkeys(range(61), level))
            # "getting worse after day 2" is a course, not a window.
            for lo, hi, on in re.findall(r"(?<!after )\bdays? (\d+)(?:-(\d+))?( on)?", cell):
                end = 60 if on else int(hi or lo)
                days.update(dict.fromkeys(range(int(lo), end + 1), level))
        table[topic.group(1)] = days
    return table


def test_the_day_windows_are_the_policys(engine: Engine) -> None:
    """rules.yaml gives each symptom, on each day 0-60, the level POLICY.md's table gives it."""
    if not POLICY.is_file():
        pytest.skip(f"the triage policy is not at {POLICY}")
    policy = _policy_windows()
    assert set(policy) == SYMPTOM_TOPICS
    for topic, days in policy.items():
        rule = engine.rules.symptoms[topic]
        if not rule.days:  # pain: by severity and course, not by day (checked in test_safety)
            continue
        wrong = {d: (lv, rule.level_on(d)) for d, lv in days.items() if rule.level_on(d) != lv}
        assert not wrong, f"{topic}: policy vs rules {wrong}"


def test_the_protected_words_are_up_to_date() -> None:
    """words.yaml is what known_words.py makes of the word list (where that list is installed)."""
    from tests.content.triage.known_words import WORD_LIST, protected_words, render

    if not WORD_LIST.is_file():
        pytest.skip(f"no word list at {WORD_LIST} (apt-get install wamerican-small)")
    words = protected_words(WORD_LIST.read_text(encoding="utf-8").split())
    current = (DATA_DIR / "words.yaml").read_text(encoding="utf-8")
    assert current == render(words), "run: python -m tests.content.triage.known_words"
