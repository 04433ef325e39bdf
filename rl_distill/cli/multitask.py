"""``rl-distill multitask``: many teachers (one per task), one student."""

from __future__ import annotations

import argparse
from pathlib import Path

from rl_distill.cli.arguments import default_out, set_threads
from rl_distill.cli.commands import add_common, add_distill_flags

DEFAULT_HIDDEN = (64, 64)


def add_multitask(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("multitask", help="distil several teachers (one per task) into one student (Rusu et al. 2016)",
                       description="Each --task is an env (with kwargs for changed dynamics) and its teacher. The "
                       "student shares one trunk over all tasks, with an input layer and an action head per "
                       "observation/action space; tasks with identical spaces share everything. Writes "
                       "<out>/student.safetensors (load_student(path).act(obs, task=NAME); evaluate/export --task) "
                       "and <out>/student.json.")  # fmt: skip
    p.add_argument("--task", dest="tasks", action="append", required=True,
                   metavar="ENV[:KWARGS_JSON]=TEACHER_ZIP[,STATS_PKL]",
                   help="one task and its teacher, e.g. CartPole-v1=runs/cp/teacher.zip or "
                   "'LunarLander-v3:{\"gravity\": -5}=runs/ll-g5/teacher.zip'; repeat for each task. The task's name "
                   "is ENV or ENV:JSON (canonical JSON). ,STATS_PKL: the teacher's VecNormalize statistics, as "
                   "--vecnormalize gives them to distill (default: found next to the zip, zoo layout too)")  # fmt: skip
    p.add_argument("--task-id", choices=("onehot", "none"), default="onehot",
                   help="onehot: the student gets the task's index as an extra input; none: it gets no label and must "
                   "tell tasks with the same spaces apart from its observations (a generalist; their normalisation "
                   "is pooled) (default onehot)")  # fmt: skip
    p.add_argument("--out", type=Path, default=None, help="output folder (default runs/multitask-<time>)")
    p.add_argument("--resume", action="store_true",
                   help="continue from <out>/student.ckpt (written after every complete round); refused if other "
                   "teachers, tasks or settings wrote it (--steps may grow)")  # fmt: skip
    add_distill_flags(p, multitask=True)
    add_common(p)
    p.set_defaults(run=run_multitask_command)


def run_multitask_command(args: argparse.Namespace) -> int:
    from rl_distill.distill.multitask import multitask_config, parse_task
    from rl_distill.experiments.multitask import run_multitask
    from rl_distill.sb3.presets import preset_for

    parsed = [parse_task(text) for text in args.tasks]
    tasks = [task for task, _, _ in parsed]
    config = multitask_config(
        tasks, task_id=args.task_id, student_hidden=args.student_hidden or DEFAULT_HIDDEN,
        steps=args.steps or sum(preset_for(t).distill_steps for t in tasks), collect=args.collect,
        collect_actions=args.collect_actions, noise_cap=args.noise_cap, dagger_decay=args.dagger_decay,
        loss=args.loss, bounds=args.bounds, temperature=args.temperature, seed=args.seed, n_envs=args.n_envs,
        steps_per_round=args.steps_per_round, buffer_size=args.buffer_size, updates_per_round=args.updates_per_round,
        eval_episodes=args.eval_episodes, lr_decay=args.lr_decay,
    )  # fmt: skip
    config.validate()
    set_threads(args.threads)
    path = run_multitask(config, [teacher for _, teacher, _ in parsed], args.out or default_out("multitask"),
                         resume=args.resume, vecnormalize=[stats for _, _, stats in parsed],
                         tensorboard=args.tensorboard)  # fmt: skip
    print(f"wrote {path}")
    return 0
