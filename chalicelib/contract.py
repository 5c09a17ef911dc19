"""The published API document (``openapi.json``), read once per container.

The document is the one source of truth for what the API accepts: request schemas (see
``api.validation``) and the lists other code shares with it, such as the channels an activity
or an event may name.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

OPENAPI_PATH = Path(__file__).resolve().parent / "openapi.json"


@functools.cache
def text() -> str:
    """The document as packaged; parsed once so a broken file fails loudly at first use."""
    body = OPENAPI_PATH.read_text(encoding="utf-8")
    json.loads(body)
    return body


@functools.cache
def document() -> dict[str, Any]:
    return json.loads(text())


def schemas() -> dict[str, Any]:
    return document()["components"]["schemas"]


@functools.cache
def channels() -> tuple[str, ...]:
    """The channels an activity (and an event) may name, in the document's order."""
    return tuple(schemas()["ActivityInput"]["properties"]["channel"]["enum"])
