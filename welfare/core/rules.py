"""Who a request is served as, as a pure function."""

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
