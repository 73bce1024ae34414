"""The hooks of .pre-commit-hooks.yaml, installed with the `pre-commit` tool into a scratch
program repository exactly as its .pre-commit-config.yaml asks (examples/program-repo/,
pointed at this repository at a commit): a commit with an invalid ruleset is refused with
the located error, one that breaks a rule test is refused with the failing case, a good
one goes in, and a commit that touches no program runs nothing.

pre-commit installs the hooks' package (this repository) into an environment of its own
the first time; PRE_COMMIT_HOME is kept for the whole test session."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.review.scratch import (
    GIT_ENV,
    ROOT,
    commit,
    edit,
    example_repo,
    git,
    raise_home_multiplier,
)

# What `pip install .` of this repository needs: the package and its metadata.
PACKAGE = ("pyproject.toml", "README.md", ".pre-commit-hooks.yaml", "engine", "schemas",
           "rulesets", "cli", "api", "store")


@pytest.fixture(scope="session")
def hook_repo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """This repository's working tree as pre-commit fetches a hook repository: committed,
    at a revision."""
    where = tmp_path_factory.mktemp("loyalty-rules")
    for name in PACKAGE:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, where / name,
                            ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        else:
            shutil.copy2(source, where / name)
    git(where, "init", "-q", "-b", "main")
    commit(where, "loyalty-rules")
    return where, git(where, "rev-parse", "HEAD").stdout.strip()


@pytest.fixture(scope="session")
def pre_commit_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return {**GIT_ENV, "PRE_COMMIT_HOME": str(tmp_path_factory.mktemp("pre-commit-home"))}


def git_commit(repo: Path, env: dict[str, str], message: str) -> subprocess.CompletedProcess[str]:
    git(repo, "add", "-A")
    return subprocess.run(["git", "commit", "-m", message], check=False, cwd=repo, env=env,
                          capture_output=True, text=True, timeout=900)


def commits(repo: Path) -> int:
    return int(git(repo, "rev-list", "--count", "HEAD").stdout)


def test_the_hooks_refuse_a_bad_commit_with_the_located_error(
        tmp_path: Path, hook_repo: tuple[Path, str], pre_commit_env: dict[str, str]) -> None:
    repo = example_repo(tmp_path / "programs")
    hooks, rev = hook_repo
    config = repo / ".pre-commit-config.yaml"
    edit(config, "repo: https://git.example.com/loyalty/loyalty-rules", f"repo: {hooks}")
    edit(config, "rev: v0.1.0", f"rev: {rev}")
    commit(repo, "hooks of this loyalty-rules")
    subprocess.run([sys.executable, "-m", "pre_commit", "install"], cwd=repo,
                   env=pre_commit_env, check=True, capture_output=True)
    before = commits(repo)

    earning = repo / "programs" / "retail" / "earning.yaml"
    edit(earning, "home: 1.25", 'home: "lots"')
    refused = git_commit(repo, pre_commit_env, "home earns lots")
    out = refused.stdout + refused.stderr
    assert refused.returncode != 0, out
    assert re.search(r"^programs/retail/earning\.yaml:\d+:\d+: \$\.earning\.categories\.home: "
                     r"'lots' is not a valid decimal string or number", out, re.MULTILINE), out
    assert re.search(r"^loyalty validate\.+Failed$", out, re.MULTILINE), out
    assert "Traceback" not in out
    assert commits(repo) == before

    edit(earning, 'home: "lots"', "home: 1.25")
    edit(earning, "fashion: 1.5", "fashion: 1.75")
    refused = git_commit(repo, pre_commit_env, "fashion earns x1.75 (tests not updated)")
    out = refused.stdout + refused.stderr
    assert refused.returncode != 0, out
    assert re.search(r"^loyalty validate\.+Passed$", out, re.MULTILINE), out
    assert re.search(r"^loyalty test\.+Failed$", out, re.MULTILINE), out
    assert "FAIL  case bronze fashion earns x 1.5" in out
    assert commits(repo) == before

    edit(earning, "fashion: 1.75", "fashion: 1.5")
    program = repo / "programs" / "retail" / "program.yaml"
    edit(program, "approvals:", "invariants:\n  max_points_per_unit: 6\napprovals:")
    refused = git_commit(repo, pre_commit_env, "at most 6 points per 1.00")
    out = refused.stdout + refused.stderr
    assert refused.returncode != 0, out
    assert re.search(r"^loyalty verify\.+Failed$", out, re.MULTILINE), out
    assert re.search(r"^programs/retail/program\.yaml:\d+:\d+: \$\.invariants\.max_points_per_unit: ",
                     out, re.MULTILINE), out
    assert commits(repo) == before

    edit(program, "invariants:\n  max_points_per_unit: 6\n", "")
    raise_home_multiplier(repo)
    accepted = git_commit(repo, pre_commit_env, "home earns x1.5")
    out = accepted.stdout + accepted.stderr
    assert accepted.returncode == 0, out
    assert re.search(r"^loyalty test\.+Passed$", out, re.MULTILINE), out
    assert re.search(r"^loyalty verify\.+Passed$", out, re.MULTILINE), out
    assert commits(repo) == before + 1

    (repo / "NOTES.md").write_text("Why home earns more: see the pull request.\n")
    accepted = git_commit(repo, pre_commit_env, "notes")
    out = accepted.stdout + accepted.stderr
    assert accepted.returncode == 0, out
    assert re.search(r"^loyalty validate\.+\(no files to check\)Skipped$", out, re.MULTILINE), out
    assert commits(repo) == before + 2


def test_the_hook_definitions_run_the_commands_on_changed_yaml_only() -> None:
    import yaml

    hooks = {h["id"]: h for h in yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())}
    assert set(hooks) == {"loyalty-validate", "loyalty-test", "loyalty-verify"}
    for hook in hooks.values():
        assert hook["language"] == "python"
        assert hook["entry"].startswith("loyalty ") and "--changed" in hook["entry"]
        assert re.search(hook["files"], "programs/retail/earning.yml")
        assert not re.search(hook["files"], "README.md")
    assert os.path.exists(ROOT / "examples" / "program-repo" / ".pre-commit-config.yaml")
