"""Offset paging shared by the lab's list operations."""

from __future__ import annotations

import pytest

from localcore.aws.paging import page
from localcore.errors import InvalidRequestException

ITEMS = list("abcdefg")


@pytest.mark.parametrize(
    "token, size, expected, next_token",
    [(None, 3, list("abc"), "3"), ("3", 3, list("def"), "6"), ("6", 3, ["g"], None), ("", 10, ITEMS, None),
     ("7", 3, [], None)],
    ids=["first", "middle", "last", "empty-token", "at-the-end"],
)
def test_pages_and_next_tokens(token, size, expected, next_token):
    assert page(ITEMS, token, size) == (expected, next_token)


@pytest.mark.parametrize("token, size, max_size", [("x1", 2, None), ("8", 2, None), (None, 0, 5), (None, 6, 5)],
                         ids=["foreign-token", "token-past-the-end", "size-zero", "size-over-max"])
def test_bad_tokens_and_sizes_are_invalid_requests(token, size, max_size):
    with pytest.raises(InvalidRequestException):
        page(ITEMS, token, size, max_size=max_size)
