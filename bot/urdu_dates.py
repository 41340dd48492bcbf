"""Urdu and Roman Urdu date words, read as the English words ``bot.dates`` parses.

Patients mix languages in one message ("last jumma", "session kal tha", "۲۰ نومبر کو"), so
every message is read with every vocabulary: a word is looked up here only after it is not an
English date word. Urdu script is folded first (``content.triage.script.fold_urdu``), so the
several forms of ی/ک/ہ, vowel marks and Urdu-Indic digits meet the one form used below.

Roman Urdu has no spelling: besides the spellings listed, a word of five letters or more is
read by its consonant skeleton (``roman_key``: "pichlay", "pichhle" -> "pichle") when that
skeleton has three consonants or more and belongs to a weekday, a month or a word of the
relative dates ("pichle", "pehle", "mahina", "parson"). Other words are read only as listed:
short skeletons are shared by too many words ("jaali" is not "julai", "daane" (pimples) is
not "dinon", "chahiye" is not "chhay").

Choices, where Urdu says one thing two ways:

- "kal"/"کل" is both yesterday and tomorrow, and "parson"/"پرسوں" the day before yesterday
  and the day after tomorrow: a session date is asked about the past, so they are read
  backwards. A planned session ahead is typed as a date or "3 din baad".
- "hafta"/"ہفتہ" is both Saturday and a week. After a count or before "pehle" it is a week
  ("ek hafta pehle"); with "pichle", "agle" or "is" it is the week ("pichle hafte"), which is as
  vague as "last week" and is not guessed; alone ("hafte ko") it is Saturday.
- "mai" is "I" or "in" (main, mein), not May: May is "May" or "مئی".
- "per" is "on" (jumme per); Monday is "peer" or "pir".
- "sat" before "din" is seven ("sat din pehle"); alone it stays Saturday, as in English.
- "hua", "gaye" (has passed) after a span mean ago ("3 din ho gaye"); elsewhere they are
  filler ("session kal hua").
"""

from __future__ import annotations

from content.triage.script import fold_urdu, roman_key

# Saturday or a week: the parser decides which from the words around it.
HAFTA = "<hafta>"
# "has passed": "ago" right after a span ("3 din ho gaye"), filler anywhere else.
PASSED = "<passed>"
# "is" before "hafta" is "this" ("is hafte": this week), and filler in English ("it is").
THIS_BEFORE_HAFTA = frozenset({"is", "es"})

