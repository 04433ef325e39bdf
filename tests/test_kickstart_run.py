"""Kickstart runs: the task's settings, bad input, resuming, learning rates, noise and rewards."""

import json
import math
from dataclasses import replace
from itertools import pairwise
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from stable_baselines3 import PPO
from stable_baselines3.common.env_util import make_vec_env

from rl_distill.cli import main
from rl_distill.errors import InputError
from rl_distill.kickstart import run as kickstart_run
from rl_distill.kickstart.config import KickstartConfig
from rl_distill.kickstart.run import run_kickstart
from rl_distill.sb3.policies import load_policy

RECORDED: list[dict] = []


class Recorder(gym.Env):
    """CartPole's spaces; records the kwargs it was made with."""

    observation_space = gym.make("CartPole-v1").observation_space
    action_space = gym.spaces.Discrete(2)

    def __init__(self, level: int = 0, render_mode: str | None = None) -> None:
        RECORDED.append({"level": level})

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        return np.zeros(4, np.float32), {}

    def step(self, action: int) -> tuple[np.ndarray, float, bool, bool, dict]:
        return np.zeros(4, np.float32), 1.0, True, False, {}


def test_env_kwargs_reach_the_env_and_the_artifact(cartpole_teacher: Path, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    gym.register("RlDistillTest/Recorder-v0", entry_point=Recorder, max_episode_steps=10)
    RECORDED.clear()
    code = main(["kickstart", "--teacher", str(cartpole_teacher), "--env", "RlDistillTest/Recorder-v0",
                 "--env-kwargs", '{"level": 3}', "--timesteps", "64", "--eval-every", "64", "--eval-episodes", "2",
                 "--lambda", "constant:1", "--keep-best", "--out", str(tmp_path)])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    assert RECORDED and all(r == {"level": 3} for r in RECORDED)  # the teacher from CartPole accepted: same spaces
    header = json.loads((tmp_path / "student.json").read_text())["config"]
    assert header["env_id"] == 'RlDistillTest/Recorder-v0:{"level": 3}'
    assert header["keep_best"] and (tmp_path / "student.best.zip").exists()
    from rl_distill.artifacts.student import load_student

    assert load_student(tmp_path / "student.safetensors").header["env_kwargs"] == {"level": 3}


@pytest.mark.parametrize(("extra", "message"), [
    (["--lambda", "cosine:1"], "--lambda"),
    (["--lambda", "linear:1,0"], "--lambda"),
    (["--env-kwargs", "{not json"], "JSON object"),
    (["--env-kwargs", "[1, 2]"], "JSON object"),
    (["--env-kwargs", '{"no_such_kwarg": 1}'], "does not accept"),
    (["--env", "Acrobot-v1"], "does not match"),
    (["--init", "/no/such.safetensors"], "no such student file"),
    (["--critic-warmup", "-5"], "--critic-warmup"),
    (["--learning-rate", "0"], "--learning-rate"),
    (["--log-std-init", "-3"], "--log-std-init applies to continuous (Box) actions"),
    (["--log-std-init", "nan"], "finite number"),
    (["--reference-episodes", "0"], "positive integer"),
    (["--critic-hidden", "64,0"], "positive integer"),
])  # fmt: skip
def test_bad_input_exits_2_and_writes_nothing(cartpole_teacher: Path, tmp_path: Path, extra: list[str],
                                              message: str, capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    out = tmp_path / "out"
    argv = ["kickstart", "--teacher", str(cartpole_teacher), "--env", "CartPole-v1", "--timesteps", "64",
            "--out", str(out)]  # fmt: skip
    if "--env" in extra:
        argv[argv.index("--env") + 1] = extra[1]
        extra = []
    try:
        code = main([*argv, *extra])
    except SystemExit as exc:
        code = exc.code
    err = [line for line in capsys.readouterr().err.strip().splitlines() if not line.startswith("note:")]
    assert code == 2 and len(err) == 1 and message in err[0], err
    assert not out.exists()


@pytest.mark.parametrize(("init", "message"), [
    ("notes.json", "not an SB3 model"),  # a file, but not a student
    ("student.zip", "does not match the student's --student-hidden"),  # a student of other sizes
])  # fmt: skip
def test_a_wrong_init_fails_before_the_reference_and_writes_nothing(
    cartpole_teacher: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    init: str, message: str,
) -> None:
    from rl_distill.distill.config import DistillConfig
    from rl_distill.distill.loop import distill
    from rl_distill.distill.outputs import save_student

    teacher = load_policy(cartpole_teacher, "CartPole-v1")
    config = DistillConfig("CartPole-v1", student_hidden=(4, 4), steps=64, steps_per_round=64, eval_episodes=0,
                           updates_per_round=1)  # fmt: skip
    save_student(distill(config, teacher, progress_bar=False), teacher, tmp_path / "init")
    (tmp_path / "init" / "notes.json").write_text("{}")

    def no_reference(*args: object, **kwargs: object) -> None:
        raise AssertionError("the adaptive reference was measured before --init was read")

    monkeypatch.setattr(kickstart_run, "evaluate", no_reference)
    out = tmp_path / "out"
    code = main(["kickstart", "--teacher", str(cartpole_teacher), "--env", "CartPole-v1", "--timesteps", "64",
                 "--student-hidden", "8,8", "--init", str(tmp_path / "init" / init), "--out", str(out)])  # fmt: skip
    err = [line for line in capsys.readouterr().err.strip().splitlines() if not line.startswith("note:")]
    assert code == 2 and len(err) == 1 and message in err[0], err
    assert not out.exists()


def test_the_curve_evaluates_each_policy_once(cartpole_teacher: Path, tmp_path: Path) -> None:
    """CartPole's preset rollout is 8 x 32 = 256 steps; a curve point every 64 steps would evaluate one policy up
    to four times: only points after an update (and the start) are taken."""
    config = KickstartConfig("CartPole-v1", student_hidden=(8, 8), timesteps=1024, eval_every=64, eval_episodes=1,
                             keep_best=False, schedule="constant:1")  # fmt: skip
    run_kickstart(config, cartpole_teacher, tmp_path, progress_bar=False)
    steps = json.loads((tmp_path / "student.json").read_text())["curve_steps"]
    assert steps[0] == 0 and steps[-1] == 1024 and len(steps) == 1 + 1024 // 256, steps
    assert all(later // 256 > earlier // 256 for earlier, later in pairwise(steps)), steps  # one per rollout


def test_a_resumed_curve_does_not_repeat_the_checkpoints_policy(cartpole_teacher: Path, tmp_path: Path) -> None:
    """The checkpoint at 512 steps comes before that rollout's update: the resumed run's first point (576) would
    evaluate the policy already on the curve."""
    config = KickstartConfig("CartPole-v1", student_hidden=(8, 8), timesteps=512, eval_every=64, eval_episodes=1,
                             checkpoint_every=64, keep_best=False, schedule="constant:1")  # fmt: skip
    run_kickstart(config, cartpole_teacher, tmp_path, progress_bar=False)
    longer = KickstartConfig(**{**config.__dict__, "timesteps": 1024})
    run_kickstart(longer, cartpole_teacher, tmp_path, resume=True, progress_bar=False)
    steps = json.loads((tmp_path / "student.json").read_text())["curve_steps"]
    assert 512 in steps and steps[-1] == 1024, steps
    assert all(later // 256 > earlier // 256 for earlier, later in pairwise(steps)), steps


def test_resume_continues_and_refuses_another_run(cartpole_teacher: Path, tmp_path: Path) -> None:
    config = KickstartConfig("CartPole-v1", student_hidden=(8, 8), timesteps=512, eval_every=256,
                             checkpoint_every=256, schedule="constant:1")  # fmt: skip
    run_kickstart(config, cartpole_teacher, tmp_path, progress_bar=False)
    longer = KickstartConfig(**{**config.__dict__, "timesteps": 1024})
    run_kickstart(longer, cartpole_teacher, tmp_path, resume=True, progress_bar=False)
    log = json.loads((tmp_path / "student.json").read_text())
    assert log["updates"][-1]["env_steps"] == 1024 and len(log["updates"]) == 4
    other = KickstartConfig(**{**config.__dict__, "schedule": "constant:2"})
    with pytest.raises(InputError, match="belongs to another run.*schedule"):
        run_kickstart(other, cartpole_teacher, tmp_path, resume=True, progress_bar=False)
    assert math.isfinite(log["steps_per_second"]) and 0 < log["env_seconds"] < log["wall_seconds"]


@pytest.mark.parametrize("written", ["no key", None, True, False])
def test_a_checkpoint_from_before_explicit_reward_scaling_resumes_from_the_cli(cartpole_teacher: Path, tmp_path: Path,
                                                                               written: object) -> None:
    """Until 2026-12 kickstart followed the teacher's PPO (None; CartPole-v1's preset and this teacher: raw
    rewards) and older checkpoints have no such key; the CLI now says True or False. A checkpoint resumes when the
    rewards it learnt from are the ones asked for."""
    argv = ["kickstart", "--teacher", str(cartpole_teacher), "--env", "CartPole-v1", "--student-hidden", "4",
            "--lambda", "constant:1", "--checkpoint-every", "256", "--eval-every", "256", "--eval-episodes", "1",
            "--no-scale-rewards", "--out", str(tmp_path)]  # fmt: skip
    assert main([*argv, "--timesteps", "256"]) == 0
    ckpt_log = tmp_path / "student.ckpt.json"
    saved = json.loads(ckpt_log.read_text())
    assert saved["identity"]["scale_rewards"] is False
    if written == "no key":
        del saved["identity"]["scale_rewards"]
    else:
        saved["identity"]["scale_rewards"] = written
    ckpt_log.write_text(json.dumps(saved))
    code = main([*argv, "--timesteps", "512", "--resume"])
    if written is True:  # scaled rewards there, raw asked for here
        assert code == 2
    else:
        assert code == 0
        assert json.loads((tmp_path / "student.json").read_text())["updates"][-1]["env_steps"] == 512


def test_a_resumed_adaptive_run_keeps_its_reference(
    cartpole_teacher: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The reference is measured once per run: a resume reads it from the checkpoint instead of spending
    another 2 x --reference-episodes episodes on it."""
    config = KickstartConfig("CartPole-v1", student_hidden=(8,), timesteps=256, eval_every=256, eval_episodes=1,
                             checkpoint_every=256, schedule="adaptive:1", reference_episodes=3)  # fmt: skip
    run_kickstart(config, cartpole_teacher, tmp_path, progress_bar=False)
    first = json.loads((tmp_path / "student.json").read_text())["adaptive_reference"]
    assert json.loads((tmp_path / "student.ckpt.json").read_text())["reference"] == [first["teacher"],
                                                                                   first["random"]]  # fmt: skip
    real_evaluate, measured = kickstart_run.evaluate, []

    def counting(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        measured.append(args)
        return real_evaluate(*args, **kwargs)

    monkeypatch.setattr(kickstart_run, "evaluate", counting)
    run_kickstart(replace(config, timesteps=512), cartpole_teacher, tmp_path, resume=True, progress_bar=False)
    log = json.loads((tmp_path / "student.json").read_text())
    assert measured == [] and log["adaptive_reference"] == first
    assert log["updates"][-1]["env_steps"] == 512
    assert all(u["lambda"] == pytest.approx(max(0.0, 1 - u["student_score"])) for u in log["updates"])
    run_kickstart(replace(config, timesteps=768), cartpole_teacher, tmp_path / "fresh", progress_bar=False)
    assert len(measured) == 1  # a fresh run measures it (the random policy's episodes are not ``evaluate``'s)


@pytest.mark.parametrize("env_id", ["Pendulum-v1", "CartPole-v1", "Acrobot-v1"])
def test_lr_decay_falls_linearly_from_the_presets_rate_to_zero(env_id: str) -> None:
    from rl_distill.kickstart.run import ppo_settings
    from rl_distill.sb3.presets import preset_for

    preset = preset_for(env_id)
    plain = ppo_settings(KickstartConfig(env_id), preset).get("learning_rate", 3e-4)  # SB3's default
    start = plain(1.0) if callable(plain) else plain
    decayed = ppo_settings(KickstartConfig(env_id, lr_decay=True), preset)["learning_rate"]
    assert [decayed(r) for r in (1.0, 0.25, 0.0)] == pytest.approx([start, start / 4, 0.0])
    if not callable(plain):
        assert plain == preset.ppo.get("learning_rate", 3e-4)  # without --lr-decay the rate stays the preset's


def test_an_explicit_learning_rate_replaces_the_presets_and_decays_with_lr_decay(cartpole_teacher: Path,
                                                                                 tmp_path: Path) -> None:  # fmt: skip
    from rl_distill.kickstart.run import ppo_settings
    from rl_distill.sb3.presets import preset_for

    preset = preset_for("HalfCheetah-v5")
    assert ppo_settings(KickstartConfig("HalfCheetah-v5", learning_rate=1e-4), preset)["learning_rate"] == 1e-4
    decayed = ppo_settings(KickstartConfig("HalfCheetah-v5", learning_rate=1e-4, lr_decay=True), preset)
    assert [decayed["learning_rate"](r) for r in (1.0, 0.5)] == pytest.approx([1e-4, 5e-5])
    with pytest.raises(InputError, match="--learning-rate"):
        KickstartConfig("CartPole-v1", learning_rate=float("nan")).validate()
    config = KickstartConfig("CartPole-v1", student_hidden=(8,), timesteps=256, eval_every=256, eval_episodes=1,
                             learning_rate=0.0123)  # fmt: skip
    run_kickstart(config, cartpole_teacher, tmp_path, progress_bar=False)
    log = json.loads((tmp_path / "student.json").read_text())
    assert {u["learning_rate"] for u in log["updates"]} == {0.0123}  # what PPO's optimizer used


def test_log_std_init_sets_the_students_exploration_noise_after_init(
    pendulum_teacher: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--lr-decay puts the one update of 4,096 steps at rate 0, so the saved log std is the starting one. A run
    that keeps its init's noise says so, with that noise, on stderr; one that sets it does not."""

    def start_log_std(out: str, **settings: object) -> list[float]:
        config = KickstartConfig("Pendulum-v1", student_hidden=(8,), timesteps=4_096, eval_every=4_096,
                                 eval_episodes=1, lr_decay=True, reference_episodes=2,
                                 **settings)  # type: ignore[arg-type]  # fmt: skip
        path = run_kickstart(config, pendulum_teacher, tmp_path / out, progress_bar=False)
        return PPO.load(path).policy.log_std.tolist()

    assert start_log_std("fresh") == pytest.approx([-0.5])  # make_student's own
    lowered = start_log_std("lowered", init=str(tmp_path / "fresh" / "student.zip"), log_std_init=-3.5)
    assert lowered == pytest.approx([-3.5])  # replaces the init's
    assert "explores with" not in capsys.readouterr().err
    assert start_log_std("kept", init=str(tmp_path / "lowered" / "student.zip")) == pytest.approx([-3.5])
    assert "Gaussian noise (mean std 0.0302;" in capsys.readouterr().err  # exp(-3.5)
    with pytest.raises(InputError, match="--log-std-init must be a finite number"):
        KickstartConfig("Pendulum-v1", log_std_init=float("inf")).validate()


def test_lr_decay_never_runs_an_update_at_a_negative_rate(pendulum_teacher: Path, tmp_path: Path) -> None:
    """A budget of 3,000 steps still collects one whole 4,096-step rollout, which ends past the budget; its
    update must come at rate 0 (no step at all), not at a negative rate that climbs PPO's loss."""
    config = KickstartConfig("Pendulum-v1", student_hidden=(8,), timesteps=3_000, eval_every=3_000,
                             eval_episodes=1, lr_decay=True, log_std_init=-1.0)  # fmt: skip
    path = run_kickstart(config, pendulum_teacher, tmp_path, progress_bar=False)
    log = json.loads((tmp_path / "student.json").read_text())
    assert log["updates"][-1]["env_steps"] > 3_000 and log["updates"][-1]["learning_rate"] == 0.0
    assert PPO.load(path).policy.log_std.tolist() == pytest.approx([-1.0])  # no parameter moved


def test_continuous_actions_kickstart_with_a_gsde_teacher(pendulum_teacher: Path, tmp_path: Path) -> None:
    """Pendulum's preset explores with gSDE; the student stays a plain Gaussian policy with an artifact."""
    config = KickstartConfig("Pendulum-v1", student_hidden=(8,), timesteps=4_096, eval_every=4_096,
                             eval_episodes=2, schedule="exp:1,2000", lr_decay=True)  # fmt: skip
    path = run_kickstart(config, pendulum_teacher, tmp_path, progress_bar=False)
    from rl_distill.artifacts.student import load_student

    student, sb3 = load_student(tmp_path / "student.safetensors"), load_policy(path, "Pendulum-v1")
    assert not sb3.policy.use_sde and student.header["normalization"] is not None  # the teacher's statistics
    log = json.loads((tmp_path / "student.json").read_text())
    assert log["updates"][0]["lambda"] == pytest.approx(0.5 ** (4_096 / 2_000))
    assert log["updates"][0]["learning_rate"] == 0.0  # --lr-decay: the one update comes at the end of the run
    assert math.isfinite(log["updates"][0]["distill_term"])


@pytest.mark.parametrize("command", ["teacher", "distill", "evaluate", "compare", "sweep"])
def test_every_command_passes_env_kwargs_to_the_env(command: str, cartpole_teacher: Path, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    from dataclasses import replace

    from rl_distill.sb3 import presets

    # the kwargs are what is checked, not the training: one rollout of 8 x 32 steps, not SB3's 8 x 2,048
    monkeypatch.setattr(presets, "GENERIC", replace(presets.GENERIC, ppo={"n_steps": 32, "batch_size": 64}))
    if "RlDistillTest/Recorder-v0" not in gym.registry:
        gym.register("RlDistillTest/Recorder-v0", entry_point=Recorder, max_episode_steps=10)
    RECORDED.clear()
    task = ["--env", "RlDistillTest/Recorder-v0", "--env-kwargs", '{"level": 7}']
    teacher, out = str(cartpole_teacher), str(tmp_path / "out")
    argv = {
        "teacher": ["teacher", *task, "--timesteps", "256", "--out", out],
        "distill": ["distill", "--teacher", teacher, *task, "--steps", "256", "--steps-per-round", "256",
                    "--eval-episodes", "0", "--out", out],
        "evaluate": ["evaluate", teacher, *task, "--episodes", "2"],
        "compare": ["compare", "--teacher", teacher, "--students", teacher, *task, "--episodes", "2"],
        "sweep": ["sweep", "--teacher", teacher, *task, "--student-hidden", "2", "--collect", "teacher", "--seeds", "1",
                  "--steps", "256", "--episodes", "2", "--workers", "1", "--out", out],
    }[command]  # fmt: skip
    assert main(argv) == 0, capsys.readouterr().err
    assert RECORDED and all(r == {"level": 7} for r in RECORDED)
    if command == "distill":
        from rl_distill.artifacts.student import load_student

        header = load_student(tmp_path / "out" / "student.safetensors").header
        assert header["env_kwargs"] == {"level": 7} and header["env_id"].endswith('{"level": 7}')
    if command == "teacher":
        assert json.loads((tmp_path / "out" / "teacher.json").read_text())["env_id"].endswith('{"level": 7}')


@pytest.mark.parametrize("norm_reward", [True, False])
def test_rewards_are_scaled_as_the_teachers_own_statistics_say(cartpole_teacher: Path, tmp_path: Path,
                                                                norm_reward: bool) -> None:  # fmt: skip
    """A teacher from plain SB3 code with VecNormalize trained on scaled rewards: its student's PPO gets them
    too, on an env whose preset (CartPole-v1) scales nothing; statistics without reward scaling change nothing."""
    from stable_baselines3.common.vec_env import VecNormalize

    from rl_distill.sb3.presets import preset_for

    brought = tmp_path / "brought"
    brought.mkdir()
    (brought / "teacher.zip").write_bytes(cartpole_teacher.read_bytes())
    VecNormalize(make_vec_env("CartPole-v1", n_envs=1), norm_reward=norm_reward).save(str(brought / "vecnormalize.pkl"))
    teacher = load_policy(brought / "teacher.zip", "CartPole-v1")
    assert kickstart_run.scales_rewards(preset_for("CartPole-v1"), teacher) is norm_reward
    assert not kickstart_run.scales_rewards(preset_for("CartPole-v1"), load_policy(cartpole_teacher, "CartPole-v1"))
    config = KickstartConfig("CartPole-v1", student_hidden=(8,), timesteps=512, eval_every=512, eval_episodes=1,
                             scale_rewards=None)  # as the teacher's PPO did (the default until 2026-12)
    run_kickstart(config, brought / "teacher.zip", tmp_path / "out", progress_bar=False)
    log = json.loads((tmp_path / "out" / "student.json").read_text())
    assert log["scaled_rewards"] is norm_reward


@pytest.mark.parametrize(("flags", "scale"), [([], True), (["--scale-rewards"], True), (["--no-scale-rewards"], False)])
def test_scale_rewards_decides_whatever_the_teacher_did(
    cartpole_teacher: Path, tmp_path: Path, flags: list[str], scale: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    """Scaled by default, and --scale-rewards / --no-scale-rewards, overrule the teacher's statistics, which say
    the opposite here (CartPole-v1's preset leaves rewards raw too); a note says so."""
    from stable_baselines3.common.vec_env import VecNormalize

    brought = tmp_path / "brought"
    brought.mkdir()
    (brought / "teacher.zip").write_bytes(cartpole_teacher.read_bytes())
    VecNormalize(make_vec_env("CartPole-v1", n_envs=1), norm_reward=not scale).save(str(brought / "vecnormalize.pkl"))
    code = main(["kickstart", "--teacher", str(brought / "teacher.zip"), "--env", "CartPole-v1", "--student-hidden",
                 "8", "--timesteps", "512", "--eval-every", "512", "--eval-episodes", "1", "--out",
                 str(tmp_path / "out"), *flags])  # fmt: skip
    assert code == 0
    log = json.loads((tmp_path / "out" / "student.json").read_text())
    assert log["scaled_rewards"] is scale and log["config"]["scale_rewards"] is scale
    ours, theirs = ("scaled", "raw") if scale else ("raw", "scaled")
    assert (f"note: the student's PPO learns from {ours} rewards, the teacher (by the env's preset and its "
            f"statistics) learnt from {theirs} ones") in capsys.readouterr().err


@pytest.mark.parametrize("scale", [None, True])
def test_ppo_from_scratch_scales_rewards_when_asked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                   scale: bool | None) -> None:  # fmt: skip
    """train_ppo's scale_rewards wraps the training env (rewards only, on a preset that scales nothing) and the
    learning curve's env alike, so SB3 can sync them; nothing of the wrapper is saved, inference never sees it."""
    from stable_baselines3.common.vec_env import VecNormalize

    from rl_distill.sb3 import training

    made: list[dict[str, bool]] = []

    class Recorded(VecNormalize):
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, **kwargs)  # type: ignore[arg-type]
            made.append({"training": self.training, "norm_obs": self.norm_obs, "norm_reward": self.norm_reward})

    monkeypatch.setattr(training, "VecNormalize", Recorded)
    result = training.train_ppo("CartPole-v1", out=tmp_path, name="scratch", hidden=(8,), timesteps=2048,
                                eval_every=1024, eval_episodes=1, progress_bar=False, scale_rewards=scale)  # fmt: skip
    expected = [] if scale is None else [{"training": True, "norm_obs": False, "norm_reward": True},
                                         {"training": False, "norm_obs": False, "norm_reward": False}]  # fmt: skip
    assert made == expected
    assert result.curve_steps and not list(tmp_path.glob("*.pkl"))
    assert result.scaled_rewards is bool(scale)
