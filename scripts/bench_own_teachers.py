"""Teachers brought from plain SB3 code, distilled with rl-distill's defaults -> results/own-teachers.{json,md}.

A default tuned on our own presets only would be a defect, so these teachers are trained the way a user might
(scripts/train_sb3_teacher.py's recipes, other nets, activations and settings than ours) and saved the way
they would be, then distilled with `rl-distill distill`'s defaults (student-driven collection, the env's
preset budget or 50,000 steps) into 16x16 and 8x8 students, 3 seeds each, 100 evaluation episodes per run:
- LunarLander-v3: PPO with the zoo's values on a 400x300 ReLU net, raw observations (``ppo-relu-400x300``,
  seed 7) -> lunar_relu.zip;
- Reacher-v5: PPO on SB3's 2x64 tanh net, gamma 0.9, VecNormalize saved as reacher_ppo_vecnormalize.pkl
  (``ppo-short-horizon``, seed 3), found by its name (and passed with --vecnormalize too);
- Acrobot-v1: PPO on a 2x128 tanh net, VecNormalize saved as acrobot_ppo_vecnormalize.pkl (``ppo-tanh-128``,
  seed 0).
Kickstart: `rl-distill kickstart` with its defaults for 300,000 steps on each teacher's own task, a fresh 16x16
student, 3 seeds. Multitask: one 32x32 student of all three teachers (`rl-distill multitask` defaults), 3 seeds.
Transfer (the LunarLander-v3 teacher only): on the windy task (wind 15, turbulence 1.5) the
teacher's own return, its calm-distilled 16x16 students', and `rl-distill kickstart` with its defaults for
300,000 steps, from each of those students (--init) and from a fresh one.

Off-policy teachers (`--teachers dqn-lunar dqn-mountaincar sac-pendulum sac-mountaincar td3-pendulum --no-multitask
--budgets preset:1000:sampled preset:250:sampled --stem offpolicy-teachers`): DQN on LunarLander-v3 (``dqn-256``)
and on MountainCar-v0 (``dqn-mountaincar``), SAC on Pendulum-v1 (``sac``), SAC with gSDE on MountainCarContinuous-v0
(``sac-gsde``), TD3 on Pendulum-v1 (``td3``), all seed 0 and raw observations. Here: teachers 3-5 minutes each,
distillations 2-13 s, kickstart runs 2-16 minutes (MountainCarContinuous-v0's preset rolls out 8 steps per update),
about 1h40 in all on one core.

MuJoCo off-policy teachers, the zoo's most common kind (`--teachers sac-cheetah td3-cheetah --no-multitask
--no-kickstart --budgets preset:1000:sampled preset:250:sampled 300000:1000:sampled --stem
mujoco-offpolicy-teachers`): SAC (``sac-mujoco``) and TD3 (``td3-mujoco``) on HalfCheetah-v5, 300,000 steps each,
seed 0, raw observations, distilled with the defaults, with distill's default before 2026-12-05 (250 updates per
round) and with 3x the steps; then `--teachers sac-cheetah --no-multitask --kickstart-init --budgets
preset:1000:sampled --stem mujoco-sac-kickstart` fine-tunes each seed's default-distilled 16x16 student with
kickstart's defaults. Here: each teacher 60-75 minutes (a gradient step per env step), distillations 15-30 s (the
preset's steps) or 85 s (3x) plus 100 episodes of evaluation, kickstart runs about 9 minutes each.

Two tasks no preset covers (`--teachers pusher bipedal --no-multitask --no-transfer --scratch --budgets
preset:1000:sampled --stem unseen-tasks`): Pusher-v5 and BipedalWalker-v3 teachers from SB3's PPO defaults (``ppo``,
seed 0), with PPO from scratch beside kickstart. Here: each teacher about 20 minutes, distillations 16-19 s,
kickstart and scratch runs 3-12 minutes each (their logs' wall_seconds, up to three processes on 2 cores). The same
task with a teacher that walks (`--teachers bipedal-zoo --no-multitask --no-transfer --scratch --budgets default
200000:1000 preset:1000:sampled 200000:1000:sampled --stem bipedal-zoo`): the zoo's BipedalWalker-v3 PPO values
(``ppo-zoo-bipedal``, seed 0; about 50 minutes here), its students at the default budget and at 4x its steps;
distillations 20-93 s, kickstart and scratch runs 8-10 minutes each with their validation and evaluation episodes
(two processes on 2 cores).

Collection since auto became distill's default (2026-12-07; greedy for Box actions, capped since session 57):
every teacher above with Box actions, distilled with greedy and with sampled collection (`--teachers reacher
sac-pendulum sac-mountaincar td3-pendulum pusher bipedal --no-kickstart --no-multitask --no-transfer --budgets
preset:1000:greedy preset:1000:sampled --stem box-teachers-auto`; about 30 minutes, two other processes on the 2
cores; made with `default` for the first budget while auto was greedy on Box actions, the same runs). The files
above were made with sampled collection, the default until then, which their commands name (``:sampled``) so that
they repeat.

Teachers (scripts/own_teachers.py) live in runs/sb3-teachers/<env folder>/ and are trained when missing (5-15
minutes each here); every
run writes runs/bench-own-teachers/<teacher>/<run>/ and is skipped once finished with the same teacher file.
About 6 minutes of distillation, 25 of kickstart and 2 of multitask on one core (250 updates per round). The
committed results/own-teachers has both budgets, sampled (`--budgets preset:1000:sampled preset:250:sampled`). Run:
    python scripts/bench_own_teachers.py [--teachers lunar reacher acrobot] [--no-kickstart] [--no-multitask]
        [--no-transfer] [--budgets default preset:250:sampled] [--stem own-teachers]
"""

