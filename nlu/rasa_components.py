"""Custom Rasa 3.6 components; imported by the Rasa server (.venv-rasa), not by the bot.

Referenced from nlu/config.yml as `nlu.rasa_components.JiebaTokenizer`; Rasa puts the
working directory on sys.path, so `rasa` commands run from the repository root."""

from __future__ import annotations

import re
import unicodedata
from typing import List, Text

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.nlu.tokenizers import jieba_tokenizer
from rasa.nlu.tokenizers.tokenizer import Token
from rasa.shared.nlu.training_data.message import Message

_converter = None

# Kept whole, whatever jieba's dictionary says: jieba glues "G75K1234" into one token and a
# plate's province character onto the word before it ("车贵"), which breaks entity spans.
# Same shapes as the plate / phone / stake regexes and highway codes in nlu/data/nlu.yml.
_PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
_ATOMIC = re.compile(
    r"(?<!\d)1[3-9]\d{9}(?!\d)"                                     # phone
    rf"|[{_PROVINCES}][A-Za-z][·•\s]?[A-Za-z0-9]{{4}}[A-Za-z0-9挂学警港澳]{{1,2}}"  # plate
    r"|(?<![A-Za-z])[Kk]\d+(?:\+\d+)?"                                # stake K1234+500
    r"|(?<![A-Za-z])[GgSs]\d{1,4}(?!\d)"                              # highway code G75
)


def _simplified(text: Text) -> Text:
    """NFKC and traditional -> simplified, keeping every offset: a character
    whose conversion changes the length stays as it is."""
    global _converter
    if _converter is None:
        import opencc

        _converter = opencc.OpenCC("t2s")
    chars = []
    for ch in text:
        c = unicodedata.normalize("NFKC", ch)
        chars.append(c if len(c) == 1 else ch)
    text1 = "".join(chars)
    whole = _converter.convert(text1)
    if len(whole) == len(text1):
        return whole
    return "".join(c2 if len(c2 := _converter.convert(c)) == 1 else c for c in text1)


def _token(word: Text, start: int) -> Token:
    """A token whose text has every number as "0" (4200 and 3500 are the same to the
    classifier; 9米6 is a truck length whatever the digits), offsets of the original."""
    return Token(re.sub(r"\d+(?:\.\d+)?", "0", word), start, start + len(word))


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER, is_trainable=True)
class JiebaTokenizer(jieba_tokenizer.JiebaTokenizer):
    """Rasa's JiebaTokenizer (same options, dictionary_path copied into the model) with two
    changes: jieba's whitespace tokens are dropped (they break featurizers and entity
    alignment, RasaHQ/rasa#7910), plates, phones, stakes and highway codes are single tokens,
    and tokens carry the simplified, half-width form of the
    text (offsets unchanged), so traditional input (貨車) shares features with 货车."""

    def tokenize(self, message: Message, attribute: Text) -> List[Token]:
        import jieba

        norm = _simplified(message.get(attribute))
        tokens, pos = [], 0
        for m in [*_ATOMIC.finditer(norm), None]:
            gap_end = m.start() if m else len(norm)
            if gap_end > pos:
                tokens += [_token(w, pos + s) for w, s, _ in jieba.tokenize(norm[pos:gap_end]) if w.strip()]
            if m:
                tokens.append(_token(m.group(0), m.start()))
                pos = m.end()
        return self._apply_token_pattern(tokens)
