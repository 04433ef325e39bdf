"""What the user is told: the one exception type the command line turns into a one-line message and exit status
2, and notes printed once per process."""

from __future__ import annotations

import sys


class InputError(ValueError):
    """Bad input from the user: a flag, a file, an environment id. The message is shown as is."""


_notes_given: set[str] = set()


def note_once(key: str, message: str) -> None:
    """Print ``note: message`` to stderr the first time ``key`` comes up in this process: a run loads the same
    teacher several times (benchmarks, evaluation), and the same note each time buries the other output."""
    if key not in _notes_given:
        _notes_given.add(key)
        print(f"note: {message}", file=sys.stderr)
