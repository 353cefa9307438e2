"""One normalisation for text that users type: what counts as invisible, and how it is trimmed.

The request middleware (orgs/middleware.py) applies it to every submitted value; an import or a
command that reads text from elsewhere (a workbook, a file) can call `strip_invisible` itself.
"""

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


def is_invisible(char: str) -> bool:
    return char.isspace() or char in INVISIBLE


def strip_invisible(text: str) -> str:
    """`text` without leading or trailing whitespace and invisible characters: text made only of
    them becomes ''. Characters inside the text are kept (a joiner inside an emoji is meaningful)."""
    start, end = 0, len(text)
    while start < end and is_invisible(text[start]):
        start += 1
    while end > start and is_invisible(text[end - 1]):
        end -= 1
    return text[start:end]
