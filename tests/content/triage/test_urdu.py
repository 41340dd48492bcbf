"""Urdu script, Roman Urdu and code-switching: read as safely as English, answered in the
patient's language (issue 13).

The red flags are written per urgent topic of POLICY.md, once in Roman Urdu and once in Urdu
script, in our own words; cases-ur.jsonl holds our labelled Urdu, Roman Urdu and mixed cases.
"""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app
from content.const import ADVICE_TOPICS, SYMPTOM_TOPICS
from content.plan import CarePlan
from content.triage import (
    LANGUAGES,
    Engine,
    LanguageError,
    Level,
    TriageDataError,
    load_engine,
    resolve_clarification,
    screen,
    triage,
)
from content.triage.data import DATA_DIR, FILES
from content.triage.script import fold_urdu, has_urdu_script, roman_key
from tests.content.triage.scoring import load_cases, score, topics

CASES_UR = load_cases(Path(__file__).resolve().parent / "cases-ur.jsonl")
runner = CliRunner()


def words(engine: Engine, text: str) -> list[str]:
    """The words the engine reads in ``text``."""
    return [t.word for t in engine.read(text).tokens]


# ---------------------------------------------------------------- reading the script


@pytest.mark.parametrize(
    ("typed", "canonical"),
    [
        ("كيا", "کیا"),  # Arabic kaf and yeh
        ("چهره", "چہرہ"),  # Arabic heh for heh goal
        ("چہرە", "چہرہ"),  # ae
        ("سُوجن", "سوجن"),  # a vowel mark
        ("سو\u200cجن", "سوجن"),  # a zero-width non-joiner
        ("بخار\u200d", "بخار"),  # a zero-width joiner
        ("گئے", "گیے"),  # hamza on yeh: one letter with yeh
        ("۲ دن", "2 دن"),  # Urdu-Indic digits
        ("٣ دن", "3 دن"),  # Arabic-Indic digits
        ("آنکھ", "انکہ"),  # madda and do-chashmi heh
    ],
)
def test_urdu_script_is_folded_to_one_form(typed: str, canonical: str) -> None:
    """Every keyboard's letters, marks and digits meet in one form."""
    assert fold_urdu(typed) == fold_urdu(canonical)


def test_folded_words_are_read_whatever_the_keyboard(engine: Engine) -> None:
    """Arabic yeh/kaf, heh forms, vowel marks and joiners do not hide a red flag."""
    plain = words(engine, "ہونٹ سوج گئے ہیں")
    assert words(engine, "هونٹ سُوج گئے هیں") == plain
    assert words(engine, "ہو\u200cنٹ سوج گئے ہیں") == plain


@pytest.mark.parametrize(
    "variants",
    [
        ("bohat", "bahut", "buhat", "bohot"),
        ("sojan", "soojan", "sujan", "sujjan"),
        ("bukhar", "bukhaar", "bokhar"),
        ("theek", "thik", "theeq"),
        ("kharish", "khaarish", "khareesh"),
        ("laali", "laaly"),
    ],
)
def test_roman_urdu_spellings_share_a_skeleton(variants: tuple[str, ...]) -> None:
    """Free Roman Urdu spellings of one word have one consonant skeleton."""
    keys = {roman_key(v) for v in variants}
    assert len(keys) == 1 and None not in keys


@pytest.mark.parametrize(
    ("typed", "read_as"),
    [
        ("buhot", "bohat"),
        ("bohaat", "bohat"),
        ("soojjan", "sojan"),
        ("bokhar", "bukhar"),
        ("khareesh", "kharish"),
        ("laaly", "laali"),
    ],
)
def test_an_unlisted_roman_urdu_spelling_is_read_by_its_skeleton(
    engine: Engine, typed: str, read_as: str
) -> None:
    """A spelling we never listed is read as a lexicon word with the same skeleton."""
    [word] = words(engine, typed)
    assert word != typed
    assert word in engine.reader.normalizer.vocabulary
    assert roman_key(word) == roman_key(read_as)


