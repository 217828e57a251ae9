"""The EKS stand-in's fixtures (a moto server on 127.0.0.1 with the add-on operations)."""

from standins.server import eks_server, eks_standin

__all__ = ["eks_server", "eks_standin"]
