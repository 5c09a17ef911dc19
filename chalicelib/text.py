"""Human text as the API stores it: normalised, trimmed of invisible ends, never blank.

``str.strip()`` leaves zero-width spaces, the BOM and other format characters in place, and a
name made only of them (or of no-break spaces) shows as nothing. A character counts as visible
unless it is a separator, a control or format character, a lone combining mark or unassigned.
"""

from __future__ import annotations

import unicodedata

_INVISIBLE = frozenset({"Zs", "Zl", "Zp", "Cc", "Cf", "Cs", "Co", "Cn", "Mn", "Me"})
_LINE_BREAKS = frozenset("\t\n\r")


def _invisible(char: str) -> bool:
    return unicodedata.category(char) in _INVISIBLE


def visible(text: str) -> bool:
    """Whether ``text`` shows at least one character."""
    return not all(map(_invisible, text))


def is_line(text: str) -> bool:
    """A one-line text (a name): something visible and no control characters at all."""
    return visible(text) and not any(unicodedata.category(c) == "Cc" for c in text)


def is_text(text: str) -> bool:
    """A longer text (a description, a reason): empty, or visible with no controls but line breaks."""
    return text == "" or (visible(text) and not any(unicodedata.category(c) == "Cc" and c not in _LINE_BREAKS
                                                    for c in text))


def normalise(text: str) -> str:
    """NFC, without invisible characters at either end."""
    text = unicodedata.normalize("NFC", text)
    start, end = 0, len(text)
    while start < end and _invisible(text[start]):
        start += 1
    while end > start and _invisible(text[end - 1]):
        end -= 1
    return text[start:end]
