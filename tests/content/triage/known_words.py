"""Regenerate content/triage/words.yaml: real words one typo away from a lexicon word.

    .venv/bin/python -m tests.content.triage.known_words [WORD_LIST]

WORD_LIST defaults to Debian's wamerican-small (``apt-get install wamerican-small``). A word of
the list is protected when the typo repair would turn it into a lexicon word that it is not a
plain inflection of ("paint" -> "pain" is protected; "ached" -> "ache" is not), or when its
consonant skeleton would read it as a Roman Urdu word ("here" -> "hara", green; "garden" ->
"gardan", neck). Run it after adding phrases to lexicon.yaml or lexicon-ur.yaml.
"""

from __future__ import annotations

import re
import sys
import textwrap
from collections.abc import Iterable
from pathlib import Path

import yaml

from content.triage import load_engine
from content.triage.data import DATA_DIR
from content.triage.tokens import Normalizer

WORD_LIST = Path("/usr/share/dict/american-english-small")
HEADER = """\
# Real English words that are one typo away from a word of lexicon.yaml: never "corrected".
#
# Without this list "paint" would be read as "pain" and "rush" as "rash". It holds the words of
# a common English word list (Debian's wamerican-small) that the typo repair would otherwise
# change into a lexicon word, except plain inflections of it ("ached" is still read as "ache"),
# and those whose consonant skeleton would read them as a Roman Urdu word of lexicon-ur.yaml
# ("here" is not "hara", green; "garden" is not "gardan", neck). Words the lexicon uses are not
# in it. Regenerate it after adding phrases to either lexicon:
# .venv/bin/python -m tests.content.triage.known_words
"""
_SUFFIXES = ("s", "es", "ed", "d", "ing", "er", "r", "ly", "y", "ies", "ness", "ful", "est", "st")


def is_inflection(word: str, stem: str) -> bool:
    """Whether ``word`` is ``stem`` with a regular English ending ("ached" of "ache")."""
    if any(word == stem + s for s in _SUFFIXES):
        return True
    if stem.endswith("e") and any(word == stem[:-1] + s for s in ("ing", "ed", "er", "y")):
        return True
    if stem.endswith("y") and any(word == stem[:-1] + s for s in ("ies", "ied", "ier", "iest")):
        return True
    doubled = len(stem) >= 3 and stem[-1] not in "aeiouy"
    return doubled and any(word == stem + stem[-1] + s for s in ("ing", "ed", "er", "y"))


def protected_words(candidates: Iterable[str]) -> list[str]:
    """The words of ``candidates`` that the typo repair would wrongly change."""
    engine = load_engine()
    lexicon = engine.data.lexicon
    vocabulary = engine.reader.normalizer.vocabulary
    bare = Normalizer(lexicon, vocabulary, (), engine.roman_meanings)
    found = set()
    for word in candidates:
        if word in vocabulary or word in lexicon.replace or not re.fullmatch(r"[a-z]+", word):
            continue
        tokens = bare.tokens(word)
        if len(tokens) == 1 and tokens[0].corrected and not is_inflection(word, tokens[0].word):
            found.add(word)
    return sorted(found)


def render(words: list[str]) -> str:
    """The text of words.yaml for ``words``."""
    # "null", "yes" and the like are quoted, or YAML reads them as something else.
    written = [w if isinstance(yaml.safe_load(w), str) else f'"{w}"' for w in words]
    body = textwrap.wrap(", ".join(written), width=96, break_on_hyphens=False)
    return HEADER + "known: [\n" + "".join(f"  {line}\n" for line in body) + "]\n"


def main(argv: list[str]) -> int:
    """Write words.yaml from the word list named on the command line (or the default)."""
    source = Path(argv[1]) if len(argv) > 1 else WORD_LIST
    words = protected_words(source.read_text(encoding="utf-8").split())
    (DATA_DIR / "words.yaml").write_text(render(words), encoding="utf-8")
    print(f"{len(words)} protected words written to {DATA_DIR / 'words.yaml'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
