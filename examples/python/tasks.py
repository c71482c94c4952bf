"""Weft tasks in Python: the Rust test kit's tasks (tests/guests/testkit)
that Python has types for, so that the tests can check that both give the
same bytes, `parse_accounts` for the polyglot example, and four that show
how a Python task fails. Build it (see
guest-sdk/python/README.md):

    python -m weft_task.build examples/python/tasks.py -o tasks-python.wasm
"""

from dataclasses import dataclass
from typing import Optional

import weft_task
from weft_task import Failure, task, u64


@dataclass
class Account:
    """A row of the accounts example."""

    name: str
    balance: int


def wrapping(x: int) -> int:
    """x as an i64 that wrapped around, as the Rust test kit's release
    build does on overflow (Python's own integers never overflow)."""
    return (x + 2**63) % 2**64 - 2**63


@task
def inc(x: int) -> int:
    return wrapping(x + 1)


@task
def add(a: int, b: int) -> int:
    return wrapping(a + b)


@task
def scale(x: float, k: float) -> float:
    return x * k


@task(name="not")
def not_(b: bool) -> bool:
    return not b


@task
def greet(name: str) -> str:
    return "hello, " + name


@task
def reverse_bytes(data: bytes) -> bytes:
    return data[::-1]


@task
def keep_multiples_of_3(xs: list[int]) -> list[int]:
    return [x for x in xs if x % 3 == 0]


@task
def sort_words(words: list[str]) -> list[str]:
    # Rust sorts strings by their bytes; so does this key.
    return sorted(words, key=lambda w: w.encode())


@task
def first_positive(xs: list[int]) -> Optional[int]:
    return next((x for x in xs if x > 0), None)


@task
def swap(pair: tuple[int, str]) -> tuple[str, int]:
    return (pair[1], pair[0])


@task
def negative_accounts(rows: list[Account]) -> list[Account]:
    return [row for row in rows if row.balance < 0]


@task
def divide(a: int, b: int) -> int:
    if b == 0:
        raise Failure(f"cannot divide {a} by zero")
    # Python's integers do not overflow: i64::MIN / -1 gives 2**63, which
    # the result check refuses as a panic, as Rust's overflow panics.
    quotient = abs(a) // abs(b)
    return quotient if (a < 0) == (b < 0) else -quotient


@task
def nothing() -> None:
    pass


@task
def chatty(message: str) -> u64:
    print("chatty says", message)
    weft_task.warning("and warns too")
    return len(message.encode())


@task
def parse_accounts(text: str) -> list[Account]:
    """CSV lines `name,balance` (after a header) as accounts; a malformed
    line fails the task, naming it."""
    rows = []
    for number, line in enumerate(text.splitlines()[1:], start=2):
        if not line.strip():
            continue
        name, _, balance = line.partition(",")
        try:
            rows.append(Account(name=name, balance=int(balance)))
        except ValueError:
            raise Failure(f"line {number}: {line!r} is not name,balance")
    return rows


@task
def raises(message: str) -> int:
    """An uncaught exception: a panic with its traceback."""
    raise ValueError(message)


@task
def spin() -> int:
    """Never ends: stopped by the task's timeout."""
    n = 0
    while True:
        n += 1


@task
def hoard(mib: int) -> int:
    """Asks for `mib` MiB at once: stopped by the memory limit."""
    return len(bytearray(mib << 20))


@task
def big(n: int) -> str:
    """A result of n bytes: stopped by result_bytes_max when too large."""
    return "x" * n
