"""Reliability suite (issue 10)."""
