"""Model search's run folder name never reads as a card number."""

from __future__ import annotations

import calendar

from fraudlens.security.pan_scan import find_pans
from training.search import run_name


def test_the_run_name_keeps_date_and_time_apart() -> None:
    # 2026-12-07 02:52:18 UTC: as "20261207-025218" it passed Luhn and failed a CI run's scan.
    now = calendar.timegm((2026, 12, 7, 2, 52, 18))
    assert run_name(now) == "search-20261207T025218"


def test_no_second_of_a_day_names_a_run_like_a_card_number() -> None:
    start = calendar.timegm((2026, 12, 7, 0, 0, 0))
    hits = [run_name(start + s) for s in range(86_400) if find_pans(run_name(start + s))]
    assert hits == []
