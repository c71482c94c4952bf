"""Python annotations as Weft/WIT types, shared by the build (which writes
the WIT) and the component (which converts values by them).

A type is a ``Ty``: ``kind`` is a WIT primitive name (``s64``, ``f64``,
``bool``, ``string`` ...), ``bytes`` (list<u8>, Python ``bytes``),
``list``, ``tuple``, ``option``, ``record`` or ``unit``.
"""

from __future__ import annotations

import dataclasses
import keyword
import re
import types
import typing
from dataclasses import dataclass, field
from typing import Any, Optional

import weft_task

NUMERIC = {
    "i8": ("s8", -(2**7), 2**7 - 1),
    "i16": ("s16", -(2**15), 2**15 - 1),
    "i32": ("s32", -(2**31), 2**31 - 1),
    "i64": ("s64", -(2**63), 2**63 - 1),
    "u8": ("u8", 0, 2**8 - 1),
    "u16": ("u16", 0, 2**16 - 1),
    "u32": ("u32", 0, 2**32 - 1),
    "u64": ("u64", 0, 2**64 - 1),
}
RANGES = {wit: (lo, hi) for (wit, lo, hi) in NUMERIC.values()}


class TypeProblem(TypeError):
    """An annotation that has no Weft type."""


@dataclass
class Ty:
    kind: str
    items: list["Ty"] = field(default_factory=list)
    record: Optional[type] = None
    fields: list[tuple[str, "Ty"]] = field(default_factory=list)

    def wit(self) -> str:
        """The type in WIT."""
        if self.kind == "bytes":
            return "list<u8>"
        if self.kind in ("list", "option"):
            return f"{self.kind}<{self.items[0].wit()}>"
        if self.kind == "tuple":
            return "tuple<" + ", ".join(t.wit() for t in self.items) + ">"
        if self.kind == "record":
            return "%" + wit_type_name(self.record.__name__)
        return self.kind


def of(annotation: Any, where: str, result: bool = False) -> Ty:
    """The type of ``annotation``; ``where`` names it in errors. ``None``
    (unit) is allowed only as a task's ``result``."""
    if annotation is None or annotation is type(None):
        if result:
            return Ty("unit")
        raise TypeProblem(f"{where}: None (unit) is allowed only as a task's result")
    name = getattr(annotation, "__name__", None)
    if getattr(annotation, "__supertype__", None) is not None and name in NUMERIC:
        return Ty(NUMERIC[name][0])
    if annotation is weft_task.f32:
        return Ty("f32")
    simple = {bool: "bool", int: "s64", float: "f64", str: "string", bytes: "bytes"}
    if annotation in simple:
        return Ty(simple[annotation])
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is list and len(args) == 1:
        return Ty("list", [of(args[0], where)])
    if origin is tuple and args and args[-1] is not Ellipsis:
        return Ty("tuple", [of(a, where) for a in args])
    if origin in (typing.Union, types.UnionType):
        rest = [a for a in args if a is not type(None)]
        if len(rest) == 1 and len(args) == 2:
            return Ty("option", [of(rest[0], where)])
    if dataclasses.is_dataclass(annotation) and isinstance(annotation, type):
        hints = typing.get_type_hints(annotation)
        fields = [(f.name, of(hints[f.name], f"{where}, field {f.name}")) for f in dataclasses.fields(annotation)]
        if not fields:
            raise TypeProblem(f"{where}: dataclass {annotation.__name__} has no fields")
        return Ty("record", record=annotation, fields=fields)
    raise TypeProblem(
        f"{where}: {annotation!r} has no Weft type (use int, float, bool, str, bytes, "
        "list[T], tuple[...], Optional[T], a dataclass, or weft_task.i32 and the like)"
    )


FIRST_WORD = re.compile(r"^[a-z][a-z0-9]*$")
WORD = re.compile(r"^[a-z0-9]+$")


def wit_name(snake: str, what: str) -> str:
    """``keep_negative`` -> ``keep-negative``; Weft derives the name back."""
    words = snake.split("_")
    if not (FIRST_WORD.match(words[0]) and all(WORD.match(w) for w in words[1:])):
        raise TypeProblem(
            f"{what} `{snake}` cannot be a WIT name: use lowercase words of letters and "
            "digits joined by single underscores, the first starting with a letter"
        )
    return "-".join(words)


def wit_type_name(camel: str) -> str:
    """``AccountSummary`` -> ``account-summary`` (Weft names it
    ``AccountSummary`` again)."""
    words = re.findall(r"[A-Z][a-z0-9]*", camel)
    if "".join(words) != camel:
        raise TypeProblem(f"type `{camel}` must be CamelCase of letters and digits")
    return "-".join(w.lower() for w in words)


def python_name(wit: str) -> str:
    """The method name componentize-py gives a WIT function."""
    name = wit.replace("-", "_")
    return name + "_" if keyword.iskeyword(name) else name


def records(types_: list[Ty]) -> list[Ty]:
    """Every record reachable from ``types_``, each once, inner ones first."""
    found: list[Ty] = []

    def visit(t: Ty) -> None:
        for inner in t.items:
            visit(inner)
        if t.kind == "record":
            for _, ft in t.fields:
                visit(ft)
            if all(r.record is not t.record for r in found):
                found.append(t)

    for t in types_:
        visit(t)
    return found
