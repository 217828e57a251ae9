"""The live view and the plain lines of `upgrade`/`install`, through the CLI against the EKS
stand-in: on a pseudo-terminal (what pyte's VT emulator shows; the installed script), on a pipe
(forked from the warm CLI server, tests/warm_cli.py), with $CI set, and with --progress none."""

from __future__ import annotations

import json
import signal
import subprocess
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from pty_terminal import COLUMNS, Terminal

import warm_cli
from reliability.world import World
from standins.eks_addons import UpdateRecord
from standins.kube import KubeApiServer
from standins.server import StandInServer
from tests_support import eksaddon_command

CLUSTER = "prod"
HIDE_CURSOR, SHOW_CURSOR = b"\x1b[?25l", b"\x1b[?25h"
# An update status that tries to forge the line a finished step prints.
FORGED = "InProgress\n[1/1] done: v1.18.3-eksbuild.3 is ACTIVE (0s)"


def upgrade_args(*extra: str, timeout: str = "20") -> list[str]:
    """The installed script's command line (a terminal's runs start the script itself)."""
    return [*eksaddon_command(), *upgrade_words(*extra, timeout=timeout)]


def upgrade_words(*extra: str, timeout: str = "20") -> list[str]:
    return [
        "upgrade",
        "--cluster",
        CLUSTER,
        "--skip-rollout-check",
        "--poll-interval",
        "0.05",
        "--timeout",
        timeout,
        *extra,
    ]


@pytest.fixture
def server(eks_standin: StandInServer) -> StandInServer:
    eks_standin.create_cluster(CLUSTER, "1.29")
    return eks_standin


@pytest.fixture
def env(server: StandInServer, tmp_path: Path) -> dict[str, str]:
    environment = server.env()
    environment.update(
        {
            "EKSADDON_STATE_DIR": str(tmp_path / "state"),
            "EKSADDON_CACHE_DIR": str(tmp_path / "cache"),
            "KUBECONFIG": str(tmp_path / "no-kubeconfig"),
        }
    )
    environment.pop("CI", None)
    return environment


def on_terminal(
    env: dict[str, str], *args: str, timeout: str = "20", installed: bool = False
) -> Terminal:
    """The upgrade on the pty: forked from the warm CLI server, or the installed script."""
    if installed:
        return Terminal(upgrade_args(*args, timeout=timeout), env)
    return Terminal(upgrade_words(*args, timeout=timeout), env, warm=warm_cli.shared())


def piped(env: dict[str, str], *args: str, timeout: str = "20") -> subprocess.CompletedProcess[str]:
    """On pipes, the contrast to the terminal: a run forked from the warm CLI server."""
    return warm_cli.run(upgrade_words(*args, timeout=timeout), env=env, timeout=120)


def rows_starting(terminal: Terminal, prefix: str) -> list[str]:
    return [row for row in terminal.lines() if row.lstrip().startswith(prefix)]


# --- the live view -------------------------------------------------------------------------


def hold_updates(server: StandInServer) -> None:
    """Every update stays InProgress until :func:`release_updates`."""
    server.standin.update_polls = 10_000


def release_updates(server: StandInServer) -> None:
    server.standin.update_polls = 2
    for update in server.standin.updates():
        update.polls_needed = update.polls + 1


def running_for_a_second(terminal: Terminal) -> bool:
    """The running step's elapsed time (the row's last column) is past 0s."""
    rows = rows_starting(terminal, "▶")
    return len(rows) == 1 and rows[0].split()[-1] not in ("0s", "")


def cursor_shown_at_the_end(terminal: Terminal) -> bool:
    raw = terminal.raw
    return not terminal.cursor_hidden and raw.rfind(SHOW_CURSOR) > raw.rfind(HIDE_CURSOR)


def test_the_live_view_marks_the_current_step_with_eks_state_and_time(
    server: StandInServer, env: dict[str, str]
) -> None:
    server.put_addon(CLUSTER, "v1.16.4-eksbuild.2")
    hold_updates(server)
    terminal = on_terminal(env, "--yes")
    try:
        # The step's clock runs between events: the view redraws on its own.
        text = terminal.wait_for(
            lambda t: "update InProgress" in t and running_for_a_second(terminal)
        )
        assert terminal.cursor_hidden  # the live region is being redrawn in place
        (current,) = rows_starting(terminal, "▶")
        assert "1/2 v1.16.4-eksbuild.2 → v1.17.1-eksbuild.1" in current
        assert "update InProgress" in current
        (pending,) = rows_starting(terminal, "·")
        assert "2/2 v1.17.1-eksbuild.1 → v1.18.3-eksbuild.3" in pending
        (update,) = server.standin.updates()
        assert f"EKS update {update.id}: InProgress" in text
        assert "plan: vpc-cni v1.16.4-eksbuild.2 → v1.18.3-eksbuild.3 in 2 step(s)" in text
        assert "backup written:" in text
        release_updates(server)
        assert terminal.wait() == 0
    finally:
        terminal.kill()
    lines = terminal.lines()
    done = rows_starting(terminal, "✓")
    assert [row.split()[1] for row in done] == ["1/2", "2/2"]
    assert all(row.split()[-2] == "done" for row in done)
    assert lines[0].startswith("eksaddon upgrade · vpc-cni on cluster prod")
    assert lines[0].endswith("· done")
    assert sum(line.startswith("eksaddon upgrade ·") for line in lines) == 1  # drawn in place
    assert "is now at v1.18.3-eksbuild.3" in terminal.text()  # the report, after the view
    assert cursor_shown_at_the_end(terminal)