# Canonical English words (or HAFTA), each with the Roman Urdu and Urdu spellings that mean it.
WORDS: dict[str, tuple[str, ...]] = {
    "today": ("aaj", "aj", "abhi", "abi", "آج", "ابھی"),
    "yesterday": ("kal", "kl", "kall", "kaal", "کل"),
    "day before yesterday": ("parson", "parso", "parsun", "parsu", "parsoon", "prson", "prso",
                             "پرسوں", "پرسو"),
    "3 days ago": ("tarson", "tarso", "tarsun", "tarsoon", "ترسوں"),
    "days": ("din", "dino", "dinon", "dinn", "دن", "دنوں"),
    HAFTA: ("hafta", "hafte", "haftay", "hafty", "haftey", "hafton", "haftu", "hufta", "ہفتہ",
            "ہفتے", "ہفتوں"),
    "month": ("mahina", "mahine", "mahinay", "mahiney", "maheena", "maheene", "mahinon",
              "mahena", "mhina", "maah", "مہینہ", "مہینے", "مہینوں", "ماہ"),
    "ago": ("pehle", "pehlay", "pehly", "pehley", "pahle", "pahlay", "phle", "phly", "pehlai",
            "qabal", "qabl", "qbl", "پہلے", "قبل"),
    "later": ("baad", "baadh", "بعد"),
    "last": ("pichle", "pichlay", "pichly", "pichley", "pichla", "pichli", "pichhle",
             "pichhlay", "pichhla", "pichlee", "guzishta", "guzashta", "gzishta", "پچھلے",
             "پچھلا", "پچھلی", "گزشتہ", "گذشتہ"),
    "next": ("agle", "aglay", "agla", "agli", "agly", "agley", "aainda", "ainda", "aynda",
             "اگلے", "اگلا", "اگلی", "آئندہ"),
    "this": ("iss", "isi", "اس", "اسی"),
    "morning": ("subah", "subha", "subh", "sobah", "subhe", "صبح"),
    "afternoon": ("dopahar", "dopehar", "dupehar", "dopher", "dopahr", "دوپہر"),
    "evening": ("shaam", "sham", "shaem", "شام"),
    "night": ("raat", "rat", "raaat", "رات"),
    "monday": ("peer", "pir", "somwar", "somvar", "somwaar", "پیر", "سوموار"),
    "tuesday": ("mangal", "mangl", "mungal", "mangalwar", "منگل"),
    "wednesday": ("budh", "bud", "buddh", "budhwar", "budhwaar", "بدھ"),
    "thursday": ("jumeraat", "jumerat", "jumairat", "jumaraat", "jumarat", "jumrat",
                 "jummeraat", "جمعرات"),
    "friday": ("jumma", "juma", "jumah", "jumme", "jummay", "jume", "jumay", "jumey", "jummey",
               "jummah", "jumaa", "جمعہ", "جمعے", "جمعا"),
    "saturday": ("sanichar", "سنیچر"),
    "sunday": ("itwaar", "itwar", "atwar", "aitwar", "aitwaar", "itvar", "اتوار"),
    "january": ("janwari", "janvari", "janwary", "janvary", "janori", "janwri", "جنوری"),
    "february": ("farwari", "farvari", "farwary", "febrwari", "farwri", "فروری"),
    "march": ("maarch", "مارچ"),
    "april": ("aprail", "aprel", "apreil", "aprial", "epril", "اپریل"),
    "may": ("مئی", "مئ"),
    "june": ("joon", "جون"),
    "july": ("julai", "julaai", "jolai", "julay", "julaee", "جولائی", "جولائ"),
    "august": ("agast", "agust", "augast", "agasat", "اگست"),
    "september": ("sitambar", "sitamber", "satambar", "stambar", "sitmbr", "ستمبر"),
    "october": ("aktubar", "aktoobar", "aktobar", "actober", "aktuber", "اکتوبر"),
    "november": ("navambar", "navamber", "novambar", "nuvambar", "nowambar", "nomber",
                 "نومبر"),
    "december": ("disambar", "disamber", "dasambar", "desambar", "dicember", "dismbr", "دسمبر"),
    # Counts, as English number words: "do din pehle" is "two days ago".
    "one": ("ek", "aik", "ایک"),
    "two": ("do", "دو"),
    "three": ("teen", "tiin", "تین"),
    "four": ("char", "chaar", "chaaar", "چار"),
    "five": ("panch", "paanch", "panj", "پانچ"),
    "six": ("chay", "chhe", "che", "chhay", "chey", "cheh", "چھ", "چھے"),
    "seven": ("saat", "سات"),
    "eight": ("aath", "aat", "اٹھ", "آٹھ"),
    "nine": ("nau", "naw", "نو"),
    "ten": ("das", "dus", "دس"),
    "fifteen": ("pandrah", "pandra", "pundra", "پندرہ"),
    "twenty": ("bees", "بیس"),
    "thirty": ("tees", "تیس"),
    PASSED: ("hua", "hui", "hue", "huay", "huwa", "hoa", "howa", "hwa", "hoi", "hwi", "gaya",
             "gya", "gayi", "gai", "gyi", "gaye", "gae", "gye", "gaey", "hogaya", "hogya",
             "hogaye", "hogae", "guzar", "guzra", "guzre", "guzray", "guzri", "ہوا", "ہوئی",
             "ہوئے", "گیا", "گئی", "گئے", "گزر", "گزرا", "گزرے", "ہوگیا", "ہوگئے"),
    # Words that carry no date: "mera session kal tha", "۲۰ نومبر کو".
    "": ("ko", "ki", "ka", "ke", "kay", "tha", "thi", "thay", "thaa", "thy", "mera", "meri",
         "mere", "mra", "mri", "mre", "mujhe", "maine", "mene", "mainay", "ne", "se", "say",
         "sy", "sey", "hai", "he", "hay", "hy", "h", "hain", "ho", "kiya", "kia", "kya",
         "karwaya", "krwaya", "karaya", "karvaya", "karwai", "karwayi", "lagwaya", "liya",
         "lia", "wala", "wali", "wale", "walay", "waly", "tarikh", "tareekh", "tarekh",
         "mein", "main", "me", "mai", "mei", "men", "pe", "par", "per", "pay", "py", "ji",
         "jee", "haan", "han", "to", "tou", "toh", "bhi", "hi", "bas", "sirf", "lagbhag",
         "taqriban", "taqreeban", "takriban", "sesion", "seshan", "کو", "کی", "کا", "کے",
         "تھا", "تھی", "تھے", "میرا", "میری", "میرے", "مجھے", "میں", "نے", "سے", "ہے", "ہیں",
         "ہو", "کیا", "کروایا", "کرایا", "کروائی", "کرائی", "لگوایا", "والا", "والی", "والے",
         "تاریخ", "پر", "پہ", "جی", "ہاں", "تو", "بھی", "ہی", "بس", "تقریباً", "سیشن",
         "ٹریٹمنٹ"),
}  # fmt: skip
# Urdu script typed with no space after a letter that does not join the next one looks spaced
# ("پیرکو" is "پیر کو"): these postpositions are read off the end of a word we know.
POSTPOSITIONS = tuple(fold_urdu(w) for w in ("کو", "کی", "کا", "کے", "سے"))
# "20 tareekh": the 20th, as "20th" is.
ORDINAL_WORDS = frozenset(fold_urdu(w) for w in ("tarikh", "tareekh", "tarekh", "تاریخ"))

