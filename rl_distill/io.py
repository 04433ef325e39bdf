"""Atomic file writes: a reader sees the old file or the new one, never half of one."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any


def atomic_write(path: str | os.PathLike[str], write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp_path)``, fsync the result, then rename it over ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600; give the file the usual permissions
    try:
        write(tmp)
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    return path


def with_extension(stem: str | os.PathLike[str], extension: str) -> Path:
    """``stem`` with ``extension`` (".json") appended. Unlike ``Path.with_suffix``, a dot in the stem's name (a rate
    such as ``-decay0.2``) is kept instead of being replaced as if it were a suffix."""
    path = Path(stem)
    return path.with_name(path.name + extension)


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    return atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def atomic_write_json(path: str | os.PathLike[str], data: Any) -> Path:
    return atomic_write_text(path, to_json(data) + "\n")


def to_json(data: Any, indent: int = 2) -> str:
    """``json.dumps(data, indent=indent)``, but each list of scalars on one line: run logs and results hold
    many long lists of numbers (returns, curves), and one number per line made them about twice as large."""

    def render(value: Any, depth: int) -> str:
        inner, outer = " " * (indent * (depth + 1)), " " * (indent * depth)
        if isinstance(value, dict) and value:
            items = [f"{inner}{json.dumps(k if isinstance(k, str) else json.dumps(k))}: {render(v, depth + 1)}"
                     for k, v in value.items()]  # fmt: skip
            return "{\n" + ",\n".join(items) + f"\n{outer}}}"
        if isinstance(value, list | tuple) and any(isinstance(v, dict | list | tuple) for v in value):
            return "[\n" + ",\n".join(inner + render(v, depth + 1) for v in value) + f"\n{outer}]"
        return json.dumps(value)

    return render(data, 0)
