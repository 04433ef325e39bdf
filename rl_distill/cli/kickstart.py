"""``rl-distill kickstart``: PPO on the env's reward, guided by a teacher's KL with a decaying weight."""

from __future__ import annotations

import argparse
from pathlib import Path

from rl_distill.cli.arguments import (
    TEACHER_HELP,
    default_out,
    finite_float,
    hidden_sizes,
    non_negative_int,
    positive_float,
    positive_int,
    set_threads,
)
from rl_distill.cli.commands import add_common, add_env
from rl_distill.losses import BOUND_MODES, DEFAULT_BOUND_MODE
from rl_distill.sb3.envs import check_env_id
from rl_distill.sb3.training import BEST_EPISODES, CURVE_EPISODES, CURVE_INTERVALS


def add_kickstart(sub: argparse._SubParsersAction) -> None:
    from rl_distill.kickstart.config import CRITIC_INITS, KickstartConfig

    d = KickstartConfig(env_id="")
    p = sub.add_parser("kickstart", help="PPO student guided by a teacher's KL term (kickstarting, PPD, QDagger)",
                       description="Train a small PPO student on the env's reward plus lambda_t * D(teacher || "
                       "student) on its own rollouts. It can end above its teacher and adapt to a changed task "
                       "(--env-kwargs); --init continues from a distilled student.")  # fmt: skip
    p.add_argument("--teacher", type=Path, required=True, help=f"{TEACHER_HELP}; another task's is fine if its "
                   "spaces match")  # fmt: skip
    add_env(p)
    p.add_argument("--vecnormalize", type=Path, default=None, help="the teacher's VecNormalize statistics (.pkl; "
                   "default: found beside the teacher). Observations are normalised with them, frozen; rewards are "
                   "scaled if they say the teacher's PPO scaled its rewards, or if the env's preset does")  # fmt: skip
    p.add_argument("--student-hidden", type=hidden_sizes, default=d.student_hidden,
                   help="student hidden sizes, e.g. 16,16 (default 16,16)")
    p.add_argument("--critic-hidden", type=hidden_sizes, default=None, metavar="SIZES",
                   help="value-function hidden sizes (default: --student-hidden's). The critic is used in training "
                   "only, not written to the student's artifact, so it can be larger than the policy (HalfCheetah-v5: "
                   "a 256,256 critic fits the returns sooner, the students' scores barely moved; Hopper-v5: lower; "
                   "docs/kickstart.md)")
    p.add_argument("--critic-init", choices=CRITIC_INITS, default=d.critic_init,
                   help="fresh: the value function starts untrained; teacher: it starts as the teacher's (its sizes "
                   "and weights; the teacher must be an SB3 actor-critic of the student's activation), and PPO sees "
                   "rewards as the teacher's PPO did, the scale of its values, whatever --scale-rewards says. "
                   "Hopper-v5's preset teacher, ten distilled 16x16 students: score 1.083 -> 1.206, every seed "
                   f"above 0.95 (docs/kickstart.md) (default {d.critic_init})")
    p.add_argument("--timesteps", type=positive_int, default=d.timesteps,
                   help=f"environment steps of PPO, rounded up to whole rollouts (n_steps x n_envs of the "
                   f"env's preset) as SB3's learn does (default {d.timesteps})")
    p.add_argument("--init", type=Path, default=None,
                   help="start from this student (.zip or .safetensors, e.g. from distill) instead of a fresh one")
    p.add_argument("--critic-warmup", type=non_negative_int, default=d.critic_warmup, metavar="STEPS",
                   help="env steps at the start in which only the value function learns, the policy held and no "
                   "teacher term: with --init the critic starts fresh and its first advantages are noise (default 0)")
    p.add_argument("--learning-rate", type=positive_float, default=None, metavar="RATE",
                   help="PPO's learning rate (default: the env preset's, tuned for a teacher-sized network)")
    p.add_argument("--lr-decay", action="store_true",
                   help="decay PPO's learning rate linearly to 0 over --timesteps (default: the preset's rate); "
                   "after --init it lifted some teachers' students and lowered others' (docs/kickstart.md)")
    p.add_argument("--log-std-init", type=finite_float, default=None, metavar="LOG_STD",
                   help="Box actions: the student's Gaussian log std at the start, after --init (default: keep "
                   "the init's, which distill copies from the teacher). -0.5, a fresh student's, lets PPO explore "
                   "beyond a weak teacher whose noise is small (an A2C teacher's students, 10 --reference-episodes: "
                   "score 1.03 -> 9.7); on the PPO teachers measured it moved the mean score by -0.17 to +0.21 "
                   "(docs/kickstart.md)")
    p.add_argument("--scale-rewards", action=argparse.BooleanOptionalAction, default=d.scale_rewards,
                   help="PPO learns from rewards divided by a running estimate of the return's std (VecNormalize), "
                   "or, with --no-scale-rewards, from raw rewards (default: scaled, whatever the teacher's PPO "
                   "did; until 2026-12 they followed the teacher's). A small student's critic fits raw returns "
                   "in the hundreds slowly (LunarLander-v3); on the raw-reward tasks measured, scaled rewards ended "
                   "level with raw ones (within 0.001 of score) or higher (docs/kickstart.md)")
    p.add_argument("--lambda", dest="schedule", default=d.schedule, metavar="SCHEDULE",
                   help="weight of the teacher term: constant:L, linear:L0,L1,STEPS, exp:L0,HALF_LIFE_STEPS, or "
                   "adaptive:L0 = L0*max(0, 1 - student score), the score measured from the random policy's return "
                   "to the teacher's on this task, both with sampled actions (the student's training episodes) "
                   f"(QDagger) (default {d.schedule})")
    p.add_argument("--distill-term", choices=("kl", "ppd"), default=d.distill_term,
                   help="kl: mean divergence over the minibatch; ppd: each state's weighted by max(ratio, "
                   f"1 - clip_range), as in Proximal Policy Distillation (default {d.distill_term})")
    p.add_argument("--kl", choices=("forward", "reverse"), default=d.kl,
                   help=f"forward: KL(teacher||student); reverse: KL(student||teacher) (default {d.kl})")
    p.add_argument("--temperature", type=positive_float, default=d.temperature,
                   help="divides the teacher's logits (discrete actions; a DQN's are Q / 0.01) (default 1)")
    p.add_argument("--bounds", choices=BOUND_MODES, default=DEFAULT_BOUND_MODE,
                   help=f"Box actions: how the term treats the action bounds, as in distill (default "
                   f"{DEFAULT_BOUND_MODE})")  # fmt: skip
    p.add_argument("--eval-every", type=positive_int, default=None,
                   help=f"env steps between learning-curve evaluations (default: --timesteps / {CURVE_INTERVALS})")
    p.add_argument("--eval-episodes", type=positive_int, default=None,
                   help=f"greedy validation episodes per learning-curve point (default {BEST_EPISODES} when the run "
                   f"keeps its best point, as they choose it; else {CURVE_EPISODES})")
    p.add_argument("--reference-episodes", type=positive_int, default=d.reference_episodes, metavar="N",
                   help="adaptive:L0: episodes of the teacher's and the random policy's sampled returns that the "
                   f"student's score runs between, measured at the start (default {d.reference_episodes}, as SB3's "
                   "window of the student's training returns); fewer are cheaper, but on a teacher whose returns "
                   "vary a lot they give a reference off for the whole run")
    p.add_argument("--keep-best", action=argparse.BooleanOptionalAction, default=d.keep_best,
                   help="write the policy of the best learning-curve point instead of the last, as SB3's "
                   "EvalCallback best_model; the --init student's own point is a candidate, so a fine-tuned student "
                   "never validates below where it started. Curve episodes are seeded apart from evaluate's "
                   "(default: --keep-best; --no-keep-best writes the last policy; docs/kickstart.md)")
    p.add_argument("--average-steps", type=positive_int, default=None, metavar="STEPS",
                   help="evaluate, keep and write an exponential moving average of PPO's iterates (the policy's "
                   "weights, time constant STEPS env steps; Nikishin et al. 2018) instead of the last iterate; PPO "
                   "trains its own iterate as before. With 30000 it lowered HalfCheetah-v5's and Hopper-v5's "
                   "students (docs/kickstart.md) (default: off)")
    p.add_argument("--checkpoint-every", type=positive_int, default=d.checkpoint_every,
                   help=f"env steps between checkpoints to <out>/student.ckpt.zip (default {d.checkpoint_every})")
    p.add_argument("--out", type=Path, default=None, help="output folder (default runs/kickstart-<env>-<time>)")
    p.add_argument("--resume", action="store_true",
                   help="continue from <out>/student.ckpt.zip, with the adaptive reference it measured; refused if "
                        "another teacher, task or settings wrote it")
    p.add_argument("--tensorboard", default=None, help="write SB3's TensorBoard logs (with train/distill_*) here")
    add_common(p)
    p.set_defaults(run=run_kickstart_command)


