"""LiteLLM management entities beyond keys, teams and users' basics (``ledgerlm.proxy.management``):
one module per entity. Authorization for every route is in ``ledgerlm.proxy.roles``."""

from __future__ import annotations

from starlette.routing import Route

__all__ = ["routes"]


def routes() -> list[Route]:
    """Every route of the entity modules."""
    from ledgerlm.proxy.entities import (
        budgets,
        end_users,
        keys,
        models_db,
        organizations,
        service,
        team_members,
        users,
    )

    out: list[Route] = []
    for module in (keys, team_members, users, end_users, organizations, budgets, models_db, service):
        out.extend(module.routes())
    return out
