"""Test stand-ins: moto extended with the EKS add-on API (see eks_addons.py and server.py)."""
