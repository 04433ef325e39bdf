"""scripts/kickstart_names.py: the benchmark's run names, which finished runs are found again by."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import pytest

from rl_distill.kickstart.config import KickstartConfig

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
from kickstart_names import NAMED, setting_fragments  # noqa: E402

UNNAMED = {key: named.unnamed for key, named in NAMED.items()}


def test_every_named_setting_is_a_kickstart_setting() -> None:
    fields = {f.name for f in dataclasses.fields(KickstartConfig)}
    assert set(NAMED) <= fields


def test_runs_at_the_unnamed_values_keep_their_plain_names() -> None:
    assert setting_fragments(UNNAMED, "adaptive:1") == ("", "")


def test_the_reference_is_named_only_where_a_schedule_uses_it() -> None:
    """Today's default (100) differs from the value earlier runs were trained with (10), so runs at the default
    never reuse those runs' folders; a schedule that measures no reference is not named after it."""
    today = {**UNNAMED, "reference_episodes": KickstartConfig("").reference_episodes}
    assert today["reference_episodes"] != UNNAMED["reference_episodes"]
    folder, label = setting_fragments(today, "adaptive:1")
    assert folder == f"-ref{today['reference_episodes']}"
    assert NAMED["reference_episodes"].pattern().search(label).group(1) == str(today["reference_episodes"])
    assert setting_fragments(today, "exp:1,100000") == ("", "")


@pytest.mark.parametrize(("key", "value"), [("log_std_init", -0.5), ("critic_warmup", 20_000), ("kl", "reverse"),
                                            ("scale_rewards", True), ("critic_hidden", "256x256")])
def test_each_label_fragment_reads_back_its_value(key: str, value: object) -> None:
    folder, label = setting_fragments({**UNNAMED, key: value}, "adaptive:1")
    assert folder and NAMED[key].pattern().fullmatch(label) is not None
    assert NAMED[key].pattern().sub("", f"kickstart adaptive:1{label}") == "kickstart adaptive:1"
