"""Parse untrusted files in a limited child process, never in the process that answers residents.

Each call forks a child from a small forkserver (started once, with the parsers preloaded, so a
file costs a fork, not an interpreter start). The child gets an address-space limit (RLIMIT_AS),
a CPU-time limit and a lower priority; the parent kills it when the wall-clock limit passes.
Whatever goes wrong in a child (parser error, MemoryError, crash, hang) comes back as an
UnreadableDocumentError with a Vietnamese reason for the admin.
"""

from __future__ import annotations

import math
import multiprocessing
import os
import resource
import signal
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, TypeVar

from bot.search.loaders import ParseLimits, UnreadableDocumentError, load_document
from bot.search.models import Document

T = TypeVar("T")
CHILD_NICE = 10  # parsing yields the CPU to answering
_PRELOAD = ["bot.search.loaders", "pypdf", "docx", "lxml.etree", "selectolax.lexbor"]
_MB = 1024 * 1024


def _context() -> multiprocessing.context.ForkServerContext:
    """The forkserver context with the parsers preloaded (safe in a threaded process, unlike fork)."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(_PRELOAD)
    return context


def _limit_self(limits: ParseLimits) -> None:
    """Apply the memory, CPU and priority limits to the current (child) process."""
    memory = limits.memory_mb * _MB
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    cpu = math.ceil(limits.timeout_seconds) + 1
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    os.nice(CHILD_NICE)


def _child(conn: Connection, limits: ParseLimits, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
    """Child entry point: limit, run, send ("ok", value) or ("error", reason) back."""
    try:
        _limit_self(limits)
        result: tuple[str, Any] = ("ok", fn(*args))
    except UnreadableDocumentError as exc:
        result = ("error", str(exc))
    except MemoryError:
        result = ("error", memory_reason(limits))
    except RecursionError:
        result = ("error", "cấu trúc tệp lồng nhau quá sâu, không đọc được")
    except Exception as exc:
        result = ("error", f"tệp hỏng hoặc không đọc được ({type(exc).__name__})")
    try:
        conn.send(result)
    except MemoryError:
        conn.send(("error", memory_reason(limits)))
    finally:
        conn.close()


def memory_reason(limits: ParseLimits) -> str:
    """The reason given when parsing needs more memory than allowed."""
    return f"đọc tệp cần quá nhiều bộ nhớ (giới hạn {limits.memory_mb} MB); tệp quá lớn hoặc là «bom nén»"


def timeout_reason(limits: ParseLimits) -> str:
    """The reason given when parsing runs past its time limit."""
    return f"đọc tệp quá {limits.timeout_seconds:g} giây nên đã bị dừng; tệp quá lớn hoặc quá phức tạp"


def _death_reason(exitcode: int | None, limits: ParseLimits) -> str:
    """A reason for a child that died without answering."""
    if exitcode in (-signal.SIGXCPU, -signal.SIGKILL):
        return timeout_reason(limits)
    if exitcode in (-signal.SIGSEGV, -signal.SIGABRT, -signal.SIGBUS):
        return memory_reason(limits)
    return f"bộ đọc tệp dừng bất thường (mã {exitcode})"


def run_limited(fn: Callable[..., T], *args: Any, limits: ParseLimits) -> T:
    """Run fn(*args) (picklable, importable) in a limited child; raise UnreadableDocumentError on failure."""
    context = _context()
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(target=_child, args=(sender, limits, fn, args), daemon=True)
    process.start()
    sender.close()
    try:
        if not receiver.poll(limits.timeout_seconds):
            raise UnreadableDocumentError(timeout_reason(limits))
        try:
            status, value = receiver.recv()
        except (EOFError, OSError):
            process.join(5)
            raise UnreadableDocumentError(_death_reason(process.exitcode, limits)) from None
    finally:
        receiver.close()
        if process.is_alive():
            process.kill()
        process.join()
        process.close()
    if status != "ok":
        raise UnreadableDocumentError(str(value))
    return value


def parse_file(path: Path, meta: dict[str, str] | None = None, limits: ParseLimits | None = None) -> Document:
    """Parse one document in the sandbox; raises UnreadableDocumentError with the reason."""
    limits = limits or ParseLimits()
    return run_limited(load_document, path, meta, limits, limits=limits)
