"""Orchestration: carry out a plan against EKS, journal every change, resume after a stop."""