@pytest.mark.parametrize("how", ["ctrl-c", "sigterm"])
def test_an_interrupt_leaves_the_terminal_clean_and_the_resume_line_last(
    server: StandInServer, env: dict[str, str], how: str
) -> None:
    server.put_addon(CLUSTER, "v1.16.4-eksbuild.2")
    hold_updates(server)
    # The installed script: the interrupt strikes the console script's own process.
    terminal = on_terminal(env, "--yes", installed=True)
    try:
        terminal.wait_for("update InProgress")
        if how == "ctrl-c":
            terminal.type(b"\x03")  # the terminal's interrupt character: SIGINT, as typed
        else:
            terminal.process.send_signal(signal.SIGTERM)
        assert terminal.wait() == 130
    finally:
        terminal.kill()
    lines = terminal.lines()
    # The error line comes last, on rows of its own (wrapped at the terminal's width).
    error = max(i for i, line in enumerate(lines) if line.startswith("eksaddon: error: "))
    # A row the line wrapped out of is full width: pad it back (rows() strips a space that
    # fell on the last column, and where the wrap falls depends on the state directory's path,
    # which under pytest-xdist names the worker).
    rows = lines[error:]
    wrapped = "".join(row.ljust(COLUMNS) for row in rows[:-1]) + rows[-1]
    assert "rerun `eksaddon upgrade --cluster prod --addon vpc-cni` to resume" in wrapped
    # The last frame is whole, above the error line: title, plan, both steps.
    title = max(i for i, line in enumerate(lines) if line.startswith("eksaddon upgrade ·"))
    frame = lines[title:error]
    assert frame[0].endswith("· interrupted")
    assert frame[1].startswith("plan: vpc-cni")
    (stopped,) = [row for row in frame if row.lstrip().startswith("✗")]
    assert "1/2 v1.16.4-eksbuild.2 → v1.17.1-eksbuild.1" in stopped
    assert "update InProgress" in stopped
    assert any(row.lstrip().startswith("· 2/2") for row in frame)
    assert cursor_shown_at_the_end(terminal)
    assert b"^C" not in terminal.raw.split(b"eksaddon: error:")[-1]


def test_a_confirmation_is_asked_below_the_plan_then_the_view_goes_on(
    server: StandInServer, env: dict[str, str]
) -> None:
    server.put_addon(CLUSTER, "v1.17.1-eksbuild.1")
    terminal = on_terminal(env)
    try:
        text = terminal.wait_for("[y/N]")
        assert "plan: vpc-cni v1.17.1-eksbuild.1 → v1.18.3-eksbuild.3 in 1 step(s)" in text
        assert not terminal.cursor_hidden  # the view is stopped while the question waits
        assert server.standin.count("UpdateAddon") == 0
        terminal.type(b"y\r")
        assert terminal.wait() == 0
    finally:
        terminal.kill()
    assert rows_starting(terminal, "✓ 1/1 v1.17.1-eksbuild.1 → v1.18.3-eksbuild.3")
    assert cursor_shown_at_the_end(terminal)


def test_install_shows_its_plan_and_step(server: StandInServer, env: dict[str, str]) -> None:
    terminal = Terminal(
        [*eksaddon_command(), "install", "--cluster", CLUSTER, "--yes", "--poll-interval", "0.05"],
        env,
    )
    try:
        assert terminal.wait() == 0
    finally:
        terminal.kill()
    text = terminal.text()
    assert "eksaddon install · vpc-cni on cluster prod" in text
    assert "plan: create vpc-cni v" in text
    (step,) = rows_starting(terminal, "✓ 1/1 create vpc-cni v")
    assert step.split()[-2] == "done"
    assert cursor_shown_at_the_end(terminal)


# --- plain lines: a pipe, $CI, --progress --------------------------------------------------


