"""The documentation a person reads builds, and what it shows still works (docs that cannot rot).

- The MkDocs site builds with ``--strict`` (a broken link, a missing anchor or a page left out
  of ``nav`` fails), and its generated reference pages are there.
- Every fenced ``yaml`` block in README.md and docs/ validates with ``harness validate``, unless
  it is marked as no config (the rule is in :func:`test_every_yaml_block_in_the_docs_validates`).
- Every ``harness COMMAND`` a ``bash`` / ``sh`` / ``shell`` / ``console`` block runs exists:
  ``harness COMMAND --help`` exits 0; every ``configs/*.yml`` such a block names exists.
- Every relative link in README.md points at a file of the repository.
"""

from __future__ import annotations

import contextlib
import io
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]

# The line before a yaml block that is no run config (a CI workflow, a fragment of another file).
NOT_A_CONFIG = "<!-- not a config"
# What a run-config fragment is completed with before it is validated.
FRAGMENT_BASE = {"base_model": "smollm2-135m-instruct"}
SHELL_LANGUAGES = {"bash", "sh", "shell", "console"}


@dataclass
class Block:
    page: Path
    line: int  # of the opening fence, 1-based
    language: str
    text: str
    marker: str  # the nearest non-blank line above the opening fence

    def where(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def fenced_blocks(page: Path) -> list[Block]:
    blocks: list[Block] = []
    lines = page.read_text(encoding="utf-8").splitlines()
    start = None
    for number, line in enumerate(lines, 1):
        if not line.startswith("```"):
            continue
        if start is None:
            start = number
        else:
            above = next((text.strip() for text in reversed(lines[:start - 1]) if text.strip()), "")
            language = lines[start - 1][3:].strip().lower()
            blocks.append(Block(page, start, language, "\n".join(lines[start:number - 1]), above))
            start = None
    return blocks


BLOCKS = [block for page in PAGES for block in fenced_blocks(page)]


def test_the_site_builds_strictly_with_its_generated_reference(tmp_path):
    try:
        import mkdocs  # noqa: F401
    except ImportError:
        pytest.fail("mkdocs is not installed; it comes with the test extra: pip install -e '.[test]'")
    site = tmp_path / "site"
    result = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(site)],
                            cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr

    configuration = (site / "reference" / "configuration" / "index.html").read_text(encoding="utf-8")
    cli = (site / "reference" / "cli" / "index.html").read_text(encoding="utf-8")
    hooks = (site / "reference" / "hooks" / "index.html").read_text(encoding="utf-8")
    assert "forgetting.threshold" in configuration and "benchmarks.max_items" in configuration
    assert "harness gate" in cli and "exit codes:" in cli
    assert "harness_next_round" in hooks

    from harness.cli import build_parser
    from harness.config import RunConfig

    missing_keys = [name for name in RunConfig.model_fields if f"<code>{name}</code>" not in configuration]
    assert not missing_keys, f"config keys missing from the configuration reference: {missing_keys}"
    commands = next(action.choices for action in build_parser()._actions if hasattr(action, "choices")
                    and isinstance(action.choices, dict))
    missing_commands = [name for name in commands if f"harness {name}" not in cli]
    assert not missing_commands, f"commands missing from the command-line reference: {missing_commands}"
    for page in ("index", "tour", "configuration", "axolotl", "axolotl-keys", "scaling", "ci", "statistics",
                 "plugins", "layout", "performance"):
        assert (site / ("index.html" if page == "index" else f"{page}/index.html")).is_file(), page
    assert not (site / "hooks").exists(), "the build hook must not be published with the site"


