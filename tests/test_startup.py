"""Start-up: ``--help``, completion and every offline command must not import boto3 or
kubernetes; the shortcuts that keep them fast (a static command listing, PyYAML only when a file
is parsed, the validated-document cache) must give what the slow way gives."""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import click
import pytest

from eksaddon import __version__
from eksaddon.cli import COMMANDS, LazyGroup, cli
from eksaddon.matrix import cache, load_matrix
from eksaddon.matrix.bundled import bundled_addons, bundled_as_of
from eksaddon.matrix.loader import load_document
from eksaddon.matrix.schema import MATRIX_SCHEMA
from tests_support import Result, write_yaml

HEAVY = ("boto3", "botocore", "kubernetes")

PROBE = """
import json, sys
from eksaddon.cli import main
try:
    main(sys.argv[1:])
except SystemExit as done:
    code = done.code
heavy = sorted(m for m in sys.modules if m.split(".")[0] in {heavy!r})
yaml = "yaml" in sys.modules
sys.stderr.write("\\nPROBE " + json.dumps({{"code": code, "heavy": heavy, "yaml": yaml}}) + "\\n")
"""


def probe(args: list[str], stdin: str = "", **env: str) -> dict[str, Any]:
    completed = subprocess.run(
        [sys.executable, "-c", PROBE.format(heavy=set(HEAVY)), *args],
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        env={**os.environ, **env},
    )
    line = next(x for x in completed.stderr.splitlines() if x.startswith("PROBE "))
    found: dict[str, Any] = json.loads(line.removeprefix("PROBE "))
    return found


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["--version"],
        ["completion", "bash"],
        ["completion", "zsh"],
        ["completion", "fish"],
        ["plan", "--help"],
        ["status", "--help"],
        ["upgrade", "--help"],
        ["install", "--help"],
        ["migrate", "--help"],
        ["render", "--help"],
        ["matrix", "refresh", "--help"],
        ["matrix", "show"],
        ["matrix", "show", "-o", "json"],
        ["plan", "-k", "1.23", "--from", "v1.6.3"],
        ["check-compat", "-k", "1.29", "--addon-version", "v1.15.0-eksbuild.2"],
        ["check-compat", "-k", "1.29", "--addon-version", "v1.15.0-eksbuild.2", "-o", "junit"],
        ["check-compat", "-k", "1.29", "--daemonset", "-"],
    ],
    ids=" ".join,
)
def test_offline_commands_do_not_import_cloud_sdks(args: list[str]) -> None:
    backup = json.dumps(
        {
            "kind": "DaemonSet",
            "metadata": {"name": "aws-node"},
            "spec": {
                "template": {
                    "spec": {
                        "containers": [
                            {
                                "name": "aws-node",
                                "image": "602401143452.dkr.ecr.us-west-2.amazonaws.com/amazon-k8s-cni:v1.18.3-eksbuild.3",
                            }
                        ]
                    }
                }
            },
        }
    )
    found = probe(args, backup)
    assert found["code"] in (0, 1), found
    assert found["heavy"] == []


@pytest.mark.parametrize(
    "words",
    [
        "eksaddon ",
        "eksaddon check-compat --addon ",
        "eksaddon check-compat --addon-version ",
        "eksaddon upgrade --to ",
        "eksaddon status --addon ",
        "eksaddon install --addon-version ",
        "eksaddon matrix show -k ",
        "eksaddon check-compat --clusters ",
    ],
)
@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_does_not_import_cloud_sdks(words: str, shell: str) -> None:
    cword = "" if shell == "fish" else str(len(words.split()))
    found = probe([], _EKSADDON_COMPLETE=f"{shell}_complete", COMP_WORDS=words, COMP_CWORD=cword)
    assert found["code"] == 0
    assert found["heavy"] == []


def test_a_warm_offline_check_parses_no_yaml(tmp_path: Path) -> None:
    check = [
        "check-compat",
        "--kubernetes-version",
        "1.29",
        "--addon-version",
        "v1.15.0-eksbuild.2",
    ]
    cold = probe([*check, "-o", "json"], EKSADDON_CACHE_DIR=str(tmp_path / "cache"))
    assert (cold["code"], cold["yaml"]) == (1, True)  # parsed and validated, then cached
    for output in ("json", "table"):
        warm = probe([*check, "-o", output], EKSADDON_CACHE_DIR=str(tmp_path / "cache"))
        assert (warm["code"], warm["yaml"]) == (1, False)
    uncached = probe([*check, "-o", "json"], EKSADDON_CACHE_DIR="")
    assert (uncached["code"], uncached["yaml"]) == (1, True)


