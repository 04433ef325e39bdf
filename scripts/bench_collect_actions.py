"""Each collection mode of `distill --collect-actions` (sampled, greedy, mixed, capped) on teachers you name.

Each teacher (``--pairs ENV=TEACHER_ZIP``, or ``--teachers NAME`` from scripts/own_teachers.py, trained by its
plain-SB3 recipe when missing) is distilled with the env preset's defaults (16x16 student unless
``--student-hidden``, student-driven collection, the preset's steps) once per mode (``--collect-actions``, default
all) and seed, and each student is scored on 100 fixed evaluation episodes (score = (student - random) / (teacher
- random)). The report gives each teacher's std along its greedy path (in half-ranges of its actions) and, over
several teachers, each mode's shortfall from the best mode per teacher. Every run's row is kept in its folder
under ``--work`` (own_teachers.cached), so a re-run or a run killed half-way only trains and evaluates what is
missing. Writes ``results/STEM.{md,json}``.

Session 57's comparison, which made capped the default for Box actions (13 teachers, 5 seeds; every run of the
tables below that it shares is reused):

    python scripts/bench_collect_actions.py --stem collect-actions-box --seeds 5 --pairs \\
        LunarLanderContinuous-v3=runs/bench-rl/LunarLanderContinuous-v3/teacher.zip \\
        Pendulum-v1=runs/bench-rl/Pendulum-v1/teacher.zip \\
        MountainCarContinuous-v0=runs/bench-rl/MountainCarContinuous-v0/teacher.zip \\
        Hopper-v5=runs/teachers/Hopper-v5/teacher.zip Walker2d-v5=runs/sb3-teachers/Walker2d-v5/teacher.zip \\
        Walker2d-v5=runs/sb3-teachers/Walker2d-v5-seed1/teacher.zip \\
        --teachers reacher sac-pendulum td3-pendulum pusher bipedal-zoo sac-cheetah td3-cheetah

(``--stem collect-actions-box-32x32 --student-hidden 32 32`` with the two Walker2d-v5 pairs; ``--stem
collect-actions-holdout --pairs HalfCheetah-v5=runs/sb3-teachers/HalfCheetah-v5/teacher.zip --teachers
sac-mountaincar`` with 3 seeds). The sixteen-teacher and session-31 tables below were made when the modes were
sampled and greedy: ``--collect-actions sampled greedy`` repeats them as they are (the single-teacher stems below
were written again in session 57 with all four modes).

Session 58's cap sensitivity (``--noise-caps``: one capped column per cap; the 0.1 runs are the ones above):

    python scripts/bench_collect_actions.py --stem collect-actions-noise-cap --seeds 5 --collect-actions capped \\
        --noise-caps 0.05 0.1 0.2 --pairs Walker2d-v5=runs/sb3-teachers/Walker2d-v5-seed1/teacher.zip \\
        Walker2d-v5=runs/sb3-teachers/Walker2d-v5/teacher.zip Hopper-v5=runs/teachers/Hopper-v5/teacher.zip \\
        --teachers bipedal-zoo sac-cheetah td3-cheetah

``--collect dagger`` (or teacher) compares the modes under another collection scheme, in run folders of its own.
Session 59's held-out teachers, both schemes (``--collect-actions greedy capped --teachers walker-raw hopper-raw
sac-hopper`` with ``--stem collect-actions-holdout-hard``, and with ``--stem collect-actions-dagger-holdout-hard
--collect dagger``), and the easy Box-action teachers above under distill's default since then (``--stem
collect-actions-dagger-easy --collect dagger --collect-actions greedy``); scripts/report_collection_pairs.py sets
every scheme-and-mode pair side by side.

Sixteen teachers at 1,000 updates per round, 5 seeds: the preset teachers (`rl-distill teacher --env ENV --out
runs/bench-rl/ENV`; Hopper-v5's in runs/teachers/), scripts/train_sb3_teacher.py's ``ppo`` recipe on Walker2d-v5
and the plain-SB3 teachers of scripts/own_teachers.py (about an hour to train them all here, and about two hours
of runs, which two processes on disjoint teachers share):

    python scripts/bench_collect_actions.py --stem collect-actions-1000u --seeds 5 --pairs \\
        CartPole-v1=runs/bench-rl/CartPole-v1/teacher.zip LunarLander-v3=runs/bench-rl/LunarLander-v3/teacher.zip \\
        LunarLanderContinuous-v3=runs/bench-rl/LunarLanderContinuous-v3/teacher.zip \\
        Pendulum-v1=runs/bench-rl/Pendulum-v1/teacher.zip \\
        MountainCarContinuous-v0=runs/bench-rl/MountainCarContinuous-v0/teacher.zip \\
        Hopper-v5=runs/teachers/Hopper-v5/teacher.zip Walker2d-v5=runs/sb3-teachers/Walker2d-v5/teacher.zip \\
        --teachers lunar acrobot reacher dqn-lunar dqn-mountaincar sac-pendulum td3-pendulum pusher bipedal-zoo

The session-31 table (250 updates per round, the default then):

    python scripts/bench_collect_actions.py --pairs \\
        LunarLander-v3=runs/bench-rl/LunarLander-v3/teacher.zip \\
        LunarLander-v3=runs/probe/heldout-ll-relu/teacher.zip \\
        LunarLanderContinuous-v3=runs/bench-rl/LunarLanderContinuous-v3/teacher.zip \\
        Pusher-v5=runs/probe/pusher-ppo/teacher.zip CartPole-v1=runs/bench-rl/CartPole-v1/teacher.zip

(the two under runs/probe/ are plain-SB3 teachers: PPO's defaults on 4 envs with VecNormalize and a 2x128
ReLU net, 300,000 steps; and ``scripts/train_sb3_teacher.py --algo ppo-raw --timesteps 300000``). The
BipedalWalker-v3 teacher from the zoo's PPO values (scripts/own_teachers.py's ``bipedal-zoo``, about 50 minutes
to train here; each distillation about 30 s and each 100-episode evaluation 1-2 minutes):

    python scripts/bench_collect_actions.py --stem collect-actions-bipedal-zoo \\
        --pairs BipedalWalker-v3=runs/sb3-teachers/BipedalWalker-v3-zoo/bipedal_zoo.zip

and two more walkers (the Hopper-v5 preset's teacher from `rl-distill teacher --env Hopper-v5 --out
runs/teachers/Hopper-v5`; scripts/train_sb3_teacher.py's ``ppo`` recipe on Walker2d-v5; about 20 minutes each):

    python scripts/bench_collect_actions.py --stem collect-actions-hopper \\
        --pairs Hopper-v5=runs/teachers/Hopper-v5/teacher.zip
    python scripts/bench_collect_actions.py --stem collect-actions-walker2d \\
        --pairs Walker2d-v5=runs/sb3-teachers/Walker2d-v5/teacher.zip
"""

