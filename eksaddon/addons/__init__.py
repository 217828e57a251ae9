"""The add-on registry: look a profile up by name; the core never branches on an add-on.

Which profile (pre-commit's ``all_languages.py`` is the model):
1. an add-on with a module of its own (``PROFILE_MODULES``: node-side settings, detection) gets
   that module's profile class, built from its matrix;
2. an add-on with a matrix file (bundled ``version_matrix/<name>.yaml``, ``--matrix FILE`` or
   ``$EKSADDON_MATRIX``) gets a :class:`~eksaddon.addons.base.DataProfile` read from it;
3. any other name gets the :class:`~eksaddon.addons.generic.GenericProfile`: the live catalogue
   only, and a line saying nothing is checked on the nodes.

Modules are imported only when their add-on is asked for: offline commands stay fast to start.
"""

from __future__ import annotations

import functools
import importlib
import re
from pathlib import Path

from eksaddon.addons.base import AddonProfile, DataProfile
from eksaddon.errors import InputError
from eksaddon.matrix.loader import bundled_addons, has_matrix, load_matrix
from eksaddon.matrix.model import Matrix

# The add-on a command means when --addon is not given (eksaddon began with the VPC CNI).
DEFAULT_ADDON = "vpc-cni"

# add-on name -> "module:class" of its profile (a DataProfile subclass taking the Matrix).
PROFILE_MODULES: dict[str, str] = {
    "vpc-cni": "eksaddon.addons.vpc_cni:VpcCniProfile",
    "kube-proxy": "eksaddon.addons.kube_proxy:KubeProxyProfile",
    "coredns": "eksaddon.addons.coredns:CoreDnsProfile",
    "eks-pod-identity-agent": "eksaddon.addons.pod_identity:PodIdentityAgentProfile",
}


# EKS add-on names: lowercase letters, digits and hyphens (vpc-cni, aws-ebs-csi-driver,
# amazon-cloudwatch-observability, vendor add-ons such as solo-io_istio use '_' too).
_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,99}")


def is_addon_name(name: str) -> bool:
    """Whether ``name`` can be an EKS add-on's (it reaches file names and API requests)."""
    return _NAME.fullmatch(name) is not None


def profile_for(addon: str, override: str | Path | None = None) -> AddonProfile:
    """The profile of ``addon``; ``override`` is the ``--matrix`` option.

    A name eksaddon has no data for gets the generic profile (the live catalogue only); a name
    that cannot be an EKS add-on's is refused before any call, as it would reach file names and
    API requests.
    """
    if has_matrix(addon, override):
        return profile_of(load_matrix(addon, override))
    if not is_addon_name(addon):
        known = ", ".join(bundled_addons()) or "none"
        raise InputError(
            f"{addon[:64]!r} is not an EKS add-on name (lowercase letters, digits, '-' and '_')",
            hint=f"bundled add-ons: {known}; `aws eks describe-addon-versions` lists the others",
        )
    from eksaddon.addons.generic import GenericProfile

    return GenericProfile(addon)


def profile_of(matrix: Matrix) -> AddonProfile:
    """The profile for an already loaded matrix (its add-on's module, or the data alone)."""
    target = PROFILE_MODULES.get(matrix.addon)
    if target is None:
        return DataProfile(matrix)
    module_name, _, class_name = target.partition(":")
    profile_class = getattr(importlib.import_module(module_name), class_name)
    profile: AddonProfile = profile_class(matrix)
    return profile


@functools.cache
def default_profile() -> AddonProfile:
    """The bundled profile of :data:`DEFAULT_ADDON` (whatever --matrix says), read once per
    process and never through the matrix cache: looking a default up leaves no file behind."""
    from eksaddon.matrix.loader import load_bundled

    return profile_of(load_bundled(DEFAULT_ADDON, cached=False))


def known_addons() -> list[str]:
    """Add-ons eksaddon has data for (bundled matrices), sorted."""
    return sorted(bundled_addons())
