"""Teachers from plain SB3 code and the cached runs that benchmarks make with them.

``TEACHERS`` names each teacher's recipe (scripts/train_sb3_teacher.py) and where it lives
(runs/sb3-teachers/<folder>/<name>.zip, trained when missing). ``distilled``, ``kickstarted`` and ``merged`` run
`rl-distill distill`, `kickstart` and `multitask` with their defaults (but student-driven collection,
STUDENT_DRIVEN), and ``scratched`` PPO from scratch beside
them, into runs/bench-own-teachers/<teacher>/<run>/ and return a row for a report; a run finished with the same
teacher file, budget and episode count is read back (``cached``), so a benchmark killed half-way resumes where it
stopped. Used by bench_own_teachers.py and bench_budget.py.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from train_sb3_teacher import train_teacher  # a sibling script: scripts/ is on sys.path

from rl_distill.artifacts.student import load_student
from rl_distill.distill.config import (
    LEGACY_COLLECT_ACTIONS,
    LEGACY_UPDATES_PER_ROUND,
    DistillConfig,
    collect_tag,
    resolve_collect_actions,
    updates_tag,
)
from rl_distill.distill.multitask import multitask_config
from rl_distill.distill.outputs import file_sha256
from rl_distill.evaluation.evaluate import evaluate, evaluate_random, load_agent
from rl_distill.experiments.multitask import run_multitask
from rl_distill.experiments.pipeline import run_distill
from rl_distill.io import atomic_write_json
from rl_distill.kickstart.config import KickstartConfig
from rl_distill.kickstart.run import run_kickstart
from rl_distill.sb3.envs import action_space, join_env
from rl_distill.sb3.policies import load_policy, policy_parameters
from rl_distill.sb3.presets import preset_for
from rl_distill.sb3.training import BEST_EPISODES, CURVE_INTERVALS, train_ppo

ROOT = Path(__file__).resolve().parent.parent
TEACHERS: dict[str, dict[str, Any]] = {
    "lunar": {"env": "LunarLander-v3", "algo": "ppo-relu-400x300", "seed": 7, "folder": "LunarLander-v3-relu",
              "name": "lunar_relu", "label": "PPO, 400x300 ReLU, zoo values, raw observations"},
    "reacher": {"env": "Reacher-v5", "algo": "ppo-short-horizon", "seed": 3, "folder": "Reacher-v5",
                "name": "reacher_ppo", "label": "PPO, SB3's 64x64 tanh, gamma 0.9, VecNormalize (own file name)"},
    "acrobot": {"env": "Acrobot-v1", "algo": "ppo-tanh-128", "seed": 0, "folder": "Acrobot-v1",
                "name": "acrobot_ppo", "label": "PPO, 128x128 tanh, VecNormalize (own file name)"},
    "dqn-lunar": {"env": "LunarLander-v3", "algo": "dqn-256", "seed": 0, "folder": "LunarLander-v3-dqn",
                  "name": "lunar_dqn", "label": "DQN, 256x256 ReLU, raw observations"},
    "dqn-mountaincar": {"env": "MountainCar-v0", "algo": "dqn-mountaincar", "seed": 0, "folder": "MountainCar-v0-dqn",
                        "name": "mountaincar_dqn", "label": "DQN, 256x256 ReLU, the zoo's values"},
    "sac-pendulum": {"env": "Pendulum-v1", "algo": "sac", "seed": 0, "folder": "Pendulum-v1-sac",
                     "name": "pendulum_sac", "label": "SAC, 256x256 ReLU, the zoo's values"},
    "sac-mountaincar": {"env": "MountainCarContinuous-v0", "algo": "sac-gsde", "seed": 0,
                        "folder": "MountainCarContinuous-v0-sac", "name": "mountaincar_sac",
                        "label": "SAC with gSDE, 64x64 ReLU, the zoo's values"},
    "td3-pendulum": {"env": "Pendulum-v1", "algo": "td3", "seed": 0, "folder": "Pendulum-v1-td3",
                     "name": "pendulum_td3", "label": "TD3, 400x300 ReLU, action noise 0.1"},
    "sac-cheetah": {"env": "HalfCheetah-v5", "algo": "sac-mujoco", "seed": 0, "folder": "HalfCheetah-v5-sac",
                    "name": "cheetah_sac", "label": "SAC, 256x256 ReLU, the zoo's MuJoCo values, 300k steps"},
    "td3-cheetah": {"env": "HalfCheetah-v5", "algo": "td3-mujoco", "seed": 0, "folder": "HalfCheetah-v5-td3",
                    "name": "cheetah_td3", "label": "TD3, 400x300 ReLU, the zoo's MuJoCo values, 300k steps"},
    "pusher": {"env": "Pusher-v5", "algo": "ppo", "seed": 0, "folder": "Pusher-v5", "name": "pusher_ppo",
               "label": "PPO, SB3's defaults, 2x256 tanh, VecNormalize, 1M steps"},
    "bipedal": {"env": "BipedalWalker-v3", "algo": "ppo", "seed": 0, "folder": "BipedalWalker-v3",
                "name": "bipedal_ppo", "label": "PPO, SB3's defaults, 2x256 tanh, VecNormalize, 1M steps"},
    "bipedal-zoo": {"env": "BipedalWalker-v3", "algo": "ppo-zoo-bipedal", "seed": 0, "folder": "BipedalWalker-v3-zoo",
                    "name": "bipedal_zoo", "label": "PPO, zoo values, 2x64 tanh, 32 envs, VecNormalize, 5M steps"},
    "sac-hopper": {"env": "Hopper-v5", "algo": "sac-mujoco", "seed": 0, "folder": "Hopper-v5-sac",
                   "name": "hopper_sac", "label": "SAC, 256x256 ReLU, the zoo's MuJoCo values, 300k steps"},
    "walker-raw": {"env": "Walker2d-v5", "algo": "ppo-raw", "seed": 0, "folder": "Walker2d-v5-ppo-raw",
                   "name": "walker_ppo_raw", "label": "PPO, SB3's 64x64 tanh, 4 envs, raw observations, 500k steps"},
    "hopper-raw": {"env": "Hopper-v5", "algo": "ppo-raw", "seed": 0, "folder": "Hopper-v5-ppo-raw",
                   "name": "hopper_ppo_raw", "label": "PPO, SB3's 64x64 tanh, 4 envs, raw observations, 500k steps"},
}  # fmt: skip
PPO_TEACHERS = ["lunar", "reacher", "acrobot"]
"""The default set (results/own-teachers); the off-policy ones are results/offpolicy-teachers' (--teachers, --stem)."""
WIDTHS = (16, 8)
WINDY = join_env("LunarLander-v3", {"enable_wind": True, "wind_power": 15.0, "turbulence_power": 1.5})
KICKSTART_STEPS = 300_000
DEFAULT_UPDATES = DistillConfig.updates_per_round
"""distill's updates per round; rows written before they recorded theirs had LEGACY_UPDATES_PER_ROUND."""
DEFAULT_COLLECT_ACTIONS = DistillConfig.collect_actions
"""distill's collection mode (auto); rows written before they recorded theirs had LEGACY_COLLECT_ACTIONS."""
MULTITASK_HIDDEN = (32, 32)
STUDENT_DRIVEN = "student"
"""Who acts in these benchmarks' distillations: the student, as every result they wrote was made (distill's default
until session 59, whose ``auto`` is DAgger for Box actions), so their run names and cached rows stay true."""


