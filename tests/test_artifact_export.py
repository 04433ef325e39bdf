import json
import struct
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from rl_distill.artifacts.export import export_student, parity_observations
from rl_distill.artifacts.student import load_student
from rl_distill.cli import main
from rl_distill.distill.config import DistillConfig
from rl_distill.distill.loop import distill
from rl_distill.distill.outputs import save_student
from rl_distill.errors import InputError
from rl_distill.sb3.policies import load_policy


@pytest.fixture(scope="module", params=["CartPole-v1", "Pendulum-v1"])
def student_dir(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    env_id = request.param
    teacher_path = request.getfixturevalue("cartpole_teacher" if env_id == "CartPole-v1" else "pendulum_teacher")
    teacher = load_policy(teacher_path, env_id)
    config = DistillConfig(env_id, student_hidden=(8, 8), steps=1_000, steps_per_round=500, eval_episodes=0,
                           updates_per_round=50)  # fmt: skip
    out = tmp_path_factory.mktemp(f"student-{env_id}")
    save_student(distill(config, teacher, progress_bar=False), teacher, out)
    return env_id, out


def test_artifact_acts_like_the_sb3_student(student_dir: tuple[str, Path]) -> None:
    env_id, out = student_dir
    student = load_student(out / "student.safetensors")
    sb3 = load_policy(out / "student.zip", env_id)
    assert student.header["env_id"] == env_id and student.header["teacher_policy_params"] > 1000
    venv = sb3.make_env(env_id, n_envs=6, seed=11)
    normalised = venv.reset()
    raw = venv.get_original_obs() if hasattr(venv, "get_original_obs") else normalised
    expected = sb3.model.predict(normalised, deterministic=True)[0]
    np.testing.assert_allclose(student.act(raw), expected, rtol=1e-5, atol=1e-5)
    assert np.shape(student.act(raw[0])) == np.shape(expected[0])  # one observation in, one action out
    assert (env_id == "CartPole-v1") == (student.header["normalization"] is None)


@pytest.mark.parametrize("fmt", ["onnx", "torchscript"])
def test_export_passes_parity_and_onnx_evaluates_like_the_student(
    student_dir: tuple[str, Path], fmt: str, capsys: pytest.CaptureFixture[str]
) -> None:
    env_id, out = student_dir
    report = export_student(out / "student.safetensors", fmt, out / f"student.{fmt}")
    assert report.samples >= 1000 and report.max_abs_diff <= 1e-5 and report.identical_actions
    if fmt == "onnx":
        results = []
        for path in (out / "student.onnx", out / "student.safetensors", out / "student.zip"):
            assert main(["evaluate", str(path), "--env", env_id, "--episodes", "3", "--json"]) == 0
            results.append(json.loads(capsys.readouterr().out)["returns"])
        np.testing.assert_allclose(results[0], results[1], rtol=1e-4)
        np.testing.assert_allclose(results[1], results[2], rtol=1e-4)


@pytest.mark.parametrize(("suffix", "loader"), [(".onnx", "onnx"), (".ONNX", "onnx"), (".pt", "torchscript")])
def test_export_without_format_takes_it_from_the_suffix(student_dir: tuple[str, Path], tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str], suffix: str,
                                                         loader: str) -> None:  # fmt: skip
    env_id, out = student_dir
    target = tmp_path / f"student{suffix}"
    assert main(["export", str(out / "student.safetensors"), "--out", str(target)]) == 0
    if loader == "onnx":
        onnx.checker.check_model(onnx.load(str(target)))
        capsys.readouterr()
        # evaluate tells the file by its suffix in any case, as export does (not as an SB3 zip)
        assert main(["evaluate", str(target), "--env", env_id, "--episodes", "2", "--json"]) == 0
        assert len(json.loads(capsys.readouterr().out)["returns"]) == 2
    else:
        torch.jit.load(str(target))  # a TorchScript archive, not an ONNX graph under a .pt name


def test_parity_observations_are_in_bounds(student_dir: tuple[str, Path]) -> None:
    student = load_student(student_dir[1] / "student.safetensors")
    obs = parity_observations(student)
    space = student.header["observation_space"]
    assert obs.shape == (1000, *space["shape"])
    assert np.all(obs >= np.asarray(space["low"], dtype=np.float32)) and np.all(obs <= np.asarray(space["high"]))


