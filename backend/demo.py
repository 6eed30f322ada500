"""A synthetic force for demonstrations and manual testing. Every name is invented."""

from __future__ import annotations

import base64
import binascii
import random
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from django.db import transaction

from welfare.accounts.models import SealedTOTPDevice, User
from welfare.accounts.services import oh_lead_set, user_create
from welfare.alerts.services import case_assign
from welfare.audit.services import audit_record
from welfare.casework.models import SupportContact
from welfare.casework.services import support_contact_save
from welfare.checkins.models import CheckIn, Kind, Status
from welfare.core import clock
from welfare.core.roles import Role
from welfare.exposure import totals
from welfare.exposure.models import ExposureSession
from welfare.exposure.services import current_weights
from welfare.people.models import Officer, Unit, UnitKind
from welfare.people.services import officer_create, posting_start, unit_create

DEMO_PASSWORD = "welfare-demo-2026"  # noqa: S105 - printed for the demo on purpose

FIRST_NAMES = [
    "Arlo",
    "Briony",
    "Caspian",
    "Delphine",
    "Ezra",
    "Fenna",
    "Gideon",
    "Harriet",
    "Idris",
    "Juniper",
    "Kit",
    "Linnea",
    "Marlow",
    "Nerys",
    "Orrin",
    "Posy",
    "Quill",
    "Rowena",
    "Soren",
    "Tamsin",
    "Ulric",
    "Verity",
    "Wren",
    "Xanthe",
    "Yorick",
    "Zinnia",
    "Ansel",
    "Bryony",
    "Cosmo",
    "Dulcie",
]
SURNAMES = [
    "Ashgrove",
    "Brackenridge",
    "Cloudsley",
    "Dunmarrow",
    "Elderfield",
    "Foxhollow",
    "Greywether",
    "Hartsmere",
    "Ivywick",
    "Juniperlee",
    "Kestrelby",
    "Larkspurne",
    "Mossbeck",
    "Nettlefold",
    "Oakhanger",
    "Pebblecombe",
    "Quarrendon",
    "Rookwood",
    "Sallowmere",
    "Thistlecombe",
    "Umberslade",
    "Vetchley",
    "Willowhithe",
    "Yarrowby",
    "Zephyrholt",
]

UNITS = [
    ("POLIT North", UnitKind.ABUSIVE_IMAGES, "sup.north"),
    ("OCSAE East", UnitKind.ONLINE_CSE, "sup.east"),
    ("Digital Forensics Hub", UnitKind.DIGITAL_FORENSICS, "sup.forensics"),
]
STAFF = [
    ("admin", Role.ADMIN),
    ("oh.lead", Role.OH),
    ("oh.nurse", Role.OH),
    ("hr.analyst", Role.HR),
]
OFFICERS_PER_UNIT = 10
DEMO_SUPPORT_LINES = [
    (
        "Occupational health duty line",
        "Call 01632 960 410",
        "01632960410",
        "08:00-18:00, Mon-Fri",
        1,
    ),
    (
        "Employee assistance programme",
        "Call 01632 960 777",
        "01632960777",
        "24 hours, every day",
        2,
    ),
]


@dataclass
class DemoLogin:
    username: str
    role: str
    totp_secret: str | None


@dataclass
class DemoCast:
    logins: list[DemoLogin] = field(default_factory=list)
    units: list[Unit] = field(default_factory=list)
    officers: list[Officer] = field(default_factory=list)


def _base32(hex_key: str) -> str:
    return base64.b32encode(binascii.unhexlify(hex_key)).decode()


def _privileged(username: str, role: str) -> DemoLogin:
    user = user_create(actor=None, username=username, role=role, password=DEMO_PASSWORD)
    if role == Role.ADMIN:
        user.is_superuser = True
        user.is_staff = True
        user.save(update_fields=["is_superuser", "is_staff"])
    key = secrets.token_bytes(20).hex()  # real secrets even for demo users
    device = SealedTOTPDevice.objects.create(
        user=user, name="Demo authenticator", seed=key, confirmed=True
    )
    audit_record(
        actor=None, action="auth.otp.confirmed", target_type="otp_device", target_id=device.pk
    )
    return DemoLogin(username=username, role=role, totp_secret=_base32(key))


def database_is_empty() -> bool:
    return not User.objects.exists()