def teacher_files(key: str) -> tuple[Path, Path | None]:
    """The teacher's zip (trained by its recipe when missing) and its statistics file, if it has one."""
    spec = TEACHERS[key]
    folder = ROOT / "runs" / "sb3-teachers" / spec["folder"]
    path = folder / f"{spec['name']}.zip"
    if not path.exists():
        print(f"training the {key} teacher ({spec['algo']}, seed {spec['seed']}) -> {path}", flush=True)
        train_teacher(spec["env"], folder, seed=spec["seed"], algo=spec["algo"], name=spec["name"])
    stats = folder / f"{spec['name']}_vecnormalize.pkl"
    return path, stats if stats.exists() else None


def episodes_row(model: Any, env: str, episodes: int) -> dict[str, Any]:
    result = evaluate(model, env, episodes=episodes)
    return {"mean_return": result.mean_return, "ci95": list(result.ci95),
            "returns": [round(r, 1) for r in result.returns]}  # fmt: skip


def cached(folder: Path, teachers: list[Path], steps: int, episodes: int, train: Any,
           settings: dict[str, Any] | None = None) -> dict[str, Any]:  # fmt: skip
    """The run's row: read from ``folder/row.json`` when it was written for these teacher files, budget of env
    steps, episode count and ``settings`` (what else the run's name does not say), else ``train(folder)`` (which
    returns the row) and saved."""
    key = {"teacher_sha256": " + ".join(file_sha256(t) for t in teachers), "steps": steps, "episodes": episodes,
           **(settings or {})}  # fmt: skip
    saved = folder / "row.json"
    if saved.exists():
        row = json.loads(saved.read_text())
        if all(row.get(k) == v for k, v in key.items()):
            return row
    row = {**key, **train(folder)}
    atomic_write_json(saved, row)
    return row


