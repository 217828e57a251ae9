"""Never act on the wrong facts (issue #10 §1–§3), through the real CLI on the fault matrix's cluster.

§1 a journal belongs to one cluster: a journal copied, edited or symlinked from cluster `other`
   is refused before anything is sent to `prod`; the backup written and reported is `prod`'s own.
§2 the world changing under a run: the add-on moved by someone else between steps, the cluster's
   Kubernetes version raised, a build withdrawn, an add-on in flux or being deleted at the start,
   and a second run for the same cluster and add-on on this machine.
§3 mutations never stand on a fallback: a catalogue that offers nothing, cannot be read, or does
   not offer the target stops `upgrade` and `install` before any change; `status` keeps its
   fallback and its warning.

Each case checks the exit code, the one-line message, the calls made (no UpdateAddon where none
may be sent, no step twice), the journal and the backups.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from moto.eks.models import eks_backends

from eksaddon.engine import journal as journals
from eksaddon.engine.journal import Journal, fingerprint
from reliability.test_fault_matrix import (
    FOREVER,
    LIST_PODS,
    UPDATE_ADDON,
    Run,
    eks_error,
    upgrade,
    world,
)
from reliability.world import ADDON, CLUSTER, PLAN, START, TARGET, World, one_error_line
from reliability_ledger import LEDGER
from standins.eks_addons import UpdateOutcome, error_detail
from standins.faultproxy import Rule
from standins.kube import kube_apiserver, kube_fresh
from standins.server import eks_server, eks_standin

__all__ = ["eks_server", "eks_standin", "kube_apiserver", "kube_fresh", "world"]

OTHER = "other"
DESCRIBE_VERSIONS = ("GET", r"^/addons/supported-versions")


def journal_path(world: World, cluster: str = CLUSTER) -> Path:
    return journals.journal_path(world.state, region=world.eks.region, cluster=cluster, addon=ADDON)


def update_addon_calls(world: World, cluster: str = CLUSTER) -> int:
    return world.eks_proxy.count("POST", rf"^/clusters/{cluster}/addons/{ADDON}/update")


def moto_cluster(world: World, name: str = CLUSTER):  # type: ignore[no-untyped-def]
    return eks_backends[world.eks.account_id][world.eks.region].clusters[name]


def stop_after_a_failed_step(run: Run, world: World) -> Journal:
    """A managed upgrade of prod stopped part-way: step 1's update ended Failed (exit 4)."""
    world.eks.standin.queue_update_outcome(UpdateOutcome(status="Failed", errors=[error_detail()]))
    result = upgrade(run, world)
    assert result.code == 4, result.err
    world.eks.standin.set_health(CLUSTER, [], status="ACTIVE")  # the operator fixed the add-on
    journal = world.journal()
    assert journal is not None and journal.steps[0]["state"] == journals.FAILED
    return journal


def other_clusters_journal(run: Run, world: World) -> Path:
    """Cluster `other` (same account and region, different settings and role) with an
    unfinished journal of its own: its upgrade stopped after step 1's update failed."""
    world.eks.create_cluster(OTHER, "1.29")
    world.eks.put_addon(
        OTHER,
        START,
        configuration_values='{"env":{"WARM_ENI_TARGET":"3"}}',
        service_account_role_arn="arn:aws:iam::123456789012:role/other-cni",
    )
    world.eks.standin.queue_update_outcome(UpdateOutcome(status="Failed", errors=[error_detail()]))
    args = ["upgrade", "--cluster", OTHER, "--yes", "--skip-rollout-check"]
    result = run(*args, "--poll-interval", "0.05", "--timeout", "2")
    assert result.code == 4, result.err
    path = journal_path(world, OTHER)
    assert Journal.load(path) is not None
    return path


# === §1 A journal belongs to one cluster ========================================================