def seed_people(*, seed: int = 2026, today: date | None = None) -> DemoCast:
    """Units, supervisors, clinicians, HR, an admin and ~30 officers with posting histories."""
    rng = random.Random(seed)
    today = today or clock.today()
    cast = DemoCast()
    with transaction.atomic():
        for username, role in STAFF:
            cast.logins.append(_privileged(username, role))
        supervisors: dict[str, User] = {}
        for _name, _kind, username in UNITS:
            cast.logins.append(_privileged(username, Role.SUPERVISOR))
            supervisors[username] = User.objects.get(username=username)
        for name, kind, supervisor in UNITS:
            cast.units.append(
                unit_create(actor=None, name=name, kind=kind, supervisors=[supervisors[supervisor]])
            )
        oh_lead_set(actor=None, user=User.objects.get(username="oh.lead"), lead=True)
        # The demo force's own lines, beside the national ones. Numbers from Ofcom's range
        # for drama (01632 960000-960999): they reach nobody.
        for name, how, phone, hours, position in DEMO_SUPPORT_LINES:
            support_contact_save(
                actor=None,
                contact=SupportContact(
                    name=name, how=how, phone=phone, hours=hours, position=position
                ),
            )
        names = rng.sample(
            [(f, s) for f in FIRST_NAMES for s in SURNAMES], OFFICERS_PER_UNIT * len(UNITS)
        )
        number = 0
        for unit_index, unit in enumerate(cast.units):
            for _ in range(OFFICERS_PER_UNIT):
                first, last = names[number]
                number += 1
                username = f"{first}.{last}".lower()
                user = user_create(
                    actor=None, username=username, role=Role.OFFICER, password=DEMO_PASSWORD
                )
                # Time in post from a few weeks to nearly three years, so rotation reviews come up.
                months_in_post = rng.choice([1, 3, 6, 9, 14, 20, 22, 25, 30, 34])
                posted = today - timedelta(days=int(months_in_post * 30.4))
                # A third came from another unit: their history shows an earlier posting.
                earlier = rng.random() < 0.33
                first_unit = cast.units[(unit_index + 1) % len(cast.units)] if earlier else unit
                first_start = posted - timedelta(days=rng.randint(200, 700)) if earlier else posted
                officer = officer_create(
                    actor=None,
                    user=user,
                    staff_number=f"DEMO{number:04d}",
                    display_name=f"{first} {last}",
                    unit=first_unit,
                    posted_since=first_start,
                )
                if earlier:
                    posting_start(actor=None, officer=officer, unit=unit, started_on=posted)
                cast.officers.append(officer)
                if number <= 3:
                    cast.logins.append(
                        DemoLogin(username=username, role=Role.OFFICER, totp_secret=None)
                    )
    return cast


MEDIA = ["image"] * 6 + ["video"] * 3 + ["video_with_audio"] * 2 + ["text", "audio", "live"]
CATEGORIES = ["A"] * 2 + ["B"] * 3 + ["C"] * 4 + ["none", "unknown"]
ACTIVITIES = ["grading", "grading", "investigation", "victim_identification", "interview_review"]


