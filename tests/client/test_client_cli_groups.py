"""`quietline client group ...` as real subprocesses against the real server.

The same steps as the web client's Groups screen: a therapist hosts an open
group, a client finds it with `groups`, asks to join under a name for this
group alone, is admitted from `group requests`, and both write and read; the
moderator removes a message for everyone and the client leaves.
"""

from pathlib import Path
from typing import Any

import client_harness
from client_harness import Run, make_invite


def quietline(*args: str, **options: Any) -> Run:
    return client_harness.quietline(*args, cheap_kdf=True, **options)


def register(server: Any, profile: Path, *extra: str) -> dict[str, Any]:
    run = quietline("register", "--json", *extra, server_url=server.url, profile=profile)
    assert run.code == 0, run.stderr
    return run.json()


def test_a_group_through_the_cli(server: Any, tmp_path: Path) -> None:
    t_profile, c_profile = tmp_path / "therapist", tmp_path / "client"
    invite_file = tmp_path / "invite.txt"
    invite_file.write_text(make_invite(server.data_dir) + "\n")
    therapist = register(server, t_profile, "--therapist", "--invite-file", str(invite_file))
    client = register(server, c_profile)

    def as_therapist(*args: str) -> Run:
        run = quietline(*args, server_url=server.url, profile=t_profile, secret=therapist["secret"])
        assert run.code == 0, run.stderr
        return run

    def as_client(*args: str, stdin: str | None = None) -> Run:
        run = quietline(
            *args, server_url=server.url, profile=c_profile, secret=client["secret"], stdin=stdin
        )
        assert run.code == 0, run.stderr
        return run

    as_therapist("profile", "set", "--display-name", "Dr. Ana Ruiz", "--accepting")
    created = as_therapist(
        "group", "create", "--json", "--name", "Evening circle", "--rules", "Be kind.",
        "--rhythm", "write any time", "--max-members", "12", "--as", "Ana",
    )  # fmt: skip
    group = created.json()["group"]

    listed = as_client("groups", "--json").json()
    assert [g["listing"]["name"] for g in listed["directory"] if g["group"] == group] == [
        "Evening circle"
    ]
    as_client("group", "join", "--as", "Sam", "--note", "-", "--", group, stdin="From Tuesdays")

    requests = as_therapist("group", "requests", "--json", "--", group).json()["requests"]
    assert [(r["name"], r["note"]) for r in requests] == [("Sam", "From Tuesdays")]
    as_therapist("group", "admit", "--", group, requests[0]["member_key"])

    members = as_client("group", "members", "--json", "--", group).json()["members"]
    assert sorted((m["name"], m["state"]) for m in members) == [
        ("Ana", "member"),
        ("Sam", "member"),
    ]
    as_client("group", "send", "--", group, "-", stdin="Hello, everyone\n")
    read = as_therapist("group", "read", "--json", "--", group).json()["entries"]
    said = [e for e in read if e["kind"] == "group_message"]
    assert [(e["name"], e["body"]) for e in said] == [("Sam", "Hello, everyone")]

    as_therapist("group", "send", "--", group, "Welcome, Sam")
    seen = as_client("group", "read", "--", group).stdout
    assert "Ana: Welcome, Sam" in seen and "Sam joined" in seen

    as_therapist("group", "remove-message", "--", group, said[0]["id"])
    after = as_client("group", "read", "--json", "--", group).json()["entries"]
    assert [e["body"] for e in after if e["kind"] == "group_message" and not e["removed"]] == [
        "Welcome, Sam"
    ]
    as_client("group", "leave", "--", group)
    mine = as_client("groups", "--json").json()["groups"]
    assert [g["status"] for g in mine if g["group"] == group] == ["left"]
