"""eksaddon: the whole lifecycle of Amazon EKS add-ons, starting with the Amazon VPC CNI."""

__version__ = "0.1.0"
