"""The server's scoring workers and their bounded queue.

Each worker thread owns one classifier, loaded once at start (an EmotionClassifier is not
thread-safe: its scorer keeps per-call state in the model), and takes one request at a time.
Requests beyond the workers wait in a queue of at most `queue_size`; one more is turned away at
once with a retry estimate (the HTTP layer answers 503 with Retry-After) instead of waiting
without bound. A place is taken when a request arrives, before its body is read, so a burst of
large uploads cannot fill memory or disk beyond what the workers and the queue hold.
"""

from __future__ import annotations

import asyncio
import math
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any


class PoolFull(Exception):
    """Every worker is busy and the queue is full; `retry_after` is whole seconds."""

    def __init__(self, retry_after: int):
        super().__init__(f"the server is busy; retry in {retry_after} s")
        self.retry_after = retry_after


class ScoringPool:
    """Workers (one classifier each) plus a waiting queue of bounded length."""

    def __init__(self, classifiers: list, queue_size: int):
        if not classifiers:
            raise ValueError("--workers must be at least 1")
        if queue_size < 0:
            raise ValueError(f"--queue_size must be 0 or more, got {queue_size}")
        self.workers = len(classifiers)
        self.queue_size = queue_size
        self._idle: queue.SimpleQueue = queue.SimpleQueue()
        for classifier in classifiers:
            self._idle.put(classifier)
        self._executor = ThreadPoolExecutor(self.workers, thread_name_prefix="scoring")
        self._lock = threading.Lock()
        self._admitted = 0  # requests holding a place: being read, waiting or being scored
        self._scoring = 0
        self._seconds = 1.0  # a running mean of the scoring time, for Retry-After
        self.served = 0

    @property
    def capacity(self) -> int:
        return self.workers + self.queue_size

    def admit(self) -> None:
        """Take a place for a new request, or raise PoolFull."""
        with self._lock:
            if self._admitted >= self.capacity:
                waves = math.ceil((self._admitted - self.workers + 1) / self.workers)
                raise PoolFull(max(1, math.ceil(waves * self._seconds)))
            self._admitted += 1

    def leave(self) -> None:
        """Give the place back (after the answer, or when the request failed before scoring)."""
        with self._lock:
            self._admitted -= 1

    def state(self) -> dict:
        with self._lock:
            return {"workers": self.workers, "queue_size": self.queue_size,
                    "scoring": self._scoring, "waiting": self._admitted - self._scoring,
                    "served": self.served}  # fmt: skip

    async def run(self, work: Callable[[Any], Any]) -> Any:
        """`work(classifier)` on a free worker's classifier, awaited without blocking the loop."""
        return await asyncio.get_running_loop().run_in_executor(self._executor, self._call, work)

    def _call(self, work: Callable[[Any], Any]) -> Any:
        classifier = self._idle.get()
        with self._lock:
            self._scoring += 1
        started = time.monotonic()
        try:
            return work(classifier)
        finally:
            elapsed = time.monotonic() - started
            with self._lock:
                self._scoring -= 1
                self.served += 1
                self._seconds = 0.8 * self._seconds + 0.2 * elapsed
            self._idle.put(classifier)

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
