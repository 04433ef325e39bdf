"""scripts/bench_multitask.py: two copies running the two cases side by side both keep their table."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
import bench_multitask  # noqa: E402


def test_filing_a_case_keeps_the_other_case_that_another_copy_filed(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    committed = json.loads((ROOT / "results" / "multitask.json").read_text())
    monkeypatch.setattr(bench_multitask, "RESULTS", tmp_path)
    bench_multitask.filed("spaces", committed["spaces"])
    bench_multitask.filed("dynamics", committed["dynamics"])  # as the other copy would, after this one began
    again = {**committed["spaces"], "updates_per_round": 1000}
    lines = bench_multitask.filed("spaces", again)
    assert json.loads((tmp_path / "multitask.json").read_text()) == {"spaces": again, "dynamics": committed["dynamics"]}
    report = (tmp_path / "multitask.md").read_text()
    assert report == "\n".join(lines) and "### dynamics" in report
    assert "### spaces\n\n1,000 updates per round." in report and (tmp_path / "multitask.png").exists()