@pytest.mark.parametrize(
    ("typed", "read_as"),
    [("bht", "bohat"), ("lal", "laal"), ("nai", "nahi"), ("nhi", "nahi"), ("thk", "theek")],
)
def test_short_roman_urdu_forms_are_replaced(engine: Engine, typed: str, read_as: str) -> None:
    """Forms too short for a skeleton ("bht", "nhi") are listed in lexicon-ur.yaml."""
    assert words(engine, typed) == [engine.reader.normalizer.canonical(read_as)]


def test_phrases_match_every_spelling_of_their_words(engine: Engine, plan: CarePlan) -> None:
    """A phrase written "chhilke .. utaar" matches "chilke ... utaar": one spelling each."""
    for spelling in ("chhilke", "chilke", "chhilkay"):
        verdict = engine.triage(f"kya {spelling} utaar sakti hoon?", 4, plan, lang="ur-Latn")
        assert (verdict.topic, verdict.allowed) == ("touching", False), spelling


def test_a_skeleton_two_meanings_share_is_not_guessed(engine: Engine) -> None:
    """ "nahi" (no) and "naha" (bathe) share a skeleton: a third spelling is left alone."""
    assert roman_key("nahe") == roman_key("nahi") == roman_key("naha")
    assert words(engine, "nahe") not in (["nahi"], ["naha"])


@pytest.mark.parametrize(
    ("typed", "meant"),
    [("buhkar", "bukhar"), ("hnoth", "honth"), ("mushikl", "mushkil"), ("زیداہ", "زیادہ")],
)
def test_two_letters_swapped_in_urdu_are_repaired(engine: Engine, typed: str, meant: str) -> None:
    """A slip of the fingers in a Roman Urdu or Urdu script word is read as the word."""
    normalizer = engine.reader.normalizer
    assert words(engine, typed) == [normalizer.canonical(fold_urdu(meant))]


@pytest.mark.parametrize(
    ("text", "level"),
    [
        ("hnoth sooj gaye hain aur saans lene mein mushikl ho rahi hai", Level.URGENT),
        ("peep bhi hai aur kal raat se buhkar bhi hai", Level.URGENT),
        ("خون بہت زیداہ بہہ رہا ہے", Level.URGENT),
    ],
)
def test_a_red_flag_with_a_typo_is_still_urgent(
    engine: Engine, plan: CarePlan, text: str, level: Level
) -> None:
    """Typos do not hide a red flag in Urdu or Roman Urdu."""
    assert engine.triage(text, 1, plan).level is level


@pytest.mark.parametrize(("typed", "meant"), [("finsih", "finish"), ("sauan", "sauna")])
def test_an_english_typo_stays_english(engine: Engine, typed: str, meant: str) -> None:
    """ "finsih" shares a skeleton with the Roman "phunsi" (pimple) but is a typo of "finish"."""
    assert words(engine, typed) == [meant]


@pytest.mark.parametrize("word", ["here", "garden", "door", "hinge", "value"])
def test_english_words_are_not_read_as_roman_urdu(engine: Engine, word: str) -> None:
    """A real English word whose skeleton is a Roman Urdu word's ("here", "hara": green) is
    left alone: words.yaml protects it."""
    assert words(engine, word) == [word]


def test_english_words_near_roman_urdu_do_not_raise_the_level(
    engine: Engine, plan: CarePlan
) -> None:
    """ "A few bumps here" is not yellow bumps; "in the garden" is not the neck (spreading)."""
    assert engine.triage("a few small bumps here", 3, plan).level is Level.WATCH
    assert engine.triage("face is a bit red after the garden", 1, plan).level is Level.NORMAL


def test_script_guess_for_the_answer_language() -> None:
    """Urdu script is recognised; Roman Urdu is not told from English (no detector)."""
    assert has_urdu_script("مجھے بخار ہے")
    assert has_urdu_script("skin پر سرخی")
    assert not has_urdu_script("mujhe bukhar hai")


# ---------------------------------------------------------------- red flags in every language