from __future__ import annotations

import argparse
import statistics
from typing import Any

import torch
from own_teachers import (  # a sibling script: scripts/ is on sys.path
    DEFAULT_COLLECT_ACTIONS,
    DEFAULT_UPDATES,
    KICKSTART_STEPS,
    MULTITASK_HIDDEN,
    PPO_TEACHERS,
    ROOT,
    TEACHERS,
    WIDTHS,
    WINDY,
    distill_folder,
    distilled,
    episodes_row,
    kickstarted,
    merged,
    references,
    resolved_mode,
    scratched,
)

from rl_distill.distill.config import AUTO_RULE, COLLECT_ACTIONS, logged_collect_actions, logged_updates
from rl_distill.evaluation.compare import score
from rl_distill.io import atomic_write_json, atomic_write_text, with_extension
from rl_distill.sb3.policies import load_policy


def per_seed(rows: list[dict[str, Any]], teacher: float, random: float) -> str:
    scores = [score(r["mean_return"], teacher, random) for r in rows]
    spread = f" ± {statistics.stdev(scores):.3f}" if len(scores) > 1 else ""
    return f"{statistics.mean(scores):.3f}{spread} ({' / '.join(f'{s:.3f}' for s in scores)})"


def ci(row: dict[str, Any]) -> str:
    return f"{row['ci95'][0]:.1f} to {row['ci95'][1]:.1f}"


def parse_budget(text: str) -> tuple[int | None, int, str]:
    """``'default'`` -> (None, distill's updates per round, distill's collection mode); ``'300000:1000'`` ->
    (300000, 1000, distill's mode); ``'preset:250:sampled'`` -> (None, 250, 'sampled') (the preset's steps);
    anything else is a ValueError."""
    if text == "default":
        return None, DEFAULT_UPDATES, DEFAULT_COLLECT_ACTIONS
    steps, sep, rest = text.partition(":")
    updates, _, mode = rest.partition(":")
    if not (sep and (steps == "preset" or steps.isdigit() and int(steps) > 0) and updates.isdigit()
            and int(updates) > 0 and mode in ("", *COLLECT_ACTIONS)):  # fmt: skip
        raise ValueError(f"--budgets takes 'default' or STEPS:UPDATES_PER_ROUND[:COLLECT_ACTIONS] (positive whole "
                         f"numbers; STEPS may be 'preset'; one of {', '.join(COLLECT_ACTIONS)}), got {text!r}")
    return None if steps == "preset" else int(steps), int(updates), mode or DEFAULT_COLLECT_ACTIONS


