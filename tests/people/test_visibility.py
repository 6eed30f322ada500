"""A supervisor's officers as one SQL subquery are the officers whose current posting (as
`officers_visible_to` annotates it) is in a unit they supervise, on every day around every
posting's start and end."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from welfare.accounts.models import User
from welfare.core.roles import Role
from welfare.people.models import Officer, Posting, Unit
from welfare.people.selectors import (
    _with_current_posting,
    officers_visible_to,
    supervised_officer_ids,
    visible_officers,
)

pytestmark = pytest.mark.django_db


def by_current_posting(supervisor: User, day: date) -> set[int]:
    """The rule as the annotation states it: the latest posting running on the day."""
    officers = _with_current_posting(Officer.objects.all(), day)
    supervised = Unit.objects.filter(supervisors=supervisor).values("id")
    return set(officers.filter(current_unit_id__in=supervised).values_list("pk", flat=True))


def test_the_subquery_sees_whom_the_current_posting_rule_sees(clock) -> None:
    from bench.generate import generate
    from tests.conftest import owner_session

    until = date(2027, 3, 5)
    with owner_session():  # the generator bulk-loads as the owner (make bench)
        generate(officers=100, years=1, seed=3, until=until)
    # A move with no gap and a future posting, besides the generated moves.
    mover = Posting.objects.filter(ended_on__isnull=True).order_by("pk").first()
    assert mover is not None
    other_unit = Unit.objects.exclude(pk=mover.unit_id).order_by("pk").first()
    assert other_unit is not None
    Posting.objects.filter(pk=mover.pk).update(ended_on=until - timedelta(days=3))
    Posting.objects.create(
        officer_id=mover.officer_id,
        unit=other_unit,
        started_on=until - timedelta(days=2),
        created_at=clock.now(),
    )
    days = {until, until + timedelta(days=30)}
    for posting in Posting.objects.filter(ended_on__isnull=False):  # each move's edges
        days |= {posting.ended_on, posting.ended_on + timedelta(days=1), posting.started_on}
    supervisors = list(User.objects.filter(role=Role.SUPERVISOR))
    assert len(supervisors) >= 3
    moved = Officer.objects.filter(postings__ended_on__isnull=False).distinct().count()
    assert moved >= 3  # the rule is tested across moves, not only on settled postings
    everyone = list(Officer.objects.values_list("pk", flat=True))
    compared = 0
    for supervisor in supervisors:
        for day in sorted(days):
            expected = by_current_posting(supervisor, day)
            found = Officer.objects.filter(pk__in=supervised_officer_ids(supervisor, today=day))
            assert set(found.values_list("pk", flat=True)) == expected, (supervisor, day)
            visible = officers_visible_to(supervisor, today=day)
            assert set(visible.values_list("pk", flat=True)) == expected
            assert set(visible_officers(supervisor, everyone, today=day).ids) == expected
            compared += bool(expected)
    assert compared > len(supervisors)  # most days, each supervisor sees someone
