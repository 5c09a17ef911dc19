"""Human text as the API stores it: normalised, trimmed of invisible ends, never blank.

``str.strip()`` leaves zero-width spaces, the BOM and other format characters in place, and a
name made only of them (or of no-break spaces) shows as nothing. The characters counted as
invisible are listed explicitly (whitespace, controls, and the format characters that render
as nothing), so that the same class can be written as a pattern in the OpenAPI document, which
ECMA and Python regexes read alike (no ``\\s``, no ``\\p{...}``).
"""

from __future__ import annotations

import re
import unicodedata

_CONTROLS = "\\u0000-\\u001f\\u007f-\\u009f"
_LINE_CONTROLS = "\\u0000-\\u0008\\u000b\\u000c\\u000e-\\u001f\\u007f-\\u009f"  # all but \t \n \r
INVISIBLE = (_CONTROLS + " \\u00a0\\u00ad\\u034f\\u061c\\u115f\\u1160\\u1680\\u17b4\\u17b5\\u180e\\u2000-\\u200f"
             "\\u2028-\\u202f\\u205f-\\u206f\\u2800\\u3000\\u3164\\ufe00-\\ufe0f\\ufeff\\uffa0\\ufff0-\\ufff8")

# The patterns of ``format: text-line`` (a name) and ``format: text`` (a description) in openapi.json.
LINE_PATTERN = f"^[^{_CONTROLS}]*[^{INVISIBLE}][^{_CONTROLS}]*$"
TEXT_PATTERN = f"^$|^[^{_LINE_CONTROLS}]*[^{INVISIBLE}][^{_LINE_CONTROLS}]*$"

_LINE, _TEXT = re.compile(LINE_PATTERN), re.compile(TEXT_PATTERN)
_ENDS = re.compile(f"^[{INVISIBLE}]+|[{INVISIBLE}]+$")


def visible(text: str) -> bool:
    """Whether ``text`` shows at least one character."""
    return _ENDS.sub("", text) != ""


def is_line(text: str) -> bool:
    """A one-line text (a name): something visible and no control characters at all."""
    return _LINE.fullmatch(text) is not None


def is_text(text: str) -> bool:
    """A longer text: empty, or something visible with no controls but tabs and line breaks."""
    return _TEXT.fullmatch(text) is not None


def normalise(text: str) -> str:
    """NFC, without invisible characters at either end."""
    return _ENDS.sub("", unicodedata.normalize("NFC", text))
