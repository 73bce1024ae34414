"""examples/program-repo/ end to end, against a real `loyalty serve` on loopback: the jobs
of its GitHub Actions workflow and of its GitLab CI pipeline are read from those files and
their commands run here, in a clone of a scratch repository with an `origin`, as the CI
system would run them: a merge request raising a multiplier is validated, tested and
compared with the live version; once merged, the publish job publishes it with
`loyalty publish --url`; the version goes live only after another key approves it."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.api.server import Server, create_key, running_server
from tests.review.scratch import (
    EXAMPLE,
    GIT_ENV,
    commit,
    edit,
    example_repo,
    git,
    raise_home_multiplier,
)
from tests.store.db_support import scratch_database

MESSAGE = "home earns x1.5"
# Steps that set up the runner (checkout, Python, installing loyalty) or talk to the CI
# system itself (comment, artifacts, test report): the machine running these tests has
# loyalty installed already, and no CI system to talk to.
GITHUB_SETUP = {"Install loyalty", "Comment the summary"}


@pytest.fixture
def service(tmp_path: Path) -> Iterator[Server]:
    with scratch_database(tmp_path) as database_url, \
            running_server(database_url, tmp_path, workers=1) as srv:
        yield srv


def bash(cwd: Path, script: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", "-e", "-o", "pipefail", "-c", script], cwd=cwd,
                          env={**GIT_ENV, **env}, capture_output=True, text=True,
                          timeout=600, check=False)


def merge_request(tmp_path: Path) -> tuple[Path, Path]:
    """An `origin` holding `main` (retail version 1) and the branch `home` (version 2), and
    a clone checked out at the branch's head, as a CI job gets one."""
    repo = example_repo(tmp_path / "work")
    origin = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(origin))
    git(repo, "remote", "add", "origin", str(origin))
    git(repo, "push", "-q", "origin", "main")
    git(repo, "checkout", "-q", "-b", "home")
    raise_home_multiplier(repo)
    commit(repo, MESSAGE)
    git(repo, "push", "-q", "origin", "home")
    clone = tmp_path / "job"
    git(tmp_path, "clone", "-q", "-b", "home", str(origin), str(clone))
    return origin, clone


def merged(tmp_path: Path, origin: Path) -> Path:
    """`main` after the merge, as the publish job checks it out."""
    work = tmp_path / "work"
    git(work, "checkout", "-q", "main")
    git(work, "merge", "-q", "--no-ff", "-m", f"Merge {MESSAGE}", "home")
    git(work, "push", "-q", "origin", "main")
    clone = tmp_path / "publish-job"
    git(tmp_path, "clone", "-q", str(origin), str(clone))
    return clone


def live_version(srv: Server) -> int | None:
    listing = httpx.get(f"{srv.url}/v1/rulesets", params={"program": "retail"},
                        headers={"Authorization": f"Bearer {srv.admin_key}"}).json()
    return listing["programs"][0]["live_version"]


def check_review(job: Path, out: subprocess.CompletedProcess[str], srv: Server) -> None:
    assert out.returncode == 0, out.stdout + out.stderr
    summary = (job / "loyalty-ci" / "summary.md").read_text()
    assert summary.startswith("## loyalty ci: 1 program(s), all checks passed"), summary
    assert f"retail v1 (live at {srv.url})" in summary
    assert "changed `earning.categories.home`: `value` 1.25 → 1.5" in summary
    assert re.search(r"^\| points_issued \| \d+ \| \d+ \| \+\d+ \|$", summary, re.MULTILINE)
    assert (job / "loyalty-ci" / "junit.xml").is_file()
    assert (job / "loyalty-ci" / "retail.html").is_file()


def approve_and_activate(srv: Server, cwd: Path) -> None:
    """The approval the program declares: the publisher's key cannot activate version 2;
    another admin key approves it, and then it goes live."""
    reviewer = create_key(srv.database_url, "admin")
    env = {"LOYALTY_URL": srv.url, "LOYALTY_KEY": srv.admin_key}
    refused = bash(cwd, "loyalty activate retail 2", env)
    assert refused.returncode == 1 and "approvals_required" in refused.stderr, refused.stderr
    assert live_version(srv) == 1
    approved = bash(cwd, 'loyalty approve retail 2 -m "diff and summary read"',
                    {**env, "LOYALTY_KEY": reviewer})
    assert approved.returncode == 0, approved.stderr
    activated = bash(cwd, "loyalty activate retail 2", env)
    assert activated.returncode == 0, activated.stderr
    assert live_version(srv) == 2


