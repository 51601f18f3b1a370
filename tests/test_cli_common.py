"""The comma-list options shared by fuse, sweep and anncur."""

import pytest

from vecrecall.cli.common import float_list, int_list
from vecrecall.errors import UserError


def test_lists_parse_and_refuse_with_the_option_named():
    assert float_list("0.3, 0.7", "--weights") == [0.3, 0.7]
    assert int_list("10,100", "-k") == [10, 100] and int_list(None, "--depth") is None
    with pytest.raises(UserError, match="--weights 0.3,x: expected comma-separated numbers"):
        float_list("0.3,x", "--weights")
    for bad in ("10,0", "1.5", "-3"):
        with pytest.raises(UserError, match=f"--budgets {bad}: expected comma-separated positive whole numbers"):
            int_list(bad, "--budgets")
