"""Pod identity associations reach CreateAddon/UpdateAddon as given, and only when given."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from eksaddon.engine.install import InstallOptions, install
from eksaddon.engine.pod_identity_status import pod_identity_status
from eksaddon.engine.status import collect_status
from eksaddon.engine.upgrade import UpgradeOptions, Upgrader
from eksaddon.errors import AccessDeniedError, JournalMismatchError, UpgradeStoppedError
from eksaddon.gateways.protocols import PodIdentityAssociation, PodIdentityConfiguration
from eksaddon.matrix import Matrix
from eksaddon.versions import AddonVersion
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


class RefusingConfiguration(FakeEks):
    def pod_identity_configuration(
        self, addon: str, version: AddonVersion
    ) -> tuple[PodIdentityConfiguration, ...]:
        raise AccessDeniedError("DescribeAddonConfiguration: AccessDeniedException")


def test_status_shows_the_associations_and_the_recommended_policies(bundled: Matrix) -> None:
    eks = FakeEks(version="v1.16.4-eksbuild.2")
    policy = PodIdentityConfiguration("aws-node", ("AmazonEKS_CNI_Policy",))
    eks.pod_identity = {"vpc-cni": (policy,)}
    report = collect_status(eks, bundled, cluster="prod", addon="vpc-cni")
    assert report.pod_identity is not None
    assert report.pod_identity.recommended == (policy,)
    assert str(report.pod_identity.build) == "v1.16.4-eksbuild.2"
    assert report.pod_identity.describe_recommended() == "aws-node: AmazonEKS_CNI_Policy"


def test_unreadable_recommendations_are_said_not_left_out(bundled: Matrix) -> None:
    eks = RefusingConfiguration(version="v1.16.4-eksbuild.2")
    status = pod_identity_status(
        eks, "vpc-cni", eks.describe_addon("prod", "vpc-cni"), offered=None
    )
    assert status.recommended is None
    assert status.describe_recommended().startswith("recommended policies unknown: ")
    assert "AccessDenied" in status.describe_recommended()


def test_the_add_ons_own_associations_are_shown(bundled: Matrix) -> None:
    eks = FakeEks(version="v1.16.4-eksbuild.2")
    state = eks.describe_addon("prod", "vpc-cni")
    assert state is not None
    owned = state._replace(
        pod_identity_associations=("arn:aws:eks:us-west-2:1:podidentityassociation/prod/a-1",)
    )
    status = pod_identity_status(eks, "vpc-cni", owned, offered=None)
    assert status.associations == owned.pod_identity_associations
