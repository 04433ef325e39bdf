"""The RL sub-commands of ``rl-distill``: teacher, distill, evaluate, compare, export (and the flags they share)."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from pathlib import Path

from rl_distill.cli.arguments import (
    TEACHER_HELP,
    VECNORMALIZE_HELP,
    default_out,
    hidden_sizes,
    json_object,
    non_negative_int,
    positive_float,
    positive_int,
    set_threads,
    unit_float,
)
from rl_distill.distill.config import AUTO_COLLECT_RULE, AUTO_RULE, COLLECT_ACTIONS, COLLECT_CHOICES, DistillConfig
from rl_distill.errors import InputError
from rl_distill.losses import BOUND_MODES, POLICY_LOSSES
from rl_distill.sb3.envs import check_env_id, join_env
from rl_distill.sb3.training import BEST_EPISODES

ENV_HELP = ("Gymnasium environment id, e.g. CartPole-v1, LunarLander-v3, Pendulum-v1; an env of your own as "
            "gymnasium.make names it, my_package.envs:MyEnv-v0 (the module is imported to register it)")


def add_env(p: argparse.ArgumentParser, *, required: bool = True, help: str = ENV_HELP) -> None:
    p.add_argument("--env", required=required, help=help)
    p.add_argument("--env-kwargs", type=json_object, default=None, metavar="JSON",
                   help="keyword arguments for gymnasium.make, e.g. '{\"enable_wind\": true, \"wind_power\": 15}': a "
                   "changed task (recorded in every output as ENV:JSON)")


def task_of(args: argparse.Namespace) -> None:
    """Fold ``--env-kwargs`` into ``args.env``: one task string (``ENV:JSON``) from here on."""
    if getattr(args, "env_kwargs", None):
        args.env = join_env(args.env, args.env_kwargs)


def add_common(p: argparse.ArgumentParser, *, seed: bool = True) -> None:
    if seed:
        p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--threads", type=positive_int, default=1,
                   help="torch threads (default 1: with small networks, 1 thread per process is fastest)")


def add_distill_flags(p: argparse.ArgumentParser, *, multitask: bool = False) -> None:
    d = DistillConfig(env_id="")
    p.add_argument("--student-hidden", type=hidden_sizes, default=None,
                   help="student hidden sizes, e.g. 32,32 (default: " + ("64,64, shared by all tasks)" if multitask
                   else "the preset's, 16,16)"))  # fmt: skip
    p.add_argument("--steps", type=positive_int, default=None,
                   help="environment steps to collect and label, exactly (default: the preset's" + (
                       "; over all tasks, split evenly: default the sum of their presets')" if multitask
                       else "; --max-steps lets the run go on)"))
    if not multitask:
        p.add_argument("--max-steps", type=positive_int, default=None,
                       help="go on past --steps, a round at a time, while the student's action gap (its imitation "
                       "error on each round's new states) still falls by 5%% from one half-budget of rounds to the "
                       "next and stays above 0.01, up to this many env steps in all; student.json's 'stopped' says "
                       "why it ended. On SAC and TD3 HalfCheetah-v5 teachers it ran their students for 1.2-2.6x the "
                       "preset's steps and took the TD3 one's 16x16 students from score 0.49 to 0.70 "
                       "(results/budget-rule.md). Default: exactly --steps, and the log says if the gap was still "
                       "falling there")
    p.add_argument("--collect", choices=COLLECT_CHOICES, default=d.collect,
                   help="who acts while collecting: teacher, student (on-policy distillation), dagger (the teacher "
                   f"with probability --dagger-decay**round, else the student) or auto: {AUTO_COLLECT_RULE}. On Box "
                   "actions, over twelve teachers and budgets (16x16, 5 seeds), DAgger with greedy collection (auto's "
                   "pair) fell least short of the best scheme-and-mode pair (0.055 in the mean, 0.262 at most; "
                   "student-driven capped, the default before session 59: 0.096 and 0.255), though it lost to that "
                   "on two (results/collection-pairs.md, docs/distillation.md 'Collection modes'); on discrete "
                   "ones the schemes are level. student.json records the scheme used; --resume with auto goes on "
                   f"as the run began (default {d.collect}; student before session 59)")
    p.add_argument("--dagger-decay", type=unit_float, default=d.dagger_decay, metavar="RATE",
                   help="DAgger (--collect dagger, or auto on Box actions): the teacher acts in round r's "
                   "collection with probability RATE**r, the student in the rest (0: the teacher collects round 0 "
                   f"only; 1: always the teacher); other schemes ignore it (default {d.dagger_decay})")
    p.add_argument("--collect-actions", choices=COLLECT_ACTIONS, default=d.collect_actions,
                   help="how whoever acts picks its actions while collecting: sampled from its distribution; greedy, "
                   "as the evaluated student acts; mixed: greedy in half the envs, sampled in the others; capped: "
                   f"sampled with a std of at most --noise-cap of each action's half-range; or auto: {AUTO_RULE}. "
                   "Over thirteen Box-action teachers (16x16, 5 seeds) capped fell least short of the best mode per "
                   "teacher (0.018 in the mean, 0.068 at most; greedy 0.037 and 0.300, sampled 0.068 and 0.551), "
                   "though no mode is best everywhere: results/collect-actions-box.md, docs/distillation.md "
                   "'Collection modes'. student.json records the mode used; --resume with auto goes on as the run "
                   f"began (default {d.collect_actions}; for Box actions greedy from 2026-12-07 until session 57, "
                   "capped until session 59, sampled before)")
    p.add_argument("--noise-cap", type=positive_float, default=d.noise_cap, metavar="SHARE",
                   help="capped collection's largest std, as a share of each action's half-range; the other modes "
                   f"ignore it (default {d.noise_cap}, chosen before it was measured; 0.05 and 0.2 moved six "
                   "hard teachers' 16x16 students by 0.13 at most, none best on most: "
                   "results/collect-actions-noise-cap.md)")
    p.add_argument("--temperature", type=positive_float, default=d.temperature,
                   help="divides the teacher's logits (discrete actions; a DQN's are Q / 0.01): <1 sharpens, >1 "
                   "softens (default 1)")
    p.add_argument("--loss", choices=POLICY_LOSSES, default=d.loss,
                   help="forward-kl = KL(teacher||student), reverse-kl, or mse on distribution parameters "
                   f"(default {d.loss})")
    p.add_argument("--bounds", choices=BOUND_MODES, default=d.bounds,
                   help="Box actions (the env clips them to its bounds): one-sided = the teacher's mean clamped to "
                   "the bounds, and a student past a bound the teacher is also past is not pulled back (any value "
                   "there acts the same); band = the same, but a student past the teacher's own mean is pulled back "
                   "to it; censored = KL between the clipped Gaussians, with the mass on each bound; "
                   "clamp = the teacher's mean clamped, then plain KL; ignore = plain KL on raw means (the loss "
                   "before bound-aware targets). Where nothing is clipped all five are the same. No mode is best on "
                   "every teacher: one-sided fell the least short of the best on average, and plain KL was far ahead "
                   f"on one teacher (results/bound-aware.md) (default {d.bounds})")
    each, over = (" per task", " over all tasks (an equal share each)") if multitask else ("", "")
    p.add_argument("--n-envs", type=positive_int, default=d.n_envs,
                   help=f"parallel envs{each} (default {d.n_envs})")
    p.add_argument("--steps-per-round", type=positive_int, default=d.steps_per_round,
                   help=f"env steps collected between training rounds{over}, at least --n-envs{each}; rounds end on "
                   f"whole vector steps (default {d.steps_per_round})")  # fmt: skip
    p.add_argument("--buffer-size", type=positive_int, default=d.buffer_size,
                   help=f"most states kept{each}, oldest dropped first (default {d.buffer_size})")
    p.add_argument("--updates-per-round", type=positive_int, default=d.updates_per_round,
                   help=f"minibatch gradient steps per round (default {d.updates_per_round}; 250 until 2026-12-05, "
                   "which left teachers trained elsewhere short: docs/distillation.md, 'The distillation budget'); "
                   "a MuJoCo SAC or TD3 teacher needs more env steps too: --steps 300000 took a SAC HalfCheetah-v5 "
                   "teacher's 16x16 students from score 0.79 to 0.85 (results/mujoco-offpolicy-teachers.md)")
    p.add_argument("--lr-decay", action="store_true",
                   help=f"lower Adam's rate (default {d.learning_rate:g}) linearly over the rounds to 1/rounds of it "
                   "in the last; it helped 16x16 HalfCheetah-v5 and Hopper-v5 students (200 and 20 rounds) and hurt "
                   "Walker2d-v5 ones (10 rounds): docs/kickstart.md")
    p.add_argument("--eval-episodes", type=non_negative_int, default=d.eval_episodes if multitask else None,
                   help="greedy evaluation episodes logged after each round, 0 for none (default "
                   f"{d.eval_episodes}" + ("" if multitask else f"; {BEST_EPISODES} with --keep-best") + ")")
    if not multitask:
        p.add_argument("--keep-best", action="store_true",
                       help="end with the student of the round whose evaluation episodes (validation episodes, "
                       "seeded apart from evaluate's) returned the most, not the last round's, as kickstart "
                       "--keep-best; training is the same. On the Walker2d-v5 teacher from plain SB3 code, whose "
                       "students swing from round to round, it kept 32x32 students far above the last round's "
                       "(docs/distillation.md, 'The distillation budget'). Default: the last round's")
    p.add_argument("--tensorboard", default=None, help="write TensorBoard logs to this folder")


def distill_config(args: argparse.Namespace) -> DistillConfig:
    """The validated distillation settings the flags describe, defaults from the env's preset."""
    from rl_distill.sb3.presets import preset_for

    check_env_id(args.env)
    preset = preset_for(args.env)
    episodes = args.eval_episodes
    if episodes is None:  # --keep-best chooses on these episodes: many, as kickstart's
        episodes = BEST_EPISODES if args.keep_best else DistillConfig.eval_episodes
    config = DistillConfig(
        env_id=args.env, student_hidden=args.student_hidden or preset.student_hidden,
        steps=args.steps or preset.distill_steps, max_steps=args.max_steps, collect=args.collect,
        collect_actions=args.collect_actions, noise_cap=args.noise_cap, dagger_decay=args.dagger_decay,
        loss=args.loss, bounds=args.bounds,
        temperature=args.temperature, seed=args.seed, n_envs=args.n_envs, steps_per_round=args.steps_per_round,
        buffer_size=args.buffer_size, updates_per_round=args.updates_per_round,
        eval_episodes=episodes, lr_decay=args.lr_decay, keep_best=args.keep_best,
    )  # fmt: skip
    config.validate()
    return config


