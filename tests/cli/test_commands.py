"""The real CLI entry point: outputs, exit codes and the one-line error contract."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests_support import Result, daemonset, write_yaml

Run = Callable[..., Result]


def test_help_lists_commands_and_exit_codes(run: Run) -> None:
    result = run("--help")
    assert result.code == 0
    for word in ("matrix", "plan", "check-compat", "Exit codes", "130 interrupted"):
        assert word in result.out


def test_version(run: Run) -> None:
    result = run("--version")
    assert result.code == 0
    assert result.out.startswith("eksaddon, version ")


def test_matrix_show_json(run: Run) -> None:
    result = run("matrix", "show", "-o", "json")
    assert result.code == 0
    assert json.loads(result.out)["kubernetes_versions"]["1.30"]["latest"] == "v1.18.3-eksbuild.3"


def test_matrix_show_one_version_yaml(run: Run) -> None:
    result = run("matrix", "show", "--kubernetes-version", "v1.28", "-o", "yaml")
    assert result.code == 0
    assert list(yaml.safe_load(result.out)["kubernetes_versions"]) == ["1.28"]


def test_plan_json(run: Run) -> None:
    result = run("plan", "-k", "1.23", "--from", "1.6.3", "--to", "latest", "-o", "json")
    assert result.code == 0, result.err
    document = json.loads(result.out)
    assert document["from"] == "v1.6.3"
    assert [s["to"] for s in document["steps"]][:2] == ["v1.7.10", "v1.8.0"]


def test_plan_refusal_is_exit_2_with_one_line(run: Run) -> None:
    result = run(
        "plan",
        "-k",
        "1.23",
        "--from",
        "v1.10.4",
        "--to",
        "v1.8.0",
        "--feature",
        "prefix-delegation",
    )
    assert result.code == 2
    assert result.out == ""
    assert result.err.count("\n") == 1
    assert result.err.startswith(
        "eksaddon: error: cannot move to v1.8.0: prefix-delegation is in use"
    )


def test_check_compat_passing_is_exit_0(run: Run) -> None:
    result = run("check-compat", "-k", "1.30", "--addon-version", "v1.18.3-eksbuild.3")
    assert result.code == 0
    assert "is the latest for Kubernetes 1.30" in result.out


def test_check_compat_error_finding_is_exit_1(run: Run) -> None:
    result = run(
        "check-compat", "-k", "1.29", "--addon-version", "v1.15.0-eksbuild.2", "-o", "json"
    )
    assert result.code == 1
    assert result.err == ""
    assert any(f["severity"] == "error" for f in json.loads(result.out)["findings"])


def test_fail_on_warning_turns_warnings_into_exit_1(run: Run) -> None:
    args = ("check-compat", "-k", "1.30", "--addon-version", "v1.18.1-eksbuild.3")
    assert run(*args).code == 0
    assert run(*args, "--fail-on", "warning").code == 1


@pytest.mark.parametrize("output", ["table", "json", "yaml", "junit", "markdown"])
def test_check_compat_every_format(run: Run, output: str) -> None:
    result = run(
        "check-compat",
        "-k",
        "1.26",
        "--addon-version",
        "v1.12.0-eksbuild.2",
        "--target-kubernetes-version",
        "1.29",
        "-o",
        output,
    )
    assert result.code == 1
    assert "v1.12.0-eksbuild.2" in result.out


def test_check_compat_from_a_daemonset_backup(run: Run, tmp_path: Path) -> None:
    backup = write_yaml(
        tmp_path / "aws-k8s-cni-old.yaml",
        daemonset(
            "v1.16.4-eksbuild.2",
            env={"WARM_IP_TARGET": "5", "ENABLE_PREFIX_DELEGATION": "true"},
            managers=["eks"],
        ),
    )
    result = run("check-compat", "-k", "1.29", "--daemonset", str(backup), "-o", "json")
    assert result.code == 0, result.err
    document = json.loads(result.out)
    assert document["addon_version"] == "v1.16.4-eksbuild.2"
    assert document["detected"]["type"] == "managed"
    assert document["detected"]["features"] == ["prefix-delegation"]
    names = {c["name"] for c in document["detected"]["customizations"]}
    assert names == {"WARM_IP_TARGET", "ENABLE_PREFIX_DELEGATION"}


def test_check_compat_reads_json_backups_from_stdin(run: Run) -> None:
    result = run(
        "check-compat",
        "-k",
        "1.30",
        "--daemonset",
        "-",
        "-o",
        "json",
        stdin=json.dumps(daemonset("v1.18.3-eksbuild.3")),
    )
    assert result.code == 0, result.err
    assert json.loads(result.out)["addon_version"] == "v1.18.3-eksbuild.3"


def test_matrix_override_option_and_environment(
    run: Run, tmp_path: Path, raw_matrix: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    raw_matrix["kubernetes_versions"]["1.30"]["default"] = "v1.18.2-eksbuild.1"
    path = write_yaml(tmp_path / "pinned.yaml", raw_matrix)
    option = run("--matrix", str(path), "matrix", "show", "-k", "1.30", "-o", "json")
    assert json.loads(option.out)["kubernetes_versions"]["1.30"]["default"] == "v1.18.2-eksbuild.1"
    monkeypatch.setenv("EKSADDON_MATRIX", str(path))
    env = run("plan", "-k", "1.30", "--from", "v1.18.1-eksbuild.3", "--to", "default", "-o", "json")
    assert json.loads(env.out)["to"] == "v1.18.2-eksbuild.1"


def test_debug_shows_the_traceback(run: Run) -> None:
    plain = run("plan", "-k", "1.31", "--from", "v1.18.3-eksbuild.3")
    debug = run("--debug", "plan", "-k", "1.31", "--from", "v1.18.3-eksbuild.3")
    assert plain.code == debug.code == 2
    assert "Traceback" not in plain.err
    assert "Traceback (most recent call last)" in debug.err


def test_unexpected_errors_are_exit_3_with_a_hint(
    run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr("eksaddon.cli.plan_cmd.planner.plan", broken)
    result = run("plan", "-k", "1.30", "--from", "v1.18.3-eksbuild.3")
    assert result.code == 3
    assert result.err == (
        "eksaddon: error: internal error: RuntimeError: boom; rerun with --debug for the "
        "traceback and report it\n"
    )


def test_interrupt_is_exit_130(run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("eksaddon.cli.plan_cmd.planner.plan", interrupted)
    result = run("plan", "-k", "1.30", "--from", "v1.18.3-eksbuild.3")
    assert result.code == 130
    assert result.err == "eksaddon: error: interrupted\n"


def test_latest_and_default_are_case_insensitive(run: Run) -> None:
    result = run(
        "plan", "-k", "1.29", "--from", "v1.16.0-eksbuild.1", "--to", "LATEST", "-o", "json"
    )
    assert result.code == 0, result.err
    assert json.loads(result.out)["to"] == "v1.18.3-eksbuild.3"


def test_debug_after_the_command_is_a_usage_error_not_a_traceback(run: Run) -> None:
    result = run("matrix", "show", "--debug")
    assert result.code == 2
    assert "Traceback" not in result.err
    assert "No such option '--debug'" in result.err


def test_matrix_show_json_says_how_far_absence_is_known(run: Run) -> None:
    document = json.loads(run("matrix", "show", "-o", "json").out)
    assert document["kubernetes_versions"]["1.29"]["complete_through"] == "v1.18.0-eksbuild.1"
    assert document["kubernetes_versions"]["1.30"]["complete_through"] is None
