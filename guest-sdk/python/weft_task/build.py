"""Builds a Python module of ``@task`` functions into a Weft task component.

    python -m weft_task.build tasks.py -o tasks.wasm [--wit-only DIR]

Imports ``tasks.py`` here to read its tasks' annotations, writes the WIT of
its ``tasks`` interface beside Weft's world (schema/wit/weft-task.wit) and a
small app module, and runs ``componentize-py`` (from PATH, or
``$COMPONENTIZE_PY``) with ``--stub-wasi``: the component imports nothing
but Weft's host interface. Errors in annotations are reported before
anything is built.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

SDK = Path(__file__).resolve().parent.parent
WORLD = SDK.parent.parent / "schema" / "wit" / "weft-task.wit"

APP = """\
# Written by weft_task.build: the component's entry point.
import weft_task
from weft_task import _guest
import {module}  # registers the tasks
from wit_world import exports

_guest.install_streams()
Tasks = _guest.exports_class(exports.Tasks)
"""


def load_tasks(path: Path):
    """Imports the task module at ``path``; its prepared tasks."""
    sys.path.insert(0, str(path.parent))
    sys.path.insert(0, str(SDK))
    import weft_task
    from weft_task import _guest

    spec = importlib.util.spec_from_file_location(path.stem, path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"weft_task.build: cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module
    spec.loader.exec_module(module)
    if not weft_task.registry:
        raise SystemExit(f"weft_task.build: {path} has no @task functions")
    return [_guest.Prepared(task) for task in weft_task.registry]


def interface(tasks) -> str:
    """The WIT of the ``tasks`` interface."""
    from weft_task import _types

    lines = ["package weft:task@0.1.0;", "", "interface tasks {"]
    for record in _types.records([t for task in tasks for t in task.params + [task.ret]]):
        fields = ", ".join(f"%{_types.wit_name(n, 'field')}: {t.wit()}" for n, t in record.fields)
        lines.append(f"  record %{_types.wit_type_name(record.record.__name__)} {{ {fields} }}")
    seen = set()
    for task in tasks:
        name = _types.wit_name(task.name, "task")
        if name in seen:
            raise SystemExit(f"weft_task.build: two tasks are named {task.name}")
        seen.add(name)
        code = task.function.__code__
        names = code.co_varnames[: code.co_argcount]
        params = ", ".join(
            f"%{_types.wit_name(n, 'parameter')}: {t.wit()}" for n, t in zip(names, task.params)
        )
        ok = "_" if task.ret.kind == "unit" else task.ret.wit()
        lines.append(f"  %{name}: func({params}) -> result<{ok}, string>;")
    lines.append("}")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m weft_task.build", description=__doc__.split("\n")[0])
    parser.add_argument("module", type=Path, help="the Python file of @task functions")
    parser.add_argument("-o", "--output", type=Path, help="the component to write")
    parser.add_argument("--wit-only", type=Path, help="write the WIT to this folder and stop")
    args = parser.parse_args()
    from weft_task._types import TypeProblem

    try:
        tasks = load_tasks(args.module.resolve())
        wit = interface(tasks)
    except TypeProblem as problem:
        raise SystemExit(f"weft_task.build: {problem}")
    with tempfile.TemporaryDirectory(prefix="weft-py-") as scratch:
        scratch = Path(scratch)
        wit_dir = Path(args.wit_only) if args.wit_only else scratch / "wit"
        wit_dir.mkdir(parents=True, exist_ok=True)
        shutil.copy(WORLD, wit_dir / "weft-task.wit")
        (wit_dir / "tasks.wit").write_text(wit)
        if args.wit_only:
            return
        if args.output is None:
            raise SystemExit("weft_task.build: give -o OUTPUT")
        (scratch / "weft_app.py").write_text(APP.format(module=args.module.stem))
        tool = os.environ.get("COMPONENTIZE_PY") or shutil.which("componentize-py")
        if tool is None:
            raise SystemExit("weft_task.build: componentize-py is not on PATH (pip install componentize-py)")
        command = [
            tool, "-d", str(wit_dir), "-w", "task", "componentize", "--stub-wasi",
            "-p", str(scratch), "-p", str(SDK), "-p", str(args.module.resolve().parent),
            "weft_app", "-o", str(args.output.resolve()),
        ]
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            sys.stderr.write(done.stdout + done.stderr)
            raise SystemExit(f"weft_task.build: componentize-py failed ({done.returncode})")


if __name__ == "__main__":
    main()