def budget_suffix(steps: int | None, updates: int) -> str:
    """Names a budget in run folders: nothing for the preset's steps at LEGACY_UPDATES_PER_ROUND (the folders of
    every run before distill's default rose), else ``-STEPS-Nu`` (``preset`` for the preset's steps)."""
    return "" if steps is None and updates == LEGACY_UPDATES_PER_ROUND else f"-{steps or 'preset'}-{updates}u"


def resolved_mode(key: str, collect_actions: str) -> str:
    """``collect_actions`` resolved on the teacher's task for student-driven collection
    (``config.resolve_collect_actions``)."""
    return resolve_collect_actions(collect_actions, action_space(TEACHERS[key]["env"]), STUDENT_DRIVEN)


def distill_folder(key: str, width: int, seed: int, steps: int | None, updates: int,
                   collect_actions: str = DEFAULT_COLLECT_ACTIONS) -> Path:  # fmt: skip
    """A distillation run's folder, its budget (``budget_suffix``) and collection mode (``collect_tag``, resolved)
    named in it."""
    tags = f"{budget_suffix(steps, updates)}{collect_tag(resolved_mode(key, collect_actions))}"
    return ROOT / "runs" / "bench-own-teachers" / key / f"distill-{width}x{width}-{seed}{tags}"


def distilled(key: str, width: int, seed: int, episodes: int, steps: int | None = None,
              updates: int = DEFAULT_UPDATES, collect_actions: str = DEFAULT_COLLECT_ACTIONS) -> dict[str, Any]:
    """A distillation with `rl-distill distill`'s defaults but ``steps`` (None: the preset's), ``updates`` per
    round, ``collect_actions`` and student-driven collection."""
    spec, (teacher, stats) = TEACHERS[key], teacher_files(key)
    env, mode = spec["env"], resolved_mode(key, collect_actions)
    config = DistillConfig(env, student_hidden=(width, width), seed=seed, updates_per_round=updates,
                           collect=STUDENT_DRIVEN, steps=steps or preset_for(env).distill_steps,
                           collect_actions=mode)  # type: ignore[arg-type]
    settings = None if mode == LEGACY_COLLECT_ACTIONS else {"collect_actions": mode}  # rows from before it, too
    return cached(distill_folder(key, width, seed, steps, updates, mode), [teacher], config.steps, episodes,
                  lambda out: distil_row(config, teacher, stats, out, episodes), settings)  # fmt: skip


def distil_row(config: DistillConfig, teacher: Path, stats: Path | None, out: Path, episodes: int) -> dict[str, Any]:
    """Run one distillation into ``out``; its row: the student's size, time, action gaps and evaluation."""
    run_distill(config, teacher, out, vecnormalize=stats, progress_bar=False)
    student = load_policy(out / "student.zip", config.env_id)
    log = json.loads((out / "student.json").read_text())
    return {"width": config.student_hidden[0], "seed": config.seed, "params": policy_parameters(student.policy),
            "updates_per_round": config.updates_per_round, "collect_actions": log["config"]["collect_actions"],
            "wall_seconds": log["wall_seconds"],
            "env_steps": log["rounds"][-1]["env_steps"], "action_gaps": [r["action_gap"] for r in log["rounds"]],
            **episodes_row(student, config.env_id, episodes)}  # fmt: skip