def run_teacher(args: argparse.Namespace) -> int:
    from rl_distill.sb3.training import train_ppo

    check_env_id(args.env)
    set_threads(args.threads)
    out = args.out or default_out(f"teacher-{args.env}")
    result = train_ppo(args.env, out=out, timesteps=args.timesteps, seed=args.seed, tensorboard=args.tensorboard,
                       checkpoint_every=args.checkpoint_every, resume=args.resume)
    print(f"teacher: {result.policy_params:,} policy parameters, {result.wall_seconds:.0f} s; "
          f"wrote {result.model_path}")
    return 0


def run_distill_command(args: argparse.Namespace) -> int:
    from rl_distill.experiments.pipeline import run_distill

    config = distill_config(args)
    set_threads(args.threads)
    out = args.out or default_out(f"distill-{args.env}")
    path = run_distill(config, args.teacher, out, vecnormalize=args.vecnormalize, tensorboard=args.tensorboard,
                       resume=args.resume)
    print(f"wrote {path}")
    return 0


def run_evaluate(args: argparse.Namespace) -> int:
    from rl_distill.evaluation.evaluate import evaluate, load_agent

    set_threads(args.threads)
    if args.path.suffix.lower() == ".onnx" and not args.deterministic:
        raise InputError(f"{args.path}: an ONNX export holds the greedy policy only; evaluate the student's "
                         ".safetensors or .zip for sampled actions")  # fmt: skip
    if args.task is not None and args.path.suffix.lower() != ".safetensors":
        raise InputError(f"{args.path}: --task selects a task of a multi-task student (.safetensors)")
    if args.env is None:
        if args.path.suffix.lower() != ".safetensors":
            raise InputError(f"{args.path}: --env is required for .zip and .onnx models")
        from rl_distill.artifacts.student import load_student

        args.env = load_student(args.path).for_task(args.task).header.get("env_id")
    check_env_id(args.env)
    policy = load_agent(args.path, args.env, vecnormalize=args.vecnormalize, task=args.task)
    result = evaluate(policy, args.env, episodes=args.episodes, deterministic=args.deterministic,
                      progress=f"evaluate {args.path.name}")  # fmt: skip
    if args.json:
        print(json.dumps(asdict(result)))
    else:
        low, high = result.ci95
        print(f"{args.path} on {args.env}: mean return {result.mean_return:.2f} (95% CI {low:.2f} .. {high:.2f}), "
              f"std {result.std_return:.2f}, min {result.min_return:.2f}, max {result.max_return:.2f}, "
              f"{result.episodes} episodes, {'greedy' if result.deterministic else 'sampled'} actions")
    return 0