RED_FLAGS = [
    # (topic of POLICY.md's urgent column, lang, day, message)
    ("redness", "ur-Latn", 2, "laali bohat tezi se phail rahi hai"),
    ("redness", "ur", 2, "سرخی بہت تیزی سے پھیل رہی ہے"),
    ("redness", "ur-Latn", 3, "gaal se laal lakeerein kaan ki taraf ja rahi hain"),
    ("redness", "ur", 3, "گال سے سرخ لکیریں پھیل رہی ہیں"),
    ("swelling", "ur-Latn", 1, "hont sooj gaye hain aur saans lene mein mushkil hai"),
    ("swelling", "ur", 1, "ہونٹ سوج گئے ہیں اور سانس لینے میں مشکل ہے"),
    ("swelling", "ur-Latn", 0, "zuban sooj rahi hai, nigalna mushkil ho gaya"),
    ("swelling", "ur", 0, "زبان سوج رہی ہے اور نگلنے میں مشکل ہے"),
    ("warmth", "ur-Latn", 2, "chehra garam hai aur bukhar bhi hai"),
    ("warmth", "ur", 2, "چہرہ گرم ہے اور بخار بھی ہے"),
    ("bleeding", "ur-Latn", 0, "khoon ruk nahi raha, dabane se bhi nahi ruka"),
    ("bleeding", "ur", 0, "خون دبانے کے بعد بھی نہیں رک رہا"),
    ("pain", "ur-Latn", 2, "aankh mein shadeed dard ho raha hai"),
    ("pain", "ur", 2, "آنکھ میں بہت درد ہے"),
    ("pain", "ur-Latn", 3, "dard ke saath bukhar bhi ho gaya hai"),
    ("pain", "ur", 3, "درد کے ساتھ بخار بھی ہے"),
    ("infection", "ur-Latn", 4, "peep nikal rahi hai aur bukhar bhi hai"),
    ("infection", "ur", 4, "پیپ نکل رہی ہے اور بخار بھی ہے"),
    ("fever", "ur-Latn", 1, "mujhe raat se bukhaar hai"),
    ("fever", "ur", 1, "مجھے رات سے بخار ہے"),
    ("fever", "ur-Latn", 2, "kapkapi lag rahi hai aur tabiyat kharab hai"),
    ("fever", "ur", 2, "کپکپی لگ رہی ہے اور طبیعت خراب ہے"),
    ("allergy", "ur-Latn", 1, "pitti nikli hai aur saans phool rahi hai"),
    ("allergy", "ur", 1, "پتی نکلی ہے اور سانس لینے میں تکلیف ہے"),
    ("allergy", "ur-Latn", 2, "kharish wale daane phail gaye aur aankhen sooj gayi hain"),
    ("allergy", "ur", 2, "خارش والے دانے پھیل گئے ہیں اور آنکھیں سوج گئی ہیں"),
    ("eye", "ur-Latn", 1, "serum aankh mein chala gaya aur nazar dhundli hai"),
    ("eye", "ur", 1, "سیرم آنکھ میں چلا گیا ہے اور نظر دھندلی ہے"),
    ("eye", "ur-Latn", 0, "aankhon mein jalan ho rahi hai"),
    ("eye", "ur", 0, "آنکھوں میں جلن ہو رہی ہے"),
]


@pytest.mark.parametrize(("topic", "lang", "day", "text"), RED_FLAGS)
def test_a_red_flag_is_urgent_and_escalated_in_urdu_and_roman_urdu(
    engine: Engine, plan: CarePlan, topic: str, lang: str, day: int, text: str
) -> None:
    """Each urgent sign of the policy, in each language: urgent, escalated, answered in it."""
    verdict = engine.triage(text, day, plan, lang=lang)
    assert verdict.level is Level.URGENT, (topic, verdict.topic, verdict.matched)
    assert verdict.escalate
    assert has_urdu_script(verdict.answer) is (lang == "ur")
    assert screen(text, day, plan, lang=lang, engine=engine) == verdict


