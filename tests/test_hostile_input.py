"""Every command, fed what a careless or hostile user would feed it: one row per case.

Each row must end in exit status 2, a single line on stderr naming the problem (no traceback),
and must leave a file that was already in the output folder untouched.
"""

import json
import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest
from stable_baselines3 import DQN

from rl_distill.artifacts.student import load_student
from rl_distill.cli import main
from rl_distill.distill.config import DistillConfig
from rl_distill.distill.loop import distill
from rl_distill.distill.outputs import save_student
from rl_distill.errors import InputError
from rl_distill.sb3.policies import load_policy
from tests.mnist_fixtures import write_idx_mnist

T, ST, OUT = "{teacher}", "{student}", "{out}"
D = ["distill", "--teacher", T, "--env", "CartPole-v1", "--out", OUT]
CASES = [
    # (argv, fragment of the one-line message)
    (["mnist", "--teacher", "resnet", "--out", OUT], "unknown teacher"),
    (["mnist", "--epochs", "-2"], "positive integer"),
    (["mnist", "--epochs", "ten"], "positive integer"),
    (["mnist", "--temperature", "0"], "temperature"),
    (["mnist", "--temperature", "inf"], "finite"),
    (["mnist", "--lam", "1.5"], "lam must lie in [0, 1]"),
    (["mnist", "--student-hidden", "0", "--out", OUT], "positive integer"),
    (["mnist", "--jitter", "-1", "--out", OUT], "non-negative integer"),
    (["mnist", "--jitter", "30", "--out", OUT], "--jitter must be a whole number of pixels from 0 to 8"),
    (["mnist", "--student-jitter", "9", "--out", OUT], "--student-jitter must be a whole number of pixels"),
    (["mnist", "--student-mixup", "-1", "--out", OUT], "--student-mixup must be a Beta parameter"),
    (["mnist", "--mixup", "101", "--out", OUT], "--mixup must be a Beta parameter"),
    (["mnist", "--student-optimizer", "rmsprop", "--out", OUT], "invalid choice: 'rmsprop'"),
    (["mnist", "--teacher-optimizer", "lbfgs", "--out", OUT], "invalid choice: 'lbfgs'"),
    (["mnist", "--teacher-dropout", "1", "--out", OUT], "--teacher-dropout must lie in [0, 1)"),
    (["mnist", "--teacher", "cnn", "--teacher-dropout", "0.2", "--out", OUT], "for a teacher with dropout layers"),
    (["mnist", "--data-dir", "{empty_dir}", "--out", OUT], "missing MNIST file"),
    (["mnist", "--data-dir", "{broken_idx}", "--out", OUT], "truncated"),
    (["teacher", "--env", "CartPol-v1", "--out", OUT], "did you mean CartPole-v1"),
    (["teacher", "--env", "NoSuchEnv-v0", "--out", OUT], "unknown environment id"),
    (["teacher", "--env", "CartPole-v1", "--timesteps", "0"], "positive integer"),
    (["teacher", "--env", "CartPole-v1", "--timesteps", "1e9x"], "positive integer"),
    ([*D[:4], "Acrobot-v1", "--out", OUT], "does not match"),
    ([*D[:4], "Pendulum-v1", "--out", OUT], "does not match"),
    (["distill", "--teacher", "/no/such.zip", "--env", "CartPole-v1", "--out", OUT], "no such model file"),
    (["distill", "--teacher", "{truncated}", "--env", "CartPole-v1", "--out", OUT], "truncated.zip"),
    (["distill", "--teacher", "{empty_file}", "--env", "CartPole-v1", "--out", OUT], "empty.zip"),
    (["distill", "--teacher", "{random_zip}", "--env", "CartPole-v1", "--out", OUT], "random.zip"),
    (["distill", "--teacher", "{qrdqn}", "--env", "CartPole-v1", "--out", OUT], "comes from sb3_contrib.qrdqn"),
    (["kickstart", "--teacher", "{teacher}", "--env", "CartPole-v1", "--init", "{dqn}", "--out", OUT],
     "--init must be an SB3 PPO or A2C (actor-critic) model, not DQN"),
    ([*D, "--student-hidden", "0"], "positive integer"),
    ([*D, "--student-hidden", "16,-4"], "positive integer"),
    ([*D, "--student-hidden", ","], "hidden sizes"),
    ([*D, "--steps", "0"], "positive integer"),
    ([*D, "--steps", "-5"], "positive integer"),
    ([*D, "--steps", "1000", "--max-steps", "500"], "--max-steps (500) must be at least --steps (1000)"),
    ([*D, "--max-steps", "90000", "--lr-decay"], "cannot be combined with --max-steps"),
    ([*D, "--max-steps", "0"], "positive integer"),
    ([*D, "--temperature", "0"], "positive number"),
    ([*D, "--temperature", "-1"], "positive number"),
    ([*D, "--temperature", "nan"], "finite number"),
    ([*D, "--noise-cap", "0"], "positive number"),
    ([*D, "--noise-cap", "inf"], "finite number"),
    ([*D, "--dagger-decay", "1.5"], "number in [0, 1]"),
    ([*D, "--dagger-decay", "nan"], "finite number"),
    ([*D, "--collect", "random"], "invalid choice"),
    ([*D, "--loss", "l1"], "invalid choice"),
    ([*D, "--vecnormalize", "{random_bytes}"], "VecNormalize"),
    ([*D, "--resume"], "student.ckpt"),
    (["distill", "--teacher", T, "--env", "CartPole-v1", "--steps", "64", "--out", "{unwritable}"], "Not a directory"),
    (["evaluate", "{empty_file}", "--env", "CartPole-v1"], "empty.zip"),
    (["evaluate", T, "--env", "CartPole-v1", "--episodes", "many"], "positive integer"),
    (["evaluate", T, "--env", "CartPole-v1", "--episodes", "0"], "positive integer"),
    (["evaluate", "{random_safetensors}", "--env", "CartPole-v1"], "not a readable safetensors"),
    (["evaluate", "{lying_safetensors}", "--env", "CartPole-v1"], "do not match"),
    (["evaluate", ST, "--env", "Acrobot-v1"], "do not match"),
    (["evaluate", "{random_onnx}", "--env", "CartPole-v1"], "not a loadable ONNX"),
    (["compare", "--env", "CartPole-v1", "--teacher", T, "--students", "/no/student.zip"], "no such model file"),
    (["pipeline", "--env", "CartPol-v1", "--out", OUT], "did you mean"),
    (["pipeline", "--env", "CartPole-v1", "--steps", "0", "--out", OUT], "positive integer"),
    (["export", "/no/student.safetensors", "--format", "onnx", "--out", "{out}/x.onnx"], "no such student file"),
    (["export", ST, "--format", "tflite", "--out", "{out}/x.tfl"], "invalid choice"),
    (["export", "{random_safetensors}", "--format", "onnx", "--out", "{out}/x.onnx"], "not a readable"),
    (["export", "{teacher}", "--format", "onnx", "--out", "{out}/x.onnx"], "a student's .safetensors is needed"),
    (["export", "{student_zip}", "--format", "onnx", "--out", "{out}/x.onnx"], "pass student.safetensors, written"),
    (["export", ST, "--out", "{out}/x.model"], "cannot tell the format"),
]


