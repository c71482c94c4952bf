"""The component side: the ``Tasks`` export componentize-py calls, standard
output and error sent to the task's log, and values converted between
componentize-py's bindings and the task's own types by its annotations
(records become the task's dataclasses, results are range-checked).

Loaded by the app module the build writes; runs inside the component.
"""

from __future__ import annotations

import sys
import traceback
from typing import Any

import weft_task
from weft_task import _types
from weft_task._types import RANGES, Ty

# Everything a call needs is imported here, at build time: a running task
# has no files to import from. (On the build's own Python these are absent.)
try:
    from componentize_py_types import Err
    from wit_world.exports import tasks as records
    from wit_world.imports import host
except ImportError:
    Err = records = host = None


class LogStream:
    """A text stream whose lines become log records at one level."""

    def __init__(self, level: int) -> None:
        self.level = level
        self.pending = ""

    def write(self, text: str) -> int:
        self.pending += text
        while "\n" in self.pending:
            line, self.pending = self.pending.split("\n", 1)
            weft_task.log(self.level, line)
        return len(text)

    def flush(self) -> None:
        if self.pending:
            line, self.pending = self.pending, ""
            weft_task.log(self.level, line)

    def writable(self) -> bool:
        return True


def to_task(value: Any, ty: Ty) -> Any:
    """A value from the bindings, as the task's annotation describes it."""
    if ty.kind == "record":
        return ty.record(**{name: to_task(getattr(value, name), ft) for name, ft in ty.fields})
    if ty.kind == "list":
        return [to_task(v, ty.items[0]) for v in value] if _needs_walk(ty.items[0]) else list(value)
    if ty.kind == "tuple":
        return tuple(to_task(v, t) for v, t in zip(value, ty.items))
    if ty.kind == "option":
        return None if value is None else to_task(value, ty.items[0])
    return value


def _needs_walk(ty: Ty) -> bool:
    return ty.kind in ("record", "list", "tuple", "option")


def to_wit(value: Any, ty: Ty, records: Any, where: str) -> Any:
    """A task's value for the bindings, checked against its type."""
    kind = ty.kind
    if kind in RANGES:
        if not isinstance(value, int) or isinstance(value, bool):
            raise TypeError(f"{where} must be an int, not {type(value).__name__}")
        lo, hi = RANGES[kind]
        if not lo <= value <= hi:
            raise OverflowError(f"{where} is {value}: integer overflow, it does not fit {kind}")
        return value
    if kind in ("f32", "f64"):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError(f"{where} must be a float, not {type(value).__name__}")
        return float(value)
    if kind == "bool":
        if not isinstance(value, bool):
            raise TypeError(f"{where} must be a bool, not {type(value).__name__}")
        return value
    if kind == "string":
        if not isinstance(value, str):
            raise TypeError(f"{where} must be a str, not {type(value).__name__}")
        return value
    if kind == "bytes":
        if not isinstance(value, (bytes, bytearray, memoryview)):
            raise TypeError(f"{where} must be bytes, not {type(value).__name__}")
        return bytes(value)
    if kind == "unit":
        if value is not None:
            raise TypeError(f"{where} must be None, not {type(value).__name__}")
        return None
    if kind == "option":
        return None if value is None else to_wit(value, ty.items[0], records, where)
    if kind == "list":
        element = ty.items[0]
        items = [to_wit(v, element, records, f"{where}[{i}]") for i, v in enumerate(value)]
        # componentize-py takes list<u8> as bytes.
        return bytes(items) if element.kind == "u8" else items
    if kind == "tuple":
        value = tuple(value)
        if len(value) != len(ty.items):
            raise TypeError(f"{where} must have {len(ty.items)} elements, not {len(value)}")
        return tuple(to_wit(v, t, records, f"{where}[{i}]") for i, (v, t) in enumerate(zip(value, ty.items)))
    if kind == "record":
        generated = getattr(records, ty.record.__name__)
        return generated(
            **{name: to_wit(getattr(value, name), ft, records, f"{where}.{name}") for name, ft in ty.fields}
        )
    raise TypeError(f"{where}: no conversion for {kind}")


def describe(exception: BaseException) -> str:
    """``ValueError: message``, as Python prints an exception's last line."""
    text = str(exception)
    name = type(exception).__qualname__
    return f"{name}: {text}" if text else name


def backtrace(exception: BaseException) -> str:
    """The traceback, innermost call last, without source lines: reading
    them would need files, which a task has none of."""
    lines = ["Traceback (most recent call last):"]
    for frame, line in traceback.walk_tb(exception.__traceback__):
        code = frame.f_code
        lines.append(f'  File "{code.co_filename}", line {line}, in {code.co_name}')
    lines.append(describe(exception))
    return "\n".join(lines)


class Prepared:
    """A task with its types resolved (at build time, in the snapshot)."""

    def __init__(self, task: weft_task.Task) -> None:
        hints = weft_task.hints(task.function)
        self.function = task.function
        self.name = task.name
        code = task.function.__code__
        names = code.co_varnames[: code.co_argcount]
        missing = [n for n in names if n not in hints]
        if missing:
            raise _types.TypeProblem(f"task {task.name}: parameter {missing[0]} has no annotation")
        self.params = [_types.of(hints[n], f"task {task.name}, parameter {n}") for n in names]
        self.ret = _types.of(hints.get("return"), f"task {task.name}, result", result=True)

    def call(self, args: tuple[Any, ...]) -> Any:
        try:
            converted = [to_task(a, t) for a, t in zip(args, self.params)]
            result = self.function(*converted)
            return to_wit(result, self.ret, records, f"the result of {self.name}")
        except weft_task.Failure as failure:
            raise Err(str(failure))
        except BaseException as exception:  # an uncaught exception is a panic
            sys.stdout.flush()
            sys.stderr.flush()
            host.abort(describe(exception), backtrace(exception))
            raise
        finally:
            sys.stdout.flush()
            sys.stderr.flush()


def exports_class(base: type) -> type:
    """The ``Tasks`` class for componentize-py: one method per task."""
    methods = {}
    for task in weft_task.registry:
        prepared = Prepared(task)
        method = (lambda p: lambda self, *args: p.call(args))(prepared)
        methods[_types.python_name(_types.wit_name(task.name, "task"))] = method
    return type("Tasks", (base,), methods)


def install_streams() -> None:
    """Standard output to info records, standard error to warnings."""
    sys.stdout = LogStream(weft_task.LEVEL_INFO)
    sys.stderr = LogStream(weft_task.LEVEL_WARN)
