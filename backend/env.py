"""Typed readers for environment variables that fail loudly on bad values.

Every setting of the service comes through one of these, so a mistyped value
stops the process at start-up with the variable's name instead of surfacing
later as odd behaviour.
"""

from __future__ import annotations

import json
import os
from datetime import date, time
from urllib.parse import parse_qs, unquote, urlsplit


class ConfigurationError(RuntimeError):
    """A setting is missing or malformed."""


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str | None = None, *, required: bool = False) -> str:
    value = os.environ.get(name)
    if value is None or value == "":
        if required:
            raise ConfigurationError(f"{name} must be set.")
        if default is None:
            raise ConfigurationError(f"{name} must be set (no default).")
        return default
    return value


def env_optional(name: str) -> str | None:
    value = os.environ.get(name)
    return value if value else None


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    lowered = raw.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ConfigurationError(f"{name} must be a boolean (true/false), got {raw!r}.")


def env_int(
    name: str, default: int, *, minimum: int | None = None, maximum: int | None = None
) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        value = default
    else:
        try:
            value = int(raw.strip())
        except ValueError as exc:
            raise ConfigurationError(f"{name} must be an integer, got {raw!r}.") from exc
    if minimum is not None and value < minimum:
        raise ConfigurationError(f"{name} must be at least {minimum}, got {value}.")
    if maximum is not None and value > maximum:
        raise ConfigurationError(f"{name} must be at most {maximum}, got {value}.")
    return value


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return list(default)
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    value = env_str(name, default)
    if value not in choices:
        raise ConfigurationError(f"{name} must be one of {', '.join(choices)}, got {value!r}.")
    return value


def database_from_url(url: str) -> dict[str, object]:
    """Django DATABASES entry from a postgresql:// URL (host may be a socket directory)."""
    parts = urlsplit(url)
    if parts.scheme not in {"postgres", "postgresql"}:
        raise ConfigurationError(
            f"DATABASE_URL must start with postgresql://, got scheme {parts.scheme!r}."
        )
    query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
    host = query.pop("host", None) or (unquote(parts.hostname) if parts.hostname else "")
    name = unquote(parts.path.lstrip("/")) or query.pop("dbname", "")
    if not name:
        raise ConfigurationError("DATABASE_URL must name a database.")
    try:
        port = parts.port
    except ValueError as exc:
        raise ConfigurationError("DATABASE_URL has an invalid port.") from exc
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": name,
        "USER": unquote(parts.username or ""),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": host,
        "PORT": str(port or query.pop("port", "") or ""),
        "OPTIONS": query,
    }


def replica_database_from_url(url: str, *, conn_max_age: int) -> dict[str, object]:
    """The read replica's DATABASES entry: read-only sessions (a write fails even where the
    server would take it), a short connect timeout unless the URL sets one (a replica that
    does not answer must not hold a request up), no test database of its own."""
    config = database_from_url(url)
    options: dict[str, str] = config["OPTIONS"]  # type: ignore[assignment]
    options.setdefault("connect_timeout", "3")
    options["options"] = f"{options.get('options', '')} -c default_transaction_read_only=on".strip()
    config["CONN_MAX_AGE"] = conn_max_age
    config["CONN_HEALTH_CHECKS"] = True
    config["TEST"] = {"MIRROR": "default"}
    return config


def env_int_list(name: str, default: list[int], *, minimum: int = 0) -> list[int]:
    values: list[int] = []
    for item in env_list(name, [str(d) for d in default]):
        try:
            value = int(item)
        except ValueError as exc:
            raise ConfigurationError(f"{name} must be integers separated by commas.") from exc
        if value < minimum:
            raise ConfigurationError(f"{name} values must be at least {minimum}.")
        values.append(value)
    return values


def env_float(name: str, default: float, *, minimum: float | None = None) -> float:
    raw = os.environ.get(name)
    try:
        value = float(raw) if raw else default
    except ValueError as exc:
        raise ConfigurationError(f"{name} must be a number, got {raw!r}.") from exc
    if minimum is not None and value < minimum:
        raise ConfigurationError(f"{name} must be at least {minimum}.")
    return value


WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def env_weekdays(name: str, default: list[str]) -> frozenset[int]:
    """Days of the week as `mon,tue,...`: Monday is 0, as `date.weekday()` counts."""
    days = [item.lower()[:3] for item in env_list(name, default)]
    unknown = [day for day in days if day not in WEEKDAYS]
    if unknown or not days:
        raise ConfigurationError(
            f"{name} must be days of the week separated by commas (mon,tue,...), got {days!r}."
        )
    return frozenset(WEEKDAYS.index(day) for day in days)


def env_time_range(name: str, default: str) -> tuple[time, time]:
    """A daily span as `HH:MM-HH:MM`, its start before its end."""
    raw = os.environ.get(name) or default
    try:
        start, end = (time.fromisoformat(part.strip()) for part in raw.split("-"))
    except ValueError as exc:
        raise ConfigurationError(f"{name} must look like 08:00-18:00, got {raw!r}.") from exc
    if start >= end:
        raise ConfigurationError(f"{name} must start before it ends, got {raw!r}.")
    return start, end


def env_date_list(name: str) -> frozenset[date]:
    """Dates as `YYYY-MM-DD` separated by commas (empty by default)."""
    try:
        return frozenset(date.fromisoformat(item) for item in env_list(name, []))
    except ValueError as exc:
        raise ConfigurationError(f"{name} must be dates (YYYY-MM-DD) separated by commas.") from exc


def env_choices_list(name: str, default: list[str], choices: tuple[str, ...]) -> list[str]:
    """A comma-separated list whose every item is one of `choices` (an empty value: none)."""
    values = env_list(name, default)
    unknown = [v for v in values if v not in choices]
    if unknown:
        raise ConfigurationError(
            f"{name} items must be among {', '.join(choices)}, got {', '.join(unknown)}."
        )
    return values


# Roles a directory group may give: never "oh" (clinical access needs an OH lead's approval).
GROUP_ROLES_ALLOWED = ("officer", "supervisor", "hr", "admin")


def parse_group_roles(raw: str, name: str) -> dict[str, str]:
    """A JSON object mapping a directory group id to a role other than "oh"."""
    try:
        mapping = json.loads(raw or "{}")
    except ValueError as exc:
        raise ConfigurationError(f"{name} must be a JSON object: {exc}.") from exc
    if not isinstance(mapping, dict) or not all(
        isinstance(k, str) and k and isinstance(v, str) for k, v in mapping.items()
    ):
        raise ConfigurationError(f'{name} must map group ids to roles: {{"<group id>": "hr"}}.')
    refused = sorted({v for v in mapping.values() if v not in GROUP_ROLES_ALLOWED})
    if refused:
        raise ConfigurationError(
            f"{name} may map groups only to {', '.join(GROUP_ROLES_ALLOWED)} (never "
            f"occupational health, which an OH lead approves), got {', '.join(refused)}."
        )
    return dict(mapping)