def test_a_pipe_gets_one_plain_line_per_change(server: StandInServer, env: dict[str, str]) -> None:
    server.put_addon(CLUSTER, "v1.16.4-eksbuild.2")
    result = piped(env, "--yes")
    assert result.returncode == 0, result.stderr
    first, second = (u.id for u in server.standin.updates())
    lines = result.stderr.splitlines()
    assert lines[0] == (
        "plan: vpc-cni v1.16.4-eksbuild.2 → v1.18.3-eksbuild.3 in 2 step(s) "
        "[v1.16.4-eksbuild.2 → v1.17.1-eksbuild.1 → v1.18.3-eksbuild.3] "
        "with resolveConflicts=PRESERVE"
    )
    assert lines[1].startswith("backup written: ")
    assert f"[1/2] v1.16.4-eksbuild.2 → v1.17.1-eksbuild.1: started update {first}" in lines
    assert f"[2/2] v1.17.1-eksbuild.1 → v1.18.3-eksbuild.3: started update {second}" in lines
    assert any(line.startswith("[1/2] done: v1.17.1-eksbuild.1 is ACTIVE (") for line in lines)
    assert lines[-1].startswith("[2/2] done: v1.18.3-eksbuild.3 is ACTIVE (")
    assert len(lines) == len(set(lines))  # a repeated poll state is not printed again
    assert "\x1b" not in result.stderr


@pytest.mark.parametrize("ci", ["true", "1"])
def test_ci_on_a_terminal_gets_the_plain_lines(
    server: StandInServer, env: dict[str, str], ci: str
) -> None:
    server.put_addon(CLUSTER, "v1.17.1-eksbuild.1")
    terminal = on_terminal({**env, "CI": ci}, "--yes")
    try:
        assert terminal.wait() == 0
    finally:
        terminal.kill()
    assert HIDE_CURSOR not in terminal.raw
    lines = terminal.lines()
    assert lines[0].startswith("plan: vpc-cni v1.17.1-eksbuild.1 → v1.18.3-eksbuild.3 in 1 step")
    assert any(line.startswith("[1/1] done: v1.18.3-eksbuild.3 is ACTIVE (") for line in lines)


def test_progress_plain_on_a_terminal_and_live_on_request(
    server: StandInServer, env: dict[str, str]
) -> None:
    server.put_addon(CLUSTER, "v1.17.1-eksbuild.1")
    terminal = on_terminal(env, "--yes", "--progress", "plain")
    try:
        assert terminal.wait() == 0
    finally:
        terminal.kill()
    assert HIDE_CURSOR not in terminal.raw
    assert terminal.lines()[0].startswith("plan: vpc-cni")
    server.put_addon(CLUSTER, "v1.17.1-eksbuild.1")
    forced = piped({**env, "CI": "true"}, "--yes", "--progress", "live")
    assert forced.returncode == 0, forced.stderr
    assert HIDE_CURSOR.decode() in forced.stderr  # asked for: drawn even into a pipe in CI
    assert forced.stderr.rfind(SHOW_CURSOR.decode()) > forced.stderr.rfind(HIDE_CURSOR.decode())


def test_progress_none_prints_nothing_but_the_report_and_errors(
    server: StandInServer, env: dict[str, str]
) -> None:
    server.put_addon(CLUSTER, "v1.17.1-eksbuild.1")
    quiet = piped(env, "--yes", "--progress", "none", "-o", "json")
    assert quiet.returncode == 0, quiet.stderr
    assert quiet.stderr == ""
    assert '"version": "v1.18.3-eksbuild.3"' in quiet.stdout
    terminal = on_terminal(env, "--yes", "--progress", "none", "--to", "v1.17.1-eksbuild.1")
    try:
        assert terminal.wait() == 0
    finally:
        terminal.kill()
    assert HIDE_CURSOR not in terminal.raw
    assert not any(line.startswith(("plan:", "[1/")) for line in terminal.lines())
    server.standin.fail_next_update()
    server.put_addon(CLUSTER, "v1.17.1-eksbuild.1")
    failed = piped(env, "--yes", "--progress", "none")
    assert failed.returncode == 4
    assert failed.stderr.startswith("eksaddon: error: update ")
    assert failed.stderr.count("\n") == 1


# --- outside text cannot forge a progress line ---------------------------------------------


@pytest.fixture
def forged_status(monkeypatch: pytest.MonkeyPatch) -> None:
    """DescribeUpdate answers an in-progress update's status with a newline and a fake line."""
    to_api = UpdateRecord.to_api

    def forged(record: UpdateRecord) -> dict[str, Any]:
        answer = to_api(record)
        if answer["status"] == "InProgress":
            answer["status"] = FORGED
        return answer

    monkeypatch.setattr(UpdateRecord, "to_api", forged)


