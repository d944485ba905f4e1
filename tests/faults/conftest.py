"""Reliability suite fixtures: see ``tests/helpers/fixtures.py``."""

from tests.helpers.fixtures import *  # noqa: F403