@pytest.fixture(scope="module")
def files(cartpole_teacher: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("hostile")
    teacher = load_policy(cartpole_teacher, "CartPole-v1")
    config = DistillConfig("CartPole-v1", student_hidden=(4,), steps=256, steps_per_round=256, eval_episodes=0,
                           updates_per_round=2)  # fmt: skip
    save_student(distill(config, teacher, progress_bar=False), teacher, root / "student")
    student = root / "student" / "student.safetensors"
    lying = root / "lying.safetensors"
    raw = student.read_bytes()
    size = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8 : 8 + size])
    inner = json.loads(header["__metadata__"]["rl_distill"])
    inner["architecture"]["hidden"] = [64]
    header["__metadata__"]["rl_distill"] = json.dumps(inner)
    blob = json.dumps(header).encode()
    blob += b" " * (-len(blob) % 8)
    lying.write_bytes(struct.pack("<Q", len(blob)) + blob + raw[8 + size :])
    rng = np.random.default_rng(0)
    made = {"teacher": cartpole_teacher, "student": student, "student_zip": student.with_suffix(".zip"),
            "lying_safetensors": lying}
    for name, content in [("truncated.zip", cartpole_teacher.read_bytes()[:2000]), ("empty.zip", b""),
                          ("random.zip", rng.bytes(5000)), ("random_bytes.pkl", rng.bytes(300)),
                          ("random.safetensors", rng.bytes(3000)), ("random.onnx", rng.bytes(3000))]:  # fmt: skip
        (root / name).write_bytes(content)
    made.update(truncated=root / "truncated.zip", empty_file=root / "empty.zip", random_zip=root / "random.zip",
                random_bytes=root / "random_bytes.pkl", random_safetensors=root / "random.safetensors",
                random_onnx=root / "random.onnx")  # fmt: skip
    DQN("MlpPolicy", "CartPole-v1", buffer_size=100, device="cpu").save(root / "dqn.zip")
    made["dqn"] = root / "dqn.zip"
    with zipfile.ZipFile(made["dqn"]) as source, zipfile.ZipFile(root / "qrdqn.zip", "w") as foreign:
        for item in source.infolist():  # the same zip, its policy said to come from a package we do not read
            content = source.read(item)
            if item.filename == "data":
                data = json.loads(content)
                data["policy_class"]["__module__"] = "sb3_contrib.qrdqn.policies"
                content = json.dumps(data).encode()
            foreign.writestr(item, content)
    made["qrdqn"] = root / "qrdqn.zip"
    (root / "empty_dir").mkdir()
    write_idx_mnist(root / "broken_idx", n_train=50, n_test=20)
    victim = root / "broken_idx" / "t10k-images-idx3-ubyte"
    victim.write_bytes(victim.read_bytes()[:-7])
    (root / "a_file").write_text("not a folder")
    made.update(empty_dir=root / "empty_dir", broken_idx=root / "broken_idx", unwritable=root / "a_file" / "out")
    return made


