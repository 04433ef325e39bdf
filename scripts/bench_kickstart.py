"""Kickstarting against PPO from scratch and distillation alone -> results/kickstart/<case>.json, results/kickstart.md
and one PNG per case.

Cases (issue: distillation-guided RL), each with 3 seeds and 100 evaluation episodes per run:
- imperfect: LunarLander-v3 with a teacher stopped early (the first checkpoint of the preset's PPO, after each
  update, scoring 0.5-0.7 of the full teacher, greedy and sampled: kickstart_teachers.early_teacher);
- imperfect-256x256: the same teacher, 256x256 students (the teacher's size) for 400,000 steps: how fast a student
  of the teacher's capacity climbs from it (docs/kickstart.md);
- windy: the full LunarLander-v3 teacher on LunarLander-v3 with wind 15 and turbulence 1.5;
- HalfCheetah-v5 / Hopper-v5: ``distill`` (bound-aware) first, then kickstart from that student (--init);
- Pendulum-v1: the preset teacher, weaker than a 16x16 student trained from scratch;
- LunarLanderContinuous-v3: the preset teacher (raw rewards, as LunarLander-v3's), kickstart from a fresh
  student: a task held out from the choice of --scale-rewards (docs/kickstart.md);
- Walker2d-v5: a teacher trained by plain SB3 code (scripts/train_sb3_teacher.py: SB3's PPO defaults,
  VecNormalize, 2x256), no preset: ``distill`` then kickstart, as for the MuJoCo cases above;
  Walker2d-v5-32x32 the same with 32x32 students (16x16 ones cannot fit every such teacher: docs/kickstart.md);
- InvertedDoublePendulum-v5: a teacher from plain SB3 code of another algorithm (A2C, 2x96), whose Gaussian
  noise ends far below a PPO teacher's, no preset: kickstart from a fresh student, and with
  --init-from-distill the chain distill -> kickstart, which starts with the teacher's noise;
  InvertedDoublePendulum-v5-weak the same recipe with seed 3, a teacher stuck far below the task's best;
- Hopper-v5-a2c: the same A2C recipe on Hopper-v5, kickstart from a fresh student (a teacher held out from
  the choice of kickstart's defaults);
- InvertedDoublePendulum-v5-raw: a teacher from the plainest SB3 code (PPO's defaults, no VecNormalize: raw
  observations and rewards), kickstart from a fresh student: held out from the change of kickstart's default
  to scaled rewards (run with --scale-rewards and --no-scale-rewards).
PPO from scratch and kickstart get the same environment-step budget; distillation its preset budget.
Every run writes its own folder under runs/bench-kickstart/<case>/ and is skipped when it has finished,
so the script can be stopped and started again, and two copies started side by side (one per core) share
the seeds out between them; a case's report keeps the runs of earlier invocations that
this one did not redo (other schedules or seeds). Teachers: runs/bench-rl/<env>/teacher.zip (the preset's,
shared with scripts/bench_rl.py) and runs/sb3-teachers/Walker2d-v5/teacher.zip, each trained here if missing. Run, e.g.:
    .venv/bin/python scripts/bench_kickstart.py --cases imperfect windy --schedules adaptive:1 exp:1,100000
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import torch
from kickstart_names import (  # sibling scripts: scripts/ is on sys.path
    BEST,
    DISTILL_UPDATES,
    NAMED,
    UNNAMED_BEST_EPISODES,
    distill_variant,
    kickstart_variant,
    setting_fragments,
)
from kickstart_report import markdown, plot
from kickstart_store import (
    Busy,
    case_file,
    claimed,
    file_result,
    finished,
    guide_trace,
    kept_step,
    load_report,
    load_sections,
    tenths,
)
from kickstart_teachers import CASES, RUNS, ensure_teacher, teacher_reference

from rl_distill.cli.arguments import hidden_sizes, positive_int
from rl_distill.distill.config import AUTO_RULE, COLLECT_ACTIONS, DistillConfig, resolve_collect_actions
from rl_distill.errors import InputError
from rl_distill.evaluation.evaluate import evaluate
from rl_distill.experiments.pipeline import run_distill
from rl_distill.io import atomic_write_json, atomic_write_text
from rl_distill.kickstart.config import CRITIC_INITS, KL_DIRECTIONS, KickstartConfig
from rl_distill.kickstart.ppo import DISTILL_TERMS
from rl_distill.kickstart.run import run_kickstart
from rl_distill.losses import BOUND_MODES, DEFAULT_BOUND_MODE
from rl_distill.sb3.envs import action_space
from rl_distill.sb3.policies import load_policy
from rl_distill.sb3.training import BEST_EPISODES, CURVE_EPISODES, CURVE_INTERVALS, train_ppo

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "results"
DISTILL_COLLECT = "dagger"
"""Who acts in every case's distillation (its run names and auto collection are resolved under it)."""


