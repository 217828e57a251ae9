"""Stand-ins for the end-to-end tests: EKS (moto + add-on operations) and a real kube-apiserver."""

from standins.kube import kube_apiserver, kube_fresh
from standins.server import eks_server, eks_standin

__all__ = ["eks_server", "eks_standin", "kube_apiserver", "kube_fresh"]
