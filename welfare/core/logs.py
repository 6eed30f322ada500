"""Log lines as JSON, one per line, carrying the request's id and the caller's user id and
role. Messages name records by id only: no names, no health data, no note text."""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime

from welfare.core.context import current

_CONTEXT = ("request_id", "user_id", "role")

# A calendar feed's address is its only credential: never written to a log.
_CALENDAR_KEY = re.compile(r"(/calendar/)[^/?#.\s\"'<>\[]+")


def redact(text: str) -> str:
    """Text with every calendar feed key replaced by `[redacted]`."""
    return _CALENDAR_KEY.sub(r"\1[redacted]", text) if "/calendar/" in text else text


_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", *_CONTEXT}


def install_record_factory() -> None:
    """Stamp every log record, when it is made, with the request's id and the caller (the
    formatter may run later, or in a test, outside the request)."""
    previous = logging.getLogRecordFactory()
    if getattr(previous, "welfare_context", False):
        return

    def factory(*args: object, **kwargs: object) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # a bad format is logging's to report, when it emits
            message = None
        if message is not None and redact(message) != message:
            record.msg, record.args = redact(message), None
        info = current()
        for key in _CONTEXT:
            setattr(record, key, getattr(info, key))
        return record

    factory.welfare_context = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in _CONTEXT:
            value = getattr(record, key, None)
            if value is not None:
                entry[key] = value
        for key, value in vars(record).items():  # fields given with `extra=`
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value if isinstance(value, str | int | float | bool) else str(value)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return redact(json.dumps(entry, ensure_ascii=False))
