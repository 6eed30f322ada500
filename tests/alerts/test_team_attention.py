"""Who a supervisor acts on first: the order and the reasons, as values."""

from __future__ import annotations

from datetime import date

from welfare.alerts.rules import MemberState, team_attention


def member(n: int, name: str, **kw) -> MemberState:
    values = {
        "over": [],
        "near": [],
        "checkin_overdue_since": None,
        "decision_due": False,
        "open_alerts": 0,
    }
    return MemberState(officer_id=n, name=name, **{**values, **kw})


def test_most_pressing_first_and_the_untroubled_left_out() -> None:
    team = [
        member(1, "Ada", near=["Last 7 days: 1,300 of 1,500 minutes"]),
        member(2, "Bea"),
        member(3, "Cai", over=["Today: 250 of 240 minutes"], open_alerts=2),
        member(4, "Dov", checkin_overdue_since=date(2026, 11, 1)),
        member(5, "Eli", checkin_overdue_since=date(2026, 10, 1)),
        member(6, "Fay", decision_due=True),
        member(7, "Gus", open_alerts=1),
    ]
    order = team_attention(team)
    assert [a.name for a in order] == ["Cai", "Eli", "Dov", "Fay", "Ada", "Gus"]
    assert [a.level for a in order] == [
        "breach",
        "overdue",
        "overdue",
        "decision",
        "warning",
        "alerts",
    ]
    assert order[0].reasons == ["Over: Today: 250 of 240 minutes", "2 open alerts"]
    assert order[1].reasons == ["Check-in overdue since 1 Oct 2026"]
    assert order[-1].reasons == ["1 open alert"]


def test_every_reason_is_kept_whatever_the_level() -> None:
    [one] = team_attention(
        [
            member(
                1,
                "Ada",
                over=["Today: 250 of 240 minutes"],
                near=["Last 28 days: 5,500 of 6,000 minutes"],
                checkin_overdue_since=date(2026, 9, 3),
                decision_due=True,
                open_alerts=3,
            )
        ]
    )
    assert one.level == "breach"
    assert len(one.reasons) == 5
