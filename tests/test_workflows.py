"""The GitHub workflows (.github/workflows/*.yml): valid YAML, the expected triggers, and every
`run:` step is only `make <target>` with a target the Makefile has, so what CI runs here is
what runs there. Also: `make test` runs every stage, the browser test included."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = ROOT / ".github" / "workflows"
MAKEFILE = ROOT / "Makefile"
# Standard actions only, each pinned to a major version.
ALLOWED_ACTIONS = {"actions/checkout", "actions/setup-python", "actions/cache",
                   "actions/upload-artifact", "actions/download-artifact", "actions/upload-pages-artifact",
                   "actions/deploy-pages", "actions/configure-pages", "pypa/gh-action-pypi-publish"}
# PyPA's publishing action is pinned to its release branch, as its documentation asks.
PINS = {"pypa/gh-action-pypi-publish": r"release/v\d+"}
MAKE_VARIABLES = {"PROFILE": {"fast", "full"}}


def makefile_targets() -> set[str]:
    """Explicit rule targets of the Makefile (``name:`` at the start of a line, not ``:=``)."""
    targets = set()
    for line in MAKEFILE.read_text().splitlines():
        m = re.match(r"^([A-Za-z0-9_.\-/ ]+?)\s*:(?![=:])", line)
        if m and not line.startswith("\t"):
            targets.update(t for t in m.group(1).split() if not t.startswith("."))
    return targets


def recipe(target: str) -> str:
    """The recipe lines of one Makefile target."""
    lines = MAKEFILE.read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if re.match(rf"^{re.escape(target)}\s*:(?!=)", line)
                 and "=" not in line.split(":", 1)[1])  # not a target-specific variable
    body = []
    for line in lines[start + 1:]:
        if not line.startswith("\t"):
            break
        body.append(line.strip())
    return "\n".join(body)


def load(name: str) -> dict:
    doc = yaml.safe_load((WORKFLOWS / name).read_text())
    assert isinstance(doc, dict), f"{name} is not a YAML mapping"
    return doc


def triggers(doc: dict) -> dict:
    """The ``on:`` block (YAML 1.1 reads a bare ``on`` key as True)."""
    on = doc.get("on", doc.get(True))
    if isinstance(on, str):
        return {on: None}
    if isinstance(on, list):
        return {k: None for k in on}
    assert isinstance(on, dict), f"bad `on:` {on!r}"
    return on


def steps(doc: dict) -> list[tuple[str, dict]]:
    return [(job_name, step) for job_name, job in doc["jobs"].items() for step in job.get("steps", [])]


def test_there_are_exactly_the_three_workflows():
    assert sorted(p.name for p in WORKFLOWS.glob("*.y*ml")) == ["book.yml", "release.yml", "weekly-full.yml"]


@pytest.mark.parametrize("name", ["book.yml", "weekly-full.yml", "release.yml"])
def test_valid_yaml_with_jobs_and_steps(name):
    doc = load(name)
    assert doc.get("name") and triggers(doc)
    assert doc["jobs"], f"{name} has no jobs"
    for job_name, job in doc["jobs"].items():
        assert job.get("runs-on"), f"{name}: job {job_name} has no runs-on"
        assert job.get("steps"), f"{name}: job {job_name} has no steps"
        for step in job["steps"]:
            assert ("uses" in step) != ("run" in step), f"{name}: {job_name}: a step needs uses or run: {step}"


def run_step_problem(run: str, targets: set[str]) -> str | None:
    """Why a ``run:`` script is not exactly one ``make TARGET [VAR=value]``; None when it is."""
    lines = [line for line in run.replace("\\\n", " ").splitlines() if line.strip()]
    if len(lines) != 1:
        return f"one command per run step, got {run!r}"
    try:
        words = shlex.split(lines[0])
    except ValueError as err:
        return f"`{lines[0]}`: {err}"
    if not words or words[0] != "make":
        return f"`{lines[0]}` is not a make call"
    if any(ch in lines[0] for ch in ";&|`$<>"):
        return f"`{lines[0]}`: no shell operators, only make"
    if any(w.startswith("-") for w in words[1:]):
        return f"`{lines[0]}`: no make options"
    goals = [w for w in words[1:] if "=" not in w]
    if len(goals) != 1 or goals[0] not in targets:
        return f"`{lines[0]}`: {goals} is not one Makefile target ({sorted(targets)})"
    for assign in (w for w in words[1:] if "=" in w):
        var, value = assign.split("=", 1)
        if value not in MAKE_VARIABLES.get(var, ()):
            return f"`{lines[0]}`: unexpected {var}={value}"
    return None


@pytest.mark.parametrize("name", ["book.yml", "weekly-full.yml", "release.yml"])
def test_run_steps_only_call_makefile_targets(name):
    targets = makefile_targets()
    runs = [step["run"] for _, step in steps(load(name)) if "run" in step]
    assert runs, f"{name} runs nothing"
    problems = [p for p in (run_step_problem(r, targets) for r in runs) if p]
    assert not problems, f"{name}:\n" + "\n".join(problems)


@pytest.mark.parametrize("run", [
    "pip install -r requirements.txt", "make nonexistent", "make book && make test",
    "make book\nmake test", "make", "make -j4 book", "make book PROFILE=huge", "jupyter-book build .",
    "make book; rm -rf /"])
def test_run_step_checker_rejects(run):
    assert run_step_problem(run, makefile_targets())


@pytest.mark.parametrize("run", ["make test", "make book PROFILE=full", "make book\n", "make test-browser"])
def test_run_step_checker_accepts(run):
    assert run_step_problem(run, makefile_targets()) is None


@pytest.mark.parametrize("name", ["book.yml", "weekly-full.yml", "release.yml"])
def test_only_standard_pinned_actions(name):
    for job_name, step in steps(load(name)):
        if "uses" in step:
            action, _, version = step["uses"].partition("@")
            assert action in ALLOWED_ACTIONS, f"{name}: {job_name} uses {step['uses']}"
            assert re.fullmatch(PINS.get(action, r"v\d+"), version), f"{name}: pin {action} to a major version, not {version!r}"


def test_book_workflow_builds_and_deploys_to_pages():
    doc = load("book.yml")
    on = triggers(doc)
    assert set(on) == {"push", "pull_request", "workflow_dispatch"}
    assert on["push"]["branches"] == ["main"]
    perms = doc["permissions"]
    assert perms["pages"] == "write" and perms["id-token"] == "write"
    all_steps = [s for _, s in steps(doc)]
    uses = [s["uses"].split("@")[0] for s in all_steps if "uses" in s]
    assert uses.index("actions/checkout") < uses.index("actions/setup-python") \
        < uses.index("actions/upload-pages-artifact") < uses.index("actions/deploy-pages")
    setup = next(s for s in all_steps if s.get("uses", "").startswith("actions/setup-python"))
    assert str(setup["with"]["python-version"]) == "3.11" and setup["with"]["cache"] == "pip"
    runs = [s["run"].strip() for s in all_steps if "run" in s]
    assert runs == ["make test"], "publish what was reviewed: the book `make test` built from the committed outputs"
    assert doc["jobs"]["build"]["env"]["BOOK_REPOSITORY"] == "${{ github.repository }}"  # the Colab links
    upload = next(s for s in all_steps if s.get("uses", "").startswith("actions/upload-pages-artifact"))
    assert upload["with"]["path"] == "_build/html"
    deploy_job = next(j for j in doc["jobs"].values()
                      if any(s.get("uses", "").startswith("actions/deploy-pages") for s in j["steps"]))
    assert deploy_job["needs"] == "build" and deploy_job["environment"]["name"] == "github-pages"
    assert deploy_job["if"] == "github.event_name != 'pull_request'"  # pull requests: tested, not deployed


def test_release_workflow_checks_the_tag_tests_builds_and_publishes():
    doc = load("release.yml")
    assert triggers(doc)["push"] == {"tags": ["v*"]}
    build, publish, release = doc["jobs"]["build"], doc["jobs"]["publish"], doc["jobs"]["github-release"]
    runs = [s["run"].strip() for s in build["steps"] if "run" in s]
    assert runs == ["make release-check", "make test", "make published-runs", "make dist"]
    uploads = [s["with"]["path"] for s in build["steps"] if s.get("uses", "").startswith("actions/upload-artifact")]
    assert uploads == ["dist/", "dist-runs/"]  # the package, and the published runs' archive
    # the runs go to the GitHub release of the tag before the package (whose metadata names them) goes out
    assert release["needs"] == "build" and release["permissions"] == {"contents": "write"}
    assert [s["run"].strip() for s in release["steps"] if "run" in s] == ["make github-release"]
    assert "dist-runs/*.tar.gz" in recipe("github-release") and "--verify-tag" in recipe("github-release")
    assert "tools/stamp_runs_url.py --export" in recipe("published-runs")
    assert "--profile full" in recipe("published-runs")
    assert publish["needs"] == ["build", "github-release"] and publish["permissions"] == {"id-token": "write"}
    assert publish["environment"]["name"] == "pypi"
    assert publish["steps"][-1]["uses"] == "pypa/gh-action-pypi-publish@release/v1"
    assert doc["permissions"] == {"contents": "read"}  # only the publish job gets an OIDC token


def test_weekly_workflow_runs_the_full_profile():
    doc = load("weekly-full.yml")
    on = triggers(doc)
    assert set(on) == {"schedule", "workflow_dispatch"}
    (cron,) = [entry["cron"] for entry in on["schedule"]]
    fields = cron.split()
    assert len(fields) == 5 and fields[4] not in ("*",), f"not a weekly cron: {cron!r}"
    assert fields[2] == "*" and fields[3] == "*", f"not a weekly cron: {cron!r}"
    runs = [s["run"].strip() for _, s in steps(doc) if "run" in s]
    assert "make test" in runs and "make book PROFILE=full" in runs
    assert runs.index("make test") < runs.index("make book PROFILE=full")
    # then every re-executed verdict is compared with the committed one
    assert runs.index("make book PROFILE=full") < runs.index("make verdicts-unchanged")
    assert "tools/compare_verdicts.py" in recipe("verdicts-unchanged")


def test_make_test_runs_every_stage_including_the_browser():
    body = recipe("test")
    for stage in ("test-unit", "test-papermill", "test-nbval", "test-build", "test-browser"):
        assert f"--no-print-directory {stage}" in body, f"`make test` does not run {stage}"
    assert body.index("test-build") < body.index("test-browser"), "the browser test needs the built book"
    assert "--ignore=tests/browser" in recipe("test-unit"), "the unit stage must not run the browser test"
    assert "requirements-browser.txt" in MAKEFILE.read_text()
    assert "test: export BOOK_REPOSITORY ?=" in MAKEFILE.read_text()  # the launch links are built and checked


def test_makefile_targets_parser():
    targets = makefile_targets()
    assert {"venv", "book", "execute", "html", "test", "test-unit", "test-browser", "clean"} <= targets
    assert "SHELL" not in targets and "PYTHON" not in targets
