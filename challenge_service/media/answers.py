"""Forgiving comparison of what a person typed with the expected answer.

``normalise`` maps the many ways a person may write an answer to one form:
upper-case ASCII letters and digits, without accents, spaces or punctuation,
with French and English number words turned into digits. So "quatre-huit un
7", "4 8 1 7" and "four eight one seven" all become "4817", and "dix-sept",
"seventeen" and "17" all become "17".

Number words are read from 0 to 99 in both languages, including the Belgian
and Swiss "septante", "huitante", "octante" and "nonante". A run of letters
becomes digits only when it splits entirely into number words, so letters of
a text answer such as "KUNP" stay as they are.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import unicodedata
from typing import NamedTuple

#: Maximum input length that ``normalise`` reads, in characters. Longer text
#: normalises to "", which matches nothing.
MAX_INPUT_LENGTH = 64

#: Words for 0 to 19, after accents are removed and letters lower-cased.
_SMALL_NUMBERS = {
    "zero": 0,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "thirteen": 13,
    "fourteen": 14,
    "fifteen": 15,
    "sixteen": 16,
    "seventeen": 17,
    "eighteen": 18,
    "nineteen": 19,
    "un": 1,
    "une": 1,
    "deux": 2,
    "trois": 3,
    "quatre": 4,
    "cinq": 5,
    "sept": 7,
    "huit": 8,
    "neuf": 9,
    "dix": 10,
    "onze": 11,
    "douze": 12,
    "treize": 13,
    "quatorze": 14,
    "quinze": 15,
    "seize": 16,
}

#: Words for multiples of ten from 20 to 90. "fourty" is a common misspelling.
_TENS = {
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fourty": 40,
    "fifty": 50,
    "sixty": 60,
    "seventy": 70,
    "eighty": 80,
    "ninety": 90,
    "vingt": 20,
    "vingts": 20,
    "trente": 30,
    "quarante": 40,
    "cinquante": 50,
    "soixante": 60,
    "septante": 70,
    "huitante": 80,
    "octante": 80,
    "nonante": 90,
}

#: The French "et" of "vingt et un" and "soixante et onze".
_AND = "et"

_WORDS = {**_SMALL_NUMBERS, **_TENS, _AND: -1}

#: Length of the longest number word, which bounds ``_split_number_words``.
_MAX_WORD_LENGTH = max(len(word) for word in _WORDS)


def normalise(text: str) -> str:
    """Return the canonical form of an answer: upper-case letters and digits.

    Case, accents, spaces, hyphens, dots and other punctuation are dropped,
    and French or English number words become digits. Input longer than
    ``MAX_INPUT_LENGTH`` characters normalises to "", which never matches.
    Raise TypeError when ``text`` is not a str.
    """
    if not isinstance(text, str):
        raise TypeError(
            f"An answer must be a str, not {type(text).__name__}; "
            "pass the submitted field as text."
        )

    if len(text) > MAX_INPUT_LENGTH:
        return ""

    tokens = _tokenise(text)
    return "".join(_read_numbers(tokens))


def matches(given: str, expected: str) -> bool:
    """Return whether ``given`` normalises to the same non-empty form as
    ``expected``.

    The forms are compared through their SHA-256 digests with
    ``hmac.compare_digest``, so the time taken does not depend on how many
    leading characters agree or on the expected length.
    """
    given_digest = hashlib.sha256(normalise(given).encode()).digest()
    expected_form = normalise(expected)
    expected_digest = hashlib.sha256(expected_form.encode()).digest()
    same = hmac.compare_digest(given_digest, expected_digest)
    return same and expected_form != ""


def contains_number_word(text: str) -> bool:
    """Return whether any part of ``text`` is a number word, ignoring case.

    The image challenges draw no text answer for which this is true, so that
    a person who types its letters apart ("K UN P") still matches it.
    """
    folded = _fold(text)

    for start in range(len(folded)):
        for end in range(start + 2, min(len(folded), start + _MAX_WORD_LENGTH) + 1):
            if folded[start:end] in _WORDS:
                return True

    return False


def _fold(text: str) -> str:
    """Decompose ``text`` (NFKD), drop combining marks and case-fold it."""
    decomposed = unicodedata.normalize("NFKD", text)
    kept = (char for char in decomposed if not unicodedata.combining(char))
    return "".join(kept).casefold()


class _NumberWord(NamedTuple):
    """One number word of the input: its value and its folded spelling."""

    value: int
    word: str


def _tokenise(text: str) -> list[str | _NumberWord]:
    """Split ``text`` into literal runs and number words.

    A run of digits, or a run of letters that is not made entirely of number
    words, is returned upper-cased as a str. A run of letters made of number
    words is returned as one ``_NumberWord`` per word. Every other character
    separates runs and is dropped.
    """
    tokens: list[str | _NumberWord] = []
    run: list[str] = []
    run_is_letters = False

    def close_run() -> None:
        if not run:
            return
        text = "".join(run)
        run.clear()
        words = _split_number_words(text) if run_is_letters else None
        if words is None:
            tokens.append(text.upper())
        else:
            tokens.extend(_NumberWord(_WORDS[word], word) for word in words)

    for char in _fold(text):
        if char.isdecimal():
            if run_is_letters:
                close_run()
            run_is_letters = False
            run.append(str(unicodedata.decimal(char)))
        elif char.isalpha():
            if not run_is_letters:
                close_run()
            run_is_letters = True
            run.append(char)
        else:
            close_run()

    close_run()
    return tokens


@functools.lru_cache(maxsize=1024)
def _split_number_words(text: str) -> tuple[str, ...] | None:
    """Return the number words that make up ``text`` exactly, in order.

    Longer words are tried first, so "seventeen" is one word, not "seven"
    and "teen". Return None when ``text`` is not made of number words only.
    """
    if text == "":
        return ()

    for length in range(min(len(text), _MAX_WORD_LENGTH), 0, -1):
        word = text[:length]
        if word not in _WORDS:
            continue
        rest = _split_number_words(text[length:])
        if rest is not None:
            return (word, *rest)

    return None


def _read_numbers(tokens: list[str | _NumberWord]) -> list[str]:
    """Combine number words into numbers and return every token as text.

    A tens word takes a following unit ("forty eight" is 48, "vingt et un"
    is 21). French "quatre vingt" is 80, "soixante" and "quatre-vingt" also
    take a following 10 to 19 ("soixante-dix-sept" is 77), and "dix" takes a
    following 7, 8 or 9 ("dix-sept" is 17). Any other number word is a
    number of its own, so "quatre huit un sept" reads as 4, 8, 1, 7.
    """
    output: list[str] = []
    index = 0

    while index < len(tokens):
        token = tokens[index]
        index += 1

        if isinstance(token, str):
            output.append(token)
            continue

        if token.word == _AND:
            # An "et" that no tens word took is an ordinary word.
            output.append(_AND.upper())
            continue

        number = token.value
        if token.word == "quatre" and _word_at(tokens, index) in ("vingt", "vingts"):
            number = 80
            index += 1

        if number >= 20:
            number, index = _read_after_tens(number, tokens, index)
        elif token.word == "dix" and _value_at(tokens, index) in (7, 8, 9):
            number += _value_at(tokens, index)  # type: ignore[operator]
            index += 1

        output.append(str(number))

    return output


def _read_after_tens(
    tens: int, tokens: list[str | _NumberWord], index: int
) -> tuple[int, int]:
    """Read the unit or teen that may follow a tens word at ``tokens[index]``.

    Return the number and the index of the first token not read. "et" is
    read only before "un", "une" or "onze", as in "vingt et un".
    """
    position = index
    if _word_at(tokens, position) == _AND:
        position += 1
        if _word_at(tokens, position) not in ("un", "une", "onze"):
            return tens, index

    following = _value_at(tokens, position)
    if following is None:
        return tens, index

    if 1 <= following <= 9:
        return tens + following, position + 1

    # Only French 60 and 80 count on by tens: soixante-dix, quatre-vingt-onze.
    if tens not in (60, 80) or not 10 <= following <= 16:
        return tens, index

    number = tens + following
    position += 1
    if following == 10 and _value_at(tokens, position) in (7, 8, 9):
        number += _value_at(tokens, position)  # type: ignore[operator]
        position += 1

    return number, position


def _word_at(tokens: list[str | _NumberWord], index: int) -> str | None:
    token = tokens[index] if index < len(tokens) else None
    return token.word if isinstance(token, _NumberWord) else None


def _value_at(tokens: list[str | _NumberWord], index: int) -> int | None:
    token = tokens[index] if index < len(tokens) else None
    if isinstance(token, _NumberWord) and token.word != _AND:
        return token.value
    return None
