"""One normalisation for text that users type: what counts as invisible, and how it is trimmed.

The request middleware (orgs/middleware.py) applies it to every submitted value; an import or a
command that reads text from elsewhere (a workbook, a file) can call `strip_invisible` itself.
"""

import unicodedata

NUL = "\x00"

# Characters that render as nothing (or only move the cursor), beyond str.isspace(): zero-width
# spaces and joiners, word joiner and invisible operators, byte-order mark, direction marks,
# embeddings, overrides and isolates, soft hyphen, combining grapheme joiner, Hangul fillers.
# Ideographic space (U+3000) and no-break space are whitespace already.
INVISIBLE = frozenset(
    "\u00ad\u034f\u061c\u115f\u1160\u180e\u200b\u200c\u200d\u200e\u200f"
    "\u202a\u202b\u202c\u202d\u202e\u2060\u2061\u2062\u2063\u2064"
    "\u2066\u2067\u2068\u2069\u2800\u3164\ufeff\uffa0"
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
    """`text` without leading or trailing whitespace and invisible characters; text in which no
    character draws anything becomes ''. Characters inside the text are kept (a joiner inside an
    emoji, a variation selector after one, are meaningful)."""
    if not any(draws_something(char) for char in text):
        return ""
    start, end = 0, len(text)
    while start < end and is_invisible(text[start]):
        start += 1
    while end > start and is_invisible(text[end - 1]):
        end -= 1
    return text[start:end]
