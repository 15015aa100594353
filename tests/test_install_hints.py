"""Install hints name this project's distribution: "harness" on PyPI is another project."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_pip_hint_with_extras_names_the_real_distribution():
    name = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["name"]
    extras = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"])
    files = [*ROOT.joinpath("harness").rglob("*.py"), *ROOT.joinpath("plugins").rglob("*.py"), ROOT / "README.md"]
    hints = [(path, match) for path in files
             for match in re.finditer(r"pip install '?([A-Za-z0-9_.-]+)\[([a-z0-9_,-]+)\]", path.read_text())]
    assert hints, "no install hint found: the pattern no longer matches how hints are written"
    for path, match in hints:
        assert match.group(1) == name, f"{path.relative_to(ROOT)}: {match.group(0)!r} names another project"
        assert set(match.group(2).split(",")) <= extras, f"{path.relative_to(ROOT)}: unknown extra in {match.group(0)!r}"
