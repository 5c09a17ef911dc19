"""Request bodies validated against the schemas of the OpenAPI document.

The document is the one source of truth: a schema in ``components.schemas`` is the contract
clients read and the check the API runs. Schemas are compiled once per container
(fastjsonschema turns each into Python code). Unknown fields are rejected by the schemas'
``additionalProperties: false``.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any

from chalicelib import errors
from chalicelib.api.health import OPENAPI_PATH


@functools.cache
def _components() -> dict[str, Any]:
    return json.loads(OPENAPI_PATH.read_text(encoding="utf-8"))["components"]


@functools.cache
def _validator(schema_name: str) -> Callable[[Any], Any]:
    import fastjsonschema

    if schema_name not in _components()["schemas"]:
        raise KeyError(f"no schema {schema_name!r} in openapi.json")
    root = {"$ref": f"#/components/schemas/{schema_name}", "components": _components()}
    return fastjsonschema.compile(root, use_formats=True)


def _pointer(path: list[Any]) -> str:
    parts = [str(p) for p in path[1:]]  # path[0] is fastjsonschema's "data"
    return "/" + "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts) if parts else ""


def validate(schema_name: str, data: Any) -> Any:
    """``data`` if it matches the named schema, else ``validation_failed`` naming the field."""
    from fastjsonschema import JsonSchemaValueException

    try:
        return _validator(schema_name)(data)
    except JsonSchemaValueException as e:
        pointer = _pointer(list(e.path or []))
        details: dict[str, Any] = {"pointer": pointer, "rule": e.rule}
        if e.rule == "additionalProperties" and isinstance(e.value, dict):
            allowed = set((e.definition or {}).get("properties", {}))
            details["unknown_fields"] = sorted(set(e.value) - allowed)
        message = e.message.replace("data.", "", 1).replace("data ", "body ", 1)
        raise errors.ValidationFailed(f"{pointer or 'body'}: {message}", details=details) from None
