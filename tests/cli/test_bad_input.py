"""Bad input through the real CLI: exit 2, one line naming the problem, never a traceback."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reliability_ledger import LEDGER
from tests_support import Result, daemonset

Run = Callable[..., Result]

LEVELS = "abcdefghi"
# "Billion laughs": nine levels of nine aliases expand to 9**9 strings if anything walks them.
BOMB = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n' + "\n".join(
    f"{level}: &{level} [{', '.join([f'*{below}'] * 9)}]"
    for below, level in itertools.pairwise(LEVELS)
)


def assert_one_line_error(result: Result, expected: str) -> None:
    LEDGER.input("hand-written cases of tests/cli/test_bad_input.py")
    LEDGER.saw_output(result.out, result.err)
    assert result.code == 2, (result.code, result.err)
    assert result.out == ""
    assert "Traceback" not in result.err
    assert result.err.startswith("eksaddon: error: ")
    assert result.err.endswith("\n")
    assert result.err.count("\n") == 1, result.err
    assert expected in result.err, result.err


def _document(kind: str) -> Any:
    return {**daemonset(), "kind": kind}


DAEMONSET_FILES: list[tuple[str, bytes, str]] = [
    ("empty", b"", "is empty"),
    ("blank", b"\n  \n", "is empty"),
    ("binary", bytes(range(256)), "is binary"),
    ("latin-1", "kind: DaemonSet\nname: caf\u00e9\n".encode("latin-1"), "is not valid UTF-8 text"),
    (
        "truncated-yaml",
        yaml.safe_dump(daemonset()).encode()[:180] + b"\n  - {name: [",
        "is not valid YAML",
    ),
    ("truncated-json", json.dumps(daemonset()).encode()[:-40], "is not valid YAML"),
    (
        "deployment",
        yaml.safe_dump(_document("Deployment")).encode(),
        "is a Deployment, not a DaemonSet",
    ),
    ("list", yaml.safe_dump([daemonset()]).encode(), "holds a list, not a DaemonSet object"),
    (
        "kubectl-list",
        yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": [daemonset()]}).encode(),
        "is a List, not a DaemonSet",
    ),
    ("scalar", b"42\n", "holds a int, not a DaemonSet object"),
    (
        "two-documents",
        (yaml.safe_dump(daemonset()) + "---\n" + yaml.safe_dump(daemonset())).encode(),
        "more than one YAML document",
    ),
    ("bomb", BOMB.encode(), "(a YAML bomb?)"),
    ("recursive", b"&a [*a]\n", "recursive YAML alias"),
    (
        "python-tag",
        b"!!python/object/apply:os.system ['true']\n",
        "could not determine a constructor",
    ),
    ("deep", b"[" * 5000 + b"]" * 5000, "is not valid YAML"),
    (
        "other-cni",
        yaml.safe_dump(daemonset(registry="quay.io/cilium"))
        .encode()
        .replace(b"amazon-k8s-cni:", b"cilium:"),
        "is another CNI installed?",
    ),
    (
        "no-tag",
        yaml.safe_dump(daemonset()).encode().replace(b":v1.18.3-eksbuild.3", b""),
        "has no version tag",
    ),
    (
        "bad-tag",
        yaml.safe_dump(daemonset("latest")).encode(),
        "image tag 'latest' is not a version",
    ),
]


@pytest.mark.parametrize(
    ("name", "content", "expected"), DAEMONSET_FILES, ids=[d[0] for d in DAEMONSET_FILES]
)
def test_bad_daemonset_backups(
    run: Run, tmp_path: Path, name: str, content: bytes, expected: str
) -> None:
    path = tmp_path / f"{name}.yaml"
    path.write_bytes(content)
    assert_one_line_error(run("check-compat", "-k", "1.30", "--daemonset", str(path)), expected)


def test_missing_and_directory_backups(run: Run, tmp_path: Path) -> None:
    assert_one_line_error(
        run("check-compat", "-k", "1.30", "--daemonset", str(tmp_path / "absent.yaml")),
        "No such file or directory",
    )
    assert_one_line_error(
        run("check-compat", "-k", "1.30", "--daemonset", str(tmp_path)), "is a directory"
    )


def test_oversized_backup(run: Run, tmp_path: Path) -> None:
    path = tmp_path / "huge.yaml"
    with path.open("wb") as handle:
        handle.truncate(17 * 1024 * 1024)
    assert_one_line_error(
        run("check-compat", "-k", "1.30", "--daemonset", str(path)), "is larger than 16 MiB"
    )


ARGUMENTS: list[tuple[list[str], str]] = [
    (["plan", "-k", "1.30", "--from", "1.18"], "invalid add-on version '1.18'"),
    (["plan", "-k", "1.30", "--from", "v1.18.3-eksbuild"], "expected vX.Y.Z or vX.Y.Z-eksbuild.N"),
    (
        ["plan", "-k", "1.30", "--from", "v1.18.3", "--to", "newest"],
        "invalid add-on version 'newest'",
    ),
    (["plan", "-k", "1.3o", "--from", "v1.18.3"], "invalid Kubernetes version '1.3o'"),
    (
        ["plan", "-k", "1.31", "--from", "v1.18.3"],
        "Kubernetes 1.31 is not in the vpc-cni matrix (it covers 1.23–1.30)",
    ),
    (["plan", "-k", "1.22", "--from", "v1.18.3"], "Kubernetes 1.22 is not in the vpc-cni matrix"),
    (["plan", "-k", "1.30", "--from", "v1.18.3", "--type", "helm"], "Invalid value for '--type'"),
    (["plan", "-k", "1.30", "--from", "v1.18.3", "--feature", "ipv7"], "unknown feature 'ipv7'"),
    (
        ["plan", "-k", "1.30", "--from", "v1.18.3", "-o", "junit"],
        "Invalid value for '-o' / '--output'",
    ),
    (["plan", "-k", "1.30"], "Missing option '--from'"),
    (["plan", "--from", "v1.18.3"], "Missing option '-k' / '--kubernetes-version'"),
    (["plan", "-k", "1.30", "--from", "v2.0.0"], "cannot step between major versions"),
    (
        ["plan", "--addon", "adot", "-k", "1.30", "--from", "v0.109.0-eksbuild.2"],
        "no bundled matrix for add-on 'adot'",
    ),
    (["check-compat", "-k", "1.30"], "give exactly one of --addon-version and --daemonset"),
    (
        ["check-compat", "-k", "1.30", "--addon-version", "v1.18.3", "--daemonset", "x.yaml"],
        "give exactly one of --addon-version and --daemonset",
    ),
    (
        [
            "check-compat",
            "-k",
            "1.30",
            "--addon-version",
            "v1.18.3",
            "--target-kubernetes-version",
            "1.31",
        ],
        "Kubernetes 1.31 is not in the vpc-cni matrix",
    ),
    (
        ["check-compat", "-k", "1.30", "--addon-version", "v1.18.3", "--fail-on", "info"],
        "Invalid value for '--fail-on'",
    ),
    (["matrix", "show", "-k", "2.0"], "Kubernetes 2.0 is not in the vpc-cni matrix"),
    (["matrix", "lsit"], "No such command 'lsit'"),
    (["--matrix"], "Option '--matrix' requires an argument"),
    (["plan", "-k", "1.30", "--from", "\x00"], "invalid add-on version"),
    (["plan", "-k", "1.30", "--from", "v" + "9" * 5000], "invalid add-on version"),
]


@pytest.mark.parametrize(
    ("args", "expected"), ARGUMENTS, ids=[" ".join(a)[:60] for a, _ in ARGUMENTS]
)
def test_bad_arguments(run: Run, args: list[str], expected: str) -> None:
    assert_one_line_error(run(*args), expected)


MATRIX_FILES: list[tuple[str, bytes, str]] = [
    ("empty", b"", "matrix file"),
    ("binary", b"\x89PNG\r\n\x1a\n\x00\x00", "is binary"),
    ("list", b"- 1\n- 2\n", "expected a mapping at the top level"),
    ("wrong-format", b"format_version: 2\naddon: vpc-cni\n", "format_version"),
    ("bomb", BOMB.encode(), "(a YAML bomb?)"),
    (
        "truncated",
        b'format_version: 1\naddon: vpc-cni\nkubernetes_versions:\n  "1.30": {latest: v1.18',
        "is not valid YAML",
    ),
]


@pytest.mark.parametrize(
    ("name", "content", "expected"), MATRIX_FILES, ids=[m[0] for m in MATRIX_FILES]
)
def test_bad_matrix_files(
    run: Run, tmp_path: Path, name: str, content: bytes, expected: str
) -> None:
    path = tmp_path / f"{name}.yaml"
    path.write_bytes(content)
    assert_one_line_error(run("--matrix", str(path), "matrix", "show"), expected)
    assert_one_line_error(
        run("--matrix", str(path), "check-compat", "-k", "1.30", "--addon-version", "v1.18.3"),
        expected,
    )


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    version=st.text(st.characters(blacklist_categories=["Cs"]), max_size=30),
    kubernetes=st.text(st.characters(blacklist_categories=["Cs"]), max_size=12),
)
def test_generated_flag_values_never_crash(run: Run, version: str, kubernetes: str) -> None:
    result = run("plan", "-k", kubernetes, "--from", version, "-o", "json")
    assert result.code in (0, 2)
    assert "Traceback" not in result.err
    if result.code == 2:
        assert result.err.count("\n") == 1
        assert result.out == ""


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(content=st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
def test_generated_backup_files_never_crash(
    run: Run, tmp_path_factory: pytest.TempPathFactory, content: bytes
) -> None:
    path = tmp_path_factory.mktemp("backup") / "ds.yaml"
    path.write_bytes(content)
    result = run("check-compat", "-k", "1.30", "--daemonset", str(path))
    assert result.code == 2
    assert "Traceback" not in result.err
    assert result.err.count("\n") == 1
