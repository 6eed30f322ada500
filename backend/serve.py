"""`make run`: database (embedded unless DATABASE_URL), migrations and database roles, demo
data, the API and the scheduler. On the embedded database the API and the scheduler run as
the application's role and the retention job as retention's (backend/db_roles.py).

Ctrl-C stops everything this started, the embedded database included.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from backend import embedded_db

BASE_DIR = Path(__file__).resolve().parent.parent


def _manage(env: dict[str, str], *args: str) -> None:
    subprocess.run([sys.executable, "manage.py", *args], cwd=BASE_DIR, env=env, check=True)  # noqa: S603


def _wait_until_up(url: str, process: subprocess.Popen[bytes], timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310 - our own server
                if response.status == 200:
                    return True
        except OSError:
            time.sleep(0.3)
    return False


def main() -> int:
    env = dict(os.environ)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    started_db = False
    if not env.get("DATABASE_URL"):
        url, started_db = embedded_db.ensure_running()
        env.update(embedded_db.role_urls(url))
        state = "started" if started_db else "already running"
        print(f"Embedded PostgreSQL ({state}): {embedded_db.data_dir()}")
    port = env.get("PORT", "8000")
    children: list[subprocess.Popen[bytes]] = []
    stopping = False

    def stop(_signum: int = 0, _frame: object = None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    try:
        _manage(env, "db_roles", "--migrate")
        _manage(env, "seed_demo")
        web = subprocess.Popen(  # noqa: S603
            [
                sys.executable,
                "-m",
                "gunicorn",
                "backend.wsgi:application",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                env.get("WEB_WORKERS", "2"),
                "--threads",
                env.get("WEB_THREADS", "4"),
                "--access-logfile",
                "-",
                "--logger-class",
                "backend.gunicorn_logging.RedactingLogger",
            ],
            cwd=BASE_DIR,
            env=env,
        )
        children.append(web)
        scheduler = subprocess.Popen(
            [sys.executable, "manage.py", "run_scheduler"], cwd=BASE_DIR, env=env
        )
        children.append(scheduler)
        base = f"http://127.0.0.1:{port}"
        if not _wait_until_up(f"{base}/healthz", web):
            print("The web server did not start; see the messages above.", file=sys.stderr)
            return 1
        print(
            f"\nWelfare service running.\n\n  Open the web app: {base}/\n\n"
            f"  API:   {base}/api/v1/\n  Docs:  {base}/api/docs/\n  Admin: {base}/admin/\n",
            flush=True,
        )
        _manage(env, "seed_demo", "--show-logins")
        print("\nPress Ctrl-C to stop.\n", flush=True)
        while not stopping:
            if any(child.poll() is not None for child in children):
                print("A service process stopped; shutting down.", file=sys.stderr)
                return 1
            time.sleep(0.5)
        return 0
    except subprocess.CalledProcessError as exc:
        print(f"Start-up step failed: {' '.join(map(str, exc.cmd[1:]))}", file=sys.stderr)
        return 1
    finally:
        for child in children:
            if child.poll() is None:
                child.terminate()
        for child in children:
            try:
                child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                child.kill()
        if started_db:
            embedded_db.stop()
            print("Embedded PostgreSQL stopped.")


if __name__ == "__main__":
    sys.exit(main())
