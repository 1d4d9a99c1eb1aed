"""The bounded caches' LRU: the least recently used entry goes first, a read keeps one."""

import pytest

from podium.lru import LRU


def test_the_least_recently_used_entry_goes_first() -> None:
    cache: LRU[str, int] = LRU(2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1  # "a" is now the most recent
    cache.put("c", 3)
    assert "b" not in cache
    assert (cache.get("a"), cache.get("c"), len(cache)) == (1, 3, 2)


def test_a_put_of_a_known_key_refreshes_it_and_does_not_grow() -> None:
    cache: LRU[str, int] = LRU(2)
    cache.put("a", 1)
    cache.put("b", 2)
    cache.put("a", 10)
    cache.put("c", 3)
    assert (cache.get("a"), cache.get("b"), len(cache)) == (10, None, 2)


def test_a_size_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one"):
        LRU(0)
