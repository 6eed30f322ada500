"""Gunicorn's access log, with calendar feed keys redacted from every field."""

from __future__ import annotations

from typing import Any

from gunicorn.glogging import Logger

from welfare.core.logs import redact


class RedactingLogger(Logger):  # type: ignore[misc]
    """The request line, path, query and referrer may carry a feed key; each is redacted."""

    def atoms(self, resp: Any, req: Any, environ: Any, request_time: Any) -> dict[str, Any]:
        atoms = super().atoms(resp, req, environ, request_time)
        return {
            key: redact(value) if isinstance(value, str) else value for key, value in atoms.items()
        }