def kickstarted(key: str, env: str, seed: int, episodes: int, *, init: bool,
                budget: tuple[int | None, int, str] = (None, DEFAULT_UPDATES, DEFAULT_COLLECT_ACTIONS)
                ) -> dict[str, Any]:  # fmt: skip
    """Kickstart with its defaults on ``env`` (the teacher's own task, or the windy one), from the seed's
    calm-distilled 16x16 student of ``budget`` or a fresh one; the row keeps the run's validation curve."""
    teacher, stats = teacher_files(key)
    start = distill_folder(key, 16, seed, *budget) / "student.zip"

    def train(out: Path) -> dict[str, Any]:
        config = KickstartConfig(env, timesteps=KICKSTART_STEPS, seed=seed, init=str(start) if init else None)
        run_kickstart(config, teacher, out, vecnormalize=stats, progress_bar=False)
        log = json.loads((out / "student.json").read_text())
        return {"seed": seed, "curve_steps": log["curve_steps"], "curve_returns": log["curve_returns"],
                **episodes_row(load_policy(out / "student.zip", env), env, episodes)}  # fmt: skip

    task = "windy" if env == WINDY else "own"
    steps, updates, mode = budget
    start_name = f"init{budget_suffix(steps, updates)}{collect_tag(resolved_mode(key, mode))}"
    name = f"kickstart-{task}-{start_name if init else 'fresh'}-{seed}"
    return cached(ROOT / "runs" / "bench-own-teachers" / key / name, [teacher], KICKSTART_STEPS, episodes, train)


def scratched(key: str, seed: int, episodes: int) -> dict[str, Any]:
    """PPO from scratch on the teacher's own task with what a fresh kickstarted student gets by default: its net
    (16x16), KICKSTART_STEPS, scaled rewards and the policy of its best validation point; the row kickstart's compare
    with (it sees no teacher, so its cache key has none)."""
    env = TEACHERS[key]["env"]

    def train(out: Path) -> dict[str, Any]:
        result = train_ppo(env, out=out, name="scratch", hidden=KickstartConfig.student_hidden, seed=seed,
                           timesteps=KICKSTART_STEPS, eval_every=KICKSTART_STEPS // CURVE_INTERVALS,
                           eval_episodes=BEST_EPISODES, keep_best=True, scale_rewards=True, progress_bar=False)
        return {"seed": seed, "curve_steps": result.curve_steps, "curve_returns": result.curve_returns,
                **episodes_row(load_policy(out / "scratch.zip", env), env, episodes)}  # fmt: skip

    return cached(ROOT / "runs" / "bench-own-teachers" / key / f"scratch-{seed}", [], KICKSTART_STEPS, episodes, train)


def merged(keys: list[str], seed: int, episodes: int, updates: int = DEFAULT_UPDATES,
           collect_actions: str = DEFAULT_COLLECT_ACTIONS) -> dict[str, Any]:  # fmt: skip
    """One multi-task student (``rl-distill multitask`` defaults but MULTITASK_HIDDEN, ``updates`` per round and
    ``collect_actions``) of all ``keys``' teachers, each task evaluated on its own."""
    files = [teacher_files(key) for key in keys]
    tasks = [TEACHERS[key]["env"] for key in keys]
    steps = sum(preset_for(task).distill_steps for task in tasks)

    def train(out: Path) -> dict[str, Any]:
        config = multitask_config(tasks, student_hidden=MULTITASK_HIDDEN, steps=steps, seed=seed,
                                  updates_per_round=updates, collect=STUDENT_DRIVEN,
                                  collect_actions=collect_actions)  # fmt: skip
        run_multitask(config, [path for path, _ in files], out, vecnormalize=[stats for _, stats in files],
                      progress_bar=False)  # fmt: skip
        student = out / "student.safetensors"
        return {"seed": seed, "params": sum(p.numel() for p in load_student(student).net.parameters()),
                "tasks": {task: episodes_row(load_agent(student, task, task=task), task, episodes) for task in tasks}}

    modes = {resolved_mode(key, collect_actions) for key in keys}  # named as the run records it: one mode, or auto
    tag = collect_tag(modes.pop() if len(modes) == 1 else collect_actions)
    folder = ROOT / "runs" / "bench-own-teachers" / f"multitask-{'-'.join(keys)}-{seed}{updates_tag(updates)}{tag}"
    return cached(folder, [path for path, _ in files], steps, episodes, train)


def references(key: str, env: str, episodes: int) -> dict[str, Any]:
    return teacher_reference(*teacher_files(key), env, episodes)


def teacher_reference(teacher: Path, stats: Path | None, env: str, episodes: int) -> dict[str, Any]:
    """The teacher's evaluation and size and the random policy's return, which a case's scores are measured by."""
    policy = load_policy(teacher, env, vecnormalize=stats)
    return {"teacher": episodes_row(policy, env, episodes), "teacher_params": policy_parameters(policy.policy),
            "random": evaluate_random(env, episodes=episodes).mean_return}  # fmt: skip


