"""One normalisation for text that users type: what counts as invisible, and how it is trimmed.

The request middleware (orgs/middleware.py) applies it to every submitted value; an import or a
command that reads text from elsewhere (a workbook, a file) can call `strip_invisible` itself.
"""

import unicodedata

NUL = "\x00"

# Characters that render as nothing (or only move the cursor), beyond str.isspace(): zero-width
# spaces and joiners, word joiner and invisible operators, byte-order mark, direction marks,
# embeddings, overrides and isolates, soft hyphen, combining grapheme joiner, and the symbols and
# letters that are drawn blank: Hangul fillers, the braille blank, the musical null notehead
# (U+1D159; its neighbour U+1D15A draws a notehead). Ideographic space (U+3000) and no-break
# space are whitespace already.
INVISIBLE = frozenset(
    "\u00ad\u034f\u061c\u115f\u1160\u180e\u200b\u200c\u200d\u200e\u200f"
    "\u202a\u202b\u202c\u202d\u202e\u2060\u2061\u2062\u2063\u2064"
    "\u2066\u2067\u2068\u2069\u2800\u3164\ufeff\uffa0\U0001d159"
)

# Removed inside text too, so that "张\u200b三" is the same name as "张三": characters that carry
# no meaning between letters of this site's text (zero-width space, word joiner and invisible
# operators, byte-order mark, soft hyphen, Mongolian vowel separator, direction marks, embeddings,
# overrides and isolates, deprecated format controls). The zero-width joiner and non-joiner stay:
# they build emoji sequences and shape some scripts.
MEANINGLESS_INSIDE = frozenset(
    "\u00ad\u061c\u180e\u200b\u200e\u200f\u202a\u202b\u202c\u202d\u202e"
    "\u2060\u2061\u2062\u2063\u2064\u2066\u2067\u2068\u2069"
    "\u206a\u206b\u206c\u206d\u206e\u206f\ufeff"
)


# Kinds of character that draw nothing by themselves: format characters (Cf: joiners, direction
# marks, tags, musical and shorthand format controls…), controls, separators, unassigned and
# private-use code points, and combining marks with no letter to sit on (Mn, Me: variation
# selectors, the Khmer inherent vowels…).
_DRAWS_NOTHING = frozenset({"Cf", "Cc", "Cs", "Co", "Cn", "Zs", "Zl", "Zp", "Mn", "Me"})


def is_invisible(char: str) -> bool:
    """Trimmed from the ends of text: whitespace, format characters and the fillers above.
    (Combining marks are not: at the end of text they belong to the letter before them.)"""
    return char.isspace() or char in INVISIBLE or unicodedata.category(char) in {"Cf", "Cc"}


def draws_something(char: str) -> bool:
    return char not in INVISIBLE and unicodedata.category(char) not in _DRAWS_NOTHING


def strip_invisible(text: str) -> str:
    """`text` without leading or trailing whitespace and invisible characters, and without the
    characters that mean nothing inside it (MEANINGLESS_INSIDE); text in which no character draws
    anything becomes ''. Other characters inside the text are kept (a joiner inside an emoji, a
    variation selector after one, are meaningful)."""
    if not any(draws_something(char) for char in text):
        return ""
    if not MEANINGLESS_INSIDE.isdisjoint(text):
        text = "".join(char for char in text if char not in MEANINGLESS_INSIDE)
    start, end = 0, len(text)
    while start < end and is_invisible(text[start]):
        start += 1
    while end > start and is_invisible(text[end - 1]):
        end -= 1
    return text[start:end]


def person_name(text: str) -> str:
    """A person's name as it identifies them: composed (NFC), with every space and every character
    that draws nothing removed, inside as well as around, so that "张\u3000三", "张 三" and
    "张\u200b三" are all "张三" and cannot pass for a second person (the "·" in 买买提·艾力 stays)."""
    composed = unicodedata.normalize("NFC", text)
    return "".join(char for char in composed if draws_something(char) and not char.isspace())