from __future__ import annotations

import argparse
import json
import shlex
import statistics
import sys
from collections.abc import Sequence
from dataclasses import asdict
from functools import partial
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from own_teachers import TEACHERS, cached, episodes_row, teacher_files  # a sibling script: scripts/ is on sys.path

from rl_distill.cli.arguments import add_updates_per_round, positive_float, positive_int, unit_float
from rl_distill.distill.config import (
    COLLECT_SCHEMES,
    COLLECTION_MODES,
    DAGGER_DECAY,
    NOISE_CAP,
    DistillConfig,
    updates_tag,
)
from rl_distill.evaluation.compare import score
from rl_distill.evaluation.evaluate import evaluate_random
from rl_distill.experiments.pipeline import run_distill
from rl_distill.io import atomic_write_json, atomic_write_text, with_extension
from rl_distill.sb3.policies import load_policy
from rl_distill.sb3.presets import preset_for

ROOT = Path(__file__).resolve().parent.parent


SCHEME_WORDS = {"student": "student-driven", "teacher": "teacher-driven", "dagger": "DAgger"}
"""How the report names each ``--collect`` scheme."""


def size_name(hidden: Sequence[int]) -> str:
    return "x".join(map(str, hidden))


def teacher_noise(env: str, teacher: Path, steps: int = 500, n_envs: int = 4) -> float | None:
    """The teacher's std as a share of each action's half-range, averaged over the states of its own greedy rollouts:
    the noise sampled collection adds where it acts (a student ends up with the same). None for discrete actions."""
    policy = load_policy(teacher, env)
    space = policy.policy.action_space
    if not isinstance(space, gym.spaces.Box):
        return None
    rows = policy.visited_rows(env, vector_steps=steps, n_envs=n_envs, seed=0)
    return float(np.mean(rows.chunk(2, dim=-1)[1].exp().numpy() / ((space.high - space.low) / 2)))