def test_a_journal_copied_from_another_cluster_is_refused(run: Run, world: World) -> None:
    source = other_clusters_journal(run, world)
    target = journal_path(world)
    shutil.copyfile(source, target)
    sent_before = update_addon_calls(world)
    LEDGER.fault("journal of another cluster (copied)", "before planning")

    result = upgrade(run, world)

    assert result.code == 2, result.err
    line = one_error_line(result.err)
    assert f"belongs to cluster {OTHER} in us-west-2" in line, line
    assert f"cluster/{OTHER}" in line and f"not to cluster {CLUSTER} in us-west-2" in line, line
    assert "--discard-journal" in line and "nothing was sent" in line, line
    assert update_addon_calls(world) == sent_before == 0
    assert not list((world.state / "backups").glob(f"*_{CLUSTER}_*")), "no backup of prod yet"
    assert target.read_bytes() == source.read_bytes()  # left for the operator


def test_a_journal_edited_to_claim_the_cluster_is_refused_by_its_backup(
    run: Run, world: World
) -> None:
    """Every field rewritten to prod's identity and the seal recomputed: the backup it names is
    still other's, so it is refused — the report may only name prod's own backup."""
    source = other_clusters_journal(run, world)
    document = json.loads(source.read_text())
    arn = moto_cluster(world).arn
    document.update(cluster=CLUSTER)
    document["identity"].update(cluster=CLUSTER, arn=arn)
    document["fingerprint"] = fingerprint(document)
    target = journal_path(world)
    target.write_text(json.dumps(document))
    target.chmod(0o600)
    LEDGER.fault("journal of another cluster (edited, resealed)", "before planning")

    result = upgrade(run, world)

    assert result.code == 2, result.err
    line = one_error_line(result.err)
    assert f"is of cluster {OTHER} in us-west-2, not {CLUSTER}" in line, line
    assert update_addon_calls(world) == 0


def test_a_symlinked_journal_is_refused_and_discard_moves_the_link(run: Run, world: World) -> None:
    source = other_clusters_journal(run, world)
    original = source.read_bytes()
    target = journal_path(world)
    target.symlink_to(source)
    LEDGER.fault("journal is a symlink", "before planning")

    refused = upgrade(run, world)

    assert refused.code == 2, refused.err
    line = one_error_line(refused.err)
    assert f"refusing to use {target}: it is a symbolic link" in line, line
    assert "--discard-journal" in line
    assert update_addon_calls(world) == 0

    done = run(*world.upgrade_args(), "--discard-journal")
    assert done.code == 0, done.err
    moved = [p for p in target.parent.iterdir() if p.is_symlink()]
    assert len(moved) == 1 and moved[0] != target and os.readlink(moved[0]) == str(source)
    assert source.read_bytes() == original, "the link's target is never touched"
    assert world.successful_updates() == dict.fromkeys(PLAN, 1)
    # The backup written and reported is prod's, taken before its first change.
    (backup,) = (world.state / "backups").glob(f"us-west-2_{CLUSTER}_{ADDON}_*.json")
    content = json.loads(backup.read_text())
    assert content["cluster"] == CLUSTER and content["addon_version"] == START
    assert content["cluster_arn"] == moto_cluster(world).arn
    assert str(backup) in done.out + done.err


@pytest.mark.skipif(os.getuid() != 0, reason="needs root to give a file to another user")
def test_a_journal_owned_by_someone_else_is_refused(run: Run, world: World) -> None:
    stop_after_a_failed_step(run, world)
    path = journal_path(world)
    os.chown(path, 4242, 4242)
    LEDGER.fault("journal owned by another user", "before planning")
    sent = update_addon_calls(world)
    result = upgrade(run, world)
    assert result.code == 2, result.err
    assert "it belongs to user id 4242, not to you" in one_error_line(result.err)
    assert update_addon_calls(world) == sent


