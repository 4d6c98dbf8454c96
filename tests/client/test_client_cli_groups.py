"""`quietline client group ...` as real subprocesses against the real server.

The same steps as the web client's Groups screen: a therapist hosts an open
group, a client finds it with `groups`, asks to join under a name for this
group alone, is admitted from `group requests`, and both write and read; the
moderator removes a message for everyone and the client leaves. A second
therapist, named co-moderator, takes the group up, writes and pauses it,
until the host stops naming them.
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


def test_a_co_moderator_through_the_cli(server: Any, tmp_path: Path) -> None:
    invite_file = tmp_path / "invite.txt"
    profiles = {name: tmp_path / name for name in ("ana", "bo")}
    accounts = {}
    for name in profiles:
        invite_file.write_text(make_invite(server.data_dir) + "\n")
        accounts[name] = register(
            server, profiles[name], "--therapist", "--invite-file", str(invite_file)
        )

    def as_(name: str, *args: str) -> Run:
        run = quietline(
            *args, server_url=server.url, profile=profiles[name], secret=accounts[name]["secret"]
        )
        assert run.code == 0, run.stderr
        return run

    as_("ana", "profile", "set", "--display-name", "Dr. Ana Ruiz", "--accepting")
    as_("bo", "profile", "set", "--display-name", "Dr. Bo Lind", "--accepting")
    group = as_("ana", "group", "create", "--json", "--name", "Evening circle", "--as", "Ana")
    group_id = group.json()["group"]
    as_("ana", "group", "add-moderator", "--", group_id, accounts["bo"]["account"])
    assert as_("bo", "groups", "--json").json()["moderation_offers"] == [group_id]
    as_("bo", "group", "moderate", "--as", "Bo", "--", group_id)
    assert as_("bo", "groups", "--json").json()["moderation_offers"] == []
    as_("bo", "group", "send", "--", group_id, "Hello from Bo")
    seen = as_("ana", "group", "read", "--", group_id).stdout
    assert "Bo: Hello from Bo" in seen
    as_("bo", "group", "pause", "--", group_id)
    as_("ana", "group", "resume", "--", group_id)
    as_("ana", "group", "remove-moderator", "--", group_id, accounts["bo"]["account"])
    # Any group command takes in the stream first: the signed roster no longer names Bo.
    as_("bo", "group", "read", "--", group_id)
    mine = as_("bo", "groups", "--json").json()["groups"]
    assert [g["role"] for g in mine if g["group"] == group_id] == ["member"]
