from __future__ import annotations

import pytest

from aecore import profiles


def test_env_var_overrides_argument(monkeypatch):
    monkeypatch.setenv("AECORE_PROFILE", "fast")
    assert profiles.get_profile("full").name == "fast"
    monkeypatch.setenv("AECORE_PROFILE", "")
    assert profiles.get_profile("fast").name == "fast"
    assert profiles.get_profile(None).name == "full"


def test_unknown_profile_lists_valid_ones(monkeypatch):
    monkeypatch.delenv("AECORE_PROFILE", raising=False)
    with pytest.raises(ValueError, match="valid profiles: fast, full"):
        profiles.get_profile("medium")
    monkeypatch.setenv("AECORE_PROFILE", "quick")
    with pytest.raises(ValueError, match="AECORE_PROFILE"):
        profiles.get_profile("full")


def test_full_profile_fits_the_offline_data():
    # Offline MNIST has 5,000 training images: the published profile must not need more,
    # so online and offline runs give the same numbers.
    full = profiles.PROFILES["full"]
    assert full.n_train <= 5000 and full.n_stats <= 5000 and full.n_test <= 10000
    assert len(full.seeds) >= 3
    fast = profiles.PROFILES["fast"]
    assert fast.n_train <= full.n_train and fast.epochs <= full.epochs


def test_readme_profile_table_matches_the_profiles():
    # The README's table is typed by hand: it must say what PROFILES holds.
    import re
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    for name, prof in profiles.PROFILES.items():
        row = re.search(rf"^\| `{name}` \|(.*)$", readme, re.M)
        assert row, f"no README row for profile {name!r}"
        numbers = [int(n.replace(",", "")) for n in re.findall(r"\d[\d,]*", row.group(1))]
        compared = [profiles.COMPARISON_SEEDS[0], profiles.COMPARISON_SEEDS[-1]] if name == "full" else []
        expected = [prof.n_train, prof.n_test, prof.epochs, *compared, *prof.seeds, prof.n_val]
        assert numbers == expected, (name, row.group(0))
    assert profiles.comparison_seeds(profiles.PROFILES["full"]) == tuple(range(5))
    assert profiles.comparison_seeds(profiles.PROFILES["fast"]) == profiles.PROFILES["fast"].seeds