@pytest.mark.parametrize("width", [60, 80, 100, 140])
def test_the_help_listing_is_what_click_lists_from_the_commands(width: int) -> None:
    settings = {**cli.context_settings, "terminal_width": width}
    fast = cli.get_help(click.Context(cli, info_name="eksaddon", **settings))

    class Loading(LazyGroup):
        format_commands = click.Group.format_commands  # imports every command for its help

    slow_cli = Loading(
        name=cli.name, params=cli.params, help=cli.help, context_settings=cli.context_settings
    )
    slow = slow_cli.get_help(click.Context(slow_cli, info_name="eksaddon", **settings))
    assert fast == slow
    assert "Commands:" in fast and "-h, --help" in fast
    assert all(name in fast for name in COMMANDS)


def test_command_names_complete_as_clicks_group_would_offer_them() -> None:
    ctx = click.Context(cli, info_name="eksaddon", resilient_parsing=True)
    for incomplete in ("", "c", "m", "up", "zz", "-"):
        fast = [(i.value, i.help) for i in cli.shell_complete(ctx, incomplete)]
        slow = [(i.value, i.help) for i in click.Group.shell_complete(cli, ctx, incomplete)]
        assert fast == slow


def test_version_names_every_bundled_matrix(run: Any) -> None:
    result: Result = run("--version")
    assert result.code == 0
    lines = result.out.splitlines()
    assert lines[:2] == [f"eksaddon, version {__version__}", "bundled matrices:"]
    shown = {line.split()[0]: line.split("as of ", 1)[1] for line in lines[2:]}
    assert list(shown) == bundled_addons()
    for addon, as_of in shown.items():
        assert as_of == (load_matrix(addon).as_of or "unknown")


def test_the_cheap_as_of_read_agrees_with_the_loader() -> None:
    for addon, as_of in bundled_as_of():
        assert as_of == load_matrix(addon).as_of


def cache_entries(tmp_path: Path) -> list[Path]:
    return sorted((tmp_path / "cache").glob("matrix-*.json"))


def test_a_cache_entry_stands_for_exact_bytes_version_and_schema(
    tmp_path: Path, raw_matrix: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_yaml(tmp_path / "m.yaml", raw_matrix)
    expected = load_document("vpc-cni", path)
    (entry,) = cache_entries(tmp_path)
    data = path.read_bytes()
    assert cache.load(data) == expected[0]

    stored = json.loads(entry.read_text(encoding="utf-8"))
    for key, other in (
        ("eksaddon", "0.0.0-another-release"),
        ("schema", {"type": "object"}),
        ("source", stored["source"].replace("vpc-cni", "vpc-cnj", 1)),
    ):
        entry.write_text(json.dumps({**stored, key: other}), encoding="utf-8")
        assert cache.load(data) is None, key
    entry.write_text("{not json", encoding="utf-8")
    assert cache.load(data) is None
    # A miss validates again and replaces the entry; the next run hits it.
    assert load_document("vpc-cni", path) == expected
    assert cache.load(data) == expected[0]
    monkeypatch.setattr(cache, "MATRIX_SCHEMA", {**MATRIX_SCHEMA, "title": "changed"})
    assert cache.load(data) is None


COLLECTOR_PROBE = """
import gc, sys
from eksaddon.cli import main
try:
    main({argv})
except SystemExit:
    pass
sys.stderr.write("\\nTHRESHOLD %d\\n" % gc.get_threshold()[0])
"""


@pytest.mark.parametrize(("argv", "own"), [("", True), ("['--version']", False)])
def test_only_eksaddon_s_own_process_collects_its_young_objects_less_often(
    argv: str, own: bool
) -> None:
    """The console script (main() with no argv) raises the youngest generation's threshold, so
    that botocore's long-lived models are not walked over and over; a caller passing argv keeps
    its own collector settings."""
    from eksaddon.cli import YOUNG_GENERATION

    completed = subprocess.run(
        [sys.executable, "-c", COLLECTOR_PROBE.format(argv=argv), "--version"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    line = next(x for x in completed.stderr.splitlines() if x.startswith("THRESHOLD "))
    threshold = int(line.removeprefix("THRESHOLD "))
    assert threshold == (YOUNG_GENERATION if own else gc.get_threshold()[0])  # CPython's
