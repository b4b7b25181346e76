"""A bounded per-session cache of embeddings with background prefetch of the next photo.

The backend object is shared between sessions (thread-safe); each session owns one cache, so an embedding
is never shared. ``prefetch`` computes embeddings on a worker thread while the user labels the current
photo; ``get`` waits for a pending prefetch instead of computing twice.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np
from numpy.typing import NDArray

from core.interactive.base import Embedding, MaskBackend

__all__ = ["EmbeddingCache"]

ImageLoader = Callable[[], NDArray[np.uint8]]


class EmbeddingCache:
    """LRU cache of :class:`Embedding` keyed by image id, at most ``capacity`` entries.

    Args:
        backend: the (shared) mask backend.
        capacity: how many embeddings to keep; the least recently used is dropped first.
    """

    def __init__(self, backend: MaskBackend, capacity: int = 8):
        if capacity < 1:
            raise ValueError("capacity must be >= 1")
        self.backend = backend
        self.capacity = capacity
        self._items: OrderedDict[str, Embedding] = OrderedDict()
        self._pending: dict[str, Future[Embedding]] = {}
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="embed-prefetch")
        self.computed = 0  # how many embeddings this cache computed (tests and stats)

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, image_id: str) -> bool:
        return image_id in self._items

    def _compute(self, image_id: str, load: ImageLoader) -> Embedding:
        emb = self.backend.embed(load(), image_id=image_id)
        with self._lock:
            self.computed += 1
            self._items[image_id] = emb
            self._items.move_to_end(image_id)
            while len(self._items) > self.capacity:
                self._items.popitem(last=False)
            self._pending.pop(image_id, None)
        return emb

    def get(self, image_id: str, load: ImageLoader) -> Embedding:
        """The embedding of ``image_id``, computing it with ``load()`` if needed (or waiting for a prefetch)."""
        with self._lock:
            if image_id in self._items:
                self._items.move_to_end(image_id)
                return self._items[image_id]
            pending = self._pending.get(image_id)
        if pending is not None:
            return pending.result()
        return self._compute(image_id, load)

    def prefetch(self, image_id: str, load: ImageLoader) -> Future[Embedding] | None:
        """Start computing an embedding in the background; None if cached or already pending.

        A failing prefetch (e.g. an unreadable photo) is dropped silently: ``get`` raises the real error later.
        """
        with self._lock:
            if image_id in self._items or image_id in self._pending:
                return None
            fut = self._pool.submit(self._compute, image_id, load)
            self._pending[image_id] = fut

        def _forget_failure(f: Future[Embedding]) -> None:
            if f.exception() is not None:
                with self._lock:
                    self._pending.pop(image_id, None)

        fut.add_done_callback(_forget_failure)
        return fut

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
