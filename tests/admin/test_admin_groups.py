"""The admin commands count groups (never their names or members) and purge their old items."""

import re
from typing import Any

from admin_helpers import admin, ok
from group_harness import FakeSender, new_group, register
from server_harness import make_account

from crypto.encoding import b64u_encode


def test_stats_count_groups_memberships_and_items(server_factory: Any) -> None:
    server = server_factory()
    group = new_group(server)
    private = new_group(server, None)
    accounts = [make_account(server.url) for _ in range(2)]
    group.admit(*(register(group, account) for account in accounts))
    message = FakeSender().message(group, group.version)
    reply = accounts[0].call("POST", f"{group.path}/messages", {"msg": b64u_encode(message)})
    assert reply.status == 200
    text = ok(admin(server.data_dir, "stats"))
    counts = dict(re.findall(r"^([a-z ]+): (\d+)", text, re.M))
    assert counts["groups"] == "2"
    assert "(1 private)" in text
    # Two members and the moderator of one group; the other's moderator alone.
    assert counts["group memberships"] == "4"
    # Two rosters and a message in one group, the first roster of the other.
    assert counts["stored group items"] == "4"
    assert "Evening circle" not in text and private.id_text not in text
