"""Atomic writes and the JSON layout of every log and results file."""

import json
import math
from pathlib import Path

import pytest

from rl_distill.io import atomic_write, atomic_write_json, to_json, with_extension


def test_json_reads_back_the_same_with_each_list_of_scalars_on_one_line(tmp_path: Path) -> None:
    data = {"returns": [1.5, -2, None, True, "a [b] {c}"], "runs": [{"seed": 0, "curve": [0, 5000]}, [1, 2]],
            "empty": {}, "none": [], 3: {"nested": {"tuple": (1, 2)}}, "nan": math.nan}  # fmt: skip
    path = atomic_write_json(tmp_path / "log.json", data)
    text = path.read_text()
    again = json.loads(text)
    plain = json.loads(json.dumps({k: v for k, v in data.items() if k != "nan"}))  # what json.dumps would give
    assert math.isnan(again.pop("nan")) and again == plain
    assert '  "returns": [1.5, -2, null, true, "a [b] {c}"],\n' in text  # a list of scalars: one line
    assert '      "curve": [0, 5000]\n' in text and '  "runs": [\n    {\n' in text  # a list of objects: indented
    assert text == to_json(data) + "\n"


def test_a_failed_write_leaves_the_old_file(tmp_path: Path) -> None:
    path = atomic_write_json(tmp_path / "log.json", {"old": 1})

    def half_then_fail(tmp: Path) -> None:
        tmp.write_text('{"new":')
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic_write(path, half_then_fail)
    assert json.loads(path.read_text()) == {"old": 1} and [p.name for p in tmp_path.iterdir()] == ["log.json"]


def test_an_extension_keeps_a_dot_in_the_stem(tmp_path: Path) -> None:
    assert with_extension(tmp_path / "sweep-decay0.2", ".json") == tmp_path / "sweep-decay0.2.json"
    assert with_extension("results/collect-actions", ".md") == Path("results/collect-actions.md")
