"""Gateways: the only code that talks to AWS or Kubernetes.

``protocols`` defines what the domain needs, with no SDK imports; ``aws`` (the only boto3 importer)
implements it for EKS. SDK exceptions never leave a gateway: they become :mod:`eksaddon.errors`.
"""