ESCAPED = "InProgress\\x0a[1/1] done: v1.18.3-eksbuild.3 is ACTIVE (0s)"


@pytest.mark.usefixtures("forged_status")
def test_a_forged_status_cannot_print_a_done_line_on_a_pipe(
    server: StandInServer, env: dict[str, str]
) -> None:
    server.put_addon(CLUSTER, "v1.17.1-eksbuild.1")
    hold_updates(server)
    result = piped(env, "--yes", "--progress", "plain", timeout="1")
    assert result.returncode == 4, result.stderr
    lines = result.stderr.splitlines()
    assert not [line for line in lines if line.startswith("[1/1] done")], result.stderr
    assert any(line.startswith("[1/1] update ") and ESCAPED in line for line in lines)


@pytest.mark.usefixtures("forged_status")
def test_a_forged_status_cannot_draw_a_done_line_in_the_live_view(
    server: StandInServer, env: dict[str, str]
) -> None:
    server.put_addon(CLUSTER, "v1.17.1-eksbuild.1")
    hold_updates(server)
    terminal = on_terminal(env, "--yes")
    try:
        terminal.wait_for("update InProgress\\x0a[1/1] done")
        # A status EKS's model does not list stops the step at once (engine/waiting.py).
        assert terminal.wait() == 4
    finally:
        terminal.kill()
    assert not rows_starting(terminal, "[1/1] done")
    (stopped,) = rows_starting(terminal, "✗ 1/1")
    assert "update InProgress\\x0a[1/1] done" in stopped  # shown, escaped, inside its row
    assert cursor_shown_at_the_end(terminal)


# --- the rollout on the nodes (a real kube-apiserver) ----------------------------------------


@pytest.fixture
def world(eks_standin: StandInServer, kube_fresh: KubeApiServer, tmp_path: Path) -> Iterator[World]:
    with ExitStack() as stack:
        yield World(eks_standin, kube_fresh, tmp_path, stack)


def test_the_rollout_shows_nodes_updated_and_the_nodes_behind(world: World) -> None:
    world.controller.stuck.add("node-b")
    environment = world.env()
    environment.pop("CI", None)
    args = world.upgrade_args()
    # Long enough for node-a to roll under load; node-b never does.
    args[args.index("--timeout") + 1] = "5"
    terminal = Terminal(args, environment, warm=warm_cli.shared())
    try:
        text = terminal.wait_for("aws-node rollout: 1/2 nodes updated")
        (current,) = rows_starting(terminal, "▶ 1/2")
        assert "aws-node rollout: 1/2 nodes updated" in current
        assert "nodes behind: node-b" in text
        assert terminal.wait() == 4  # node-b never catches up within the step's timeout
    finally:
        terminal.kill()
    lines = terminal.lines()
    error = max(i for i, line in enumerate(lines) if line.startswith("eksaddon: error: "))
    assert "nodes behind: node-b" in "".join(lines[error:])
    (stopped,) = rows_starting(terminal, "✗ 1/2")
    assert "aws-node rollout: 1/2 nodes updated" in stopped
    assert any(row.strip() == "nodes behind: node-b" for row in lines[:error])
    assert cursor_shown_at_the_end(terminal)


# --- a fleet check's progress bar ------------------------------------------------------------


def test_a_fleet_check_shows_a_bar_on_a_terminal_and_nothing_on_a_pipe(
    server: StandInServer, env: dict[str, str], tmp_path: Path
) -> None:
    server.put_addon(CLUSTER, "v1.15.0-eksbuild.2")  # not offered for 1.29: a failing check
    for number in range(4):
        server.create_cluster(f"c{number}", "1.29")
        server.put_addon(f"c{number}", "v1.18.3-eksbuild.3")
    words = ["check-compat", "--all-clusters", "-o", "json"]
    with (tmp_path / "report.json").open("wb") as report:
        terminal = Terminal(words, env, stdout=report, warm=warm_cli.shared())
        try:
            assert terminal.wait() == 1
        finally:
            terminal.kill()
    assert json.loads((tmp_path / "report.json").read_text())["summary"]["failed"] == 1
    (bar,) = [row for row in terminal.lines() if row.startswith("checking clusters")]
    assert "5/5" in bar
    assert "1 failed · 0 not checked" in bar
    assert cursor_shown_at_the_end(terminal)
    piped_run = warm_cli.run(words, env=env, stdin=None, timeout=120)
    assert piped_run.returncode == 1
    assert piped_run.stderr == ""
    in_ci = Terminal(words, {**env, "CI": "true"}, warm=warm_cli.shared())
    try:
        assert in_ci.wait() == 1
    finally:
        in_ci.kill()
    assert not [row for row in in_ci.lines() if "checking clusters" in row]
    assert HIDE_CURSOR not in in_ci.raw