def test_a_journal_of_an_older_eksaddon_is_refused_then_discarded(run: Run, world: World) -> None:
    stop_after_a_failed_step(run, world)
    path = journal_path(world)
    document = json.loads(path.read_text())
    document["journal_version"] = 1
    document.pop("identity")
    path.write_text(json.dumps(document))
    sent = update_addon_calls(world)
    LEDGER.fault("journal without identity (version 1)", "before planning")

    refused = upgrade(run, world)
    assert refused.code == 2, refused.err
    line = one_error_line(refused.err)
    assert "written by an older eksaddon" in line and "--discard-journal" in line, line
    assert update_addon_calls(world) == sent

    done = run(*world.upgrade_args(), "--discard-journal")
    assert done.code == 0, done.err
    assert world.addon().addon_version == TARGET


# === §2 The world changing under a run ==========================================================


def test_the_add_on_changed_between_steps_stops_before_the_next_one(world: World) -> None:
    """Someone moves the add-on back while step 1's rollout is being checked: step 2 is not sent
    (EKS would accept it), the run stops with exit 4 naming both versions."""
    gate = world.kube_proxy.add(Rule(*LIST_PODS, "gate"))
    LEDGER.fault("add-on changed by someone else", "between steps")
    process = world.start()
    try:
        assert gate.arrived.wait(60), "step 1's rollout check never started"
        with world.eks.standin.lock:
            world.addon().addon_version = START  # someone else's downgrade
        gate.gate.set()
        _out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 4, err
    line = one_error_line(err)
    assert (
        f"before step 2 of 2 ({PLAN[0]} → {PLAN[1]}) {ADDON} on cluster {CLUSTER} runs {START}, "
        f"not {PLAN[0]} as the journal expects" in line
    ), line
    assert "--discard-journal` to plan afresh" in line, line
    assert world.successful_updates() == {PLAN[0]: 1}, "step 2 was never sent"
    journal = world.journal()
    assert journal is not None and journal.state == journals.STOPPED
    assert [s["state"] for s in journal.steps] == [journals.SUCCEEDED, journals.PENDING]


def test_a_cluster_upgraded_meanwhile_refuses_the_journal(run: Run, world: World) -> None:
    stop_after_a_failed_step(run, world)
    moto_cluster(world).version = "1.30"
    sent = update_addon_calls(world)
    LEDGER.fault("cluster Kubernetes version changed", "between runs")

    for _ in range(2):  # every rerun refuses; none re-sends the 1.29 plan
        refused = upgrade(run, world)
        assert refused.code == 2, refused.err
        line = one_error_line(refused.err)
        assert "was planned for Kubernetes 1.29" in line, line
        assert f"cluster {CLUSTER} now runs Kubernetes 1.30" in line, line
        assert "--discard-journal" in line
    assert update_addon_calls(world) == sent

    done = run(*world.upgrade_args(), "--discard-journal")
    assert done.code == 0, done.err
    assert world.addon().addon_version == TARGET
    fresh = world.journal()
    assert fresh is not None and fresh.identity.kubernetes_version == "1.30"


def test_a_build_withdrawn_meanwhile_is_never_re_sent(run: Run, world: World) -> None:
    stop_after_a_failed_step(run, world)
    world.eks.standin.catalogue.remove(ADDON, PLAN[0])
    sent = update_addon_calls(world)
    LEDGER.fault("build withdrawn from the catalogue", "between runs")
    result = upgrade(run, world)
    assert result.code == 2, result.err
    line = one_error_line(result.err)
    assert f"would send {PLAN[0]}, which EKS no longer offers for Kubernetes 1.29" in line, line
    assert update_addon_calls(world) == sent


