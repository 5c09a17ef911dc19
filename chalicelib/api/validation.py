"""Request bodies validated against the schemas of the OpenAPI document.

The document is the one source of truth: a schema in ``components.schemas`` is the contract
clients read and the check the API runs. Schemas are compiled once per container
(fastjsonschema turns each into Python code). Unknown fields are rejected by the schemas'
``additionalProperties: false``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from chalicelib import contract, errors, text


def _components() -> dict[str, Any]:
    return contract.document()["components"]


@functools.cache
def _validator(schema_name: str) -> Callable[[Any], Any]:
    import fastjsonschema

    if schema_name not in _components()["schemas"]:
        raise KeyError(f"no schema {schema_name!r} in openapi.json")
    root = {"$ref": f"#/components/schemas/{schema_name}", "components": _components()}
    return fastjsonschema.compile(root, use_formats=True, formats={"text-line": text.is_line, "text": text.is_text})


def _normalise(schema: dict[str, Any], data: Any, depth: int = 0) -> Any:
    """``data`` (valid against ``schema``) with every ``text-line`` / ``text`` string normalised."""
    while "$ref" in schema and depth < 64:
        schema = _components()["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
        depth += 1
    if isinstance(data, str):
        return text.normalise(data) if schema.get("format") in ("text-line", "text") else data
    if isinstance(data, dict):
        properties, extra = schema.get("properties") or {}, schema.get("additionalProperties")
        for key, value in data.items():
            sub = properties.get(key, extra if isinstance(extra, dict) else None)
            if sub:
                data[key] = _normalise(sub, value, depth + 1)
    elif isinstance(data, list) and isinstance(schema.get("items"), dict):
        data[:] = [_normalise(schema["items"], value, depth + 1) for value in data]
    return data


def _pointer(path: list[Any]) -> str:
    parts = [str(p) for p in path[1:]]  # path[0] is fastjsonschema's "data"
    return "/" + "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts) if parts else ""


def validate(schema_name: str, data: Any) -> Any:
    """``data`` if it matches the named schema, else ``validation_failed`` naming the field."""
    from fastjsonschema import JsonSchemaValueException

    try:
        return _normalise(_components()["schemas"][schema_name], _validator(schema_name)(data))
    except JsonSchemaValueException as e:
        pointer = _pointer(list(e.path or []))
        details: dict[str, Any] = {"pointer": pointer, "rule": e.rule}
        if e.rule == "additionalProperties" and isinstance(e.value, dict):
            allowed = set((e.definition or {}).get("properties", {}))
            details["unknown_fields"] = sorted(set(e.value) - allowed)
        message = e.message.replace("data.", "", 1).replace("data ", "body ", 1)
        if e.rule in ("format", "pattern") and (e.definition or {}).get("format") in ("text-line", "text"):
            message = "must show visible text: not blank or only invisible characters (no-break or zero-width " \
                      "spaces, BOM), and no control characters" + ("" if e.definition["format"] == "text-line"
                                                                    else " other than line breaks")
        raise errors.ValidationFailed(f"{pointer or 'body'}: {message}", details=details) from None


@functools.cache
def _path_validators(resource_path: str) -> dict[str, Callable[[Any], Any]]:
    import fastjsonschema

    document = contract.document()
    item = document["paths"].get(resource_path) or {}
    declared = list(item.get("parameters") or [])
    for operation in item.values():
        if isinstance(operation, dict):
            declared += operation.get("parameters") or []
    return {p["name"]: fastjsonschema.compile({**p["schema"], "components": document["components"]})
            for p in declared if p.get("in") == "path"}


def check_path(resource_path: str, params: dict[str, Any]) -> None:
    """Path parameters against their documented schemas (an id is a ULID): anything else names
    no resource, and answers 404 before it reaches a store (a 2 KB id is over DynamoDB's key
    limit)."""
    from fastjsonschema import JsonSchemaValueException

    validators = _path_validators(resource_path)
    for name, value in params.items():
        check = validators.get(name)
        if check is None:
            continue
        try:
            check(value)
        except JsonSchemaValueException as e:
            raise errors.NotFound(f"No such resource: {name} is not a valid id.",
                                  details={"parameter": name, "rule": e.rule}) from None

