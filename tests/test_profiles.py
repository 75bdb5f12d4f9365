"""Profiles: the table, choose(), and the error for unknown names."""

import pytest

from kdbook.profiles import PROFILES, get_profile


def test_known_profiles():
    assert set(PROFILES) == {"smoke", "cpu", "gpu"}
    assert all(len(p.seeds) >= 3 for p in PROFILES.values())
    assert (
        not get_profile("cpu").allow_download
        and not get_profile("smoke").allow_download
    )
    assert get_profile("gpu").device == "cuda"


def test_unknown_profile_is_a_clear_error():
    with pytest.raises(
        ValueError,
        match=r"unknown profile 'laptop'; choose one of \['cpu', 'gpu', 'smoke'\]",
    ):
        get_profile("laptop")


def test_choose_picks_this_profile_and_names_missing_ones():
    assert get_profile("smoke").choose(smoke=1, cpu=8, gpu=30) == 1
    with pytest.raises(KeyError, match="no value given for profile 'gpu'"):
        get_profile("gpu").choose(smoke=1, cpu=8)
