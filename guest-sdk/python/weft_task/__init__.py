"""Weft tasks in Python.

Mark functions with ``@task``; their annotations are their signatures.
``python -m weft_task.build tasks.py -o tasks.wasm`` turns the module into
a WebAssembly component of Weft's ``weft:task`` world with componentize-py
(see README.md). Inside a task, ``print`` goes to the task's log (standard
error as warnings), ``raise Failure(message)`` fails the task with that
message, and any other uncaught exception ends it as a panic carrying the
exception and its traceback.

Types: ``int`` is i64, ``float`` f64, ``bool``, ``str`` string, ``bytes``
list<u8>, ``list[T]``, ``tuple[A, B]``, ``Optional[T]`` (or ``T | None``)
option<T>, a dataclass a struct; ``i8`` .. ``u64`` and ``f32`` below name
the other numeric types. A return annotation of ``None`` is unit.
"""

from __future__ import annotations

import typing
from dataclasses import dataclass
from typing import Any, Callable, NewType, Optional

__all__ = [
    "task",
    "Failure",
    "log",
    "debug",
    "info",
    "warning",
    "error",
    "i8",
    "i16",
    "i32",
    "i64",
    "u8",
    "u16",
    "u32",
    "u64",
    "f32",
]

i8 = NewType("i8", int)
i16 = NewType("i16", int)
i32 = NewType("i32", int)
i64 = NewType("i64", int)
u8 = NewType("u8", int)
u16 = NewType("u16", int)
u32 = NewType("u32", int)
u64 = NewType("u64", int)
f32 = NewType("f32", float)


class Failure(Exception):
    """Raised by a task to fail with ``message`` (the task's error, as a
    Rust task's ``Err``), rather than panic."""


@dataclass
class Task:
    """One registered task: its Weft name and its function."""

    name: str
    function: Callable[..., Any]


# The tasks of the modules imported so far, in the order they were marked.
registry: list[Task] = []


def task(function: Optional[Callable[..., Any]] = None, *, name: Optional[str] = None):
    """Marks ``function`` as a Weft task named ``name`` (default: the
    function's own name; give one for names Python reserves, such as
    ``not``). Use as ``@task`` or ``@task(name=...)``."""

    def mark(f: Callable[..., Any]) -> Callable[..., Any]:
        registry.append(Task(name or f.__name__, f))
        return f

    return mark(function) if function is not None else mark


LEVEL_ERROR, LEVEL_WARN, LEVEL_INFO, LEVEL_DEBUG, LEVEL_TRACE = 1, 2, 3, 4, 5


# The host interface: importable only inside the component, and imported
# now, at build time, since a task cannot import (it has no files).
try:
    from wit_world.imports import host as _host
except ImportError:
    _host = None


def log(level: int, message: str) -> None:
    """Emits a log record through the host (within the task's log budget)."""
    if _host is None:
        import sys

        print(f"[weft level {level}] {message}", file=sys.stderr)
        return
    _host.log(level, message)


def debug(message: str) -> None:
    """A debug record."""
    log(LEVEL_DEBUG, message)


def info(message: str) -> None:
    """An info record."""
    log(LEVEL_INFO, message)


def warning(message: str) -> None:
    """A warning record."""
    log(LEVEL_WARN, message)


def error(message: str) -> None:
    """An error record."""
    log(LEVEL_ERROR, message)


def hints(function: Callable[..., Any]) -> dict[str, Any]:
    """The resolved annotations of ``function``."""
    return typing.get_type_hints(function)
