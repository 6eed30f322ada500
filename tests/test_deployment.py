"""The deployment as shipped: the compose file against the project, and the containers'
commands run as processes against the test database (Docker itself is not needed)."""

from __future__ import annotations

import ast
import importlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.core.management import get_commands
from django.db import connection
from django.urls import resolve

from schedules.models import Heartbeat

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, Any] = COMPOSE["services"]
DB_ONLY = {"POSTGRES_DB", "POSTGRES_USER", "POSTGRES_PASSWORD"}  # read by the postgres image
REPLICA_ONLY = {"PGPASSWORD"}  # the replica's copy and stream from db, as the owner
# Read by compose itself, into the database URLs (README, Database roles).
COMPOSE_ONLY = DB_ONLY | {"WELFARE_APP_PASSWORD", "WELFARE_RETENTION_PASSWORD"}


def settings_variables() -> set[str]:
    """Every environment variable the settings read (env_*("NAME", ...) calls)."""
    tree = ast.parse((ROOT / "backend" / "settings.py").read_text())
    names = set()
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id.startswith("env_")
            and node.args
            and isinstance(node.args[0], ast.Constant)
        ):
            names.add(node.args[0].value)
    return names | {"DATABASE_URL", "EMBEDDED_PG_DIR"}  # read by backend/embedded_db.py too


def documented_variables() -> set[str]:
    text = (ROOT / ".env.example").read_text()
    return set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", text, flags=re.MULTILINE))


def test_the_services_and_their_health_checks() -> None:
    default = {name for name, service in SERVICES.items() if not service.get("profiles")}
    assert default == {"db", "migrate", "web", "scheduler"}  # `docker compose up`
    assert set(SERVICES) - default == {"db-replica"}
    assert SERVICES["db"]["image"] == "postgres:17"
    assert "pg_isready" in " ".join(SERVICES["db"]["healthcheck"]["test"])
    assert any(v.endswith(":/var/lib/postgresql/data") for v in SERVICES["db"]["volumes"])
    assert "pgdata" in COMPOSE["volumes"]
    probe = " ".join(SERVICES["web"]["healthcheck"]["test"])
    paths = re.findall(r"http://127\.0\.0\.1:8000(/[a-z]+)", probe)
    assert paths == ["/readyz"]
    assert resolve(paths[0]).url_name == "readyz"
    assert SERVICES["scheduler"]["deploy"]["replicas"] == 2
    assert SERVICES["migrate"]["restart"] == "no"
    assert SERVICES["web"]["depends_on"]["migrate"]["condition"] == (
        "service_completed_successfully"
    )


