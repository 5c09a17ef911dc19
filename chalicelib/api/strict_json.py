"""JSON as clients may send it: finite numbers that every client holds exactly, bounded depth,
and text that can be stored.

Python's decoder accepts ``NaN`` and ``Infinity`` (they then fail every comparison, so a
schema's ``minimum``/``maximum`` lets them through), integers of any size (DynamoDB holds 38
digits, JavaScript 2^53), and lone surrogates (which no UTF-8 store can encode). One rule for
numbers: a whole number is an integer however it is written (``100``, ``100.0``, ``1e2``), as
JSON Schema counts it, so an integer field gets an ``int`` whatever the client's serialiser did.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

MAX_SAFE_INTEGER = 2**53 - 1  # the largest integer a JSON client (an IEEE double) holds exactly
MAX_DEPTH = 32  # objects and arrays nested in one another; the deepest schema needs 6
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")  # NUL and lone surrogates


class Refused(ValueError):
    """Why a body was refused: a stable ``code``, a message and the JSON pointer of the value."""

    def __init__(self, code: str, message: str, pointer: str = "") -> None:
        super().__init__(message)
        self.code, self.message, self.pointer = code, message, pointer


def _bounded(value: int | float, literal: str) -> int | float:
    if abs(value) > MAX_SAFE_INTEGER:
        raise Refused("number_out_of_range", f"{literal[:40]} is beyond ±(2^53 - 1), the integers every JSON "
                      "client holds exactly; send such a value as a string")
    return value


def _float(literal: str) -> int | float:
    value = float(literal)
    if not math.isfinite(value):  # 1e999 overflows to infinity
        raise Refused("non_finite_number", f"{literal[:40]} is not a finite number")
    _bounded(value, literal)
    return int(value) if value.is_integer() else value


def _int(literal: str) -> int:
    if len(literal.lstrip("-")) > 16:  # longer cannot be in range; refuse before converting
        raise Refused("number_out_of_range", f"{literal[:40]}… is beyond ±(2^53 - 1), the integers every JSON "
                      "client holds exactly; send such a value as a string")
    return _bounded(int(literal), literal)


def _constant(name: str) -> None:
    raise Refused("non_finite_number", f"{name} is not a JSON number")


def _escape(part: str) -> str:
    return part.replace("~", "~0").replace("/", "~1")


def _check(data: Any) -> None:
    """Depth and text of a decoded document, iteratively (a recursive walk is what we guard)."""
    stack: list[tuple[Any, str, int]] = [(data, "", 0)]
    while stack:
        value, pointer, depth = stack.pop()
        if isinstance(value, str):
            if _UNSTORABLE.search(value):
                raise Refused("invalid_text", "text holds a NUL character or a lone UTF-16 surrogate", pointer)
        elif isinstance(value, (dict, list)):
            if depth >= MAX_DEPTH:
                raise Refused("too_deep", f"objects and arrays nest at most {MAX_DEPTH} deep", pointer)
            items = value.items() if isinstance(value, dict) else enumerate(value)
            for key, item in items:
                child = f"{pointer}/{_escape(str(key))}"
                if isinstance(key, str) and _UNSTORABLE.search(key):
                    raise Refused("invalid_text", "a member name holds a NUL character or a lone UTF-16 "
                                  "surrogate", child)
                stack.append((item, child, depth + 1))


def loads(text: str | bytes) -> Any:
    """Decode ``text``; raises :class:`Refused` (or ``ValueError`` for malformed JSON)."""
    try:
        data = json.loads(text, parse_float=_float, parse_int=_int, parse_constant=_constant)
    except RecursionError:
        raise Refused("too_deep", f"objects and arrays nest at most {MAX_DEPTH} deep") from None
    _check(data)
    return data
