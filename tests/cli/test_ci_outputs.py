"""CI-facing outputs of check-compat: annotations, report files, the GitHub job summary."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests_support import Result

Run = Callable[..., Result]
FAILING = ("check-compat", "-k", "1.29", "--addon-version", "v1.15.0-eksbuild.2")


def test_github_annotations_precede_the_table(run: Run) -> None:
    result = run(*FAILING, "--annotations", "github")
    assert result.code == 1
    lines = result.out.splitlines()
    assert lines[0].startswith(
        "::error title=eksaddon vpc-cni on Kubernetes 1.29::vpc-cni "
        "v1.15.0-eksbuild.2 is not offered for Kubernetes 1.29"
    )
    assert any(line.startswith("::warning title=") for line in lines)
    assert not any(line.startswith("::") and "info" in line.split("::")[1] for line in lines)


def test_report_file_leaves_stdout_to_annotations(run: Run, tmp_path: Path) -> None:
    report = tmp_path / "out" / "report.xml"
    result = run(*FAILING, "-o", "junit", "--report-file", str(report), "--annotations", "github")
    assert result.code == 1
    assert all(line.startswith("::") for line in result.out.splitlines())
    assert report.read_text().startswith("<?xml")


def test_markdown_is_appended_to_the_github_step_summary(
    run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    summary = tmp_path / "summary.md"
    summary.write_text("# earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    result = run(*FAILING, "-o", "markdown")
    assert result.code == 1
    text = summary.read_text()
    assert text.startswith("# earlier step\n## vpc-cni v1.15.0-eksbuild.2 on Kubernetes 1.29")
    assert result.out in text


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ((*FAILING, "-o", "json", "--annotations", "github"), "add --report-file FILE for -o json"),
        (("check-compat", "--cluster", "a", "--all-clusters"), "choose one of --cluster"),
        ((*FAILING, "--shard", "1/2"), "--shard applies to fleets"),
        (("check-compat", "--all-clusters", "--shard", "3/2"), "--shard '3/2' is not I/N"),
        (("check-compat", "--clusters", "missing.yaml"), "cannot read clusters file missing.yaml"),
        (("check-compat", "--cluster", "a", "--region", "x", "--region", "y"), "one --region"),
        (("check-compat",), "give --kubernetes-version (offline), --cluster (live)"),
        (
            ("check-compat", "--concurrency", "0", "--all-clusters"),
            "Invalid value for '--concurrency'",
        ),
    ],
)
def test_usage_errors(run: Run, args: tuple[str, ...], expected: str) -> None:
    result = run(*args)
    assert result.code == 2, result.err
    assert result.err.count("\n") == 1
    assert expected in result.err
