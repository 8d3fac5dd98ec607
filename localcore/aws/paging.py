"""Offset paging for the lab's list operations: one page of items and the token of the next.

The token (``nextToken`` or ``marker``, depending on the operation) is the offset of the next item
as a decimal string; a token that is not one is refused as AWS refuses a foreign token.
"""

from __future__ import annotations

from typing import Sequence, TypeVar

from ..errors import InvalidRequestException

T = TypeVar("T")


def page(
    items: Sequence[T], token: str | None, size: int, *, max_size: int | None = None,
    size_name: str = "maxResults", token_name: str = "nextToken",
) -> tuple[list[T], str | None]:
    """``items[token:token+size]`` and the next token (None on the last page)."""
    if max_size is not None and not 1 <= size <= max_size:
        raise InvalidRequestException(f"{size_name} must be between 1 and {max_size}.")
    start = 0
    if token not in (None, ""):
        if not str(token).isdigit() or int(token) > len(items):
            raise InvalidRequestException(f"The {token_name} is not valid.")
        start = int(token)
    end = start + size
    return list(items[start:end]), (str(end) if end < len(items) else None)
