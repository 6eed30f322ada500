"""The embedded PostgreSQL used when DATABASE_URL is not set.

pgserver ships a PostgreSQL build in a wheel, so a fresh machine needs nothing
installed by hand. Its data lives in `.data/pg` (git-ignored) and survives
restarts. The server listens on a Unix socket only.

    python -m backend.embedded_db -- CMD ...   run CMD with DATABASE_URL set,
                                               stopping the server afterwards
                                               if this call started it
    python -m backend.embedded_db url          print the URL (starting it)
    python -m backend.embedded_db stop         stop it
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import warnings
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

BASE_DIR = Path(__file__).resolve().parent.parent


def data_dir() -> Path:
    configured = os.environ.get("EMBEDDED_PG_DIR")
    return Path(configured).resolve() if configured else BASE_DIR / ".data" / "pg"


def _pgserver():  # type: ignore[no-untyped-def]
    os.environ.setdefault("XDG_RUNTIME_DIR", str(BASE_DIR / ".data" / "run"))
    Path(os.environ["XDG_RUNTIME_DIR"]).mkdir(parents=True, exist_ok=True, mode=0o700)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pgserver
        from pgserver.utils import PostmasterInfo
    return pgserver, PostmasterInfo


def is_running() -> bool:
    _, postmaster_info = _pgserver()
    info = postmaster_info.read_from_pgdata(data_dir())
    return bool(info is not None and info.is_running())


def ensure_running() -> tuple[str, bool]:
    """Start the embedded server if needed; return its URL and whether this call started it."""
    pgserver, _ = _pgserver()
    path = data_dir()
    path.parent.mkdir(parents=True, exist_ok=True)
    was_running = is_running()
    # cleanup_mode=None: the server outlives this process; whoever started it stops it.
    server = pgserver.get_server(path, cleanup_mode=None)
    return server.get_uri(), not was_running


APP_ROLE = "welfare_app"
RETENTION_ROLE = "welfare_retention"


def role_urls(owner_url: str) -> dict[str, str]:
    """The settings for least privilege on the embedded server: its superuser owns the
    schema and runs migrations and `db_roles`; the application and the retention job log in
    as their own roles. The server listens on a Unix socket only and trusts it (the data
    directory is this user's), so these roles need no password."""
    parts = urlsplit(owner_url)
    host = parts.netloc.rsplit("@", 1)[-1]

    def as_role(role: str) -> str:
        return urlunsplit(parts._replace(netloc=f"{role}@{host}"))

    return {
        "DATABASE_OWNER_URL": owner_url,
        "DATABASE_URL": as_role(APP_ROLE),
        "DATABASE_RETENTION_URL": as_role(RETENTION_ROLE),
        "DATABASE_REFUSE_SUPERUSER": "true",
    }


def stop() -> None:
    if not is_running():
        return
    from pgserver._commands import pg_ctl  # type: ignore[attr-defined]

    system_user = "pgserver" if hasattr(os, "geteuid") and os.geteuid() == 0 else None
    pg_ctl(["-w", "-m", "fast", "stop"], pgdata=data_dir(), user=system_user)


def run_with_database(command: list[str]) -> int:
    """Run a command with DATABASE_URL pointing at a database, embedded unless one is given."""
    started = False
    env = dict(os.environ)
    if not env.get("DATABASE_URL"):
        url, started = ensure_running()
        env["DATABASE_URL"] = url
    venv_bin = str(Path(sys.executable).parent)
    env["PATH"] = venv_bin + os.pathsep + env.get("PATH", "")
    child = subprocess.Popen(command, env=env)  # noqa: S603 - the caller's own command

    def forward(signum: int, _frame: object) -> None:
        child.send_signal(signum)

    signal.signal(signal.SIGINT, forward)
    signal.signal(signal.SIGTERM, forward)
    try:
        return child.wait()
    finally:
        if started:
            stop()


def main(argv: list[str]) -> int:
    if argv[:1] == ["url"]:
        print(ensure_running()[0])
        return 0
    if argv[:1] == ["stop"]:
        stop()
        return 0
    if argv[:1] == ["--"]:
        argv = argv[1:]
    if not argv:
        print(__doc__)
        return 2
    return run_with_database(argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