def budget_of(row: dict[str, Any]) -> tuple[int, int, str]:
    """A distillation row's env steps, updates per round and collection mode (sampled where it records none)."""
    return row["steps"], logged_updates(row), logged_collect_actions(row)


def last_gap(rows: list[dict[str, Any]]) -> str:
    """The seeds' mean action gap in their last round (rows written before gaps were kept: '-')."""
    gaps = [r["action_gaps"][-1] for r in rows if r.get("action_gaps")]
    return f"{statistics.mean(gaps):.3f}" if len(gaps) == len(rows) else "-"


def distilled_table(report: dict[str, Any]) -> list[str]:
    lines = ["| env | teacher (plain SB3 code) | teacher's return | student | steps, updates per round, collection | "
             "policy params "
             "(fewer) | score, mean ± sd (per seed) | lowest seed's return (95% CI) | last action gap | distil s |",
             "|---|---|---:|---|---|---:|---:|---|---:|---:|"]
    for key, case in report["teachers"].items():
        ref = case["reference"]
        teacher, random = ref["teacher"]["mean_return"], ref["random"]
        budgets = dict.fromkeys(map(budget_of, case["distilled"]))  # in the order they ran
        for (steps, updates, mode), width in ((b, w) for b in budgets for w in WIDTHS):
            rows = [r for r in case["distilled"] if r["width"] == width and budget_of(r) == (steps, updates, mode)]
            if rows:
                low, params = min(rows, key=lambda r: r["mean_return"]), rows[0]["params"]
                seconds = statistics.mean(r["wall_seconds"] for r in rows)
                lines.append(f"| {case['env']} | {TEACHERS[key]['label']} | {teacher:.1f} | {width}x{width} | "
                             f"{steps:,}, {updates}, {mode} | {params:,} ({ref['teacher_params'] / params:.0f}x) | "
                             f"{per_seed(rows, teacher, random)} | {low['mean_return']:.1f} ({ci(low)}) | "
                             f"{last_gap(rows)} | {seconds:.0f} |")  # fmt: skip
    return lines


def steps_to(row: dict[str, Any], teacher: float, random: float, level: float = 0.9) -> str:
    """The first validation-curve point at ``level`` of the teacher's score, as a compact count."""
    step = next((x for x, r in zip(row["curve_steps"], row["curve_returns"], strict=True)
                 if score(r, teacher, random) >= level), None)  # fmt: skip
    return "-" if step is None else f"{step / 1000:.0f}k"


def kickstart_table(report: dict[str, Any]) -> list[str]:
    lines = [f"Kickstart on each teacher's own task with its defaults, {KICKSTART_STEPS:,} steps (the policy of its "
             "best validation point, the default), from a fresh 16x16 student or from the seed's distilled one "
             "(--init), and PPO from scratch trained the same way without the teacher (--scratch):", "",
             "| env | teacher (plain SB3 code) | teacher's return | student | score, mean ± sd (per seed) | validation "
             "curve first at score 0.9 (per seed) |", "|---|---|---:|---|---:|---|"]
    for key, case in report["teachers"].items():
        ref = case["reference"]
        teacher, random = ref["teacher"]["mean_return"], ref["random"]
        start = "distilled 16x16 (--init)" if case.get("kickstart_init") else "fresh 16x16"
        for label, rows in ((start, case.get("kickstart")), ("PPO from scratch, 16x16", case.get("scratch"))):
            if rows:
                lines.append(f"| {case['env']} | {TEACHERS[key]['label']} | {teacher:.1f} | {label} | "
                             f"{per_seed(rows, teacher, random)} | "
                             f"{' / '.join(steps_to(r, teacher, random) for r in rows)} |")  # fmt: skip
    return lines


