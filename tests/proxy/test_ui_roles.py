"""Dashboard sessions and roles as plain functions (no server): the signed cookie refuses tampering,
expiry and another deployment's secret; ``roles.visible``/``roles.may`` give each role what the table in
docs/dashboard.md says; passwords are salted scrypt hashes that verify only the right password."""

from __future__ import annotations

import time

from ledgerlm.proxy.passwords import hash_password, verify_password
from ledgerlm.proxy.ui.roles import may, role_for_user, team_admin_of, visible
from ledgerlm.proxy.ui.session import Principal, SessionSigner


def test_cookie_round_trip_and_refusals() -> None:
    signer = SessionSigner("sk-master")
    principal = Principal(role="internal_user", user_id="u1", admin_teams=("t1",))
    value = signer.sign(principal)
    read = signer.read(value)
    assert read is not None and read.user_id == "u1" and read.admin_teams == ("t1",)
    body, mac = value.rsplit(".", 1)
    assert signer.read(body[:-2] + "xx." + mac) is None
    assert signer.read(value + "x") is None
    assert SessionSigner("sk-other-master").read(value) is None
    expired = signer.sign(Principal(role="proxy_admin", expires=int(time.time()) - 1))
    assert signer.read(expired) is None
    assert signer.read(None) is None and signer.read("garbage") is None


def test_roles_read_scopes() -> None:
    assert visible(Principal(role="proxy_admin")).everything
    assert visible(Principal(role="proxy_admin_viewer")).everything
    team_admin = visible(Principal(role="internal_user", user_id="u", admin_teams=("t1", "t2")))
    assert not team_admin.everything and team_admin.team_ids == {"t1", "t2"}
    assert visible(Principal(role="internal_user", user_id="u")).user_ids == {"u"}
    assert visible(Principal(role="internal_user_viewer", key_hash="h")).key_hashes == {"h"}
    nobody = visible(Principal(role="internal_user_viewer"))
    assert not nobody.everything and not nobody.key_hashes and nobody.log_conditions()


def test_roles_writes_and_admin_pages() -> None:
    admin, viewer = Principal(role="proxy_admin"), Principal(role="proxy_admin_viewer")
    team_admin = Principal(role="internal_user", user_id="u", admin_teams=("t1",))
    user = Principal(role="internal_user", user_id="u")
    user_viewer = Principal(role="internal_user_viewer", user_id="u")
    assert all(may(admin, f"write:{e}") for e in ("key", "team", "user", "end_user"))
    assert not any(may(viewer, f"write:{e}") for e in ("key", "team", "user", "end_user"))
    assert may(viewer, "read:users") and not may(user, "read:users") and may(user, "read:overview")
    assert may(team_admin, "write:key", team_id="t1") and not may(team_admin, "write:key", team_id="t2")
    assert not may(team_admin, "write:team")
    assert may(user, "write:key", user_id="u") and not may(user, "write:key", user_id="other")
    assert not may(user, "write:key", team_id="t1", user_id="u")
    assert not may(user_viewer, "write:key", user_id="u")


def test_role_sources() -> None:
    assert role_for_user("proxy_admin_viewer") == "proxy_admin_viewer"
    assert role_for_user(None) == role_for_user("something-else") == "internal_user"
    teams = [
        {"team_id": "t1", "members": [{"user_id": "u", "role": "admin"}]},
        {"team_id": "t2", "members": [{"user_id": "u", "role": "user"}, "not-a-member-object"]},
        {"team_id": "t3", "members": None},
    ]
    assert team_admin_of("u", teams) == ("t1",)


def test_password_hashes() -> None:
    stored = hash_password("correct horse")
    assert stored.startswith("scrypt$") and "correct" not in stored
    assert hash_password("correct horse") != stored  # salted
    assert verify_password("correct horse", stored)
    assert not verify_password("wrong", stored)
    assert not verify_password("correct horse", None)
    assert not verify_password("correct horse", "scrypt$1$2")


def test_dashboard_paths_list_every_dashboard_route() -> None:
    from ledgerlm.proxy.ui import DASHBOARD_PATHS, routes

    assert {route.path for route in routes()} == set(DASHBOARD_PATHS)