def test_an_add_on_updating_at_the_start_is_waited_for_then_read_again(
    run: Run, world: World
) -> None:
    """Another actor's update to v1.17.1 is landing: the run waits, reads the add-on again and
    plans from v1.17.1 — it never re-sends the update that just landed."""
    standin = world.eks.standin
    standin.poll_operations = frozenset({"DescribeUpdate", "DescribeAddon"})
    standin.update_polls = 4
    world.eks.client().update_addon(
        clusterName=CLUSTER,
        addonName=ADDON,
        addonVersion=PLAN[0],
        configurationValues=json.dumps({"env": {"WARM_IP_TARGET": "5", "MINIMUM_IP_TARGET": "10"}}),
    )
    assert world.addon().status == "UPDATING"
    LEDGER.fault("add-on UPDATING at the start", "before planning")

    result = upgrade(run, world)

    assert result.code == 0, result.err
    assert f"{ADDON} on cluster {CLUSTER} is UPDATING: waiting up to 2s" in result.err
    assert "is ACTIVE" in result.err
    sent = [u.target_version for u in world.updates()]
    assert sent == [PLAN[0], PLAN[1]], "only the other actor's update and one step of ours"
    journal = world.journal()
    assert journal is not None and [(s["from"], s["to"]) for s in journal.steps] == [
        (PLAN[0], PLAN[1])
    ]


@pytest.mark.parametrize(
    ("status", "message"),
    [
        ("DELETING", "is DELETING; nothing was changed"),
        ("UPDATE_FAILED", "is UPDATE_FAILED"),
        ("DEGRADED", "is DEGRADED"),
    ],
)
def test_an_add_on_being_deleted_or_failed_stops_before_any_change(
    run: Run, world: World, status: str, message: str
) -> None:
    world.eks.put_addon(CLUSTER, START, status=status)
    LEDGER.fault(f"add-on {status} at the start", "before planning")
    result = upgrade(run, world)
    assert result.code == 3, result.err
    assert message in one_error_line(result.err)
    assert update_addon_calls(world) == 0
    assert world.journal() is None and world.backups() == {}


def test_an_add_on_that_stays_updating_stops_with_exit_3(run: Run, world: World) -> None:
    standin = world.eks.standin
    standin.update_polls = None  # the other actor's update never ends
    world.eks.client().update_addon(clusterName=CLUSTER, addonName=ADDON, addonVersion=PLAN[0])
    LEDGER.fault("add-on stays UPDATING", "before planning")
    result = upgrade(run, world)
    assert result.code == 3, result.err
    line = one_error_line(result.err)
    assert "is still UPDATING after 2s; nothing was changed" in line, line
    assert update_addon_calls(world) == 0
    assert world.journal() is None and world.backups() == {}


def test_a_second_run_for_the_same_add_on_refuses_at_once(run: Run, world: World) -> None:
    gate = world.eks_proxy.add(Rule(*UPDATE_ADDON, "gate"))
    first = world.start()
    try:
        assert gate.arrived.wait(60), "the first run never sent step 1"
        LEDGER.fault("second run on the same machine", "while a run is under way")
        second = upgrade(run, world)
        gate.gate.set()
        _out, err = first.communicate(timeout=60)
    finally:
        if first.poll() is None:
            first.kill()
            first.communicate()
    assert second.code == 3, second.err
    line = one_error_line(second.err)
    assert f"another eksaddon run (pid {first.pid}) is changing {ADDON} on cluster {CLUSTER}" in (
        line
    ), line
    assert first.returncode == 0, err
    assert world.successful_updates() == dict.fromkeys(PLAN, 1), "no step twice, no interleaving"


# === §3 Mutations never stand on a fallback =====================================================


def _withdraw_everything(world: World) -> None:
    for entry in world.eks.standin.catalogue.entries(ADDON):
        world.eks.standin.catalogue.remove(ADDON, entry.version)


