"""Text helpers shared by the NLU modules (the Rasa tokenizer has its own copy, as it runs
in the Rasa venv)."""

from __future__ import annotations

import unicodedata
from functools import lru_cache


@lru_cache(maxsize=1)
def t2s():
    """The OpenCC traditional -> simplified converter (created once: it loads dictionaries)."""
    import opencc

    return opencc.OpenCC("t2s")


def shadow(text: str) -> str:
    """Half-width, simplified copy of `text` with the same length (characters whose
    conversion would change the length are kept as they are), so that offsets found in it
    are offsets in `text`."""
    chars = []
    for ch in text:
        c = unicodedata.normalize("NFKC", ch)
        chars.append(c if len(c) == 1 else ch)
    s = "".join(chars)
    whole = t2s().convert(s)
    if len(whole) == len(s):
        return whole
    return "".join(c2 if len(c2 := t2s().convert(c)) == 1 else c for c in s)


@lru_cache(maxsize=64)
def message_shadow(text: str) -> str:
    """`shadow(text)` of the last few messages: entity extraction, the urgency check and the
    question-wording check all need it for the same message."""
    return shadow(text)