def student_row(config: DistillConfig, teacher: Path, episodes: int, out: Path) -> dict[str, Any]:
    """Distil into ``out`` unless a student with these settings finished there (runs from before rows were kept);
    its return."""
    saved = out / "student.json"
    if not saved.exists() or json.loads(saved.read_text())["config"] != json.loads(json.dumps(asdict(config))):
        run_distill(config, teacher, out, progress_bar=False)
    return episodes_row(load_policy(out / "student.zip", config.env_id), config.env_id, episodes)


def mode_columns(modes: Sequence[str], noise_caps: Sequence[float]) -> list[tuple[str, str, float]]:
    """(column name, mode, noise cap) per compared column: capped once per cap ("capped" at NOISE_CAP, else
    "capped CAP"), every other mode once."""
    return [(how if cap == NOISE_CAP else f"{how} {cap:g}", how, cap)
            for how in modes for cap in (noise_caps if how == "capped" else [NOISE_CAP])]  # fmt: skip


def one_pair(env: str, teacher: Path, seeds: int, episodes: int, work: Path, updates: int,
             modes: tuple[str, ...] = COLLECTION_MODES, hidden: tuple[int, ...] = (16, 16), collect: str = "student",
             noise_caps: tuple[float, ...] = (NOISE_CAP,),
             dagger_decay: float = DAGGER_DECAY) -> dict[str, Any]:  # fmt: skip
    stem = f"{env}-{teacher.parent.name}"
    teacher_return = cached(work / f"{stem}-teacher", [teacher], 0, episodes,
                            lambda out: episodes_row(load_policy(teacher, env), env, episodes))["mean_return"]
    random_return = evaluate_random(env, episodes=episodes).mean_return
    scores: dict[str, list[float]] = {}
    for column, how, cap in mode_columns(modes, noise_caps):
        for seed in range(seeds):
            config = DistillConfig(env, student_hidden=hidden, steps=preset_for(env).distill_steps, seed=seed,
                                   collect=collect, collect_actions=how, noise_cap=cap,  # type: ignore[arg-type]
                                   updates_per_round=updates, dagger_decay=dagger_decay)  # fmt: skip
            size = "" if hidden == (16, 16) else f"-{size_name(hidden)}"  # 16x16 runs kept their first names
            capped = "" if cap == NOISE_CAP else f"{cap:g}"  # runs at NOISE_CAP keep their earlier names
            decay = "" if dagger_decay == DAGGER_DECAY else f"-decay{dagger_decay:g}"  # likewise
            out = work / f"{stem}-{collect}{size}-{how}{capped}{decay}{updates_tag(updates)}-{seed}"
            settings = {"collect_actions": how, "updates_per_round": updates, **({"noise_cap": cap} if capped else {}),
                        **({"collect": collect} if collect != "student" else {}),
                        **({"dagger_decay": dagger_decay} if decay else {})}
            row = cached(out, [teacher], config.steps, episodes, partial(student_row, config, teacher, episodes),
                         settings)  # fmt: skip
            scores.setdefault(column, []).append(score(row["mean_return"], teacher_return, random_return))
    return {"env": env, "teacher": str(teacher), "student_hidden": list(hidden), "collect": collect,
            "dagger_decay": dagger_decay,
            "teacher_return": teacher_return, "teacher_std": teacher_noise(env, teacher),
            "random_return": random_return, "scores": scores}  # fmt: skip


def markdown(rows: list[dict[str, Any]], seeds: int, episodes: int, updates: int, command: str) -> str:
    modes = list(rows[0]["scores"])
    driven = SCHEME_WORDS[rows[0].get("collect", "student")]  # rows written before --collect were student-driven
    if rows[0].get("dagger_decay", DAGGER_DECAY) != DAGGER_DECAY:
        driven += f", the teacher acting with probability {rows[0]['dagger_decay']:g}**round"
    lines = [f"`distill` with each --collect-actions mode ({size_name(rows[0]['student_hidden'])} students, "
             f"{driven}, each env preset's steps, {updates} updates per round; score over {episodes} evaluation "
             f"episodes, mean over seeds 0-{seeds - 1}, per seed in brackets). Reproduce: `{command}`.", "",
             f"| env | teacher | teacher return | teacher's std (half-ranges) | {' | '.join(modes)} |",
             f"|---|---|---:|---:|{'---:|' * len(modes)}"]  # fmt: skip
    for row in rows:
        cells = [f"{statistics.fmean(s):.3f} ({' / '.join(f'{x:.3f}' for x in s)})"
                 for s in (row["scores"][how] for how in modes)]
        std = "-" if row.get("teacher_std") is None else f"{row['teacher_std']:.2f}"
        lines.append(f"| {row['env']} | {row['teacher']} | {row['teacher_return']:.1f} | {std} | {' | '.join(cells)} |")
    if len(rows) > 1 and len(modes) > 1:
        lines += ["", "Each mode's shortfall from the best mode's mean score of each row (0: the best there):", "",
                  "| mode | mean shortfall | largest | best in |", "|---|---:|---:|---:|"]  # fmt: skip
        for how, gaps in shortfalls(rows).items():
            lines.append(f"| {how} | {statistics.fmean(gaps):.3f} | {max(gaps):.3f} | "
                         f"{sum(gap == 0 for gap in gaps)} of {len(gaps)} |")  # fmt: skip
    return "\n".join(lines) + "\n"