CASE_OPTIONS = {key: key for key in ("lr_decay", "distill_steps", "bounds", "distill_lr_decay", "critic_warmup",
                                     "learning_rate", "critic_hidden", "critic_init", "log_std_init", "average_steps",
                                     "distill_term", "kl", "reference_episodes", "keep_best", "scale_rewards",
                                     "scratch", "distill_collect_actions", "distill_keep_best")} | {
                                     "distill_updates": "distill_updates_per_round"}
"""A case's run settings, from the command line's options of the same name (but --distill-updates-per-round)."""


def best_names(case: dict[str, Any]) -> tuple[str, str]:
    """The (folder, label) suffixes of ``--keep-best`` runs (empty without it)."""
    if not case["keep_best"]:
        return "", ""
    other = "" if case["keep_best"] == UNNAMED_BEST_EPISODES else str(case["keep_best"])
    return f"-best{other}", f"{BEST}{' of ' + other if other else ''}"


def scratch_run(case: dict[str, Any], work: Path, seed: int, *, wait: bool = True) -> dict[str, Any]:
    """PPO from scratch on the case's budget, trained unless finished."""
    best, best_label = best_names(case)
    scaling = NAMED["scale_rewards"]  # PPO from scratch learns from rewards as kickstart does
    scaled = scaling.names(case, "")
    # kickstart's rate and critic, where not the preset's and the student's, are scratch's too
    shared = [n for n in (NAMED["learning_rate"], NAMED["critic_hidden"]) if n.names(case, "")]
    folder = work / (f"scratch{''.join(n.folder.format(v=case[n.key]) for n in shared)}{best}"
                     f"{scaling.folder.format(v=case['scale_rewards']) if scaled else ''}-{seed}")  # fmt: skip
    with claimed(folder, wait=wait):
        if not finished(folder / "scratch.json"):
            train_ppo(case["env"], out=folder, name="scratch", hidden=case["hidden"], timesteps=case["budget"],
                      seed=seed, eval_every=case["budget"] // CURVE_INTERVALS,
                      eval_episodes=case["keep_best"] or CURVE_EPISODES, progress_bar=False, keep_best=bool(best),
                      scale_rewards=case["scale_rewards"], learning_rate=case["learning_rate"],
                      critic_hidden=case["critic_hidden"] and hidden_sizes(case["critic_hidden"]))  # fmt: skip
            # no checkpoint/resume here: SB3's EvalCallback would lose the learning curve before a resume
    log = finished(folder / "scratch.json")
    method = ("scratch" + "".join(n.label_of(case[n.key]) for n in shared)
              + (scaling.label_of(case["scale_rewards"]) if scaled else "") + best_label)
    return {"method": method, "seed": seed, "path": str(folder / "scratch.zip"), "steps": log["timesteps"],
            "curve_steps": log["curve_steps"], "curve_returns": tenths(log["curve_returns"]),
            "wall_seconds": log["wall_seconds"], "steps_per_second": log["timesteps"] / log["wall_seconds"],
            **kept_step(log, 0)}  # fmt: skip


def case_distillation(case: dict[str, Any]) -> tuple[int, str, str]:
    """The case's distillation budget, folder key and label tag (``distill_variant``; auto collection named as the
    mode it resolves to on the case's env)."""
    mode = resolve_collect_actions(case["distill_collect_actions"], action_space(case["env"]), DISTILL_COLLECT)
    return distill_variant(case["env"], case["distill_steps"], case["bounds"], case["distill_lr_decay"], mode,
                           case["distill_updates"], case["distill_keep_best"])


def distill_run(case: dict[str, Any], work: Path, teacher_path: Path, seed: int, *,
                wait: bool = True) -> dict[str, Any]:
    """``distill`` (DAgger, the case's distillation settings), trained unless finished."""
    budget, key, tag = case_distillation(case)
    folder = work / (f"distill-{key}-{seed}" if key else f"distill-{seed}")
    with claimed(folder, wait=wait):
        if not finished(folder / "student.json", teacher_path):
            keep = case["distill_keep_best"]
            config = DistillConfig(case["env"], student_hidden=case["hidden"], steps=budget, collect=DISTILL_COLLECT,
                                   seed=seed, bounds=case["bounds"], lr_decay=case["distill_lr_decay"],
                                   collect_actions=case["distill_collect_actions"],  # resolved as its name
                                   updates_per_round=case["distill_updates"], keep_best=keep,
                                   eval_episodes=BEST_EPISODES if keep else DistillConfig.eval_episodes)
            run_distill(config, teacher_path, folder, progress_bar=False)
    log = finished(folder / "student.json")
    return {"method": "distill" + tag, "seed": seed, "path": str(folder / "student.zip"),
            "steps": log["config"]["steps"], "curve_steps": [r["env_steps"] for r in log["rounds"]],
            "curve_returns": tenths([r["eval_mean_return"] for r in log["rounds"]]),
            "wall_seconds": log["wall_seconds"]}  # fmt: skip