def rewrite_header(path: Path, edit) -> None:  # noqa: ANN001
    raw = path.read_bytes()
    size = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8 : 8 + size])
    inner = json.loads(header["__metadata__"]["rl_distill"])
    edit(inner)
    header["__metadata__"]["rl_distill"] = json.dumps(inner)
    blob = json.dumps(header).encode()
    blob += b" " * (-len(blob) % 8)
    path.write_bytes(struct.pack("<Q", len(blob)) + blob + raw[8 + size :])


@pytest.mark.parametrize(("damage", "message"), [
    (lambda p: p.write_bytes(b""), "not a readable safetensors"),
    (lambda p: p.write_bytes(np.random.default_rng(0).bytes(4096)), "not a readable safetensors"),
    (lambda p: p.write_bytes(p.read_bytes()[:-40]), "not a readable safetensors"),
    (lambda p: rewrite_header(p, lambda h: h["architecture"].update(hidden=[32, 32])), "do not match"),
    (lambda p: rewrite_header(p, lambda h: h.update(format_version=99)), "format version"),
    (lambda p: rewrite_header(p, lambda h: h.pop("action_space")), "malformed"),
])  # fmt: skip
def test_damaged_artifacts_name_the_file(student_dir: tuple[str, Path], tmp_path: Path, damage, message) -> None:  # noqa: ANN001
    victim = tmp_path / "victim.safetensors"
    victim.write_bytes((student_dir[1] / "student.safetensors").read_bytes())
    damage(victim)
    with pytest.raises(InputError, match=f"victim.safetensors.*{message}"):
        load_student(victim)


def test_parity_covers_the_normalisation_clip(student_dir: tuple[str, Path]) -> None:
    student = load_student(student_dir[1] / "student.safetensors")
    if not student.net.normalize:  # CartPole's student: no statistics, so no clip to reach
        assert student.header["normalization"] is None and student.net.clip_obs == float("inf")
        return
    space = student.header["observation_space"]
    dims = len(space["low"])  # as if unbounded (Pendulum's own bounds keep observations inside the clip)
    student.header = {**student.header, "observation_space": {**space, "low": [-np.inf] * dims,
                                                              "high": [np.inf] * dims}}  # fmt: skip
    obs = parity_observations(student).reshape(1000, -1)
    z = np.abs(obs - student.net.obs_mean.numpy()) / np.sqrt(student.net.obs_var.numpy() + student.net.epsilon)
    clip = student.net.clip_obs
    assert (np.abs(z - clip) < 1e-3 * clip).sum() > 50  # at the clip
    assert (z > 1.2 * clip).sum() > 100  # and beyond it, where the graph's clipping decides


def test_export_fails_when_the_artifact_disagrees_with_its_sb3_student(student_dir: tuple[str, Path],
                                                                       tmp_path: Path) -> None:  # fmt: skip
    env_id, out = student_dir
    (tmp_path / "student.zip").write_bytes((out / "student.zip").read_bytes())
    if (out / "student").is_dir():
        (tmp_path / "student").mkdir()
        (tmp_path / "student" / "vecnormalize.pkl").write_bytes((out / "student" / "vecnormalize.pkl").read_bytes())
    artifact = tmp_path / "student.safetensors"
    artifact.write_bytes((out / "student.safetensors").read_bytes())
    assert export_student(artifact, "onnx", tmp_path / "ok.onnx").identical_actions  # zip and artifact agree
    with safe_open(str(artifact), framework="pt") as handle:  # the artifact's head now says otherwise
        metadata = handle.metadata()
        tensors = {key: handle.get_tensor(key) for key in handle.keys()}  # noqa: SIM118
    tensors["action_net.weight"] = -tensors["action_net.weight"]
    save_file(tensors, str(artifact), metadata=metadata)
    with pytest.raises(InputError, match="parity check failed"):
        export_student(artifact, "onnx", tmp_path / "bad.onnx")
    assert not (tmp_path / "bad.onnx").exists()


def test_onnx_refuses_sampled_evaluation(student_dir: tuple[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    env_id, out = student_dir
    export_student(out / "student.safetensors", "onnx", out / "greedy.onnx")
    code = main(["evaluate", str(out / "greedy.onnx"), "--env", env_id, "--no-deterministic"])
    assert code == 2 and "greedy policy only" in capsys.readouterr().err