def shortfalls(rows: list[dict[str, Any]]) -> dict[str, list[float]]:
    """Per mode, how far its mean score is under the best mode's on each row (teacher)."""
    means = [{how: statistics.fmean(s) for how, s in row["scores"].items()} for row in rows]
    return {how: [max(row.values()) - row[how] for row in means] for how in means[0]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", nargs="+", default=[], metavar="ENV=TEACHER_ZIP",
                        help="environments and their teachers")
    parser.add_argument("--teachers", nargs="+", default=[], choices=sorted(TEACHERS), metavar="NAME",
                        help=f"teachers from plain SB3 code named in scripts/own_teachers.py, trained when missing "
                             f"({', '.join(sorted(TEACHERS))})")
    parser.add_argument("--seeds", type=positive_int, default=3, help="seeds 0..N-1 per run")
    parser.add_argument("--episodes", type=positive_int, default=100, help="evaluation episodes per run")
    parser.add_argument("--work", type=Path, default=ROOT / "runs" / "bench-collect-actions",
                        help="run folders go here (not in git)")
    parser.add_argument("--stem", default="collect-actions",
                        help="write results/STEM.{md,json} (default collect-actions)")
    parser.add_argument("--collect-actions", nargs="+", choices=COLLECTION_MODES, default=list(COLLECTION_MODES),
                        help=f"the collection modes to compare (default all: {' '.join(COLLECTION_MODES)})")
    parser.add_argument("--student-hidden", type=positive_int, nargs="+", default=[16, 16], metavar="SIZE",
                        help="the students' hidden layer sizes (default 16 16)")
    parser.add_argument("--collect", choices=COLLECT_SCHEMES, default="student",
                        help="who acts while collecting (distill --collect; default student)")
    parser.add_argument("--noise-caps", type=positive_float, nargs="+", default=[NOISE_CAP], metavar="SHARE",
                        help=f"capped's largest std per run, in half-ranges (distill --noise-cap): one capped column "
                             f"per value (default {NOISE_CAP})")
    parser.add_argument("--dagger-decay", type=unit_float, default=DAGGER_DECAY, metavar="RATE",
                        help=f"with --collect dagger: the teacher acts in round r with probability RATE**r (distill "
                             f"--dagger-decay; default {DAGGER_DECAY}; other values name the runs -decayRATE)")
    add_updates_per_round(parser)
    args = parser.parse_args()
    if args.dagger_decay != DAGGER_DECAY and args.collect != "dagger":
        parser.error("--dagger-decay applies to --collect dagger only")
    torch.set_num_threads(1)
    pairs = [pair.partition("=")[::2] for pair in args.pairs]
    if not pairs and not args.teachers or any(not env or not teacher for env, teacher in pairs):
        parser.error("name teachers with --teachers NAME or --pairs ENV=TEACHER_ZIP")
    if missing := [teacher for _, teacher in pairs if not Path(teacher).is_file()]:
        parser.error(f"no teacher file {missing[0]}")
    pairs += [(TEACHERS[name]["env"], str(teacher_files(name)[0].relative_to(ROOT))) for name in args.teachers]
    modes = tuple(args.collect_actions)
    rows = [one_pair(env, Path(teacher), args.seeds, args.episodes, args.work, args.updates_per_round, modes,
                     tuple(args.student_hidden), args.collect, tuple(args.noise_caps), args.dagger_decay)
            for env, teacher in pairs]  # fmt: skip
    out = ROOT / "results" / args.stem
    atomic_write_json(with_extension(out, ".json"), rows)
    command = shlex.join(["python", "scripts/bench_collect_actions.py", *sys.argv[1:]])
    text = markdown(rows, args.seeds, args.episodes, args.updates_per_round, command)
    atomic_write_text(with_extension(out, ".md"), text)
    print(text)


if __name__ == "__main__":
    main()
