"""Pod identity associations reach CreateAddon/UpdateAddon as given, and only when given."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from eksaddon.engine.install import InstallOptions, install
from eksaddon.engine.upgrade import UpgradeOptions, Upgrader
from eksaddon.errors import JournalMismatchError, UpgradeStoppedError
from eksaddon.gateways.protocols import PodIdentityAssociation
from eksaddon.matrix import Matrix
from fakes import FakeClock, FakeEks
from tests_support import Result

ROLE = "arn:aws:iam::111122223333:role/cni"
PAIRS = (PodIdentityAssociation("aws-node", ROLE),)


def upgrade(eks: FakeEks, bundled: Matrix, tmp_path: Path, **options: object) -> None:
    chosen: dict[str, object] = {"poll_interval": 5, "timeout": 60, **options}
    Upgrader(
        gateway=eks,
        matrix=bundled,
        options=UpgradeOptions(cluster="prod", addon="vpc-cni", **chosen),  # type: ignore[arg-type]
        state_directory=tmp_path / "state",
        progress=lambda event: None,
        confirm=lambda plan: True,
        clock=FakeClock(),
    ).run()


def test_install_sends_the_associations(bundled: Matrix, tmp_path: Path) -> None:
    eks = FakeEks(version=None)
    install(
        gateway=eks,
        matrix=bundled,
        options=InstallOptions(
            cluster="prod", addon="vpc-cni", poll_interval=1, pod_identity_associations=PAIRS
        ),
        state_directory=tmp_path,
        progress=lambda e: None,
        confirm=lambda what: True,
        clock=FakeClock(),
    )
    (request,) = eks.requests
    assert request.pod_identity_associations == PAIRS


def test_every_upgrade_step_sends_them(bundled: Matrix, tmp_path: Path) -> None:
    eks = FakeEks(version="v1.16.4-eksbuild.2")
    upgrade(eks, bundled, tmp_path, pod_identity_associations=PAIRS)
    assert len(eks.requests) == 2
    assert {r.pod_identity_associations for r in eks.requests} == {PAIRS}


def test_omitted_means_not_sent_so_eks_keeps_them(bundled: Matrix, tmp_path: Path) -> None:
    eks = FakeEks(version="v1.17.1-eksbuild.1")
    upgrade(eks, bundled, tmp_path)
    assert [r.pod_identity_associations for r in eks.requests] == [None]


def test_a_journal_edited_to_send_a_bad_role_is_refused(bundled: Matrix, tmp_path: Path) -> None:
    eks = FakeEks(version="v1.16.4-eksbuild.2")
    eks.fail_next_update = "Failed"
    with pytest.raises(UpgradeStoppedError):  # the failed first step stops the run (exit 4)
        upgrade(eks, bundled, tmp_path, pod_identity_associations=PAIRS)
    (path,) = (tmp_path / "state" / "journals").glob("*.json")
    document = json.loads(path.read_text())
    assert document["settings"]["pod_identity_associations"] == [
        {"service_account": "aws-node", "role_arn": ROLE}
    ]
    document["settings"]["pod_identity_associations"] = [
        {"service_account": "aws-node", "role_arn": "arn:aws:iam::111122223333:user/mallory"}
    ]
    path.write_text(json.dumps(document))
    sent = len(eks.requests)
    with pytest.raises(JournalMismatchError, match="damaged or was edited"):
        upgrade(eks, bundled, tmp_path)
    assert len(eks.requests) == sent


@pytest.mark.parametrize("command", ["install", "upgrade"])
def test_a_bad_pair_on_the_command_line_is_exit_2_before_any_call(
    run: Callable[..., Result], command: str
) -> None:
    result = run(command, "--cluster", "prod", "--pod-identity-association", "aws-node")
    assert result.code == 2
    assert "--pod-identity-association 'aws-node' is not SERVICE_ACCOUNT=ROLE_ARN" in result.err
    assert "Traceback" not in result.err
