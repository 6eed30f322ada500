"""The bulk import's planner, without a database: rows and state as values in, outcomes out."""

from __future__ import annotations

import itertools
from datetime import date

from hypothesis import given
from hypothesis import strategies as st

from welfare.people import import_rules as r
from welfare.people.import_rules import (
    AccountState,
    ImportState,
    PostingState,
    Row,
    UnitState,
    plan_import,
)

KINDS = ("abusive_images", "online_cse", "digital_forensics", "other")
UNIT_A = UnitState(1, "Unit A", "abusive_images")
ADMIN = AccountState(9, "admin1", "", "admin", True, is_superuser=False)
OFFICER = AccountState(
    10, "off.a1", "a1@example.org", "officer", True, None, False, False, 100, "T0001", "Test A1"
)
OPEN_POSTING = PostingState(500, 100, 1, date(2025, 6, 1), None)


def state(*, accounts=(ADMIN, OFFICER), postings=(OPEN_POSTING,), units=(UNIT_A,)):
    return ImportState(
        actor_id=ADMIN.id, unit_kinds=KINDS, units=units, accounts=accounts, postings=postings
    )


def rows(*cells: dict[str, str]) -> list[Row]:
    return [Row(n, cell) for n, cell in enumerate(cells, start=2)]


def unit(name: str, kind: str = "other") -> dict[str, str]:
    return {"kind": "unit", "unit": name, "unit_kind": kind}


def person(username: str, role: str = "officer", **more: str) -> dict[str, str]:
    return {"kind": "person", "username": username, "role": role, **more}


def posting(staff: str, unit_name: str, start: str, end: str = "") -> dict[str, str]:
    return {
        "kind": "posting",
        "staff_number": staff,
        "unit": unit_name,
        "started_on": start,
        "ended_on": end,
    }


def outcome(plan: r.Plan, row: int) -> r.RowOutcome:
    return next(o for o in plan.rows if o.row == row)


def test_each_outcome_with_its_changes() -> None:
    plan = plan_import(
        rows(
            unit("Unit B", "online_cse"),
            unit("unit a", "online_cse"),
            unit("UNIT A", "abusive_images"),
            person("off.a1", staff_number="T0001", email="new@example.org"),
            person("new.one", staff_number="T0100", display_name="New One"),
            posting("T0100", "Unit B", "2027-01-01"),
        ),
        state(),
    )
    assert [o.outcome for o in plan.rows] == [
        r.CREATED,
        r.CHANGED,
        r.REJECTED,
        r.CHANGED,
        r.CREATED,
        r.CREATED,
    ]
    assert outcome(plan, 3).changes == ("unit_kind",)
    assert outcome(plan, 4).errors == {"unit": (r.DUPLICATE_UNIT.format(row=3),)}
    assert outcome(plan, 5).changes == ("email",)
    assert plan.counts() == {"created": 3, "changed": 2, "unchanged": 0, "rejected": 1}
    assert not plan.can_apply


def test_the_same_rows_against_what_they_made_are_unchanged() -> None:
    made = state(
        units=(UNIT_A, UnitState(2, "Unit B", "online_cse")),
        accounts=(
            ADMIN,
            OFFICER,
            AccountState(11, "new.one", "", "officer", True, None, False, False, 101, "T0100", "N"),
        ),
        postings=(OPEN_POSTING, PostingState(501, 101, 2, date(2027, 1, 1), None)),
    )
    plan = plan_import(
        rows(
            unit("Unit B", "online_cse"),
            person("new.one", staff_number="T0100", display_name="N"),
            posting("T0100", "Unit B", "2027-01-01"),
        ),
        made,
    )
    assert {o.outcome for o in plan.rows} == {r.UNCHANGED}
    assert plan.steps == ()


