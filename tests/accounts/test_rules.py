from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from welfare.accounts.rules import (
    ALREADY_A_CLINICIAN,
    ALREADY_A_LEAD,
    CLINICIAN_CREDENTIALS_BY_LEAD,
    LEAD_MUST_BE_ACTIVE_CLINICIAN,
    NOT_ABOUT_YOURSELF,
    NOT_YOUR_OWN_PROPOSAL,
    NOT_YOUR_OWN_RECOVERY,
    ONLY_A_LEAD_DECIDES,
    ONLY_A_LEAD_RECOVERS,
    ONLY_ADMIN_OR_LEAD_PROPOSES_LEAD,
    ONLY_ADMIN_PROPOSES_OH,
    RECOVER_ONLY_CLINICIANS,
    SOLE_LEAD_CANNOT_PROPOSE,
    SUPERUSER_NOT_CLINICIAN,
    LockoutPolicy,
    ThrottleState,
    TokenPolicy,
    after_failure,
    credential_reset_refusal,
    decision_refusal,
    decision_repeats,
    gives_clinical_access,
    is_locked,
    proposal_refusal,
    recovery_refusal,
    token_expiry_reason,
)
from welfare.core.roles import Role

ROLES = sorted(Role.values)

NOW = datetime(2027, 3, 10, 9, 0, tzinfo=UTC)
POLICY = LockoutPolicy(max_failures=5, lockout=timedelta(minutes=15))


def test_locks_on_the_fifth_failure_exactly() -> None:
    state = ThrottleState(0, None)
    for n in range(1, 5):
        state, locked = after_failure(state, NOW, POLICY)
        assert not locked
        assert state.failures == n
        assert not is_locked(state, NOW)
    state, locked = after_failure(state, NOW, POLICY)
    assert locked
    assert is_locked(state, NOW)
    assert is_locked(state, NOW + timedelta(minutes=15) - timedelta(microseconds=1))
    assert not is_locked(state, NOW + timedelta(minutes=15))


def test_failures_after_an_expired_lock_start_again() -> None:
    locked = ThrottleState(0, NOW)
    state, newly = after_failure(locked, NOW + timedelta(seconds=1), POLICY)
    assert state == ThrottleState(1, None)
    assert not newly


@given(st.integers(min_value=1, max_value=20), st.integers(min_value=0, max_value=40))
def test_never_locked_before_max_failures(max_failures: int, attempts: int) -> None:
    policy = LockoutPolicy(max_failures=max_failures, lockout=timedelta(minutes=1))
    state = ThrottleState(0, None)
    locks = 0
    for _ in range(attempts):
        state, locked = after_failure(state, NOW, policy)
        locks += locked
        if locked:
            break
    assert locks == (1 if attempts >= max_failures else 0)


def test_token_expiry_reasons() -> None:
    policy = TokenPolicy(idle=timedelta(minutes=15), absolute=timedelta(hours=12))
    live = dict(
        last_used_at=NOW, expires_at=NOW + timedelta(hours=12), revoked=False, policy=policy
    )
    assert token_expiry_reason(now=NOW + timedelta(minutes=14, seconds=59), **live) is None
    assert token_expiry_reason(now=NOW + timedelta(minutes=15), **live) == "idle"
    assert (
        token_expiry_reason(
            now=NOW + timedelta(hours=12),
            **{**live, "last_used_at": NOW + timedelta(hours=11, minutes=59)},
        )
        == "expired"
    )
    assert token_expiry_reason(now=NOW, **{**live, "revoked": True}) == "revoked"


# --- Separation of duties ---------------------------------------------------------------------


def _proposal(**changes: object) -> str | None:
    values: dict = dict(
        kind="oh",
        proposer_role="admin",
        proposer_is_lead=False,
        proposer_id=1,
        subject_id=2,
        subject_role="hr",
        subject_active=True,
        subject_is_lead=False,
        subject_is_superuser=False,
        other_leads=1,
    )
    values.update(changes)
    return proposal_refusal(**values)