def expressions(text: str, values: dict[str, str]) -> str:
    """A workflow's `${{ name }}` expressions, given their values (an unknown one fails)."""
    return re.sub(r"\$\{\{\s*([^}]+?)\s*\}\}", lambda m: values[m.group(1)], text)


def test_github_actions_jobs(tmp_path: Path, service: Server) -> None:
    workflow = yaml.safe_load((EXAMPLE / ".github" / "workflows" / "loyalty.yml").read_text())
    viewer = create_key(service.database_url, "viewer")
    values = {"vars.LOYALTY_URL": service.url, "secrets.LOYALTY_VIEWER_KEY": viewer,
              "secrets.LOYALTY_PUBLISH_KEY": service.admin_key, "github.base_ref": "main",
              "github.event.head_commit.message": f"Merge {MESSAGE}"}

    def run_job(name: str, cwd: Path) -> list[subprocess.CompletedProcess[str]]:
        job: dict[str, Any] = workflow["jobs"][name]
        runs = []
        for step in job["steps"]:
            if "run" not in step or step["name"] in GITHUB_SETUP:
                continue
            env = {k: expressions(str(v), values)
                   for k, v in {**job.get("env", {}), **step.get("env", {})}.items()}
            runs.append(bash(cwd, step["run"], env))
            assert runs[-1].returncode == 0, (step["name"], runs[-1].stdout, runs[-1].stderr)
        return runs

    assert workflow["jobs"]["publish"]["environment"] == "loyalty-production"
    origin, job = merge_request(tmp_path)
    *_, review = run_job("check", job)
    check_review(job, review, service)
    assert live_version(service) == 1

    publish_job = merged(tmp_path, origin)
    (published,) = run_job("publish", publish_job)
    assert "published: retail version 2" in published.stdout
    approve_and_activate(service, publish_job)
    (again,) = run_job("publish", publish_job)  # the job run a second time changes nothing
    assert "already published (identical content): retail version 2" in again.stdout


def test_gitlab_ci_jobs(tmp_path: Path, service: Server) -> None:
    pipeline = yaml.safe_load((EXAMPLE / ".gitlab-ci.yml").read_text())
    viewer = create_key(service.database_url, "viewer")
    predefined = {"LOYALTY_URL": service.url, "LOYALTY_VIEWER_KEY": viewer,
                  "LOYALTY_PUBLISH_KEY": service.admin_key,
                  "CI_MERGE_REQUEST_TARGET_BRANCH_NAME": "main",
                  "CI_COMMIT_TITLE": f"Merge {MESSAGE}"}

    def run_job(name: str, cwd: Path) -> subprocess.CompletedProcess[str]:
        job = pipeline[name]
        env = dict(predefined)
        for key, value in job.get("variables", {}).items():
            env[key] = re.sub(r"\$(\w+)", lambda m: env[m.group(1)], str(value))
        out = bash(cwd, "\n".join(job["script"]), env)
        assert out.returncode == 0, (name, out.stdout, out.stderr)
        return out

    publish = pipeline["publish"]
    assert publish["rules"][0]["when"] == "manual" and publish["allow_failure"] is False
    assert publish["environment"]["name"] == "loyalty-production"
    assert pipeline["review"]["artifacts"]["reports"]["junit"] == "loyalty-ci/junit.xml"
    origin, job = merge_request(tmp_path)
    run_job("validate", job)
    run_job("test", job)
    check_review(job, run_job("review", job), service)

    publish_job = merged(tmp_path, origin)
    assert "published: retail version 2" in run_job("publish", publish_job).stdout
    approve_and_activate(service, publish_job)

    # A program the service does not have yet is new: simulated alone, nothing to compare.
    shutil.copytree(job / "programs" / "retail", job / "programs" / "kiosk")
    edit(job / "programs" / "kiosk" / "program.yaml", "program: retail", "program: kiosk")
    out = bash(job, "loyalty ci programs/kiosk/earning.yaml --against \"$LOYALTY_URL\"",
               {"LOYALTY_URL": service.url, "LOYALTY_KEY": viewer})
    assert out.returncode == 0, out.stdout + out.stderr
    summary = (job / "loyalty-ci" / "summary.md").read_text()
    assert "### kiosk v2 (`programs/kiosk`)" in summary and "no base version" in summary