@pytest.mark.parametrize(("topic", "lang", "day", "text"), RED_FLAGS)
def test_a_red_flag_is_urgent_before_the_session_too(
    engine: Engine, plan: CarePlan, topic: str, lang: str, day: int, text: str
) -> None:
    """Before the session an urgent sign is urgent as on any day."""
    del topic, day
    assert engine.triage(text, -2, plan, lang=lang).level is Level.URGENT


def test_every_urgent_topic_has_a_red_flag_in_each_language(engine: Engine) -> None:
    """Every symptom the rules can make urgent is tested in Roman Urdu and in Urdu script."""
    urgent_topics = {
        topic
        for topic, rule in engine.rules.symptoms.items()
        if any(w.level is Level.URGENT for w in rule.days)
        or any(e.level is Level.URGENT for e in rule.escalate)
    }
    covered = {(topic, lang) for topic, lang, _, _ in RED_FLAGS}
    assert {(t, lang) for t in urgent_topics for lang in ("ur", "ur-Latn")} <= covered


def test_the_issue_example_is_urgent(engine: Engine, plan: CarePlan) -> None:
    """Issue 13's patient is told to get care now."""
    text = "hont aur zuban soojh gaye hain aur saans lene mein mushkil ho rahi hai"
    assert engine.triage(text, 1, plan, lang="ur-Latn").level is Level.URGENT


# ---------------------------------------------------------------- negation and durations


@pytest.mark.parametrize(
    ("text", "day", "level"),
    [
        ("bukhar nahi hai, bas thori laali hai", 1, Level.NORMAL),
        ("bukhar ya peep kuch nahi, bas chehra laal hai", 1, Level.NORMAL),
        ("na bukhar hai na peep, sirf khaal utar rahi hai", 4, Level.NORMAL),
        ("koi bukhar nahi, sujan halki si hai", 1, Level.NORMAL),
        ("نہ بخار ہے نہ پیپ، بس جلد اتر رہی ہے", 4, Level.NORMAL),
        ("بخار نہیں ہے، بس ہلکی سرخی ہے", 1, Level.NORMAL),
        ("بخار کے بغیر ہلکی سرخی ہے", 1, Level.NORMAL),
        ("saans lene mein koi mushkil nahi, bas aankhen phooli hain", 1, Level.NORMAL),
        # A negated sign next to a real one: the real one still counts.
        ("peep nahi hai lekin bukhar hai", 3, Level.URGENT),
        ("پیپ نہیں ہے مگر بخار ہے", 3, Level.URGENT),
    ],
)
def test_urdu_negation(engine: Engine, plan: CarePlan, text: str, day: int, level: Level) -> None:
    """ "nahi", "na ... na", "koi ... nahi", "نہیں", "بغیر" negate what they reach, only that."""
    assert engine.triage(text, day, plan, lang="ur-Latn").level is level


@pytest.mark.parametrize(
    ("text", "day", "level"),
    [
        ("2 din se jalan ho rahi hai", 4, Level.CLINIC),
        ("teen din se laali hai", 1, Level.NORMAL),
        ("ek hafte se chehra laal hai", 2, Level.CLINIC),
        ("ایک ہفتے سے سوجن ہے", 2, Level.CLINIC),
        ("۳ ہفتوں سے جلد حساس ہے", 3, Level.CLINIC),
        ("do hafte pehle se daane nikal rahe hain", 3, Level.WATCH),
        ("teen hafton se daane nikal rahe hain", 3, Level.CLINIC),
    ],
)
def test_urdu_durations(engine: Engine, plan: CarePlan, text: str, day: int, level: Level) -> None:
    """ "2 din se", "ایک ہفتے سے": a symptom older than the registered day is read at its age."""
    assert engine.triage(text, day, plan).level is level


# ---------------------------------------------------------------- answers in the language


