from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

ITEM_COUNT = "Give exactly {count} answers, one for each item."
ANSWER_RANGE = "Item {item}: give a whole number from {low} to {high}."


class InstrumentError(ValueError):
    """Answers that do not fit the instrument; `messages` is for the API's field errors."""

    def __init__(self, messages: list[str]) -> None:
        super().__init__("; ".join(messages))
        self.messages = messages


@dataclass(frozen=True)
class Band:
    low: int
    high: int
    name: str


@dataclass(frozen=True)
class Result:
    total: int
    band: str
    flags: tuple[str, ...]
    change: int | None = None


@dataclass(frozen=True)
class ScoringConfig:
    """Cut-offs are configuration: published cut-offs differ between populations."""

    cutoffs: Mapping[str, int] = field(default_factory=dict)
    meaningful_change: Mapping[str, int] = field(default_factory=dict)


# Flags and bands in words, for clinicians' pages (the stored values stay codes). An
# instrument a force registers may add its own; unknown ones show as their code in words.
FLAG_WORDS = {
    "over_cutoff": "Total at or over the cut-off",
    "self_harm_thoughts": "Thoughts of self-harm or of being better off dead (item 9)",
    "dsm5_pattern": "Answers meet the DSM-5 symptom pattern (probable PTSD)",
    "rose_by_10": "Rose by a meaningful amount since the last one",
    "fell_by_10": "Fell by a meaningful amount since the last one",
}
BAND_WORDS = {
    "minimal": "Minimal",
    "mild": "Mild",
    "moderate": "Moderate",
    "moderately_severe": "Moderately severe",
    "severe": "Severe",
    "below_cutoff": "Below the cut-off",
    "above_cutoff": "At or above the cut-off",
}


def flag_words(flag: str) -> str:
    return FLAG_WORDS.get(flag, flag.replace("_", " ").capitalize())


def band_words(band: str) -> str:
    return BAND_WORDS.get(band, band.replace("_", " ").capitalize())


Scorer = Callable[[Sequence[int], int | None, ScoringConfig], Result]


@dataclass(frozen=True)
class Instrument:
    key: str
    name: str
    version: str
    prompt: str
    items: tuple[str, ...]
    options: tuple[str, ...]  # labels for answers low..high
    low: int
    high: int
    bands: tuple[Band, ...]
    licence: str
    attribution: str
    score_extra: (
        Callable[[Sequence[int], int, int | None, ScoringConfig], tuple[str, ...]] | None
    ) = None
    # Flags that mean risk now (PHQ-9's item 9): an urgent alert to occupational health and
    # the support message to the officer, whatever the total.
    critical_flags: frozenset[str] = frozenset()

    @property
    def item_count(self) -> int:
        return len(self.items)

    def validate(self, answers: object) -> list[int]:
        if not isinstance(answers, list | tuple) or len(answers) != self.item_count:
            raise InstrumentError([ITEM_COUNT.format(count=self.item_count)])
        problems = [
            ANSWER_RANGE.format(item=n, low=self.low, high=self.high)
            for n, answer in enumerate(answers, start=1)
            if isinstance(answer, bool)
            or not isinstance(answer, int)
            or not self.low <= answer <= self.high
        ]
        if problems:
            raise InstrumentError(problems)
        return list(answers)  # type: ignore[arg-type]

    def band_for(self, total: int) -> str:
        return next(band.name for band in self.bands if band.low <= total <= band.high)

    def score(
        self,
        answers: object,
        *,
        previous_total: int | None = None,
        config: ScoringConfig = ScoringConfig(),
    ) -> Result:
        """Validate and score; flags include `over_cutoff` when the total reaches the cut-off."""
        values = self.validate(answers)
        total = sum(values)
        flags: list[str] = []
        cutoff = config.cutoffs.get(self.key)
        if cutoff is not None and total >= cutoff:
            flags.append("over_cutoff")
        if self.score_extra is not None:
            flags.extend(self.score_extra(values, total, previous_total, config))
        change = None if previous_total is None else total - previous_total
        return Result(total=total, band=self.band_for(total), flags=tuple(flags), change=change)

    def critical(self, flags: Sequence[str]) -> bool:
        return bool(self.critical_flags.intersection(flags))
