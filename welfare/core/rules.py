"""Pure functions of the core: who a request is served as; whether a replica may serve."""

from __future__ import annotations

from collections.abc import Container

OFFICER = "officer"  # Role.OFFICER

# One person, more than one hat. Anyone may also hold an officer record (a supervisor who
# reviews material too): that officer hat is surveilled like any officer. A request is
# served in one hat: the person's role where the view serves it, otherwise the officer hat
# where the view serves officers and the person has an officer record. Nobody is served in a
# hat they do not hold, and nobody acts in one hat on their own record (the selectors leave
# a person's own record out of what their role shows them).


def serving_hat(
    *, allowed: Container[str], role: str, has_officer_record: bool, asked: str | None = None
) -> str | None:
    """The hat (a role) a view serves this person in, or None when it serves none of theirs.
    `asked`: the hat the request names (None: none named)."""
    officer_hat = role == OFFICER or has_officer_record
    if asked is not None:
        if asked == role and role in allowed:
            return role
        if asked == OFFICER and officer_hat and OFFICER in allowed:
            return OFFICER
        return None
    if role in allowed:
        return role
    if officer_hat and OFFICER in allowed:
        return OFFICER
    return None


# --- Statistics on a read replica ------------------------------------------------------------

REPLICA_OTHER_CLUSTER = "a copy of another database cluster, not of the primary"
REPLICA_NOT_STANDBY = "not a standby (not in recovery): read the primary"
REPLICA_NOT_RECEIVING = "not receiving from the primary (no WAL receiver)"
REPLICA_LAG_UNKNOWN = "behind the primary and nothing replayed yet"
REPLICA_LAGGING = "behind the primary by more than the allowed lag"


def replica_refusal(
    *,
    same_cluster: bool,
    in_recovery: bool,
    receiving: bool,
    caught_up: bool,
    lag_seconds: float | None,
    max_lag: int,
) -> str | None:
    """Why a standby may not serve the statistics now, or None when it may.

    `same_cluster`: its system identifier is the primary's (a physical copy of it, not of
    another force's or a test cluster, whatever the URL says).
    `caught_up`: it has replayed all the WAL it has received; `lag_seconds`: how long ago the
    last transaction it replayed committed (on the primary's clock). A standby that has
    replayed everything it received and still receives is current whatever that age (the
    primary may simply be quiet); one that has stopped receiving is stale by an unknown
    amount however caught up it looks."""
    if not same_cluster:
        return REPLICA_OTHER_CLUSTER
    if not in_recovery:
        return REPLICA_NOT_STANDBY
    if not receiving:
        return REPLICA_NOT_RECEIVING
    if caught_up:
        return None
    if lag_seconds is None:
        return REPLICA_LAG_UNKNOWN
    if lag_seconds > max_lag:
        return REPLICA_LAGGING
    return None
