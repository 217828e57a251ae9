"""A real kube-apiserver on 127.0.0.1 for the Kubernetes gateway (skips where it is not built)."""

from standins.kube import kube_apiserver, kube_fresh

__all__ = ["kube_apiserver", "kube_fresh"]
