"""The experiment sub-commands of ``rl-distill``: pipeline (teacher -> distil -> baselines -> compare), sweep and
plot."""

from __future__ import annotations

import argparse
from pathlib import Path

from rl_distill.cli.arguments import (
    TEACHER_HELP,
    VECNORMALIZE_HELP,
    default_out,
    positive_float,
    positive_int,
    set_threads,
    unit_float,
)
from rl_distill.cli.commands import add_common, add_distill_flags, add_env, distill_config
from rl_distill.distill.config import (
    AUTO_COLLECT_RULE,
    AUTO_RULE,
    COLLECT_ACTIONS,
    COLLECT_CHOICES,
    DAGGER_DECAY,
    NOISE_CAP,
)
from rl_distill.errors import InputError
from rl_distill.losses import BOUND_MODES, DEFAULT_BOUND_MODE
from rl_distill.sb3.envs import check_env_id


def run_pipeline_command(args: argparse.Namespace) -> int:
    from rl_distill.experiments.pipeline import run_pipeline

    config = distill_config(args)
    if args.vecnormalize and not args.teacher:
        raise InputError("--vecnormalize goes with --teacher (a teacher the pipeline trains keeps its own statistics)")
    set_threads(args.threads)
    run_pipeline(args.env, args.out or default_out(f"pipeline-{args.env}"), config=config,
                 teacher_timesteps=args.timesteps, scratch_steps=args.scratch_steps, episodes=args.episodes,
                 teacher=args.teacher, vecnormalize=args.vecnormalize, tensorboard=args.tensorboard,
                 kickstart=args.kickstart, scale_rewards=args.scale_rewards)  # fmt: skip
    return 0


def run_sweep(args: argparse.Namespace) -> int:
    from rl_distill.experiments.sweep import sweep

    check_env_id(args.env)
    if args.kickstart_init and not args.kickstart_steps:
        raise InputError("--kickstart-init needs --kickstart-steps (the kickstart runs' budget)")
    if args.kickstart_lr_decay and not args.kickstart_steps:
        raise InputError("--kickstart-lr-decay needs --kickstart-steps (the kickstart runs' budget)")
    if args.keep_best and not (args.kickstart_steps or args.scratch_steps):
        raise InputError("--keep-best applies to PPO runs: add --kickstart-steps or --scratch-steps")
    set_threads(args.threads)
    out = args.out or default_out(f"sweep-{args.env}")
    hiddens = [tuple([w] * args.layers) for w in args.student_hidden]
    table = sweep(args.env, args.teacher, hiddens, args.collect, args.seeds, out=out, vecnormalize=args.vecnormalize,
                  steps=args.steps, episodes=args.episodes, scratch_steps=args.scratch_steps or 0,
                  scratch_seeds=args.scratch_seeds, bounds=args.bounds, collect_actions=args.collect_actions,
                  kickstart_steps=args.kickstart_steps or 0, kickstart_init=args.kickstart_init,
                  scale_rewards=args.scale_rewards, keep_best=args.keep_best,
                  kickstart_lr_decay=args.kickstart_lr_decay, updates_per_round=args.updates_per_round,
                  max_steps=args.max_steps, noise_cap=args.noise_cap, dagger_decay=args.dagger_decay,
                  ray_address=args.ray, workers=args.workers)  # fmt: skip
    print(f"{len(table['rows'])} runs; wrote {out}/sweep.json, sweep.csv and plots")
    return 0


def run_plot(args: argparse.Namespace) -> int:
    from rl_distill.evaluation.plots import plot_from_file

    for path in plot_from_file(args.results, args.out):
        print(f"wrote {path}")
    return 0