def test_upgrade_with_no_live_build_for_the_cluster_stops_before_any_change(
    run: Run, world: World
) -> None:
    _withdraw_everything(world)
    LEDGER.fault("catalogue offers nothing", "before planning")
    result = upgrade(run, world)
    assert result.code == 2, result.err
    line = one_error_line(result.err)
    assert f"EKS offers no {ADDON} build for Kubernetes 1.29 on cluster {CLUSTER}" in line, line
    assert "never from its bundled matrix" in line
    assert update_addon_calls(world) == 0
    assert world.journal() is None and world.backups() == {}
    # status keeps its fallback to the bundled matrix, with its warning.
    status = run("status", "--cluster", CLUSTER)
    assert status.code in (0, 1), status.err
    assert "warning" in (status.out + status.err).lower()


def test_install_with_no_live_build_stops_before_any_change(run: Run, world: World) -> None:
    world.eks.create_cluster("fresh", "1.29")
    _withdraw_everything(world)
    result = run("install", "--cluster", "fresh", "--yes", "--timeout", "2")
    assert result.code == 2, result.err
    assert "EKS offers no vpc-cni build for Kubernetes 1.29 on cluster fresh" in one_error_line(
        result.err
    )
    assert world.eks.standin.count("CreateAddon") == 0
    assert not (world.state / "backups").exists() or world.backups() == {}


def test_an_unreadable_catalogue_stops_before_any_change(run: Run, world: World) -> None:
    rule = world.eks_proxy.add(
        Rule(
            *DESCRIBE_VERSIONS,
            **eks_error(403, "AccessDeniedException", "not authorized"),  # type: ignore[arg-type]
            times=FOREVER,
        )
    )
    LEDGER.fault("catalogue unreadable", "before planning")
    result = upgrade(run, world)
    assert rule.hits >= 1
    assert result.code == 3, result.err
    assert "DescribeAddonVersions" in one_error_line(result.err)
    assert update_addon_calls(world) == 0
    assert world.journal() is None and world.backups() == {}


def test_a_target_the_live_catalogue_does_not_offer_stops_before_any_change(
    run: Run, world: World
) -> None:
    world.eks.standin.catalogue.remove(ADDON, TARGET)
    LEDGER.fault("target not in the catalogue", "before planning")
    result = run(*world.upgrade_args(), "--to", TARGET)
    assert result.code == 2, result.err
    assert TARGET in one_error_line(result.err)
    assert update_addon_calls(world) == 0
    assert world.journal() is None and world.backups() == {}


# === The pipeline rule for install: 3 only while nothing changed =================================


def test_install_stopped_after_create_addon_is_exit_4(run: Run, world: World) -> None:
    """A permanent error while waiting for the created add-on used to be exit 3 ("nothing
    changed") although CreateAddon had been accepted."""
    world.eks.create_cluster("fresh", "1.29")
    rule = world.eks_proxy.add(
        Rule(
            "GET",
            r"^/clusters/fresh/addons/vpc-cni$",
            skip=1,  # the check that there is no add-on yet goes through
            times=FOREVER,
            **eks_error(403, "AccessDeniedException", "not authorized"),  # type: ignore[arg-type]
        )
    )
    LEDGER.fault("install: permanent error after CreateAddon", "after create_addon was sent")
    result = run("install", "--cluster", "fresh", "--yes", "--timeout", "2")
    assert rule.hits >= 1
    assert world.eks.standin.count("CreateAddon") == 1
    assert result.code == 4, result.err
    assert "access denied" in one_error_line(result.err)


def test_install_whose_create_addon_may_have_reached_eks_is_exit_4(run: Run, world: World) -> None:
    world.eks.create_cluster("fresh", "1.29")
    world.eks_proxy.add(
        Rule(
            "POST",
            r"^/clusters/fresh/addons$",
            times=FOREVER,
            **eks_error(503, "ServiceUnavailableException", "unavailable"),  # type: ignore[arg-type]
        )
    )
    result = run("install", "--cluster", "fresh", "--yes", "--timeout", "2")
    assert result.code == 4, result.err
    assert "CreateAddon of vpc-cni" in one_error_line(result.err)
    assert "may have reached EKS" in one_error_line(result.err)