def test_every_yaml_block_in_the_docs_validates(tmp_path):
    """The rule: every ```yaml block is a harness config, whole or in part, and validates as one,
    unless the line above its opening fence is an HTML comment that starts ``<!-- not a config``
    (e.g. ``<!-- not a config: a GitHub Actions workflow -->``).

    A block with ``strategies:`` is a compare config; any other is a run config. A block without
    ``base_model`` (or a compare config's ``base``) is a fragment: it is validated with
    ``base_model: smollm2-135m-instruct`` added, so every key it shows must still be a real key
    with an allowed value. Validation is ``harness validate`` itself, in this process (fast after
    its first call), exit code 0 required.
    """
    from harness.cli import main

    checked, skipped, problems = 0, 0, []
    for index, block in enumerate(b for b in BLOCKS if b.language in ("yaml", "yml")):
        if block.marker.startswith(NOT_A_CONFIG):
            skipped += 1
            continue
        try:
            data = yaml.safe_load(block.text)
        except yaml.YAMLError as error:
            problems.append(f"{block.where()}: not valid YAML: {error}")
            continue
        if not isinstance(data, dict):
            problems.append(f"{block.where()}: not a config mapping; if it is meant as no config, put "
                            f"'{NOT_A_CONFIG} -->' on the line above it")
            continue
        if "base_model" not in data and "base" not in data:
            data = {**FRAGMENT_BASE, **data}
        path = tmp_path / f"block-{index}.yml"
        path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()) as errors:
            try:
                code = main(["validate", str(path)])
            except SystemExit as exit_:  # argparse's own errors
                code = exit_.code
        checked += 1
        if code != 0:
            problems.append(f"{block.where()}: harness validate exits {code}:\n{errors.getvalue().strip()}")
    assert not problems, "\n\n".join(problems)
    assert checked >= 3, f"only {checked} yaml config blocks found ({skipped} marked as no config)"


def _invocations() -> dict[tuple[str, ...], str]:
    """Each distinct ``harness COMMAND [ACTION]`` a shell block runs, with where it first appears."""
    from harness.cli import build_parser

    def subcommands(parser):
        return next((action.choices for action in parser._actions
                     if isinstance(getattr(action, "choices", None), dict)), {})

    commands = subcommands(build_parser())
    found: dict[tuple[str, ...], str] = {}
    pattern = re.compile(r"(?:^|[\s/])harness\s+([A-Za-z][\w-]*)(?:\s+([A-Za-z][\w-]*))?")
    for block in BLOCKS:
        if block.language not in SHELL_LANGUAGES:
            continue
        for offset, line in enumerate(block.text.splitlines(), 1):
            line = re.sub(r"(^|\s)#.*$", "", line).removeprefix("$ ")
            for match in pattern.finditer(line):
                command, action = match.groups()
                key: tuple[str, ...] = (command,)
                if command in commands and action in subcommands(commands[command]):
                    key = (command, action)
                found.setdefault(key, f"{block.page.relative_to(ROOT)}:{block.line + offset}")
    return found


def test_every_harness_command_in_the_docs_exists():
    invocations = _invocations()
    assert len(invocations) >= 8, f"too few harness commands found in the docs' shell blocks: {invocations}"
    problems = []
    for words, where in sorted(invocations.items()):
        result = subprocess.run([sys.executable, "-m", "harness", *words, "--help"],
                                cwd=ROOT, capture_output=True, text=True, timeout=120)
        if result.returncode != 0:
            problems.append(f"{where}: `harness {' '.join(words)} --help` exits {result.returncode}: "
                            f"{result.stderr.strip()[-500:]}")
    assert not problems, "\n".join(problems)


def test_every_config_file_a_shell_block_names_exists():
    named = {(match, block.where()) for block in BLOCKS if block.language in SHELL_LANGUAGES
             for match in re.findall(r"\bconfigs/[\w.-]+\.ya?ml\b", block.text)}
    assert named
    missing = sorted(f"{where}: {path}" for path, where in named if not (ROOT / path).is_file())
    assert not missing, "configs the docs run that do not exist:\n" + "\n".join(missing)


def test_readme_links_point_at_files_that_exist():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    targets = re.findall(r"\]\((?!https?://|#|mailto:)([^)#\s]+)(?:#[^)]*)?\)", readme)
    assert any(target.startswith("docs/") for target in targets)
    missing = sorted({target for target in targets if not (ROOT / target).exists()})
    assert not missing, f"README.md links to paths that do not exist: {missing}"
