// A stand-in for the server's groups (docs/API.md, "Groups") shared by
// several devices from fakes.mjs, for testing app/groups.js in Node: member
// key registration and bundles, envelopes routed by member key without naming
// an account, one stream per group with a cursor per account, rosters that
// decide who is routed to. Frames are queued per account and handed over
// when a test calls `deliver`, so the order of arrival is the test's choice.

import { ApiError } from "../app/api.js";
import { createGroups } from "../app/groups.js";
import {
  MEMBER_ADMITTED,
  MEMBER_MUTED,
  ROSTER_FLAG_PAUSED,
  SIGNATURE_BYTES,
} from "../lib/constants.js";
import { b64uDecode, b64uEncode } from "../lib/encoding.js";
import { decodeRoster } from "../lib/group_roster.js";

const PRESENT = [MEMBER_ADMITTED, MEMBER_MUTED];

export class GroupHub {
  constructor() {
    this.groups = new Map();
    this.keys = new Map();
    this.devices = new Map();
    this.queues = new Map();
    this.sequence = 0;
    this.updates = [];
  }

  // Gives a device of fakes.mjs a groups module talking to this hub.
  attach(device) {
    const account = device.account.account;
    this.devices.set(account, device);
    this.queues.set(account, []);
    const request = (method, path, options = {}) =>
      this.request(account, method, path, options).catch((error) => {
        if (error instanceof ApiError && error.code === "unrouted") {
          return device.server.request(method, path, options);
        }
        throw error;
      });
    const baseConn = device.conn;
    const conn = {
      ready: true,
      request: async (frame, ref) => {
        if (frame.type === "send" && (frame.to_key || frame.from_key)) return this.send(frame);
        if (frame.type === "group_send") return this.groupSend(account, frame);
        if (frame.type === "group_ack") {
          device.server.commit(frame.vault ?? []);
          this.group(frame.group).cursors.set(account, frame.id);
          return { type: "group_acked", group: frame.group, id: frame.id };
        }
        return baseConn.request(frame, ref);
      },
    };
    device.groups = createGroups({
      identity: device.account.identity,
      token: () => "token",
      request,
      vault: device.vault,
      conn,
      serial: device.serial,
      emit: () => {},
      onUpdate: (update) => this.updates.push({ account, ...update }),
    });
    return device;
  }

  group(id) {
    const group = this.groups.get(id);
    if (!group) throw new ApiError("not_found", "No such group.");
    return group;
  }

  // The moderators' accounts: those whose identity key the latest roster names.
  moderators(group) {
    const roster = decodeRoster(group.roster.slice(0, -SIGNATURE_BYTES));
    const named = new Set(roster.moderators.map((key) => b64uEncode(key)));
    return [...this.devices.values()]
      .filter((device) => named.has(b64uEncode(device.account.identity.publicKey)))
      .map((device) => device.account.account);
  }

  // The accounts the server delivers a group's stream to, from its latest roster.
  routing(group) {
    const roster = decodeRoster(group.roster.slice(0, -SIGNATURE_BYTES));
    const accounts = new Set(this.moderators(group));
    for (const entry of roster.entries) {
      const registered = this.keys.get(b64uEncode(entry.memberKey));
      if (registered && PRESENT.includes(entry.state)) accounts.add(registered.account);
    }
    return accounts;
  }

  append(group, kind, body, extra = new Set()) {
    this.sequence += 1;
    const item = { type: "group", group: group.id, id: String(this.sequence), kind, body };
    group.stream.push(item);
    for (const account of new Set([...this.routing(group), ...extra])) {
      this.queues.get(account)?.push(item);
    }
    return item.id;
  }