def add_experiment_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("pipeline", help="teacher -> distill -> PPO-from-scratch baseline -> compare")
    add_env(p)
    p.add_argument("--out", type=Path, default=None, help="output folder (default runs/pipeline-<env>-<time>)")
    p.add_argument("--teacher", type=Path, default=None, help=f"{TEACHER_HELP}, used instead of training one")
    p.add_argument("--vecnormalize", type=Path, default=None, help=f"with --teacher: {VECNORMALIZE_HELP}")
    p.add_argument("--timesteps", type=positive_int, default=None, help="teacher PPO steps (default: preset)")
    p.add_argument("--scratch-steps", type=positive_int, default=None,
                   help="PPO-from-scratch baseline steps (default: the teacher's budget)")
    p.add_argument("--kickstart", action="store_true",
                   help="also fine-tune the distilled student by kickstarted PPO (rl-distill kickstart --init) "
                   "on the scratch baseline's budget, ending with its best validated policy as kickstart --init "
                   "does, and compare it as a row")
    p.add_argument("--scale-rewards", action=argparse.BooleanOptionalAction, default=True,
                   help="PPO from scratch and --kickstart learn from scaled rewards, or with --no-scale-rewards raw "
                   "ones (default: scaled; the teacher's PPO keeps its preset's setting); a small student's critic "
                   "fits raw returns in the hundreds slowly (LunarLander-v3: docs/kickstart.md)")
    p.add_argument("--episodes", type=positive_int, default=100, help="evaluation episodes (default 100)")
    add_distill_flags(p)
    add_common(p)
    p.set_defaults(run=run_pipeline_command)

    p = sub.add_parser("sweep", help="distil every student size x collection scheme x seed; tables and plots")
    add_env(p)
    p.add_argument("--teacher", type=Path, required=True, help=TEACHER_HELP)
    p.add_argument("--vecnormalize", type=Path, default=None, help=VECNORMALIZE_HELP)
    p.add_argument("--student-hidden", type=positive_int, nargs="+", default=[4, 8, 16, 32, 64],
                   help="student widths to try (default 4 8 16 32 64)")
    p.add_argument("--layers", type=positive_int, default=2, help="hidden layers of each width (default 2)")
    p.add_argument("--collect", choices=COLLECT_CHOICES, nargs="+", default=["student", "dagger"],
                   help=f"collection schemes (see distill --help; auto: {AUTO_COLLECT_RULE}; default student dagger)")
    p.add_argument("--bounds", choices=BOUND_MODES, nargs="+", default=[DEFAULT_BOUND_MODE],
                   help="Box actions: bound modes of the loss to compare (see distill --help; default "
                   f"{DEFAULT_BOUND_MODE})")
    p.add_argument("--collect-actions", choices=COLLECT_ACTIONS, nargs="+", default=None,
                   help="how whoever acts picks its actions while collecting, to compare (see distill --help; "
                   f"default distill's, auto: {AUTO_RULE}; runs are named by the mode used, e.g. -capped, "
                   "nothing for sampled)")
    p.add_argument("--noise-cap", type=positive_float, default=NOISE_CAP, metavar="SHARE",
                   help="capped collection's largest std, as a share of each action's half-range (see distill "
                   f"--help; default {NOISE_CAP}; other values name the capped runs -capSHARE)")
    p.add_argument("--dagger-decay", type=unit_float, default=DAGGER_DECAY, metavar="RATE",
                   help="DAgger runs: the teacher acts in round r with probability RATE**r (see distill --help; "
                   f"default {DAGGER_DECAY}; other values name the DAgger runs -decayRATE)")
    p.add_argument("--seeds", type=positive_int, default=3, help="seeds per combination (default 3)")
    p.add_argument("--steps", type=positive_int, default=None, help="distillation env steps (default: preset)")
    p.add_argument("--updates-per-round", type=positive_int, default=None,
                   help="distillation's minibatch gradient steps per round (see distill --help; default distill's)")
    p.add_argument("--max-steps", type=positive_int, default=None,
                   help="distillation: go on past --steps while the action gap still falls, up to this many env "
                   "steps (see distill --help; default: exactly --steps); not with --kickstart-init")
    p.add_argument("--scratch-steps", type=positive_int, default=None,
                   help="also train the preset-size student by PPO from scratch for N steps (default: no baseline)")
    p.add_argument("--scratch-seeds", type=positive_int, default=None,
                   help="PPO-from-scratch runs (default: --seeds); each costs a full PPO budget")
    p.add_argument("--kickstart-steps", type=positive_int, default=None,
                   help="also train the preset-size student by kickstarted PPO (rl-distill kickstart defaults) for N "
                   "steps, --seeds times (role kickstart; default: none)")
    p.add_argument("--kickstart-init", action="store_true",
                   help="start each seed's kickstart run from that seed's distilled student of the preset size "
                   "(first --collect, --bounds and --collect-actions; the size must be among --student-hidden), as "
                   "pipeline --kickstart does; its steps count the distillation's too (default: a fresh student)")
    p.add_argument("--scale-rewards", action=argparse.BooleanOptionalAction, default=True,
                   help="the PPO runs (--scratch-steps, --kickstart-steps) learn from scaled rewards, or with "
                   "--no-scale-rewards raw ones, as in pipeline (default: scaled; runs are named -scaled or -raw)")
    p.add_argument("--keep-best", type=positive_int, default=0, metavar="EPISODES",
                   help="the PPO runs (--scratch-steps, --kickstart-steps) end with the policy of their best "
                   "learning-curve point, each point scored on EPISODES validation episodes, as kickstart "
                   "--keep-best --eval-episodes EPISODES (HalfCheetah-v5: 50 chose better than 10); runs are named "
                   "-bestEPISODES (default: the last policy, for scratch and kickstart alike, so the sweep's runs stay "
                   "comparable; rl-distill kickstart alone keeps its best unless told --no-keep-best)")
    p.add_argument("--kickstart-lr-decay", action="store_true",
                   help="the kickstart runs decay PPO's learning rate linearly to 0 (kickstart --lr-decay; runs are "
                   "named -lr-decay)")
    p.add_argument("--episodes", type=positive_int, default=100, help="evaluation episodes per run (default 100)")
    p.add_argument("--workers", type=positive_int, default=None, help="local processes (default: CPU count)")
    p.add_argument("--ray", default=None, metavar="ADDRESS",
                   help="run as Ray tasks on an existing cluster (auto or host:port); needs rl-distill[ray]")
    p.add_argument("--out", type=Path, default=None,
                   help="output folder (default runs/sweep-<env>-<time>); rerunning into the same folder with the "
                   "same settings skips the runs that already finished")
    add_common(p, seed=False)
    p.set_defaults(run=run_sweep)

    p = sub.add_parser("plot", help="regenerate the sweep plots from its JSON table")
    p.add_argument("results", type=Path, help="sweep table (sweep.json)")
    p.add_argument("--out", type=Path, default=None, help="folder for the PNGs (default: beside the table)")
    p.set_defaults(run=run_plot)