def run_compare(args: argparse.Namespace) -> int:
    from rl_distill.evaluation.compare import compare, markdown, write_compare

    check_env_id(args.env)
    set_threads(args.threads)
    rows, random = compare(args.env, args.teacher, args.students, args.scratch, args.kickstart, episodes=args.episodes,
                           vecnormalize=args.vecnormalize, task=args.task, progress=True)  # fmt: skip
    print(markdown(rows, args.env, random))
    if args.out:
        write_compare(rows, random, args.env, args.out)
        print(f"wrote {args.out / 'compare.json'}")
    return 0


EXPORT_SUFFIXES = {".onnx": "onnx", ".pt": "torchscript", ".ts": "torchscript"}
"""--out's suffix -> export format, when --format is not given."""


def run_export(args: argparse.Namespace) -> int:
    from rl_distill.artifacts.export import export_each

    set_threads(args.threads)
    fmt = args.format or EXPORT_SUFFIXES.get(args.out.suffix.lower())
    if fmt is None:
        raise InputError(f"--out {args.out}: cannot tell the format from its suffix; name it .onnx or .pt, "
                         "or pass --format onnx|torchscript")
    for path, report in export_each(args.student, fmt, args.out, task=args.task):
        print(f"wrote {path}; parity on {report.samples} observations: max abs diff {report.max_abs_diff:.2e}, "
              f"identical actions: {report.identical_actions}")
    return 0