def kickstart_run(name: str, case: dict[str, Any], work: Path, teacher_path: Path, variant: str, seed: int,
                  distilled: dict[str, Any], *, wait: bool = True) -> dict[str, Any]:  # fmt: skip
    """Kickstart with the schedule ``variant`` (``SCHEDULE[@T]``), from the ``distilled`` run's student when the
    case starts there, trained unless finished."""
    best, best_label = best_names(case)
    budget, key, tag = case_distillation(case)
    forced_init = case["init"] and not CASES[name]["init"]
    settings_folder, settings_label = setting_fragments(case, variant)
    suffix = ("-init" if forced_init else "") + settings_folder + (f"-d{key}" if key and case["init"] else "") + best
    folder, schedule, temperature = kickstart_variant(work, variant, seed, suffix)
    with claimed(folder, wait=wait):
        if not finished(folder / "student.json", teacher_path):
            critic = case["critic_hidden"] and hidden_sizes(case["critic_hidden"])
            config = KickstartConfig(case["env"], student_hidden=case["hidden"], timesteps=case["budget"],
                                     schedule=schedule, temperature=temperature, seed=seed,
                                     eval_every=case["budget"] // CURVE_INTERVALS,
                                     eval_episodes=case["keep_best"] or CURVE_EPISODES,
                                     keep_best=bool(best), init=distilled["path"] if case["init"] else None,
                                     learning_rate=case["learning_rate"], lr_decay=case["lr_decay"],
                                     bounds=case["bounds"], critic_warmup=case["critic_warmup"],
                                     critic_hidden=critic, critic_init=case["critic_init"],
                                     log_std_init=case["log_std_init"], average_steps=case["average_steps"],
                                     reference_episodes=case["reference_episodes"],
                                     distill_term=case["distill_term"], kl=case["kl"],
                                     scale_rewards=case["scale_rewards"])  # fmt: skip
            run_kickstart(config, teacher_path, folder, progress_bar=False, resume=True)
    log = finished(folder / "student.json")
    method = f"kickstart {schedule}" + (f" T={temperature:g}" if temperature != 1 else "")
    method += (" from distill" if forced_init else "") + settings_label
    method += (f" after distill{tag}" if tag and case["init"] else "") + best_label
    start = budget if case["init"] else 0  # a student from distill has used the distillation's steps
    return {"method": method, "seed": seed, "path": str(folder / "student.zip"), "start_steps": start,
            "steps": case["budget"], "curve_steps": [start + s for s in log["curve_steps"]],
            "curve_returns": tenths(log["curve_returns"]), "wall_seconds": log["wall_seconds"],
            "steps_per_second": log["steps_per_second"], **kept_step(log, start),
            **guide_trace(log["updates"], case["critic_warmup"]),
            **({"reference": ref} if (ref := log.get("adaptive_reference")) else {})}  # fmt: skip


