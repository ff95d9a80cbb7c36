"""``score --owner``: an owner no account has is one clear error naming the owners there are."""

from __future__ import annotations

import pytest

from healthscore.errors import ExitCode, ParameterError, exit_code_of
from healthscore.pipeline.compose import unknown_owner

OWNERS = ["Avery", "Blake", "Casey", "Devon"]


def test_an_owner_in_other_case_is_suggested_alone():
    error = unknown_owner("avery", OWNERS, "an owner in accounts.owner")
    assert isinstance(error, ParameterError) and exit_code_of(error) == ExitCode.BAD_INPUT
    assert str(error) == ("The '--owner' parameter must be an owner in accounts.owner (owners: "
                          "Avery, Blake, Casey, Devon). Got 'avery' instead. "
                          "Did you mean 'Avery'?")


def test_a_misspelt_owner_gets_the_nearest_names():
    assert str(unknown_owner("Blak", OWNERS, "x")).endswith("Did you mean 'Blake'?")


@pytest.mark.parametrize("owners, expected", [
    (OWNERS, "(owners: Avery, Blake, Casey, Devon). Got 'Zzyzx' instead."),
    ([], "(no account has one). Got 'Zzyzx' instead."),
    ([f"csm{i:02d}" for i in range(25)], "csm19 ...). Got 'Zzyzx' instead."),
])
def test_no_close_name_lists_the_owners_without_a_guess(owners, expected):
    message = str(unknown_owner("Zzyzx", owners, "an owner"))
    assert message.endswith(expected) and "Did you mean" not in message