@pytest.mark.parametrize(
    ("changes", "refusal"),
    [
        ({}, None),
        ({"subject_role": "oh", "subject_active": False}, None),  # reopening a clinician
        ({"proposer_role": "oh", "proposer_is_lead": True}, ONLY_ADMIN_PROPOSES_OH),
        ({"subject_id": 1}, NOT_ABOUT_YOURSELF),
        ({"subject_role": "oh"}, ALREADY_A_CLINICIAN),
        ({"subject_role": "admin", "subject_is_superuser": True}, SUPERUSER_NOT_CLINICIAN),
        ({"kind": "oh_lead", "subject_role": "oh"}, None),
        ({"kind": "oh_lead", "subject_role": "oh", "proposer_role": "oh", "proposer_is_lead": True}, None),
        (
            {"kind": "oh_lead", "subject_role": "oh", "proposer_role": "oh", "proposer_is_lead": True,
             "other_leads": 0},
            SOLE_LEAD_CANNOT_PROPOSE,
        ),
        ({"kind": "oh_lead", "subject_role": "oh", "proposer_role": "oh"}, ONLY_ADMIN_OR_LEAD_PROPOSES_LEAD),
        ({"kind": "oh_lead", "subject_role": "oh", "proposer_role": "hr"}, ONLY_ADMIN_OR_LEAD_PROPOSES_LEAD),
        ({"kind": "oh_lead", "subject_role": "hr"}, LEAD_MUST_BE_ACTIVE_CLINICIAN),
        ({"kind": "oh_lead", "subject_role": "oh", "subject_active": False}, LEAD_MUST_BE_ACTIVE_CLINICIAN),
        ({"kind": "oh_lead", "subject_role": "oh", "subject_is_lead": True}, ALREADY_A_LEAD),
    ],
)  # fmt: skip
def test_who_may_propose_what(changes: dict, refusal: str | None) -> None:
    assert _proposal(**changes) == refusal


@pytest.mark.parametrize(
    ("role", "lead", "approver", "refusal"),
    [
        ("oh", True, 3, None),
        ("oh", False, 3, ONLY_A_LEAD_DECIDES),
        ("admin", False, 3, ONLY_A_LEAD_DECIDES),
        ("admin", True, 1, ONLY_A_LEAD_DECIDES),  # an admin proposer is never a decider
        ("oh", True, 1, NOT_YOUR_OWN_PROPOSAL),
        ("oh", True, 2, NOT_ABOUT_YOURSELF),
    ],
)
def test_who_may_decide(role: str, lead: bool, approver: int, refusal: str | None) -> None:
    assert (
        decision_refusal(
            approver_role=role,
            approver_is_lead=lead,
            approver_id=approver,
            proposer_id=1,
            subject_id=2,
        )
        == refusal
    )


@given(
    st.integers(1, 5), st.integers(1, 5), st.integers(1, 5), st.booleans(), st.sampled_from(ROLES)
)
def test_nobody_decides_their_own_proposal_or_about_themself(
    approver: int, proposer: int, subject: int, lead: bool, role: str
) -> None:
    allowed = (
        decision_refusal(
            approver_role=role,
            approver_is_lead=lead,
            approver_id=approver,
            proposer_id=proposer,
            subject_id=subject,
        )
        is None
    )
    if allowed:
        assert approver not in {proposer, subject}
        assert (role, lead) == ("oh", True)


def test_a_decision_is_made_once() -> None:
    assert decision_repeats(state="pending", wanted="approved") is False
    assert decision_repeats(state="approved", wanted="approved") is True
    assert decision_repeats(state="declined", wanted="approved") is None
    assert decision_repeats(state="withdrawn", wanted="declined") is None


@pytest.mark.parametrize(
    ("role", "lead", "actor", "subject_role", "active", "refusal"),
    [
        ("oh", True, 1, "oh", True, None),
        ("oh", True, 2, "oh", True, NOT_YOUR_OWN_RECOVERY),
        ("oh", False, 1, "oh", True, ONLY_A_LEAD_RECOVERS),
        ("admin", False, 1, "oh", True, ONLY_A_LEAD_RECOVERS),
        ("oh", True, 1, "hr", True, RECOVER_ONLY_CLINICIANS),
        ("oh", True, 1, "oh", False, RECOVER_ONLY_CLINICIANS),
    ],
)
def test_who_may_recover(
    role: str, lead: bool, actor: int, subject_role: str, active: bool, refusal: str | None
) -> None:
    assert (
        recovery_refusal(
            actor_role=role,
            actor_is_lead=lead,
            actor_id=actor,
            subject_id=2,
            subject_role=subject_role,
            subject_active=active,
        )
        == refusal
    )


@pytest.mark.parametrize("role", ROLES)
def test_only_a_clinicians_credentials_are_kept_from_user_administration(role: str) -> None:
    expected = CLINICIAN_CREDENTIALS_BY_LEAD if role == "oh" else None
    assert credential_reset_refusal(target_role=role) == expected


@given(st.sampled_from(ROLES), st.booleans(), st.sampled_from(ROLES), st.booleans())
def test_clinical_access_is_given_only_by_becoming_an_active_clinician(
    before: str, was_active: bool, after: str, is_active: bool
) -> None:
    gives = gives_clinical_access(
        role_before=before, active_before=was_active, role_after=after, active_after=is_active
    )
    assert gives == ((after, is_active) == ("oh", True) and (before, was_active) != ("oh", True))