def test_the_same_verdict_in_each_language(engine: Engine, plan: CarePlan) -> None:
    """Level, topic and question are the language's own; only the words change."""
    text = "laali abhi bhi hai"
    verdicts = {lang: engine.triage(text, 5, plan, lang=lang) for lang in LANGUAGES}
    assert {(v.level, v.topic) for v in verdicts.values()} == {(Level.WATCH, "redness")}
    assert len({v.answer for v in verdicts.values()}) == 3
    assert has_urdu_script(verdicts["ur"].answer)
    assert not has_urdu_script(verdicts["ur-Latn"].answer)
    questions = {lang: v.clarify.question for lang, v in verdicts.items() if v.clarify}
    assert set(questions) == set(LANGUAGES)
    assert "peep" in questions["ur-Latn"] and "پیپ" in questions["ur"]


def test_english_stays_the_default(engine: Engine, plan: CarePlan) -> None:
    """Today's callers (no language) get the English answer."""
    text = "bukhar hai"
    assert (
        triage(text, 2, plan, engine=engine).answer
        == engine.triage(text, 2, plan, lang="en").answer
    )
    assert triage(text, 2, plan, engine=engine).answer.startswith("Please get medical care now")


def test_a_clarification_is_resolved_in_the_language(engine: Engine, plan: CarePlan) -> None:
    """A "yes" to the breathing question is urgent, answered in Urdu."""
    verdict = engine.triage("ہونٹ سوج گئے ہیں", 1, plan, lang="ur")
    assert verdict.clarify is not None and has_urdu_script(verdict.clarify.question)
    final = resolve_clarification(verdict, True, 1, plan, lang="ur", engine=engine)
    assert final.level is Level.URGENT and has_urdu_script(final.answer)


def test_the_clinic_contact_keeps_its_order_in_urdu(engine: Engine, plan: CarePlan) -> None:
    """The contact (Latin letters, a phone number) is isolated from the right-to-left text."""
    verdict = engine.triage("بخار ہے", 1, plan, contact="Glow Clinic\n+92 51 1234567", lang="ur")
    assert "\u2068Glow Clinic\n+92 51 1234567\u2069" in verdict.answer


def test_an_unknown_language_is_refused(engine: Engine, plan: CarePlan) -> None:
    """A language without answers is a clear error, not an English answer by surprise."""
    with pytest.raises(LanguageError, match="ur-Latn"):
        engine.triage("laali", 1, plan, lang="fr")


# ---------------------------------------------------------------- the data files


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """A copy of the packaged data files to break."""
    for name in FILES:
        shutil.copy(DATA_DIR / name, tmp_path / name)
    return tmp_path


def test_a_translation_missing_a_text_is_reported(data_dir: Path) -> None:
    """Each answer file has every text of answers.yaml."""
    path = data_dir / "answers-ur.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("  rash: ", "  # rash: "), encoding="utf-8")
    with pytest.raises(TriageDataError) as caught:
        load_engine(data_dir)
    [problem] = caught.value.problems
    assert problem.path.name == "answers-ur.yaml" and "missing questions.rash" in problem.message


def test_a_translation_with_other_placeholders_is_reported(data_dir: Path) -> None:
    """A placeholder dropped or added in one language is an error."""
    path = data_dir / "answers-ur-Latn.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("Abhi nahi: aaj din {day} hai", "Abhi nahi: aaj"), "utf-8")
    with pytest.raises(TriageDataError) as caught:
        load_engine(data_dir)
    [problem] = caught.value.problems
    assert problem.location == "advice.not_yet" and "placeholders differ" in problem.message


