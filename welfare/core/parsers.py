"""Request parsers with limits: a body over the size limit answers 413, JSON nested deeper
than the depth limit answers 400, both in the one error shape and before anything is stored.

DRF reads the body from the request stream itself, so Django's DATA_UPLOAD_MAX_MEMORY_SIZE
never applies to it: every parser here reads through `read_limited`. A view may allow a
larger body by naming another setting in a `body_limit_setting` attribute (the exposure
import does).
"""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from rest_framework import status
from rest_framework.exceptions import APIException, ParseError
from rest_framework.parsers import BaseParser
from rest_framework.renderers import JSONRenderer

TOO_LARGE = "The request body is too large: send at most {limit} bytes."
TOO_DEEP = "The request is nested too deeply: at most {limit} levels."
NOT_JSON = "The request body is not valid JSON."


class RequestTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "too_large"

    def __init__(self, limit: int) -> None:
        super().__init__(TOO_LARGE.format(limit=limit), code="too_large")


class RequestTooDeep(APIException):
    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "too_deep"

    def __init__(self, limit: int) -> None:
        super().__init__(TOO_DEEP.format(limit=limit), code="too_deep")


def body_limit(parser_context: dict[str, Any] | None) -> int:
    view = (parser_context or {}).get("view")
    name = getattr(view, "body_limit_setting", None) or "DATA_UPLOAD_MAX_MEMORY_SIZE"
    return int(getattr(settings, name))


def read_limited(stream: Any, parser_context: dict[str, Any] | None) -> bytes:
    """The whole body, refused with 413 when the declared length or the bytes read exceed
    the limit (a chunked body has no declared length, so both are checked)."""
    limit = body_limit(parser_context)
    request = (parser_context or {}).get("request")
    declared = request.META.get("CONTENT_LENGTH") if request is not None else None
    try:
        if declared and int(declared) > limit:
            raise RequestTooLarge(limit)
    except ValueError:
        pass
    content: bytes = stream.read(limit + 1)
    if len(content) > limit:
        raise RequestTooLarge(limit)
    return content


def depth_exceeds(value: Any, limit: int) -> bool:
    """Whether lists and objects nest more than `limit` deep; iterative, so no recursion."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


class JsonParser(BaseParser):
    """JSON (strict: no NaN), with the size and depth limits. Not a subclass of DRF's
    JSONParser: DRF hands that one `request.body`, which Django refuses past its own
    limit with an HTML 400 before the parser can answer, and a view's larger limit would
    never apply."""

    media_type = "application/json"
    renderer_class = JSONRenderer

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        content = read_limited(stream, parser_context)
        limit = settings.REQUEST_MAX_DEPTH
        try:
            data = json.loads(content.decode("utf-8"), parse_constant=_refuse_constant)
        except RecursionError as exc:  # far deeper than the limit: refused the same way
            raise RequestTooDeep(limit) from exc
        except (ValueError, UnicodeDecodeError) as exc:
            raise ParseError(NOT_JSON) from exc
        if depth_exceeds(data, limit):
            raise RequestTooDeep(limit)
        return data
