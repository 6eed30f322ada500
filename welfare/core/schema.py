"""Post-processing of the OpenAPI document: what the server enforces everywhere, declared
once instead of on each parameter."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema

# A row's id in a path (welfare.core.filters.ID_SCHEMA): outside it names nothing, a 404.
ID_BOUNDS = {"minimum": 1, "maximum": 2**31 - 1}
SHAPED = ("enum", "format", "pattern", "minLength", "anyOf", "oneOf", "allOf", "$ref")


def declare_parameters(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """Every query parameter must have a value when it is given (the filters refuse
    `?name=`): a free-text one is declared `minLength: 1`. Integer ids in paths are bounded
    like the database's ids."""
    for path in result.get("paths", {}).values():
        for operation in path.values():
            for parameter in operation.get("parameters", []):
                schema = parameter.get("schema", {})
                if parameter.get("in") == "path" and schema.get("type") == "integer":
                    schema.update(ID_BOUNDS)
                free_text = schema.get("type") == "string" and not any(k in schema for k in SHAPED)
                if parameter.get("in") == "query" and free_text:
                    schema.update(minLength=1, pattern="^[^\\x00]+$")  # no NUL: DRF refuses
    return result


REFUSALS = "x-refusals"


def refusals(*rules: str) -> Any:
    """Declare the rules by which a well-formed request is still refused with a 400: what
    the schema cannot say (an id that names nothing, an end before its start, a date that
    has passed). Listed on the operation as `x-refusals`; clients read them as the 400's
    causes, and the schema tests accept a 400 for valid input only where one is declared."""
    return extend_schema(extensions={REFUSALS: list(rules)})


ERROR_COMPONENT = "Error"
ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "Every error has this shape (welfare.core.errors): `detail` and `code`, or "
    "each field refused with its messages and `code` (`invalid` unless a rule names its own).",
    "properties": {
        "code": {"type": "string", "description": "What a client can branch on."},
        "detail": {"type": "string"},
    },
    "required": ["code"],
    "additionalProperties": {
        "description": "A field refused: its messages (a rule may add details of its own)."
    },
}


def declare_error_bodies(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """Every 4xx and 5xx answer is JSON in one shape: declared once as the `Error`
    component, on each error response that does not describe a body of its own, so a
    generated client can read `code`."""
    reference = {"$ref": f"#/components/schemas/{ERROR_COMPONENT}"}
    for path in result.get("paths", {}).values():
        for operation in path.values():
            for status, response in operation.get("responses", {}).items():
                if status[:1] in ("4", "5") and "content" not in response:
                    response["content"] = {"application/json": {"schema": reference}}
    result.setdefault("components", {}).setdefault("schemas", {})[ERROR_COMPONENT] = ERROR_SCHEMA
    return result


def _lift_branch_defaults(node: Any) -> None:
    if isinstance(node, dict):
        for branch in node.get("oneOf", []):
            if isinstance(branch, dict) and "default" in branch:
                node.setdefault("default", branch.pop("default"))
        for value in node.values():
            _lift_branch_defaults(value)
    elif isinstance(node, list):
        for value in node:
            _lift_branch_defaults(value)


def declare_defaults_on_choices(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """A field that may be blank is a `oneOf` of its text and "" (drf-spectacular); its
    default "" belongs to the whole, not to the text branch, whose pattern it fails."""
    _lift_branch_defaults(result.get("components", {}))
    return result