def test_the_optional_read_replica_streams_from_db_and_the_app_is_told_of_it() -> None:
    replica, db = SERVICES["db-replica"], SERVICES["db"]
    assert replica["profiles"] == ["replica"]
    assert replica["image"] == db["image"]  # a physical copy needs the same major version
    assert replica["user"] == "postgres"  # never root
    script = replica["command"][0]
    assert "pg_basebackup -h db -U welfare" in script
    assert " -R " in script  # it starts as a standby of db, streaming
    assert "--slot" not in script  # no slot: db's disk never waits on a replica left behind
    assert "-S " not in script
    assert replica["depends_on"]["db"]["condition"] == "service_healthy"
    assert "pg_isready" in " ".join(replica["healthcheck"]["test"])
    assert replica["volumes"] == ["pgdata-replica:/var/lib/postgresql/data"]
    assert "pgdata-replica" in COMPOSE["volumes"]
    # db admits the stream from the owner alone, by password; nothing else changes.
    assert db["command"] == ["postgres", "-c", "hba_file=/etc/welfare/pg_hba.conf"]
    assert "./deploy/postgres/pg_hba.conf:/etc/welfare/pg_hba.conf:ro" in db["volumes"]
    hba = [
        line.split()
        for line in (ROOT / "deploy" / "postgres" / "pg_hba.conf").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    remote_replication = [r for r in hba if r[0] == "host" and r[1] == "replication"]
    assert [r for r in remote_replication if r[3] not in ("127.0.0.1/32", "::1/128")] == [
        ["host", "replication", "welfare", "all", "scram-sha-256"]
    ]
    assert hba[-1] == ["host", "all", "all", "all", "scram-sha-256"]
    # The app's containers get the replica's URL from .env, empty (no replica) by default.
    for name in ("web", "scheduler", "migrate"):
        assert SERVICES[name]["environment"]["DATABASE_REPLICA_URL"] == (
            "${DATABASE_REPLICA_URL:-}"
        )


def test_every_command_exists_in_the_project() -> None:
    commands = get_commands()
    for name in ("migrate", "web", "scheduler"):
        command = SERVICES[name]["command"]
        if command[0] == "python":
            assert command[1] == "manage.py"
            assert command[2] in commands, (name, command)
        else:
            assert command[0] == "gunicorn"
            module, attribute = command[1].split(":")
            assert callable(getattr(importlib.import_module(module), attribute))
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "USER welfare" in dockerfile  # the containers do not run as root
    assert "postgresql-client-17" in dockerfile  # pg_dump for backups matches the server


def test_secrets_data_and_backups_stay_out_of_the_image_and_the_repository() -> None:
    docker_ignored = set((ROOT / ".dockerignore").read_text().split())
    git_ignored = set((ROOT / ".gitignore").read_text().split())
    assert {".env", ".data", ".git", "backups", "*.dump"} <= docker_ignored
    assert {".env", ".data/", "backups/", "*.dump", "*.dump.manifest.json"} <= git_ignored


def test_every_variable_is_read_by_the_settings_and_documented() -> None:
    read = settings_variables()
    for name, service in SERVICES.items():
        for variable, value in service.get("environment", {}).items():
            if name != "db" and value == "" and variable in COMPOSE_ONLY:
                continue  # a password blanked: kept from this container
            allowed = {"db": DB_ONLY, "db-replica": REPLICA_ONLY}.get(name, read)
            assert variable in allowed, f"{name} sets {variable}, which nothing reads"
    documented = documented_variables()
    assert documented - read - COMPOSE_ONLY == set(), "documented but never read"
    assert read - documented == set(), "read by the settings but not in .env.example"
    assert (ROOT / ".env").exists() is False or ".env" in (ROOT / ".gitignore").read_text()


def test_each_container_connects_as_its_own_role() -> None:
    def user(url: str) -> str:
        return url.split("://", 1)[1].split(":", 1)[0]

    for name in ("migrate", "web", "scheduler"):
        environment = SERVICES[name]["environment"]
        assert user(environment["DATABASE_URL"]) == "welfare_app", name
        assert environment["POSTGRES_PASSWORD"] == "", name  # the owner's, kept out
        assert ("DATABASE_OWNER_URL" in environment) is (name == "migrate"), name
        assert ("DATABASE_RETENTION_URL" in environment) is (name != "web"), name
    assert (
        user(SERVICES["migrate"]["environment"]["DATABASE_OWNER_URL"])
        == (SERVICES["db"]["environment"]["POSTGRES_USER"])
    )
    assert user(SERVICES["scheduler"]["environment"]["DATABASE_RETENTION_URL"]) == (
        "welfare_retention"
    )
    assert SERVICES["migrate"]["command"][2:] == ["db_roles", "--migrate"]


def _as_role(url: str, role: str) -> str:
    scheme, rest = url.split("://", 1)
    return f"{scheme}://{role}@{rest.split('@', 1)[1]}"


def _database_url() -> str:
    config = connection.settings_dict
    user = config.get("USER") or "postgres"
    password = config.get("PASSWORD") or ""
    host = config.get("HOST") or ""
    port = config.get("PORT") or ""
    if host.startswith("/"):
        return f"postgresql://{user}:{password}@/{config['NAME']}?host={host}"
    return f"postgresql://{user}:{password}@{host}:{port or 5432}/{config['NAME']}"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _ready(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - our own server
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)
    except OSError:
        return 0


@pytest.mark.django_db(transaction=True)
def test_the_containers_commands_bring_up_a_ready_service() -> None:
    env = {
        **os.environ,
        # As compose runs them: migrations and roles as the owner (the tests' superuser),
        # the web server and schedulers as the application's role, retention as its own.
        "DATABASE_OWNER_URL": _database_url(),
        "DATABASE_URL": _as_role(_database_url(), "welfare_app"),
        "DATABASE_RETENTION_URL": _as_role(_database_url(), "welfare_retention"),
        "DATABASE_REFUSE_SUPERUSER": "true",
        "SCHEDULER_HEARTBEAT_SECONDS": "1",
        "SCHEDULER_LOCK_POLL_SECONDS": "0.2",
        "PYTHONPATH": str(ROOT),
    }
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")

    def command(service: str, *extra: str) -> list[str]:
        argv = list(SERVICES[service]["command"])
        argv[0] = sys.executable if argv[0] == "python" else argv[0]
        if argv[0] == "gunicorn":
            argv = [sys.executable, "-m", "gunicorn", *argv[1:]]
        return [*argv, *extra]

    migrate = subprocess.run(
        command("migrate"), cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert migrate.returncode == 0, migrate.stderr
    port = _free_port()
    web_argv = [a if a != "0.0.0.0:8000" else f"127.0.0.1:{port}" for a in command("web")]
    processes = [
        subprocess.Popen(web_argv, cwd=ROOT, env=env),
        subprocess.Popen(command("scheduler", "--instance", "one"), cwd=ROOT, env=env),
        subprocess.Popen(command("scheduler", "--instance", "two"), cwd=ROOT, env=env),
    ]
    try:
        deadline = time.monotonic() + 60
        status, roles = 0, {}
        # Ready as soon as the leader beats; the standby's first beat may come a moment later.
        while time.monotonic() < deadline and (status != 200 or len(roles) < 2):
            time.sleep(0.5)
            status = _ready(f"http://127.0.0.1:{port}/readyz")
            assert all(p.poll() is None for p in processes), "a process stopped"
            roles = dict(
                Heartbeat.objects.filter(instance__in=("one", "two")).values_list(
                    "instance", "role"
                )
            )
        assert status == 200
        assert sorted(roles.values()) == ["leader", "standby"]
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
