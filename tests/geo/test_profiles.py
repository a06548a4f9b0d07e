"""Walking profiles: GB 50180-2018 distances, adult and elderly speeds, errors."""

from __future__ import annotations

import pytest

from geo.profiles import PROFILES, budget_m, walking_budget


def test_profiles():
    assert budget_m("standard", 5) == 300.0
    assert budget_m("standard", 10) == 500.0
    assert budget_m("standard", 15) == 1000.0
    assert budget_m("adult", 10) == pytest.approx(833.333, abs=1e-3)
    assert budget_m("elderly", 10) == pytest.approx(600.0)
    assert budget_m("custom", 10, speed_kmh=6.0) == pytest.approx(1000.0)
    b = walking_budget("standard", 10)
    assert (b.profile, b.minutes, b.speed_kmh, b.metres) == ("standard", 10.0, 3.0, 500.0)
    assert walking_budget("Adult", 5).speed_kmh == 5.0
    assert set(PROFILES) == {"standard", "adult", "elderly", "custom"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("standard", 7), "5, 10, 15"),
        (("walker", 10), "standard, adult, elderly, custom"),
        (("adult", 0), "minutes"),
        (("adult", 61), "minutes"),
        (("adult", -3), "minutes"),
        (("custom", 10), "speed_kmh"),
        (("custom", 10, 0.0), "speed_kmh"),
        (("adult", 10, 4.0), "custom"),
    ],
)
def test_profile_errors(args, message):
    with pytest.raises(ValueError, match=message):
        budget_m(*args)
