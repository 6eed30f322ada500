"""Webhooks go only to https on public addresses (or allow-listed hosts), checked when set and
at every send, follow no redirects, and are sent one claim at a time with no transaction open."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from django.db import connection

from schedules.jobs import JOBS
from schedules.models import JobRun
from schedules.runner import run_job
from tests.conftest import Cast, client_for, run_together
from welfare.alerts import rules
from welfare.alerts.models import UnitWebhook, WebhookDelivery
from welfare.alerts.services import webhook_create, webhook_delivery_sweep, webhooks

PUBLIC = "93.184.215.14"
DNS = {
    "hooks.example.com": [PUBLIC],
    "v6.example.com": ["2606:2800:21f:cb07:6820:80da:af6b:8b2c"],
    "metadata.example.com": ["169.254.169.254"],
    "loop.example.com": ["127.0.0.1"],
    "loop6.example.com": ["::1"],
    "ten.example.com": ["10.1.2.3"],
    "172.example.com": ["172.16.5.4"],
    "192.example.com": ["192.168.1.1"],
    "ula.example.com": ["fd00::1"],
    "fe80.example.com": ["fe80::1"],
    "zero.example.com": ["0.0.0.0"],  # noqa: S104 - an address to refuse, not to bind
    "multicast.example.com": ["224.0.0.1"],
    "mapped.example.com": ["::ffff:127.0.0.1"],
    "cgnat.example.com": ["100.64.0.1"],
    "mixed.example.com": [PUBLIC, "10.0.0.1"],
    "chat.internal": ["10.0.0.5"],
}

REFUSED = [
    ("ftp://hooks.example.com/x", rules.WEBHOOK_SCHEME_REFUSED),
    ("http://hooks.example.com/x", rules.WEBHOOK_SCHEME_REFUSED),
    ("https://user:pw@hooks.example.com/x", rules.WEBHOOK_CREDENTIALS_REFUSED),
    ("https://nowhere.example.com/x", rules.WEBHOOK_UNRESOLVED),
    ("https://metadata.example.com/latest", "link-local"),
    ("https://169.254.169.254/latest", "link-local"),
    ("https://127.0.0.1/x", "loopback"),
    ("https://[::1]/x", "loopback"),
    ("https://loop.example.com/x", "loopback"),
    ("https://loop6.example.com/x", "loopback"),
    ("https://ten.example.com/x", "private"),
    ("https://172.example.com/x", "private"),
    ("https://192.example.com/x", "private"),
    ("https://ula.example.com/x", "private"),
    ("https://[fc00::1]/x", "private"),
    ("https://fe80.example.com/x", "link-local"),
    ("https://zero.example.com/x", "unspecified"),
    ("https://multicast.example.com/x", "multicast"),
    ("https://mapped.example.com/x", "loopback"),
    ("https://cgnat.example.com/x", "reserved"),
    ("https://mixed.example.com/x", "private"),
    ("http://chat.internal/x", rules.WEBHOOK_SCHEME_REFUSED),  # not on the list here
]
ACCEPTED = [
    "https://hooks.example.com/x",
    "https://hooks.example.com:8443/x?room=1",
    "https://v6.example.com/x",
    f"https://{PUBLIC}/x",
]


@pytest.fixture
def dns(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[str]]:
    """A resolver that is a table, changeable during the test (as DNS is)."""
    table = {name: list(addresses) for name, addresses in DNS.items()}

    def resolve(host: str, port: int) -> list[str]:
        return list(table.get(host, [host] if host[0].isdigit() or ":" in host else []))

    monkeypatch.setattr(webhooks, "resolve_host", resolve)
    return table


class Recorder:
    """An injected sender: records what it was given and answers with the next status."""

    def __init__(self, *statuses: int) -> None:
        self.statuses = list(statuses) or [204]
        self.calls: list[dict[str, object]] = []
        self.lock = threading.Lock()

    def __call__(self, target, addresses, body, headers, timeout) -> int:  # type: ignore[no-untyped-def]
        with self.lock:
            self.calls.append(
                {
                    "host": target.host,
                    "addresses": list(addresses),
                    "delivery": int(headers["X-Welfare-Delivery"]),
                    "in_transaction": connection.in_atomic_block,
                }
            )
            return self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]


def pending(webhook: UnitWebhook, count: int, at) -> list[WebhookDelivery]:  # type: ignore[no-untyped-def]
    return [
        WebhookDelivery.objects.create(
            webhook=webhook,
            dedupe_key=f"t:{n}",
            payload={"n": n},
            next_attempt_at=at,
            created_at=at,
        )
        for n in range(count)
    ]


# --- The policy, as pure functions -------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("10.0.0.1", "private"),
        ("172.31.255.255", "private"),
        ("192.168.0.1", "private"),
        ("fc00::1", "private"),
        ("fe80::1", "link-local"),
        ("169.254.169.254", "link-local"),
        ("0.0.0.0", "unspecified"),  # noqa: S104
        ("::", "unspecified"),
        ("224.0.0.251", "multicast"),
        ("ff02::1", "multicast"),
        ("240.0.0.1", "reserved"),
        ("192.0.2.1", "private"),  # documentation range
        ("::ffff:10.0.0.1", "private"),
        ("8.8.8.8", None),
        ("172.32.0.1", None),
        ("2a00:1450:4009:81f::200e", None),
    ],
)
def test_address_kind(address: str, kind: str | None) -> None:
    assert rules.address_kind(address) == kind


def test_allow_list_allows_http_and_trusts_the_host() -> None:
    target = rules.webhook_target("http://Chat.Internal.:8065/hooks/a?x=1", ["chat.internal"])
    assert (target.scheme, target.host, target.port, target.path) == (
        "http",
        "chat.internal",
        8065,
        "/hooks/a?x=1",
    )
    assert target.trusted
    assert target.host_header == "chat.internal:8065"
    assert not rules.webhook_target("https://hooks.example.com", ["chat.internal"]).trusted
    with pytest.raises(rules.WebhookRefused, match="https"):
        rules.webhook_target("http://chat.internal/x", [])


# --- At create and update ----------------------------------------------------------------------


@pytest.mark.parametrize(("url", "why"), REFUSED)
def test_unsafe_url_is_refused_at_create_and_update(cast: Cast, dns, url: str, why: str) -> None:
    admin = client_for(cast.admin)
    refused = admin.post("/api/v1/webhooks/", {"unit": cast.unit_a.pk, "url": url}, format="json")
    assert refused.status_code == 400
    assert why in refused.json()["url"][0]
    assert not UnitWebhook.objects.exists()

    good = webhook_create(actor=cast.admin, unit=cast.unit_a, url=ACCEPTED[0])
    changed = admin.patch(f"/api/v1/webhooks/{good.pk}/", {"url": url}, format="json")
    assert changed.status_code == 400
    assert why in changed.json()["url"][0]
    good.refresh_from_db()
    assert good.url == ACCEPTED[0]


@pytest.mark.parametrize("url", ACCEPTED)
def test_https_to_a_public_address_is_accepted(cast: Cast, dns, url: str) -> None:
    admin = client_for(cast.admin)
    created = admin.post("/api/v1/webhooks/", {"unit": cast.unit_a.pk, "url": url}, format="json")
    assert created.status_code == 201, created.json()
    changed = admin.patch(
        f"/api/v1/webhooks/{created.json()['id']}/", {"url": ACCEPTED[-1]}, format="json"
    )
    assert changed.status_code == 200
    assert changed.json()["url"] == ACCEPTED[-1]


def test_allow_listed_host_may_be_http_and_internal(cast: Cast, dns, settings) -> None:
    settings.WEBHOOK_HTTP_ALLOWED_HOSTS = ["chat.internal"]
    created = client_for(cast.admin).post(
        "/api/v1/webhooks/",
        {"unit": cast.unit_a.pk, "url": "http://chat.internal/hooks/a"},
        format="json",
    )
    assert created.status_code == 201
    # The list is for its hosts only: loopback stays refused for everyone else.
    refused = client_for(cast.admin).post(
        "/api/v1/webhooks/",
        {"unit": cast.unit_b.pk, "url": "https://loop.example.com/x"},
        format="json",
    )
    assert refused.status_code == 400


# --- At send time ------------------------------------------------------------------------------


def test_name_now_resolving_to_a_private_address_is_refused_at_send(cast: Cast, clock, dns) -> None:
    webhook = webhook_create(actor=cast.admin, unit=cast.unit_a, url="https://hooks.example.com/x")
    [delivery] = pending(webhook, 1, clock.now())
    dns["hooks.example.com"] = ["10.9.8.7"]  # rebound after the check at create
    sender = Recorder()
    report = webhook_delivery_sweep(at=clock.now(), send=sender)
    assert report.notified == 0
    assert sender.calls == []
    delivery.refresh_from_db()
    assert delivery.status == "pending"
    assert delivery.attempts == 1
    assert delivery.last_error == "Refused: " + rules.WEBHOOK_ADDRESS_REFUSED.format(kind="private")

    dns["hooks.example.com"] = [PUBLIC]
    clock.advance(minutes=1)
    assert webhook_delivery_sweep(at=clock.now(), send=sender).notified == 1
    # The sender is handed the addresses that were checked, and connects to those.
    assert sender.calls[0]["addresses"] == [PUBLIC]


class _Redirecting(BaseHTTPRequestHandler):
    hits: list[str] = []
    location = ""

    def do_POST(self) -> None:
        type(self).hits.append(self.path)
        if self.path == "/hook":
            self.send_response(302)
            self.send_header("Location", type(self).location)
        else:
            self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def redirecting() -> Iterator[HTTPServer]:
    _Redirecting.hits = []
    server = HTTPServer(("127.0.0.1", 0), _Redirecting)
    _Redirecting.location = f"http://127.0.0.1:{server.server_port}/elsewhere"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_redirect_is_not_followed(cast: Cast, clock, settings, redirecting) -> None:
    settings.WEBHOOK_HTTP_ALLOWED_HOSTS = ["127.0.0.1"]
    url = f"http://127.0.0.1:{redirecting.server_port}/hook"
    webhook = webhook_create(actor=cast.admin, unit=cast.unit_a, url=url)
    [delivery] = pending(webhook, 1, clock.now())
    assert webhook_delivery_sweep(at=clock.now(), timeout=5).notified == 0
    assert _Redirecting.hits == ["/hook"]  # never /elsewhere
    delivery.refresh_from_db()
    assert delivery.status == "pending"
    assert delivery.last_error == rules.WEBHOOK_REDIRECT_REFUSED.format(status=302)


def test_connection_goes_to_the_checked_address_with_the_host_name(redirecting) -> None:
    """No second lookup between check and connect: the socket goes to the address given,
    while the request names the host (as TLS SNI would)."""
    seen: list[str] = []

    class Named(_Redirecting):
        def do_POST(self) -> None:
            seen.append(self.headers["Host"])
            super().do_POST()

    redirecting.RequestHandlerClass = Named
    target = rules.WebhookTarget(
        scheme="http",
        host="hooks.example.com",
        port=redirecting.server_port,
        path="/elsewhere",
        trusted=False,
    )
    status = webhooks.send_post(target, ["127.0.0.1"], b"{}", {}, 5)
    assert status == 204
    assert seen == [f"hooks.example.com:{redirecting.server_port}"]


def test_error_history_is_kept_across_attempts(cast: Cast, clock, dns) -> None:
    webhook = webhook_create(actor=cast.admin, unit=cast.unit_a, url="https://hooks.example.com/x")
    [delivery] = pending(webhook, 1, clock.now())
    sender = Recorder(503, 500, 204)
    first = clock.now()
    webhook_delivery_sweep(at=clock.now(), send=sender)
    second = clock.advance(minutes=1)
    webhook_delivery_sweep(at=clock.now(), send=sender)
    clock.advance(minutes=2)
    assert webhook_delivery_sweep(at=clock.now(), send=sender).notified == 1
    delivery.refresh_from_db()
    assert delivery.status == "delivered"
    assert delivery.attempts == 3
    assert delivery.last_error == ""
    assert delivery.errors == [
        {"attempt": 1, "at": first.isoformat(), "error": "HTTP 503"},
        {"attempt": 2, "at": second.isoformat(), "error": "HTTP 500"},
    ]


# --- Claimed, sent outside any transaction, committed on its own -------------------------------


@pytest.mark.django_db(transaction=True)
def test_two_sweeps_at_once_send_each_delivery_once(cast: Cast, clock, dns) -> None:
    webhook = webhook_create(actor=cast.admin, unit=cast.unit_a, url="https://hooks.example.com/x")
    deliveries = pending(webhook, 6, clock.now())
    both_sending = threading.Barrier(2)
    sender = Recorder()

    def send(*args, **kwargs) -> int:  # type: ignore[no-untyped-def]
        status = sender(*args, **kwargs)
        if not getattr(threading.current_thread(), "met", False):
            threading.current_thread().met = True  # type: ignore[attr-defined]
            both_sending.wait(timeout=10)  # each sweep holds a claim while the other claims
        return status

    at = clock.now()
    reports = run_together(
        lambda: webhook_delivery_sweep(at=at, send=send),
        lambda: webhook_delivery_sweep(at=at, send=send),
    )
    assert all(isinstance(r, rules.SweepReport) for r in reports), reports
    sent = sorted(call["delivery"] for call in sender.calls)
    assert sent == sorted(d.pk for d in deliveries)
    assert sum(r.notified for r in reports) == 6  # type: ignore[union-attr]
    assert all(r.notified > 0 for r in reports)  # type: ignore[union-attr]
    assert set(WebhookDelivery.objects.values_list("status", "attempts")) == {("delivered", 1)}


@pytest.mark.django_db(transaction=True)
def test_no_transaction_is_open_while_sending(
    cast: Cast, clock, dns, monkeypatch: pytest.MonkeyPatch
) -> None:
    webhook = webhook_create(actor=cast.admin, unit=cast.unit_a, url="https://hooks.example.com/x")
    pending(webhook, 2, clock.now())
    sender = Recorder(503, 204)
    monkeypatch.setattr(webhooks, "send_post", sender)
    job = next(job for job in JOBS if job.name == "webhooks")
    report = run_job(job, clock.now())  # as the scheduler runs it
    assert report == rules.SweepReport(notified=1)
    assert [call["in_transaction"] for call in sender.calls] == [False, False]
    # Each outcome was committed on its own: the failure is kept beside the success.
    assert sorted(WebhookDelivery.objects.values_list("status", flat=True)) == [
        "delivered",
        "pending",
    ]
    run = JobRun.objects.get(job="webhooks")
    assert run.last_error == ""
    assert run.last_result == repr(report)
    assert run.last_finished_at is not None
    assert job.atomic is False
    assert all(other.atomic for other in JOBS if other.name not in {"webhooks", "emails"})
