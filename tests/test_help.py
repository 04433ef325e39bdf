"""Every flag of the command line and of the benchmark scripts says what it does in --help."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SOURCES = sorted([*ROOT.glob("rl_distill/cli/*.py"), *ROOT.glob("scripts/*.py")])


def flags_without_help(source: str) -> list[str]:
    """The first argument of each ``add_argument`` call in ``source`` that has no non-empty ``help=``."""
    missing = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "add_argument":
            help_text = next((k.value for k in node.keywords if k.arg == "help"), None)
            if help_text is None or (isinstance(help_text, ast.Constant) and not help_text.value):
                first = node.args[0] if node.args else None
                missing.append(first.value if isinstance(first, ast.Constant) else ast.unparse(node)[:60])
    return missing


def test_the_check_finds_a_flag_without_help() -> None:
    source = 'p.add_argument("--a", help="x")\np.add_argument("--b", type=int)\np.add_argument("--c", help="")\n'
    assert flags_without_help(source) == ["--b", "--c"]


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_flag_has_help(path: Path) -> None:
    assert flags_without_help(path.read_text()) == []