def multitask_table(report: dict[str, Any]) -> list[str]:
    rows = report["multitask"]
    hidden = "x".join(map(str, MULTITASK_HIDDEN))
    lines = [f"One {hidden} student of all these teachers (`rl-distill multitask`, task given as a one-hot input, "
             f"{rows[0]['params']:,} parameters in all; each teacher's statistics given with its --task):", "",
             "| task | teacher's return | score, mean ± sd (per seed) |", "|---|---:|---:|"]
    for case in report["teachers"].values():
        ref = case["reference"]
        teacher, random = ref["teacher"]["mean_return"], ref["random"]
        per_task = [row["tasks"][case["env"]] for row in rows]
        lines.append(f"| {case['env']} | {teacher:.1f} | {per_seed(per_task, teacher, random)} |")
    return lines


def transfer_table(transfer: dict[str, Any]) -> list[str]:
    teacher, random = transfer["teacher"]["mean_return"], transfer["random"]
    lines = [f"Transfer: the LunarLander-v3 teacher ({TEACHERS['lunar']['label']}) on {WINDY}; kickstart with its "
             f"defaults for {KICKSTART_STEPS:,} steps; score against the teacher's return on that task.", "",
             "| policy on the windy task | return, mean ± sd (per seed) | score | lowest seed's 95% CI |",
             "|---|---:|---:|---|",
             f"| teacher (trained without wind) | {teacher:.1f} | 1.000 | {ci(transfer['teacher'])} |"]
    for label, rows in (("16x16 student distilled without wind", transfer["distilled"]),
                        ("kickstart from that student (--init)", transfer["init"]),
                        ("kickstart from a fresh 16x16 student", transfer["fresh"])):  # fmt: skip
        returns = [r["mean_return"] for r in rows]
        spread = f" ± {statistics.stdev(returns):.1f}" if len(returns) > 1 else ""
        each = " / ".join(f"{v:.1f}" for v in returns)
        lowest = min(rows, key=lambda r: r["mean_return"])
        lines.append(f"| {label} | {statistics.mean(returns):.1f}{spread} ({each}) | "
                     f"{per_seed(rows, teacher, random)} | {ci(lowest)} |")  # fmt: skip
    return lines


