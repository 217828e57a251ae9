"""Bundled compatibility matrices: one YAML file per add-on, read with importlib.resources."""
