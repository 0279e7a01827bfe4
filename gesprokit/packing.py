"""Work cut into pieces of bounded size, whole keys at a time (an operation, a contract):
what the partitioned dataset and the import's ledger slices share."""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping


def pack_in_order(keys: Iterable[Hashable], sizes: Mapping, limit: int) -> dict:
    """Each key's piece number: consecutive keys together while their sizes (rows) stay
    within `limit`; a key is never split, so a key larger than `limit` is a piece alone."""
    pieces, number, held = {}, 0, 0
    for key in keys:
        size = int(sizes.get(key, 0))
        if held and held + size > limit:
            number, held = number + 1, 0
        pieces[key] = number
        held += size
    return pieces