def markdown(report: dict[str, Any]) -> str:
    lines = ["Teachers trained by plain SB3 code (scripts/train_sb3_teacher.py), distilled with `rl-distill distill`'s "
             f"defaults; {report['seeds']} seeds, {report['episodes']} evaluation episodes per run; score = (return - "
             "random) / (teacher - random).", "", *distilled_table(report)]
    if any(case.get("kickstart") or case.get("scratch") for case in report["teachers"].values()):
        lines += ["", *kickstart_table(report)]
    if report.get("multitask"):
        lines += ["", *multitask_table(report)]
    if report.get("transfer"):
        lines += ["", *transfer_table(report["transfer"])]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--teachers", nargs="+", choices=list(TEACHERS), default=PPO_TEACHERS,
                        help=f"teachers to distil (default: {' '.join(PPO_TEACHERS)})")
    parser.add_argument("--stem", default="own-teachers", help="write results/STEM.{md,json} (default own-teachers)")
    parser.add_argument("--seeds", type=int, default=3, help="seeds 0..N-1 per student size")
    parser.add_argument("--episodes", type=int, default=100, help="evaluation episodes per run")
    parser.add_argument("--no-kickstart", action="store_true",
                        help="skip the kickstart runs on each teacher's own task")
    parser.add_argument("--budgets", nargs="+", default=["default"], metavar="STEPS:UPDATES[:MODE]",
                        help=f"distillation budgets, each 'default' (the preset's steps, {DEFAULT_UPDATES} updates per "
                        f"round, collection {DEFAULT_COLLECT_ACTIONS}) or STEPS:UPDATES_PER_ROUND[:COLLECT_ACTIONS], "
                        "e.g. 300000:1000 or preset:250:sampled (distill's defaults until 2026-12-05); the mode "
                        f"defaults to distill's ({DEFAULT_COLLECT_ACTIONS}: {AUTO_RULE}); every student "
                        "size and seed runs each; kickstart --init, the transfer runs and multitask take the first's "
                        "students, updates per round and mode")
    parser.add_argument("--kickstart-init", action="store_true",
                        help="kickstart on each teacher's own task from the seed's distilled 16x16 student (--init: "
                        "distil, then fine-tune), not from a fresh one")
    parser.add_argument("--scratch", action="store_true",
                        help="also train PPO from scratch on each teacher's task as a fresh kickstarted student is "
                        "trained (16x16, the same steps, scaled rewards, its best validation point), without the "
                        "teacher")
    parser.add_argument("--no-transfer", action="store_true", help="skip the windy LunarLander-v3 kickstart runs")
    parser.add_argument("--no-multitask", action="store_true", help="skip the one student of all --teachers")
    args = parser.parse_args()
    if args.seeds <= 0 or args.episodes <= 0:
        parser.error("--seeds and --episodes must be positive")
    try:
        budgets = [parse_budget(b) for b in args.budgets]
    except ValueError as exc:
        parser.error(str(exc))
    torch.set_num_threads(1)
    if not args.no_multitask and len({TEACHERS[key]["env"] for key in args.teachers}) < len(args.teachers):
        parser.error("multitask needs one teacher per env: pass --no-multitask or other --teachers")
    out = ROOT / "results" / args.stem
    report: dict[str, Any] = {"seeds": args.seeds, "episodes": args.episodes, "teachers": {}}
    for key in args.teachers:
        env = TEACHERS[key]["env"]
        case = {"env": env, "reference": references(key, env, args.episodes), "distilled": []}
        own = dict.fromkeys((steps, updates, resolved_mode(key, mode)) for steps, updates, mode in budgets)
        for budget in own:  # a budget whose mode resolves as another's on this teacher runs once
            for width in WIDTHS:
                for seed in range(args.seeds):
                    case["distilled"].append(distilled(key, width, seed, args.episodes, *budget))
                    print(f"{key} {width}x{width} seed {seed} {budget}: "
                          f"{case['distilled'][-1]['mean_return']:.1f}", flush=True)  # fmt: skip
        if not args.no_kickstart:
            case["kickstart"] = [kickstarted(key, env, seed, args.episodes, init=args.kickstart_init,
                                             budget=budgets[0]) for seed in range(args.seeds)]  # fmt: skip
            case["kickstart_init"] = args.kickstart_init
        if args.scratch:
            case["scratch"] = [scratched(key, seed, args.episodes) for seed in range(args.seeds)]
        report["teachers"][key] = case
    if len(args.teachers) > 1 and not args.no_multitask:
        report["multitask"] = [merged(args.teachers, seed, args.episodes, *budgets[0][1:])
                               for seed in range(args.seeds)]
    if "lunar" in args.teachers and not args.no_transfer:
        students = [distill_folder("lunar", 16, s, *budgets[0]) / "student.zip" for s in range(args.seeds)]
        report["transfer"] = {
            **references("lunar", WINDY, args.episodes),
            "distilled": [{"seed": s, **episodes_row(load_policy(p, WINDY), WINDY, args.episodes)}
                          for s, p in enumerate(students)],
            "init": [kickstarted("lunar", WINDY, s, args.episodes, init=True, budget=budgets[0])
                     for s in range(args.seeds)],
            "fresh": [kickstarted("lunar", WINDY, s, args.episodes, init=False) for s in range(args.seeds)],
        }  # fmt: skip
    atomic_write_json(with_extension(out, ".json"), report)
    atomic_write_text(with_extension(out, ".md"), markdown(report))
    print(markdown(report))


if __name__ == "__main__":
    main()