def seed_exposure(cast: DemoCast, *, seed: int = 2026, days: int = 120) -> int:
    """Months of plausible sessions on working days; a few officers run near or over limits.

    Sessions go in with one bulk insert and the daily totals are built in the database.
    """
    rng = random.Random(seed + 1)
    zone = clock.local_zone()
    now = clock.now()
    today = clock.today()
    heavy = set(rng.sample(range(len(cast.officers)), k=max(3, len(cast.officers) // 8)))
    sessions: list[ExposureSession] = []
    for index, officer in enumerate(cast.officers):
        posted = (
            officer.postings.order_by("started_on").values_list("started_on", flat=True).first()
        )
        load = 1.6 if index in heavy else 1.0
        for back in range(days, -1, -1):
            day = today - timedelta(days=back)
            if posted is None or day < posted or day.weekday() >= 5 or rng.random() < 0.12:
                continue
            cursor = datetime.combine(day, time(8, rng.randrange(0, 50, 5)), tzinfo=zone)
            for _ in range(rng.choice([0, 1, 2, 2, 3]) + (1 if index in heavy else 0)):
                minutes = int(rng.randint(15, 110) * load)
                start = cursor.astimezone(UTC)
                end = start + timedelta(minutes=minutes)
                if end > now:
                    break
                sessions.append(
                    ExposureSession(
                        officer=officer,
                        started_at=start,
                        ended_at=end,
                        material=rng.choice(MEDIA),
                        category=rng.choice(CATEGORIES),
                        violent=rng.random() < 0.12,
                        items_reviewed=rng.randint(20, 900) if rng.random() < 0.7 else None,
                        activity=rng.choice(ACTIVITIES),
                        client_ref=uuid.UUID(int=rng.getrandbits(128)),
                        recorded_at=end + timedelta(minutes=rng.randint(1, 30)),
                        recorded_by=officer.user,
                    )
                )
                cursor = (end + timedelta(minutes=rng.choice([5, 10, 15, 30, 45]))).astimezone(zone)
    with transaction.atomic():
        ExposureSession.objects.bulk_create(sessions, batch_size=2000)
        totals.rebuild(weights=current_weights())
    return len(sessions)


def seed_checkins(cast: DemoCast, *, seed: int = 2026) -> int:
    """Check-in history (most officers seen by OH a few months ago, some never), then the
    schedule as the jobs would leave it today: due, overdue and escalated check-ins, alerts."""
    from schedules.runner import run_all

    rng = random.Random(seed + 2)
    clinician = User.objects.get(username="oh.lead")
    now = clock.now()
    history: list[CheckIn] = []
    for officer in cast.officers:
        if rng.random() < 0.3:
            continue  # never seen since posting: the schedule will find them overdue
        done = now - timedelta(days=rng.randint(40, 170))
        history.append(
            CheckIn(
                officer=officer,
                kind=Kind.PERIODIC,
                key=f"demo-history:{officer.pk}",
                due_on=done.date(),
                status=Status.COMPLETED,
                outcome=rng.choice(["fit", "fit", "fit", "fit_with_adjustments"]),
                completed_at=done,
                completed_by=clinician,
                created_at=done - timedelta(days=30),
                status_changed_at=done,
            )
        )
    CheckIn.objects.bulk_create(history)
    run_all(now)
    return CheckIn.objects.count()


def seed_casework(cast: DemoCast, *, seed: int = 2026) -> int:
    """Questionnaires on the completed demo check-ins, a few case notes and released reports,
    so occupational health's screens have something in them. All invented."""
    from welfare.casework.services import note_write, report_act, report_draft, screening_submit
    from welfare.checkins.instruments import get

    rng = random.Random(seed + 3)
    clinician = User.objects.get(username="oh.lead")
    count = 0
    completed = CheckIn.objects.filter(status=Status.COMPLETED).select_related("officer__user")
    for checkin in completed.order_by("officer_id")[:12]:
        heavy = rng.random() < 0.25
        for key in ("phq9", "gad7", "pcl5"):
            instrument = get(key)
            if instrument is None:
                continue
            top = instrument.high if heavy else max(1, instrument.high // 2)
            answers = [rng.randint(0, top) for _ in range(instrument.item_count)]
            if key == "phq9":
                answers[8] = 0  # the critical item is left to the demo's one urgent case below
            screening_submit(actor=clinician, checkin=checkin, instrument_key=key, answers=answers)
            count += 1
        note_write(
            actor=clinician,
            officer=checkin.officer,
            body="Synthetic demo note: talked about workload and sleep; review in three months.",
        )
    # Some cases are owned; the rest are everyone's in OH.
    nurse = User.objects.get(username="oh.nurse")
    for index, checkin in enumerate(completed.order_by("officer_id")[:6]):
        case_assign(
            actor=clinician, officer=checkin.officer, clinician=clinician if index % 2 else nurse
        )
    urgent = CheckIn.objects.filter(status__in=[Status.DUE, Status.OVERDUE]).first()
    if urgent is not None:
        screening_submit(
            actor=urgent.officer.user,
            checkin=urgent,
            instrument_key="phq9",
            answers=[1, 1, 1, 1, 0, 1, 0, 0, 1],
        )
        count += 1
    for checkin in completed.filter(outcome="fit_with_adjustments")[:3]:
        report = report_draft(
            actor=clinician,
            officer=checkin.officer,
            fitness=checkin.outcome,
            adjustments="A ten-minute break every 45 minutes; no live material for now.",
            checkin=checkin,
        )
        report_act(actor=clinician, report=report, action="offer")
        report_act(actor=checkin.officer.user, report=report, action="consent")
    return count


def existing_demo_logins() -> list[DemoLogin]:
    """The demo log-ins of a database seeded earlier, only where the demo password still works."""
    usernames = [u for u, _ in STAFF] + [u for _, _, u in UNITS]
    logins: list[DemoLogin] = []
    for user in User.objects.filter(username__in=usernames).order_by("pk"):
        if not user.check_password(DEMO_PASSWORD):
            continue
        device = SealedTOTPDevice.objects.filter(user=user, confirmed=True).first()
        logins.append(DemoLogin(user.username, user.role, _base32(device.seed) if device else None))
    officers = User.objects.filter(role=Role.OFFICER, officer__staff_number__startswith="DEMO")
    for user in officers.order_by("officer__staff_number")[:3]:
        if user.check_password(DEMO_PASSWORD):
            logins.append(DemoLogin(user.username, user.role, None))
    return logins


LANDS_ON = {
    "officer": "/me/",
    "supervisor": "/unit/",
    "oh": "/oh/",
    "hr": "/hr/",
    "admin": "/admin/",
}


def format_logins(logins: list[DemoLogin]) -> str:
    """The demo log-ins as a table: who, the page each lands on, and the TOTP secret."""
    rows = [("user name", "role", "lands on", "TOTP secret")] + [
        (login.username, login.role, LANDS_ON.get(login.role, "/"), login.totp_secret or "-")
        for login in logins
    ]
    widths = [max(len(row[n]) for row in rows) for n in range(3)]
    lines = [
        f"Demo log-ins (password for all: {DEMO_PASSWORD}). Sign in at the web app's address;",
        "add a TOTP secret to an authenticator app, or print the current code with",
        "  .venv/bin/python manage.py demo_code <user name>",
        "(officers enrol their own authenticator at first sign-in).",
        "",
    ]
    for n, row in enumerate(rows):
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        lines.append("  " + "  ".join([*cells, row[3]]))
        if n == 0:
            lines.append("  " + "  ".join(["-" * w for w in widths] + ["-" * 11]))
    return "\n".join(lines)
