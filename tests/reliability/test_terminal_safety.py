"""Nothing foreign reaches the terminal: text from EKS shows escaped in table, markdown, junit and
stderr output, and whole (properly escaped by the serialiser) in json and yaml.

The hostile text carries an ANSI colour, an OSC title sequence ending in BEL, a newline that would
forge a progress line, a right-to-left override and rich markup. It is planted where EKS answers
with free text: a health issue's message, an update's error message, a node group's name.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from xml.etree import ElementTree

import pytest
import yaml

from reliability_ledger import LEDGER
from standins.eks_addons import VPC_CNI, error_detail
from standins.server import StandInServer, eks_server, eks_standin
from tests_support import Result

__all__ = ["eks_server", "eks_standin"]

Run = Callable[..., Result]
CLUSTER = "demo"
HOSTILE = (
    "\x1b[31mred\x1b[0m\n[6/6] done: vpc-cni is ACTIVE\x1b]0;owned\x07 \u202eevil [bold]x[/bold]"
)
RAW = ("\x1b", "\x07", "\u202e")


@pytest.fixture
def cluster(eks_standin: StandInServer, monkeypatch: pytest.MonkeyPatch) -> StandInServer:
    for name, value in eks_standin.env({}).items():
        monkeypatch.setenv(name, value)
    eks_standin.create_cluster(CLUSTER, "1.29")
    eks_standin.put_addon(CLUSTER, "v1.16.4-eksbuild.2")
    return eks_standin


def _plant_health_issue(server: StandInServer) -> None:
    def issue(document: Any) -> Any:
        document["addon"]["health"] = {"issues": [{"code": "Other", "message": HOSTILE}]}
        return document

    server.standin.rewrite_answer("DescribeAddon", issue)


def _plant_nodegroup(server: StandInServer) -> None:
    # The name goes into DescribeNodegroup's URL (where the stand-in's router refuses it): the
    # release version, shown beside it, carries the hostile text.
    server.standin.rewrite_answer("ListNodegroups", lambda _: {"nodegroups": ["ng-1"]}, serve=False)
    server.standin.rewrite_answer(
        "DescribeNodegroup",
        lambda _: {"nodegroup": {"nodegroupName": "ng-1", "version": HOSTILE}},
        serve=False,
    )


def assert_shown_escaped(text: str) -> None:
    """No raw control, escape or bidi character; no forged line; the escapes visible instead."""
    LEDGER.unsafe_texts += 1
    for character in RAW:
        assert character not in text, (character, text)
    assert not any(line.lstrip(" │|").startswith("[6/6] done") for line in text.splitlines())
    visible = text.replace("\\\\", "\\")  # markdown doubles the backslash
    assert "\\x1b" in visible or "\\u001b" in visible, text


@pytest.mark.parametrize("output", ["table", "json", "yaml"])
def test_status(cluster: StandInServer, run: Run, output: str) -> None:
    _plant_health_issue(cluster)
    _plant_nodegroup(cluster)
    result = run("status", "--cluster", CLUSTER, "--skip-node-side", "-o", output)
    assert result.code == 0, result.err
    if output == "table":
        assert_shown_escaped(result.out)
        assert "[bold]x[/bold]" in result.out  # markup printed as written, not obeyed
        return
    document = json.loads(result.out) if output == "json" else yaml.safe_load(result.out)
    assert document["installed"]["health_issues"][0]["message"] == HOSTILE
    assert document["nodegroups"][0]["kubernetes_version"] == HOSTILE
    LEDGER.unsafe_texts += 1


@pytest.mark.parametrize("output", ["table", "markdown", "junit", "json"])
def test_check_compat(cluster: StandInServer, run: Run, output: str) -> None:
    _plant_health_issue(cluster)
    result = run("check-compat", "--cluster", CLUSTER, "--skip-node-side", "-o", output)
    assert result.code == 1, result.err  # a health issue is an error finding
    if output == "json":
        messages = [f["message"] for f in json.loads(result.out)["findings"]]
        assert f"Other: {HOSTILE}" in messages
        LEDGER.unsafe_texts += 1
        return
    assert_shown_escaped(result.out)
    if output == "junit":
        ElementTree.fromstring(result.out.split("?>", 1)[1])  # still well-formed XML


def test_github_annotations(cluster: StandInServer, run: Run) -> None:
    _plant_health_issue(cluster)
    result = run(
        "check-compat", "--cluster", CLUSTER, "--skip-node-side", "--annotations", "github"
    )
    assert result.code == 1
    annotations = [line for line in result.out.splitlines() if line.startswith("::error")]
    assert annotations, result.out
    assert_shown_escaped("\n".join(annotations))


def test_an_update_error_on_stderr(cluster: StandInServer, run: Run) -> None:
    cluster.standin.fail_next_update([error_detail(message=HOSTILE)])
    result = run(
        "upgrade", "--cluster", CLUSTER, "--to", "v1.17.1-eksbuild.1", "--yes",
        "--poll-interval", "0.05", "--timeout", "30", "--skip-rollout-check",
    )  # fmt: skip
    assert result.code == 4, result.err
    error_lines = [line for line in result.err.splitlines() if line.startswith("eksaddon: error")]
    assert len(error_lines) == 1
    assert_shown_escaped(error_lines[0])
    assert_shown_escaped(result.err.split("eksaddon: error", 1)[1])


def test_addon_name_in_the_catalogue_is_not_ours(cluster: StandInServer, run: Run) -> None:
    """A name in an answer that is not the one asked for is refused, shown escaped."""

    def other(document: Any) -> Any:
        document["addon"]["addonName"] = HOSTILE
        return document

    cluster.standin.rewrite_answer("DescribeAddon", other)
    result = run("status", "--cluster", CLUSTER, "--addon", VPC_CNI, "--skip-node-side")
    assert result.code == 3
    assert "addon.addonName" in result.err
    assert_shown_escaped(result.err)


class _Keyboard:
    """Standard input that is a terminal, answering "n" to the question it is asked."""

    def __init__(self) -> None:
        self.lines = ["n\n"]

    def isatty(self) -> bool:
        return True

    def readline(self, *args: object) -> str:
        return self.lines.pop(0) if self.lines else ""


def test_the_consent_question_shows_outside_text_made_safe(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A plan or outcome line asked about at a terminal (upgrade, --all-addons, cluster-upgrade)
    carries names and warnings EKS or Kubernetes gave: the question shows them escaped."""
    import sys

    from eksaddon.cli.shared import confirmer

    monkeypatch.setattr(sys, "stdin", _Keyboard())
    assert confirmer(False, lambda subject: f"upgrade {subject}")(HOSTILE) is False
    asked = capsys.readouterr().err
    assert "upgrade " in asked and not any(raw in asked for raw in RAW), repr(asked)
    assert "\n[6/6] done" not in asked