  async request(account, method, path, { body } = {}) {
    const parts = path.split("?")[0].split("/").slice(1);
    if (method === "GET" && path === "/api/directory") {
      return {
        therapists: [],
        groups: [...this.groups.values()]
          .filter((g) => g.listing)
          .map((g) => ({
            group: g.id,
            moderator: g.moderator,
            identity_key: b64uEncode(this.devices.get(g.moderator).account.identity.publicKey),
            listing: g.listing,
            sig: g.sig,
          })),
      };
    }
    if (method === "GET" && parts[1] === "bundle") {
      const device = this.devices.get(decodeURIComponent(parts[2]));
      if (!device) throw new ApiError("not_found", "No such account.");
      // Each one-time prekey goes to one initiator; the fake hands out none.
      return { ...device.account.bundle, one_time_prekey: null };
    }
    if (parts[1] !== "groups") throw new ApiError("unrouted", "");
    if (method === "GET" && parts.length === 2) {
      const groups = [...this.groups.values()]
        .filter((g) => this.moderators(g).includes(account))
        .map((g) => ({ group: g.id, role: "moderator" }));
      return { groups };
    }
    if (method === "POST" && parts.length === 2) {
      const roster = decodeRoster(b64uDecode(body.roster).slice(0, -SIGNATURE_BYTES));
      const id = b64uEncode(roster.groupId);
      const group = {
        id,
        moderator: account,
        roster: b64uDecode(body.roster),
        listing: body.listing ?? null,
        sig: body.sig ?? null,
        stream: [],
        cursors: new Map(),
        left: [],
      };
      this.groups.set(id, group);
      this.append(group, "roster", body.roster);
      return { group: id, version: roster.version };
    }
    const group = this.group(parts[2]);
    const rest = parts.slice(3).join("/");
    if (method === "GET" && rest === "") {
      const about = {
        group: group.id,
        moderators: this.moderators(group).map((moderator) => ({
          account: moderator,
          identity_key: b64uEncode(this.devices.get(moderator).account.identity.publicKey),
        })),
      };
      if (!this.routing(group).has(account)) return about;
      return { ...about, roster: b64uEncode(group.roster), left: group.left };
    }
    if (method === "PUT" && rest === "roster") {
      const before = this.routing(group);
      group.roster = b64uDecode(body.roster);
      // Whoever this roster ends still receives it, to see the signed change.
      this.append(group, "roster", body.roster, before);
      return {};
    }
    if (method === "PUT" && parts[3] === "keys") {
      this.keys.set(parts[4], { account, group: group.id, upload: body });
      return { one_time: 0 };
    }
    if (method === "GET" && parts[3] === "keys") {
      const registered = this.keys.get(parts[4]);
      if (!registered || registered.group !== group.id) throw new ApiError("not_found", "");
      // As the server: the member key as identity, the group id as account.
      return {
        account: group.id,
        identity_key: parts[4],
        signed_prekey: registered.upload.signed_prekey,
        pq_prekey: registered.upload.pq_prekey,
        one_time_prekey: null,
      };
    }
    if (method === "GET" && rest === "messages") {
      if (!this.routing(group).has(account)) throw new ApiError("not_a_member", "");
      const after = Number(group.cursors.get(account) ?? 0);
      return { messages: group.stream.filter((item) => Number(item.id) > after), more: false };
    }
    if (method === "POST" && rest === "tombstones") {
      return { id: this.append(group, "tombstone", body.tombstone) };
    }
    if (method === "PUT" && rest === "listing") {
      group.listing = body.listing;
      group.sig = body.sig;
      return {};
    }
    if (method === "DELETE" && rest === "membership") {
      for (const [key, registered] of this.keys) {
        if (registered.account === account && registered.group === group.id) {
          this.keys.delete(key);
          group.left.push(key);
          this.queues
            .get(group.moderator)
            .push({ type: "group_left", group: group.id, member_key: key });
        }
      }
      return {};
    }
    throw new ApiError("not_found", `${method} ${path} is not faked.`);
  }

  send(frame) {
    this.sequence += 1;
    const from = frame.from_key ? this.keys.get(frame.from_key) : null;
    const group = from?.group ?? this.keys.get(frame.to_key)?.group;
    const to = frame.to ?? this.keys.get(frame.to_key)?.account;
    if (!to) throw new ApiError("not_found", "No such member key.");
    const envelope = { type: "envelope", id: frame.cmid, group, env: frame.env };
    if (frame.from_key) envelope.from_key = frame.from_key;
    if (frame.to_key) envelope.to_key = frame.to_key;
    this.queues.get(to).push(envelope);
    return { type: "sent", cmid: frame.cmid };
  }

  groupSend(account, frame) {
    const group = this.group(frame.group);
    if (!this.routing(group).has(account)) throw new ApiError("not_a_member", "");
    const roster = decodeRoster(group.roster.slice(0, -SIGNATURE_BYTES));
    if (roster.flags & ROSTER_FLAG_PAUSED && !this.moderators(group).includes(account)) {
      throw new ApiError("group_paused", "The moderator has paused this group.");
    }
    return { type: "group_sent", cmid: frame.cmid, id: this.append(group, "message", frame.msg) };
  }

  // Hands every queued frame to its device, in order, until nothing is left.
  async deliver() {
    for (let round = 0; round < 50; round += 1) {
      let any = false;
      for (const [account, queue] of this.queues) {
        const frames = queue.splice(0);
        for (const frame of frames) {
          any = true;
          await this.devices.get(account).groups.onFrame(frame);
        }
      }
      if (!any) return;
    }
    throw new Error("Frames kept coming: a loop between devices?");
  }
}
