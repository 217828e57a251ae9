"""The node side of an add-on: what the ``aws-node`` DaemonSet says about version and settings."""
