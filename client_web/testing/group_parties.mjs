// A small group with real keys for the tests (PROTOCOL.md section 15): a
// moderator, members with per-group keys, and rosters signed as the moderator
// would sign them. Nothing is faked; only the transport is left out.
import { MEMBER_ADMITTED } from "../lib/constants.js";
import { bytesEqual, utf8Encode } from "../lib/encoding.js";
import { compareBytes, nameCommitment, signRoster } from "../lib/group_roster.js";
import { generateIdentitySeed, identityFromSeed } from "../lib/keys.js";
import {
  acceptRoster,
  createSenderKey,
  distributionMessage,
  groupEncrypt,
  join,
  processDistribution,
  recipients,
} from "../lib/sender_key.js";
import { sodium } from "../lib/sodium.js";

export const titled = (name) => name[0].toUpperCase() + name.slice(1);

// A moderator and members with real keys; rosters signed as the moderator would.
export class Group {
  constructor(names = ["alice", "bob", "carol"]) {
    this.groupId = sodium.randombytes_buf(16);
    this.moderator = identityFromSeed(generateIdentitySeed());
    this.seeds = new Map(names.map((name) => [name, generateIdentitySeed()]));
    this.keys = new Map(
      names.map((name) => [name, identityFromSeed(this.seeds.get(name)).publicKey]),
    );
    this.salts = new Map(names.map((name) => [name, sodium.randombytes_buf(32)]));
    this.version = 0;
    this.entries = new Map();
    for (const name of names) this.set(name, MEMBER_ADMITTED);
    const first = this.sign();
    this.states = new Map(
      names.map((name) => [
        name,
        join(first, this.groupId, this.moderator.publicKey, this.seeds.get(name)),
      ]),
    );
  }

  set(name, state) {
    const key = this.keys.get(name);
    const commitment = nameCommitment(this.groupId, key, titled(name), this.salts.get(name));
    this.entries.set(name, {
      memberKey: key,
      state,
      since: this.version + 1,
      nameCommitment: commitment,
    });
  }

  sign() {
    this.version += 1;
    const entries = [...this.entries.values()].sort((a, b) =>
      compareBytes(a.memberKey, b.memberKey),
    );
    return signRoster(this.moderator.seed, {
      groupId: this.groupId,
      version: this.version,
      flags: 0,
      maxMembers: 50,
      moderators: [this.moderator.publicKey],
      entries,
    });
  }

  publish() {
    const signed = this.sign();
    for (const [name, state] of this.states) this.states.set(name, acceptRoster(state, signed));
  }

  rotate(name) {
    const state = createSenderKey(this.states.get(name), 0);
    this.states.set(name, state);
    const bytes = distributionMessage(state, titled(name), this.salts.get(name));
    for (const key of recipients(state)) {
      const other = [...this.keys].find(([, candidate]) => bytesEqual(candidate, key))[0];
      this.states.set(other, processDistribution(this.states.get(other), bytes));
    }
  }

  send(name, text) {
    const { state, message } = groupEncrypt(this.states.get(name), utf8Encode(text));
    this.states.set(name, state);
    return message;
  }
}