def test_table_has_at_least_30_rows() -> None:
    assert len(CASES) >= 30


@pytest.mark.parametrize(("argv", "message"), CASES, ids=[" ".join(c[0][:3]) + f" #{i}" for i, c in enumerate(CASES)])
def test_hostile_input(argv: list[str], message: str, files: dict[str, Path], tmp_path: Path,
                       capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    out = tmp_path / "out"
    out.mkdir()
    sentinel = out / "student.zip"
    sentinel.write_bytes(b"earlier work")
    if "--resume" in argv:
        (out / "student.ckpt").write_bytes(b"half a checkpo")
    names = {k: str(v) for k, v in files.items()}
    argv = [a.format(out=out, **names) for a in argv]
    try:
        code = main(argv)
    except SystemExit as exc:
        code = exc.code
    err = capsys.readouterr().err
    lines = [line for line in err.strip().splitlines() if not line.startswith(("note:", "warning:"))]
    assert code == 2, err
    assert len(lines) == 1 and message in lines[0], err
    assert "Traceback" not in err
    assert sentinel.read_bytes() == b"earlier work"


@pytest.mark.parametrize("obs", [[np.nan, 0, 0, 0], [0, np.inf, 0, 0], [[0, 0, 0, -np.inf]], [0, 0, 0]])
def test_student_refuses_non_finite_or_misshapen_observations(files: dict[str, Path], obs: list) -> None:
    student = load_student(files["student"])
    with pytest.raises(InputError, match="NaN or infinite|shape"):
        student.act(np.asarray(obs, dtype=np.float64))


@pytest.mark.parametrize("command", [
    ["teacher", "--env", "CartPole-v1", "--timesteps", "64"],
    ["distill", "--teacher", "TEACHER", "--env", "CartPole-v1", "--steps", "64"],
    ["kickstart", "--teacher", "TEACHER", "--env", "CartPole-v1", "--timesteps", "64"],
    ["multitask", "--task", "CartPole-v1=TEACHER", "--steps", "64"],
])  # fmt: skip
def test_tensorboard_without_its_package_is_a_one_line_error(command: list[str], cartpole_teacher: Path,
                                                            tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                            capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    import importlib.util

    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "tensorboard" else
                        find_spec(name, *a))  # fmt: skip
    argv = [arg.replace("TEACHER", str(cartpole_teacher)) for arg in command]
    assert main([*argv, "--tensorboard", str(tmp_path / "tb"), "--out", str(tmp_path / "out")]) == 2
    assert "pip install 'rl-distill[tensorboard]'" in capsys.readouterr().err
    assert not (tmp_path / "out").exists() and not (tmp_path / "tb").exists()