SPELLINGS: dict[str, tuple[str, ...]] = {
    fold_urdu(spelling): tuple(canonical.split())
    for canonical, spellings in WORDS.items()
    for spelling in spellings
}


# The meanings read by skeleton too: long, distinctive words. Counts, "din", the times of day
# and filler are short and read only as listed.
_SKELETON_MEANINGS = {
    "day before yesterday", "3 days ago", HAFTA, "month", "ago", "later", "last", "next",
    "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday", "january",
    "february", "march", "april", "may", "june", "july", "august", "september", "october",
    "november", "december",
}  # fmt: skip
MIN_CONSONANTS = 3


def _skeletons() -> dict[str, tuple[str, ...]]:
    """The skeletons of the spellings of _SKELETON_MEANINGS with at least MIN_CONSONANTS
    consonants, except a skeleton two meanings share (then neither)."""
    found: dict[str, set[str]] = {}
    for canonical, spellings in WORDS.items():
        for spelling in spellings:
            key = roman_key(spelling)
            if key is not None:
                found.setdefault(key, set()).add(canonical)
    return {
        key: tuple(meaning.split())
        for key, (meaning, *others) in ((k, sorted(v)) for k, v in found.items())
        if not others
        and meaning in _SKELETON_MEANINGS
        and len(key) - key.count("V") >= MIN_CONSONANTS
    }


SKELETONS = _skeletons()
# Words this short are only read as listed, never by their skeleton.
MIN_SKELETON = 5


def read_urdu_word(word: str) -> tuple[str, ...] | None:
    """The English words a folded, lower-case Urdu or Roman Urdu ``word`` means (``()`` for
    filler); None when it is no date word of ours."""
    found = SPELLINGS.get(word)
    if found is not None:
        return found
    if not word.isascii():
        return _without_postposition(word)
    if len(word) < MIN_SKELETON:
        return None
    key = roman_key(word)
    return SKELETONS.get(key) if key is not None else None


def _without_postposition(word: str) -> tuple[str, ...] | None:
    """ "پیرکو": the date word before a postposition typed on, or None."""
    for ending in POSTPOSITIONS:
        if word.endswith(ending):
            return SPELLINGS.get(word[: -len(ending)])
    return None
