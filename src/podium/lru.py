"""A bounded least-recently-used map: the caches that a tenant can grow (flow versions,
compiled graphs, verified tokens) keep at most `size` entries, so no app can fill a process's
memory by creating versions (docs/security.md, "Caps")."""

from __future__ import annotations

from collections import OrderedDict
from typing import Generic, TypeVar

# Flow versions (records and compiled graphs) one process keeps: far more than a deployment
# runs at once; past it the least recently used is read from the database again.
FLOW_CACHE_SIZE = 1024

K = TypeVar("K")
V = TypeVar("V")


class LRU(Generic[K, V]):
    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError("an LRU holds at least one entry")
        self.size = size
        self._items: OrderedDict[K, V] = OrderedDict()

    def get(self, key: K) -> V | None:
        value = self._items.get(key)
        if value is not None:
            self._items.move_to_end(key)
        return value

    def put(self, key: K, value: V) -> None:
        self._items[key] = value
        self._items.move_to_end(key)
        while len(self._items) > self.size:
            self._items.popitem(last=False)

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: object) -> bool:
        return key in self._items