def test_cell_problems_are_named_per_field() -> None:
    plan = plan_import(
        rows(
            posting("T0001", "Nowhere", "2027-13-01"),
            posting("T0001", "Unit A", "1/2/2027", "2027-01-01"),
            person("nurse", "oh"),
            person("x y", "supervisor", staff_number="S1", active="maybe"),
            {"kind": "officer", "username": "x"},
            unit("Unit C", "lab"),
        ),
        state(),
    )
    assert outcome(plan, 2).errors == {
        "started_on": (r.BAD_DATE,),
        "unit": (r.UNKNOWN_UNIT,),
    }
    assert outcome(plan, 3).errors["started_on"] == (r.BAD_DATE,)
    assert outcome(plan, 4).errors == {"role": (r.ROLE_OH_REFUSED,)}
    assert outcome(plan, 5).errors == {
        "username": (r.BAD_USERNAME,),
        "active": (r.BAD_BOOLEAN,),
        "staff_number": (r.OFFICER_ONLY.format(what="staff number"),),
    }
    assert outcome(plan, 6).errors == {"kind": (r.KIND_INVALID,)}
    assert list(outcome(plan, 7).errors) == ["unit_kind"]
    assert {o.outcome for o in plan.rows} == {r.REJECTED}
    assert plan.steps == ()


def test_duplicate_people_in_the_file() -> None:
    plan = plan_import(
        rows(
            person("a.one", staff_number="T0200", display_name="A"),
            person("A.ONE", staff_number="t0201", display_name="B"),
            person("b.two", staff_number="t0200", display_name="C"),
        ),
        state(),
    )
    assert outcome(plan, 3).errors == {"username": (r.DUPLICATE_USERNAME.format(row=2),)}
    assert outcome(plan, 4).errors == {"staff_number": (r.DUPLICATE_STAFF_NUMBER.format(row=2),)}


def test_a_posting_overlapping_another_is_rejected_naming_it() -> None:
    plan = plan_import(
        rows(
            posting("T0001", "Unit A", "2025-05-01"),  # starts before the open one
            posting("T0001", "Unit A", "2025-06-01", "2026-12-31"),  # ends the open one
            posting("T0001", "Unit A", "2026-12-01"),  # inside the now-ended one
        ),
        state(),
    )
    assert outcome(plan, 2).errors == {
        "started_on": (r.POSTING_OVERLAP.format(started_on="2025-06-01", unit="Unit A", until=""),)
    }
    assert outcome(plan, 3).outcome == r.CHANGED
    assert outcome(plan, 4).errors == {
        "started_on": (
            r.POSTING_OVERLAP.format(
                started_on="2025-06-01", unit="Unit A", until=" to 2026-12-31"
            ),
        )
    }


def test_a_new_posting_ends_the_open_one_the_day_before_and_says_so() -> None:
    plan = plan_import(rows(unit("Unit B"), posting("T0001", "Unit B", "2027-04-01")), state())
    created = outcome(plan, 3)
    assert created.outcome == r.CREATED
    assert created.notes == (
        r.ENDS_OPEN_POSTING.format(started_on="2025-06-01", unit="Unit A", ended_on="2027-03-31"),
    )


def test_an_ended_posting_is_never_moved() -> None:
    ended = PostingState(500, 100, 1, date(2025, 6, 1), date(2026, 1, 31))
    plan = plan_import(
        rows(posting("T0001", "Unit A", "2025-06-01", "2026-02-28")), state(postings=(ended,))
    )
    assert outcome(plan, 2).errors == {
        "ended_on": (r.POSTING_END_FIXED.format(ended_on="2026-01-31"),)
    }


def test_keys_never_change_and_clinicians_are_left_alone() -> None:
    nurse = AccountState(12, "oh.one", "", "oh", True)
    plan = plan_import(
        rows(
            person("other.name", staff_number="T0001"),
            person("oh.one", "supervisor"),
            person("off.a1", "supervisor"),
            person("admin1", "hr"),
            person("admin1", "admin", active="false"),
        ),
        state(accounts=(ADMIN, OFFICER, nurse)),
    )
    assert outcome(plan, 2).errors == {"username": (r.KEY_DIFFERS.format(current="off.a1"),)}
    assert outcome(plan, 3).errors == {"role": (r.CLINICIAN_NOT_IMPORTED,)}
    assert outcome(plan, 4).errors == {"role": (r.ROLE_OFFICER_FIXED,)}
    assert outcome(plan, 5).errors == {"role": (r.ROLE_OWN,)}
    assert outcome(plan, 6).errors["username"] == (r.DUPLICATE_USERNAME.format(row=5),)


