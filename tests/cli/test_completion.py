"""Shell completion, driven as the shells drive it: click's protocol against the installed script,
and (where bash, zsh or fish is installed) the scripts ``eksaddon completion SHELL`` prints, run by
the shell itself. The values come from the bundled data, so every expectation is read from there.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from eksaddon.cli import COMMANDS
from eksaddon.matrix import Matrix, load_matrix
from eksaddon.matrix.bundled import bundled_addons
from tests_support import eksaddon_command, write_yaml

SCRIPT = Path(sys.executable).with_name("eksaddon")

pytestmark = pytest.mark.skipif(
    not SCRIPT.exists(), reason="completion runs the installed console script: pip install -e ."
)


def complete(shell: str, words: str, cword: str | int, **env: str) -> list[str]:
    """What the installed eksaddon answers a ``<shell>_complete`` request with, one per line."""
    environment = {
        **os.environ,
        **env,
        "_EKSADDON_COMPLETE": f"{shell}_complete",
        "COMP_WORDS": words,
        "COMP_CWORD": str(cword),
    }
    done = subprocess.run(
        [str(SCRIPT)], env=environment, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    return [line for line in done.stdout.splitlines() if line]  # nothing to offer: one empty line


def bash_values(words: str, cword: int, **env: str) -> list[str]:
    lines = complete("bash", words, cword, **env)
    assert all(line.startswith("plain,") for line in lines), lines
    return [line.removeprefix("plain,") for line in lines]


def versions(matrix: Matrix) -> list[str]:
    return [str(b.version) for b in matrix.builds] + [str(r.version) for r in matrix.releases]


def test_command_names() -> None:
    assert bash_values("eksaddon ", 1) == list(COMMANDS)
    assert bash_values("eksaddon ch", 1) == ["check-compat"]
    assert "completion" in bash_values("eksaddon co", 1)


def test_addons_are_the_bundled_matrix_files() -> None:
    addons = bundled_addons()
    assert "vpc-cni" in addons
    for command in ("check-compat", "plan", "status", "upgrade", "install", "matrix show"):
        words = f"eksaddon {command} --addon "
        assert bash_values(words, len(words.split())) == addons
    assert bash_values("eksaddon plan --addon vp", 3) == [a for a in addons if a.startswith("vp")]


def test_versions_are_the_builds_the_matrix_knows(bundled: Matrix) -> None:
    known = versions(bundled)
    assert bash_values("eksaddon check-compat --addon-version ", 3) == known
    assert bash_values("eksaddon plan -k 1.29 --from v1.1", 5) == [
        v for v in known if v.startswith("v1.1")
    ]
    # The "v" may be left out, as the parsers allow.
    assert bash_values("eksaddon check-compat --addon-version 1.18.3", 3) == [
        v for v in known if v.startswith("v1.18.3")
    ]


def test_targets_add_latest_and_default(bundled: Matrix) -> None:
    assert bash_values("eksaddon upgrade --to ", 3) == ["latest", "default", *versions(bundled)]
    assert bash_values("eksaddon plan --to l", 3) == ["latest"]


def test_kubernetes_versions_are_those_the_matrix_covers(bundled: Matrix) -> None:
    covered = [str(k) for k in sorted(bundled.kubernetes, reverse=True)]
    assert bash_values("eksaddon check-compat -k ", 3) == covered
    assert bash_values("eksaddon plan --kubernetes-version 1.2", 3) == [
        k for k in covered if k.startswith("1.2")
    ]
    assert bash_values("eksaddon check-compat --target-kubernetes-version ", 3) == covered


def test_values_follow_the_matrix_in_use(tmp_path: Path, raw_matrix: dict[str, object]) -> None:
    kubernetes = raw_matrix["kubernetes_versions"]
    assert isinstance(kubernetes, dict)
    kubernetes["1.99"] = dict(kubernetes["1.30"])  # a version only this copy covers
    builds = raw_matrix["builds"]
    assert isinstance(builds, list)
    latest = next(b for b in builds if b["version"] == kubernetes["1.99"]["latest"])
    latest["kubernetes_versions"].append("1.99")
    pinned = write_yaml(tmp_path / "pinned.yaml", raw_matrix)
    assert "1.99" in {str(k) for k in load_matrix("vpc-cni", pinned).kubernetes}
    assert bash_values(f"eksaddon --matrix {pinned} plan -k 1.9", 5) == ["1.99"]
    assert bash_values("eksaddon plan -k 1.9", 3, EKSADDON_MATRIX=str(pinned)) == ["1.99"]
    assert bash_values("eksaddon plan -k 1.9", 3) == []


def test_an_unreadable_matrix_completes_to_nothing(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("addon: [unclosed", encoding="utf-8")
    assert bash_values(f"eksaddon --matrix {broken} plan -k ", 5) == []
    assert bash_values("eksaddon plan --addon no-such-addon -k ", 5) == []


def test_options_still_complete() -> None:
    assert bash_values("eksaddon check-compat --all", 2) == ["--all-clusters"]
    assert "--version" in bash_values("eksaddon --", 1)


def test_zsh_and_fish_protocols(bundled: Matrix) -> None:
    covered = [str(k) for k in sorted(bundled.kubernetes, reverse=True)]
    zsh = complete("zsh", "eksaddon plan -k ", 3)
    # zsh gets type, value and description, three lines per value.
    assert zsh[0::3] == ["plain"] * len(covered)
    assert zsh[1::3] == covered
    newest = max(bundled.kubernetes)
    assert zsh[2] == f"latest {bundled.kubernetes[newest].latest}"
    fish = complete("fish", "eksaddon plan --addon ", "")
    assert [line.split("\t")[0] for line in fish] == [f"plain,{a}" for a in bundled_addons()]


def script(shell: str) -> str:
    done = subprocess.run(
        [*eksaddon_command(), "completion", shell],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_completion_prints_clicks_script_for_each_shell() -> None:
    assert "complete -o nosort -F _eksaddon_completion eksaddon" in script("bash")
    assert "compdef _eksaddon_completion eksaddon" in script("zsh")
    assert "complete --no-files --command eksaddon" in script("fish")
    refused = subprocess.run(
        [*eksaddon_command(), "completion", "tcsh"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert refused.returncode == 2
    assert "'tcsh' is not one of 'bash', 'zsh', 'fish'" in refused.stderr


def shell_env() -> dict[str, str]:
    # The scripts call `eksaddon` by name, as a user's shell would find it on PATH.
    return {**os.environ, "PATH": f"{SCRIPT.parent}{os.pathsep}{os.environ.get('PATH', '')}"}


def in_shell(shell: str, code: str) -> str:
    if shutil.which(shell) is None:
        pytest.skip(f"{shell} is not installed here")
    done = subprocess.run(
        [shell, "-c", code], env=shell_env(), capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_bash_runs_the_script(bundled: Matrix) -> None:
    out = in_shell(
        "bash",
        "source <(eksaddon completion bash)\n"
        "COMP_WORDS=(eksaddon check-compat --addon-version v1.18); COMP_CWORD=3\n"
        "_eksaddon_completion eksaddon\n"
        'printf "%s\\n" "${COMPREPLY[@]}"\n'
        "complete -p eksaddon\n",
    )
    *values, registered = out.splitlines()
    assert values == [v for v in versions(bundled) if v.startswith("v1.18")]
    assert registered == "complete -o nosort -F _eksaddon_completion eksaddon"


def test_zsh_loads_the_script() -> None:
    # Completion widgets run only inside an interactive line editor; what a script can check is
    # that the function is defined and registered for eksaddon after compinit.
    out = in_shell(
        "zsh",
        "autoload -U compinit && compinit -u -D\n"
        'eval "$(eksaddon completion zsh)"\n'
        "print -r -- $_comps[eksaddon]\n"
        "whence -w _eksaddon_completion\n",
    )
    assert out.splitlines() == ["_eksaddon_completion", "_eksaddon_completion: function"]


def test_fish_completes_through_the_script(bundled: Matrix) -> None:
    out = in_shell(
        "fish",
        "eksaddon completion fish | source\n"
        "complete -C 'eksaddon plan -k '\n"
        "complete -C 'eksaddon check-compat --addon '\n",
    )
    lines = [line.split("\t")[0] for line in out.splitlines()]
    # fish sorts what it offers.
    covered = [str(k) for k in sorted(bundled.kubernetes)]
    assert lines == [*covered, *bundled_addons()]
    newest = max(bundled.kubernetes)
    assert f"{newest}\tlatest {bundled.kubernetes[newest].latest}" in out
