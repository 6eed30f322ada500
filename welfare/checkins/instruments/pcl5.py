"""PCL-5 (PTSD Checklist for DSM-5), US Department of Veterans Affairs National Center for
PTSD (Weathers, Litz, Keane, Palmieri, Marx and Schnurr, 2013). Public domain."""

from __future__ import annotations

from collections.abc import Sequence

from welfare.checkins.instruments.base import Band, Instrument, ScoringConfig

DSM5_PATTERN = "dsm5_pattern"
ROSE = "rose_by_10"
FELL = "fell_by_10"

# DSM-5 clusters (1-based item numbers) and how many items of each must be rated 2 or more.
CLUSTERS = (((1, 5), 1), ((6, 7), 1), ((8, 14), 2), ((15, 20), 2))


def meets_dsm5_pattern(answers: Sequence[int]) -> bool:
    """An item rated 2 ("Moderately") or higher counts as a symptom endorsed."""
    return all(
        sum(1 for item in range(first, last + 1) if answers[item - 1] >= 2) >= needed
        for (first, last), needed in CLUSTERS
    )


def _extra(
    answers: Sequence[int], total: int, previous: int | None, config: ScoringConfig
) -> tuple[str, ...]:
    flags: list[str] = []
    if meets_dsm5_pattern(answers):
        flags.append(DSM5_PATTERN)
    threshold = config.meaningful_change.get("pcl5", 10)
    if previous is not None and total - previous >= threshold:
        flags.append(ROSE)
    if previous is not None and previous - total >= threshold:
        flags.append(FELL)
    return tuple(flags)


PCL5 = Instrument(
    key="pcl5",
    name="PCL-5",
    version="PCL-5 (11 April 2018 version)",
    prompt=(
        "Below is a list of problems that people sometimes have in response to a very stressful "
        "experience. Please read each problem carefully and then indicate how much you have "
        "been bothered by that problem in the past month."
    ),
    items=(
        "Repeated, disturbing, and unwanted memories of the stressful experience?",
        "Repeated, disturbing dreams of the stressful experience?",
        "Suddenly feeling or acting as if the stressful experience were actually happening again "
        "(as if you were actually back there reliving it)?",
        "Feeling very upset when something reminded you of the stressful experience?",
        "Having strong physical reactions when something reminded you of the stressful experience "
        "(for example, heart pounding, trouble breathing, sweating)?",
        "Avoiding memories, thoughts, or feelings related to the stressful experience?",
        "Avoiding external reminders of the stressful experience (for example, people, places, "
        "conversations, activities, objects, or situations)?",
        "Trouble remembering important parts of the stressful experience?",
        "Having strong negative beliefs about yourself, other people, or the world (for example, "
        "having thoughts such as: I am bad, there is something seriously wrong with me, no one can "
        "be trusted, the world is completely dangerous)?",
        "Blaming yourself or someone else for the stressful experience or what happened after it?",
        "Having strong negative feelings such as fear, horror, anger, guilt, or shame?",
        "Loss of interest in activities that you used to enjoy?",
        "Feeling distant or cut off from other people?",
        "Trouble experiencing positive feelings (for example, being unable to feel happiness or have "
        "loving feelings for people close to you)?",
        "Irritable behavior, angry outbursts, or acting aggressively?",
        "Taking too many risks or doing things that could cause you harm?",
        'Being "superalert" or watchful or on guard?',
        "Feeling jumpy or easily startled?",
        "Having difficulty concentrating?",
        "Trouble falling or staying asleep?",
    ),
    options=("Not at all", "A little bit", "Moderately", "Quite a bit", "Extremely"),
    low=0,
    high=4,
    bands=(Band(0, 32, "below_cutoff"), Band(33, 80, "above_cutoff")),
    licence="Public domain (US Department of Veterans Affairs).",
    attribution=(
        "Weathers, F.W., Litz, B.T., Keane, T.M., Palmieri, P.A., Marx, B.P., & Schnurr, P.P. (2013). "
        "The PTSD Checklist for DSM-5 (PCL-5). National Center for PTSD."
    ),
    score_extra=_extra,
)