def test_a_new_officer_needs_a_staff_number_and_a_name() -> None:
    plan = plan_import(rows(person("new.two"), person("new.three", active="no")), state())
    assert set(outcome(plan, 2).errors) == {"staff_number", "display_name"}
    assert outcome(plan, 3).errors["active"] == (r.NEW_INACTIVE,)


def test_a_posting_for_a_rejected_person_says_which_row() -> None:
    plan = plan_import(
        rows(
            person("bad name", staff_number="T0300", display_name="X"),
            posting("T0300", "Unit A", "2027-01-01"),
        ),
        state(),
    )
    assert outcome(plan, 3).errors == {"staff_number": (r.PERSON_ROW_REJECTED.format(row=2),)}


def test_formula_like_values_are_kept_as_data() -> None:
    plan = plan_import(
        rows(person("new.four", staff_number="T0400", display_name="=HYPERLINK(1)")), state()
    )
    step = plan.steps[0]
    assert isinstance(step, r.PersonCreate)
    assert step.display_name == "=HYPERLINK(1)"


def test_the_fingerprint_follows_the_state() -> None:
    file = rows(person("off.a1", staff_number="T0001", email="b@example.org"))
    before = plan_import(file, state())
    again = plan_import(file, state())
    changed_meanwhile = plan_import(
        file,
        state(accounts=(ADMIN, AccountState(**{**vars(OFFICER), "email": "b@example.org"}))),
    )
    assert before.fingerprint() == again.fingerprint()
    assert changed_meanwhile.fingerprint() != before.fingerprint()
    assert outcome(changed_meanwhile, 2).outcome == r.UNCHANGED


@given(
    st.lists(
        st.tuples(
            st.dates(min_value=date(2024, 1, 1), max_value=date(2028, 12, 31)),
            st.integers(min_value=0, max_value=400),
            st.booleans(),
        ),
        max_size=6,
    )
)
def test_planned_postings_never_overlap(spans: list[tuple[date, int, bool]]) -> None:
    """Whatever postings a file asks for, those the plan accepts, with the open posting it
    ends, leave no two of an officer's postings overlapping."""
    from datetime import timedelta

    file = rows(
        *(
            posting(
                "T0001",
                "Unit A",
                start.isoformat(),
                "" if open_ else (start + timedelta(days=length)).isoformat(),
            )
            for start, length, open_ in spans
        )
    )
    plan = plan_import(file, state())
    periods = [(OPEN_POSTING.started_on, None)]
    for step in plan.steps:
        if isinstance(step, r.PostingEnd):
            assert step.posting_id == OPEN_POSTING.id
            periods[0] = (periods[0][0], step.ended_on)
        elif isinstance(step, r.PostingCreate):
            periods = [
                (s, e if e is not None else step.started_on - timedelta(days=1)) for s, e in periods
            ]
            periods.append((step.started_on, step.ended_on))
    ordered = sorted(periods)
    for (start, end), (next_start, _) in itertools.pairwise(ordered):
        assert end is not None
        assert end < next_start
        assert end >= start


def test_keys_naming_two_accounts_are_rejected() -> None:
    other = AccountState(13, "sup.a", "", "supervisor", True, directory_id="dir-13")
    plan = plan_import(
        rows(person("off.a1", staff_number="T0001", directory_id="dir-13")),
        state(accounts=(ADMIN, OFFICER, other)),
    )
    assert outcome(plan, 2).errors == {
        "username": (r.KEYS_DIFFERENT_ACCOUNTS.format(usernames="off.a1, sup.a"),)
    }
