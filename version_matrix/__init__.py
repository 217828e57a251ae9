"""Bundled compatibility matrices, one YAML file per add-on (data only, read with importlib.resources)."""