def run_kickstart_command(args: argparse.Namespace) -> int:
    from rl_distill.kickstart.config import KickstartConfig
    from rl_distill.kickstart.run import run_kickstart

    check_env_id(args.env)
    config = KickstartConfig(
        env_id=args.env, student_hidden=args.student_hidden, critic_hidden=args.critic_hidden,
        critic_init=args.critic_init, timesteps=args.timesteps, schedule=args.schedule,
        distill_term=args.distill_term, kl=args.kl, temperature=args.temperature, bounds=args.bounds, seed=args.seed,
        init=str(args.init) if args.init else None, eval_every=args.eval_every, eval_episodes=args.eval_episodes,
        checkpoint_every=args.checkpoint_every, learning_rate=args.learning_rate, lr_decay=args.lr_decay,
        critic_warmup=args.critic_warmup, log_std_init=args.log_std_init, keep_best=args.keep_best,
        reference_episodes=args.reference_episodes, scale_rewards=args.scale_rewards,
        average_steps=args.average_steps,
    )  # fmt: skip
    config.validate()
    set_threads(args.threads)
    path = run_kickstart(config, args.teacher, args.out or default_out(f"kickstart-{args.env}"),
                         vecnormalize=args.vecnormalize, resume=args.resume, tensorboard=args.tensorboard)  # fmt: skip
    print(f"wrote {path}")
    return 0
