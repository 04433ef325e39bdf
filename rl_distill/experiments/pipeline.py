"""Teacher -> distil -> scratch baseline -> compare, in one call (``rl-distill pipeline``)."""

from __future__ import annotations

import json
from pathlib import Path

from rl_distill.distill.config import DistillConfig, resolve_collect
from rl_distill.distill.loop import RoundLog, distill
from rl_distill.distill.outputs import result_summary, save_student
from rl_distill.evaluation.compare import CompareRow, compare, markdown, write_compare
from rl_distill.evaluation.evaluate import greedy_return_of
from rl_distill.evaluation.plots import Curve, plot_curves
from rl_distill.io import atomic_write_json
from rl_distill.progress import ScalarLog
from rl_distill.sb3.envs import action_space
from rl_distill.sb3.policies import load_policy
from rl_distill.sb3.presets import preset_for
from rl_distill.sb3.training import CURVE_INTERVALS, train_ppo


def run_distill(config: DistillConfig, teacher_path: Path, out: Path, *, name: str = "student",
                vecnormalize: Path | None = None, tensorboard: str | None = None,
                progress_bar: bool = True, resume: bool = False) -> Path:  # fmt: skip
    """Distil the teacher at ``teacher_path``; writes ``<name>.zip``, ``<name>.safetensors`` and
    ``<name>.json`` to ``out``, checkpointing to ``<name>.ckpt`` after every round."""
    config.validate()
    teacher = load_policy(teacher_path, config.env_id, vecnormalize=vecnormalize)
    evaluate_student = None
    if config.eval_episodes:
        evaluate_student = greedy_return_of(teacher, config.env_id, config.eval_episodes)
    scalars = ScalarLog(tensorboard)

    def log_round(log: RoundLog) -> None:
        scalars.add(log.env_steps, {"distill/loss": log.loss, "distill/teacher_queries": log.teacher_queries,
                                    "distill/action_gap": log.action_gap,
                                    "charts/SPS": log.steps_per_second, "charts/episodic_return": log.eval_mean_return})

    result = distill(config, teacher, evaluate_student=evaluate_student, on_round=log_round,
                     progress_bar=progress_bar, checkpoint=out / f"{name}.ckpt", resume=resume)  # fmt: skip
    scalars.close()
    path = save_student(result, teacher, out, name=name)
    atomic_write_json(out / f"{name}.json", {"teacher": str(teacher_path), **result_summary(result),
                                             "stopped": result.stopped})  # fmt: skip
    return path


def run_pipeline(
    env_id: str,
    out: Path,
    *,
    config: DistillConfig,
    teacher_timesteps: int | None,
    scratch_steps: int | None,
    episodes: int,
    teacher: Path | None = None,
    vecnormalize: Path | None = None,
    tensorboard: str | None = None,
    kickstart: bool = False,
    scale_rewards: bool | None = True,
) -> list[CompareRow]:
    """Teacher (trained unless given) -> distilled student -> PPO from scratch, and with ``kickstart``
    the distilled student fine-tuned by kickstarted PPO on the scratch baseline's budget; then compare.
    ``vecnormalize``: the given teacher's statistics (default: found beside it).
    ``scale_rewards`` applies to PPO from scratch and kickstart alike (default scaled; None: scratch as the preset,
    kickstart as the teacher's PPO did, the default until 2026-12)."""
    if teacher is None:
        print(f"[1/4] training the PPO teacher on {env_id}")
        train_ppo(env_id, out=out, name="teacher", timesteps=teacher_timesteps, seed=config.seed,
                  tensorboard=tensorboard)
        teacher = out / "teacher.zip"
    scheme = resolve_collect(config.collect, action_space(env_id))
    print(f"[2/4] distilling into a {'x'.join(map(str, config.student_hidden))} student ({scheme}-driven)")
    student = run_distill(config, teacher, out, vecnormalize=vecnormalize, tensorboard=tensorboard)
    print("[3/4] PPO from scratch with the student's architecture (baseline)")
    budget = scratch_steps or preset_for(env_id).timesteps
    scratch = train_ppo(env_id, out=out, name="scratch", hidden=config.student_hidden, timesteps=budget,
                        seed=config.seed, eval_every=budget // CURVE_INTERVALS if config.eval_episodes else 0,
                        eval_episodes=config.eval_episodes, scale_rewards=scale_rewards)  # fmt: skip
    curves: dict[str, list[Curve]] = {"PPO from scratch": [(scratch.curve_steps, scratch.curve_returns)]}
    if config.eval_episodes:
        curves[f"distillation ({scheme}-driven)"] = [distill_curve(student.with_suffix(".json"))]
    kickstarted = []
    if kickstart:
        from rl_distill.kickstart.config import KickstartConfig
        from rl_distill.kickstart.run import run_kickstart

        print("[3b/4] distilled student -> PPO with the teacher's decaying KL term (kickstart), same budget")
        ks_config = KickstartConfig(env_id, student_hidden=config.student_hidden, timesteps=budget,
                                    seed=config.seed, bounds=config.bounds, init=str(student),
                                    scale_rewards=scale_rewards)  # fmt: skip
        kickstarted.append(run_kickstart(ks_config, teacher, out, name="kickstart", vecnormalize=vecnormalize,
                                         tensorboard=tensorboard))  # fmt: skip
        run = json.loads(kickstarted[-1].with_suffix(".json").read_text())
        curves["kickstart (steps after distillation)"] = [(run["curve_steps"], run["curve_returns"])]
    print(f"[4/4] comparing on {episodes} evaluation episodes")
    rows, random = compare(env_id, teacher, [student], [out / "scratch.zip"], kickstarted, episodes=episodes,
                          vecnormalize=vecnormalize)  # fmt: skip
    write_compare(rows, random, env_id, out)
    plot_curves(curves, out / "learning-curves.png", references={"teacher": rows[0].mean_return,
                "random policy": random.mean_return},
                title=f"{env_id}: {'x'.join(map(str, config.student_hidden))} student")  # fmt: skip
    print(markdown(rows, env_id, random))
    print(f"wrote {out / 'compare.json'} and {out / 'learning-curves.png'}")
    return rows


def distill_curve(run_json: Path) -> Curve:
    """A distillation run's greedy return after each round, by env steps collected (from its ``<name>.json``)."""
    rounds = json.loads(run_json.read_text())["rounds"]
    return [r["env_steps"] for r in rounds], [r["eval_mean_return"] for r in rounds]