def add_rl_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("teacher", help="train a large PPO teacher with the env's tuned preset")
    add_env(p)
    p.add_argument("--timesteps", type=positive_int, default=None, help="training steps, rounded up to whole "
                   "rollouts (n_steps x n_envs) as SB3's learn does (default: the preset's)")
    p.add_argument("--out", type=Path, default=None, help="output folder (default runs/teacher-<env>-<time>)")
    p.add_argument("--tensorboard", default=None, help="write SB3's TensorBoard logs to this folder")
    p.add_argument("--checkpoint-every", type=positive_int, default=50_000,
                   help="save <out>/teacher.ckpt.zip atomically every N env steps and on Ctrl-C (default 50000)")
    p.add_argument("--resume", action="store_true", help="continue from <out>/teacher.ckpt.zip")
    add_common(p)
    p.set_defaults(run=run_teacher)

    p = sub.add_parser("distill", help="distil a teacher (an SB3 PPO, A2C, DQN, SAC or TD3 zip) into a small student")
    p.add_argument("--teacher", type=Path, required=True, help=TEACHER_HELP)
    add_env(p)
    p.add_argument("--vecnormalize", type=Path, default=None, help=VECNORMALIZE_HELP)
    p.add_argument("--out", type=Path, default=None, help="output folder (default runs/distill-<env>-<time>)")
    p.add_argument("--resume", action="store_true",
                   help="continue from <out>/student.ckpt, written after every complete round (Ctrl-C keeps the last "
                   "one); refused if it was written with another teacher, env or settings (--steps may grow)")
    add_distill_flags(p)
    add_common(p)
    p.set_defaults(run=run_distill_command)

    p = sub.add_parser("evaluate", help="episode returns of a teacher or student on fixed evaluation seeds")
    p.add_argument("path", type=Path, help="model: SB3 .zip, student .safetensors, or exported .onnx")
    add_env(p, required=False, help=f"{ENV_HELP}; required for .zip and .onnx (default for a .safetensors "
            "student: the task it was distilled on)")  # fmt: skip
    p.add_argument("--task", default=None, metavar="NAME",
                   help="multi-task student: the task to act in (its name, its env id if only one task has it, or "
                   "its index); --env defaults to that task")  # fmt: skip
    p.add_argument("--episodes", type=positive_int, default=100, help="evaluation episodes (default 100)")
    p.add_argument("--deterministic", action=argparse.BooleanOptionalAction, default=True,
                   help="greedy actions (default); --no-deterministic samples from the policy")
    p.add_argument("--vecnormalize", type=Path, default=None, help=VECNORMALIZE_HELP)
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a sentence")
    add_common(p)
    p.set_defaults(run=run_evaluate)

    p = sub.add_parser("compare", help="table of return, size and latency: teacher vs students vs scratch")
    add_env(p)
    p.add_argument("--teacher", type=Path, required=True, help=TEACHER_HELP)
    p.add_argument("--students", type=Path, nargs="+", required=True,
                   help="student models (.zip, or .safetensors artifacts, multi-task ones included)")
    p.add_argument("--task", default=None, metavar="NAME",
                   help="multi-task students: the task to act in (default: the one named by --env)")
    p.add_argument("--scratch", type=Path, nargs="*", default=[], help="PPO-from-scratch baselines (.zip)")
    p.add_argument("--kickstart", type=Path, nargs="*", default=[], help="kickstarted students (.zip)")
    p.add_argument("--episodes", type=positive_int, default=100, help="evaluation episodes (default 100)")
    p.add_argument("--vecnormalize", type=Path, default=None, help=VECNORMALIZE_HELP)
    p.add_argument("--out", type=Path, default=None, help="a folder to also write compare.json and compare.md to")
    add_common(p)
    p.set_defaults(run=run_compare)

    p = sub.add_parser("export", help="export a .safetensors student to ONNX or TorchScript (parity-checked)")
    p.add_argument("student", type=Path, help="student artifact (.safetensors, written by distill)")
    p.add_argument("--format", choices=("onnx", "torchscript"), default=None,
                   help="export format (default: from --out's suffix, .onnx or .pt)")
    p.add_argument("--out", type=Path, required=True, help="file to write (.onnx or .pt); for a multi-task student "
                   "without --task, one file per task: <stem>-task<K>.<suffix>")  # fmt: skip
    p.add_argument("--task", default=None, metavar="NAME", help="multi-task student: export this task only")
    add_common(p, seed=False)
    p.set_defaults(run=run_export)
