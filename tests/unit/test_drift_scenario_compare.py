"""The scenario's verdict judges the last promotion on the days served after it."""

from __future__ import annotations

import math

from drift.scenario import ScenarioResult, compare_after_last_promotion


class FakeWorld:
    """Records the windows asked for; AP figures tell the two versions apart."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, int, int]] = []

    def compare(self, old: str, new: str, first_day: int, end_day: int) -> dict[str, float]:
        self.calls.append((old, new, first_day, end_day))
        return {"ap_old": 0.2, "ap_new": 0.6, "pattern_ap_old": 0.1, "pattern_ap_new": 0.8}


def test_compares_first_and_final_champion_after_the_last_promotion() -> None:
    result = ScenarioResult(onset_day=70, first_version="1", promoted_day=80, new_version="2")
    result.final_day, result.final_version = 86, "3"  # a second promotion after the first
    world = FakeWorld()
    compare_after_last_promotion(result, world, end_day=94)
    # the final champion serves from the day after its promotion to the end, and only then
    assert world.calls == [("1", "3", 87, 94)]
    assert (result.ap_before, result.ap_after) == (0.2, 0.6)
    assert (result.pattern_ap_before, result.pattern_ap_after) == (0.1, 0.8)


def test_no_promotion_leaves_the_verdict_empty() -> None:
    result = ScenarioResult(onset_day=70, first_version="1")
    world = FakeWorld()
    compare_after_last_promotion(result, world, end_day=94)
    assert world.calls == []
    assert math.isnan(result.ap_before) and math.isnan(result.ap_after)