def test_an_urdu_phrase_for_an_unknown_concept_is_reported(data_dir: Path) -> None:
    """lexicon-ur.yaml adds to the concepts of lexicon.yaml; a typo in an id is located."""
    path = data_dir / "lexicon-ur.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("  redness: [", "  rednes: [", 1), "utf-8")
    with pytest.raises(TriageDataError) as caught:
        load_engine(data_dir)
    assert any(
        p.path.name == "lexicon-ur.yaml" and p.location == "concepts.rednes"
        for p in caught.value.problems
    )


# ---------------------------------------------------------------- our own cases


def test_our_urdu_cases_meet_every_bar(engine: Engine, plan: CarePlan) -> None:
    """Urgent recall 1.00 and every other bar of score.py, answered in each case's language."""
    result = score(
        CASES_UR,
        lambda text, day: engine.triage(
            text, day, plan, lang="ur" if has_urdu_script(text) else "ur-Latn"
        ),
    )
    assert not result.below_bars(), result.report()


def test_our_urdu_cases_are_broad() -> None:
    """250+ cases in Urdu script, Roman Urdu and mixed, over every topic, level and window."""
    assert len(CASES_UR) >= 250
    assert len({c["id"] for c in CASES_UR}) == len(CASES_UR)
    langs = Counter(c["lang"] for c in CASES_UR)
    assert langs["ur"] >= 80 and langs["ur-Latn"] >= 150
    assert sum(1 for c in CASES_UR if c.get("mixed")) >= 40
    named = set().union(*(topics(c) for c in CASES_UR)) - {None}
    assert named >= SYMPTOM_TOPICS | ADVICE_TOPICS
    levels = Counter(c["level"] for c in CASES_UR)
    assert all(levels[lv] >= 8 for lv in ("normal", "watch", "clinic", "urgent", "advice"))
    assert levels["unknown"] >= 8
    assert sum(1 for c in CASES_UR if c["day"] < 0) >= 8


def test_our_urdu_cases_cover_each_day_window(engine: Engine) -> None:
    """For each symptom's day windows in rules.yaml, a case has that topic at that level."""
    seen = {(t, c["level"]) for c in CASES_UR for t in topics(c)}
    missing = [
        (topic, window.level.value)
        for topic, rule in engine.rules.symptoms.items()
        for window in rule.days
        if (topic, window.level.value) not in seen
    ]
    assert missing == []


# ---------------------------------------------------------------- the command


def test_the_command_answers_in_the_chosen_language() -> None:
    """--lang chooses the answer's language; Urdu script is answered in Urdu by default."""
    roman = runner.invoke(app, ["triage", "--day", "1", "--lang", "ur-Latn", "bukhar hai"])
    assert roman.exit_code == 0, roman.output
    assert "Abhi foran doctor ko dikhayein" in roman.stdout
    urdu = runner.invoke(app, ["triage", "--day", "1", "مجھے بخار ہے"])
    assert urdu.exit_code == 0 and "ابھی فوراً ڈاکٹر" in urdu.stdout
    english = runner.invoke(app, ["triage", "--day", "1", "bukhar hai"])
    assert "Please get medical care now" in english.stdout


def test_a_bad_language_is_a_usage_error() -> None:
    """--lang fr names the languages there are."""
    result = runner.invoke(app, ["triage", "--day", "1", "--lang", "fr", "bukhar hai"])
    assert result.exit_code == 2
    assert "ur-Latn" in result.stderr


def test_a_batch_line_may_carry_its_language(tmp_path: Path) -> None:
    """ "lang" on a line wins; without it, the script decides; a bad one is that line's error."""
    lines = [
        {"id": 1, "day": 1, "text": "bukhar hai", "lang": "ur-Latn"},
        {"id": 2, "day": 1, "text": "مجھے بخار ہے"},
        {"id": 3, "day": 1, "text": "bukhar hai"},
        {"id": 4, "day": 1, "text": "bukhar hai", "lang": "xx"},
    ]
    path = tmp_path / "in.jsonl"
    path.write_text("\n".join(json.dumps(c, ensure_ascii=False) for c in lines), "utf-8")
    result = runner.invoke(app, ["triage", "--batch", str(path)])
    assert result.exit_code == 1
    rows = {r["id"]: r for r in map(json.loads, result.stdout.splitlines())}
    assert rows[1]["answer"].startswith("Abhi foran")
    assert rows[2]["answer"].startswith("ابھی فوراً")
    assert rows[3]["answer"].startswith("Please get medical care now")
    assert 4 not in rows and "line 4" in result.stderr