def one_case(name: str, case: dict[str, Any], schedules: list[str], seeds: int, episodes: int, early_steps: int,
             evaluated_runs: list[dict[str, Any]]) -> dict[str, Any]:  # fmt: skip
    """Train what is missing and evaluate every run, reusing ``evaluated_runs``' evaluations of the same finished
    runs (same folder and training time) with as many episodes."""
    work = RUNS / "bench-kickstart" / name
    teacher_path = ensure_teacher(case, early_steps=early_steps)
    reference = teacher_reference(case, teacher_path, episodes)

    def seed_runs(seed: int, wait: bool) -> list[dict[str, Any]]:
        scratch = [scratch_run(case, work, seed, wait=wait)] if case["scratch"] else []
        distilled = distill_run(case, work, teacher_path, seed, wait=wait)
        return [*scratch, distilled, *(kickstart_run(name, case, work, teacher_path, variant, seed, distilled,
                                                    wait=wait) for variant in schedules)]  # fmt: skip

    runs, busy = [], []
    for seed in range(seeds):  # a seed another invocation is training waits until the others are done
        try:
            runs += seed_runs(seed, wait=False)
        except Busy:
            busy.append(seed)
    for seed in busy:
        runs += seed_runs(seed, wait=True)
    evaluated = {(r["path"], r["wall_seconds"]): r for r in evaluated_runs if len(r.get("returns", [])) == episodes}
    for run in runs:
        if (earlier := evaluated.get((run["path"], run["wall_seconds"]))) is not None:  # the same finished run
            run.update({k: earlier[k] for k in ("mean_return", "ci95", "mean_length", "returns")})
            continue
        result = evaluate(load_policy(run["path"], case["env"]), case["env"], episodes=episodes)
        run.update(mean_return=result.mean_return, ci95=list(result.ci95), mean_length=result.mean_length,
                   returns=tenths(result.returns))  # fmt: skip
    return {"env": case["env"], "student_hidden": list(case["hidden"]), "teacher_path": str(teacher_path),
            "budget": case["budget"], "episodes": episodes, **reference, "runs": runs}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", nargs="+", default=list(CASES), choices=list(CASES), help="cases to run (above)")
    parser.add_argument("--schedules", nargs="+", default=["adaptive:1"],
                        help="kickstart λ schedules, each SCHEDULE or SCHEDULE@T, T dividing the teacher's logits")
    parser.add_argument("--seeds", type=int, default=3, help="seeds 0..N-1 per method")
    parser.add_argument("--episodes", type=int, default=100, help="evaluation episodes per run")
    parser.add_argument("--early-steps", type=int, default=500_000,
                        help="the imperfect teacher: scan the preset PPO's checkpoints up to this many steps")
    parser.add_argument("--budget", type=int, default=None, help="override every case's env-step budget (smoke runs)")
    parser.add_argument("--init-from-distill", action="store_true",
                        help="every case's kickstart starts from its distilled student (the MuJoCo cases always do)")
    parser.add_argument("--distill-steps", type=int, default=None, help="distillation budget (default: the env "
                        "preset's); another budget gets its own distill and kickstart runs and labels")
    parser.add_argument("--distill-lr-decay", action="store_true", help="distil with --lr-decay (Adam's rate "
                        "falls linearly over the rounds); its own distill and kickstart runs and labels")
    parser.add_argument("--distill-collect-actions", choices=COLLECT_ACTIONS, default="sampled",
                        help=f"distil with --collect-actions (see distill --help; auto, distill's default: "
                        f"{AUTO_RULE}) (default sampled: distill's until 2026-12-07, what results/kickstart*.md were "
                        "made with); a mode that resolves to another than sampled gets its own distill and kickstart "
                        "runs and labels")
    parser.add_argument("--distill-updates-per-round", type=positive_int, default=DISTILL_UPDATES,
                        help=f"distil with --updates-per-round N (default {DISTILL_UPDATES}: distill's until "
                        "2026-12-05, what results/kickstart.md was made with; distill's is 1000 since); another gets "
                        "its own distill and kickstart runs and labels")
    parser.add_argument("--distill-keep-best", action="store_true", help=f"distil with --keep-best (the round "
                        f"best on {BEST_EPISODES} validation episodes, not the last); its own distill and "
                        "kickstart runs and labels")
    parser.add_argument("--lr-decay", action="store_true", help="kickstart with --lr-decay (PPO's learning rate "
                        "decays linearly to 0 over the budget)")
    parser.add_argument("--learning-rate", type=float, default=None, help="kickstart with --learning-rate RATE "
                        "(default: the preset's); another gets its own kickstart runs and labels")
    parser.add_argument("--critic-warmup", type=int, default=0, help="kickstart with --critic-warmup STEPS (only "
                        "the value function learns at first); another gets its own kickstart runs and labels")
    parser.add_argument("--critic-hidden", type=lambda text: "x".join(map(str, hidden_sizes(text))), default=None,
                        metavar="SIZES", help="kickstart with --critic-hidden SIZES (e.g. 256,256: the value "
                        "function's, larger than the student's policy); another gets its own kickstart runs and labels")
    parser.add_argument("--critic-init", choices=CRITIC_INITS, default="fresh", help="kickstart with --critic-init "
                        "teacher (the value function starts as the teacher's, on the rewards the teacher's PPO saw); "
                        "its own kickstart runs and labels")
    parser.add_argument("--log-std-init", type=float, default=None, help="kickstart with --log-std-init LOG_STD "
                        "(Box actions: the student's exploration noise at the start); another gets its own kickstart "
                        "runs and labels")
    parser.add_argument("--average-steps", type=int, default=None, metavar="STEPS", help="kickstart with "
                        "--average-steps STEPS (the policy evaluated, kept and written is a moving average of PPO's "
                        "iterates, time constant STEPS env steps); another gets its own kickstart runs and labels")
    parser.add_argument("--reference-episodes", type=int, default=KickstartConfig("").reference_episodes,
                        help="kickstart with --reference-episodes N (adaptive λ: episodes of the teacher's reference "
                        "return; default kickstart's); adaptive runs with another N than "
                        f"{NAMED['reference_episodes'].unnamed} get their own runs and labels")
    parser.add_argument("--distill-term", default="kl", choices=DISTILL_TERMS, help="kickstart with "
                        "--distill-term (ppd: each state's KL weighted by max(ratio, 1 - clip_range), as in Proximal "
                        "Policy Distillation); ppd gets its own kickstart runs and labels")
    parser.add_argument("--kl", default="forward", choices=list(KL_DIRECTIONS), help="kickstart with --kl "
                        "(forward: KL(teacher || student); reverse: KL(student || teacher)); reverse gets its own "
                        "kickstart runs and labels")
    parser.add_argument("--bounds", default=DEFAULT_BOUND_MODE, choices=BOUND_MODES,
                        help="Box actions: the bound-aware target of distill and of the kickstart term (default "
                        f"{DEFAULT_BOUND_MODE}); another gets its own distill and kickstart runs and labels")
    parser.add_argument("--keep-best", type=int, nargs="?", const=UNNAMED_BEST_EPISODES, default=0,
                        metavar="EPISODES",
                        help="PPO from scratch and kickstart keep the policy of their best learning-curve point "
                        f"(EPISODES validation episodes each, default {UNNAMED_BEST_EPISODES}, seeded apart from the "
                        "evaluation's) instead of the last; their own runs and labels")
    parser.add_argument("--scale-rewards", action=argparse.BooleanOptionalAction, default=None,
                        help="PPO from scratch and kickstart learn from scaled (--scale-rewards) or raw "
                        "(--no-scale-rewards) rewards, in runs and labels of their own (default: as the teacher's "
                        "PPO did, kickstart's default before 2026-12, which the unsuffixed run folders were made with)")
    parser.add_argument("--no-scratch", dest="scratch", action="store_false",
                        help="leave out PPO from scratch (the case's report keeps the scratch rows it has): a "
                        "kickstart or distillation setting compared with the others already measured")
    parser.add_argument("--report-only", action="store_true", help="rewrite results/kickstart.md and the "
                        "--cases' plots from results/kickstart/, nothing trained or evaluated")
    args = parser.parse_args()
    if args.keep_best < 0:
        parser.error(f"--keep-best EPISODES must be positive (0: keep the last policy), got {args.keep_best}")
    try:  # kickstart's own checks, before hours of scratch and distill runs
        for variant in args.schedules:
            KickstartConfig("", schedule=variant.partition("@")[0], learning_rate=args.learning_rate,
                            critic_warmup=args.critic_warmup, log_std_init=args.log_std_init,
                            average_steps=args.average_steps,
                            reference_episodes=args.reference_episodes, critic_init=args.critic_init,
                            critic_hidden=args.critic_hidden and hidden_sizes(args.critic_hidden),
                            ).validate()  # fmt: skip
    except InputError as exc:
        parser.error(str(exc))
    torch.set_num_threads(1)
    store = RESULTS / "kickstart"
    if args.report_only:
        report = load_report(store, CASES)
        atomic_write_text(RESULTS / "kickstart.md", markdown(report))
        for name in set(args.cases) & set(report):
            plot(name, report[name], RESULTS / f"kickstart-{name}.png")
        return
    for name in args.cases:
        case = {"hidden": (16, 16), **CASES[name], **({"budget": args.budget} if args.budget else {}),
                **{key: getattr(args, option) for key, option in CASE_OPTIONS.items()}}
        case["init"] = CASES[name]["init"] or args.init_from_distill
        before = load_sections(store, name).get(name) or {}
        result = one_case(name, case, args.schedules, args.seeds, args.episodes, args.early_steps,
                          before.get("runs", []))  # fmt: skip
        # read again just before writing: two copies of this script may run the same case's other seeds
        sections = load_sections(store, name)
        file_result(sections, name, result)
        atomic_write_json(case_file(store, name), sections)
        atomic_write_text(RESULTS / "kickstart.md", markdown(load_report(store, CASES)))
        plot(name, sections[name], RESULTS / f"kickstart-{name}.png")
        print(markdown({name: sections[name]}), flush=True)


if __name__ == "__main__":
    main()
