"""Start-up: ``--help`` and every offline command must not import boto3 or kubernetes."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("boto3", "botocore", "kubernetes")

PROBE = """
import json, sys
from eksaddon.cli import main
try:
    main(sys.argv[1:])
except SystemExit as done:
    code = done.code
heavy = sorted(m for m in sys.modules if m.split(".")[0] in {heavy!r})
sys.stderr.write("\\nPROBE " + json.dumps({{"code": code, "heavy": heavy}}) + "\\n")
"""


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
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
    completed = subprocess.run(
        [sys.executable, "-c", PROBE.format(heavy=set(HEAVY)), *args],
        input=backup,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    line = next(x for x in completed.stderr.splitlines() if x.startswith("PROBE "))
    probe = json.loads(line.removeprefix("PROBE "))
    assert probe["code"] in (0, 1), completed.stderr
    assert probe["heavy"] == []
