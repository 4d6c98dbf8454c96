// Every constant and domain-separation string of docs/PROTOCOL.md, named as in
// the document so that a reviewer can check them line by line, and so that the
// Python package and this client can never drift apart. The last sections hold
// the few rules that are not part of the wire protocol but that the server and
// both clients apply alike. This file mirrors crypto/constants.py value by
// value; tests/test_shared_constants.py compares the two.

const ascii = (text) => new TextEncoder().encode(text);

// Section 1: sizes of primitives and identifiers.
export const ID_BYTES = 16;
export const ED25519_PUBLIC_KEY_BYTES = 32;
export const ED25519_SEED_BYTES = 32;
export const SIGNATURE_BYTES = 64;
export const X25519_KEY_BYTES = 32;
export const DH_OUTPUT_BYTES = 32;
export const AEAD_KEY_BYTES = 32;
export const AEAD_NONCE_BYTES = 24;
export const AEAD_TAG_BYTES = 16;
export const MLKEM_PUBLIC_KEY_BYTES = 1184;
export const MLKEM_CIPHERTEXT_BYTES = 1088;
export const MLKEM_SHARED_SECRET_BYTES = 32;
export const MLKEM_SEED_BYTES = 64;
export const HASH_BYTES = 32;

// Section 3: prekey supply.
export const OPK_LOW_WATER = 10;
export const OPK_BATCH = 50;
export const SPK_ROTATE_DAYS = 7;
export const PREKEY_ID_MAX = 0xffffffff;

// Section 4: PQXDH.
export const PQXDH_F = new Uint8Array(32).fill(0xff);
export const PQXDH_SALT = new Uint8Array(32);
export const AD_BYTES = 2 * ED25519_PUBLIC_KEY_BYTES;

// Section 5: Double Ratchet.
export const MAX_SKIP = 1000;
export const MAX_SKIPPED_KEYS = 2000;
export const MAX_PREVIOUS_RATCHET_KEYS = 64;
export const HEADER_BYTES = X25519_KEY_BYTES + 4 + 4;
export const MESSAGE_KEY_SALT = new Uint8Array(32);
export const CK_MESSAGE_BYTE = Uint8Array.of(0x01);
export const CK_CHAIN_BYTE = Uint8Array.of(0x02);
export const SESSION_STATE_VERSION = 1;
export const SESSION_RECORD_VERSION = 1;
export const MAX_ARCHIVED_SESSIONS = 4;

// Section 6: payload and padding.
export const PAYLOAD_VERSION = 1;
export const MAX_BODY_CHARS = 16000;
export const MAX_PLAINTEXT = 65535;
export const BUCKETS = Object.freeze([256, 1024, 4096, 16384, 65536]);
export const PAD_MARKER = 0x80;

// Section 7: envelope wire format.
export const ENVELOPE_VERSION = 1;
export const ENVELOPE_TYPE_PREKEY = 1;
export const ENVELOPE_TYPE_MESSAGE = 2;
export const PREKEY_ENVELOPE_FIXED_BYTES =
  2 + 32 + 32 + 4 + 4 + 4 + MLKEM_CIPHERTEXT_BYTES + HEADER_BYTES;
export const MESSAGE_ENVELOPE_FIXED_BYTES = 2 + HEADER_BYTES;
export const MAX_ENVELOPE =
  PREKEY_ENVELOPE_FIXED_BYTES + BUCKETS[BUCKETS.length - 1] + AEAD_TAG_BYTES;

// Section 8: safety numbers.
export const SAFETY_FINGERPRINT_VERSION = 0;
export const SAFETY_ITERATIONS = 5200;
export const SAFETY_CHUNKS = 6;
export const SAFETY_CHUNK_MODULUS = 100000;

// Section 9: account secret and keys derived from it.
export const CROCKFORD_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
export const SECRET_SYMBOLS = 24;
export const HANDLE_SYMBOLS = 8;
export const PASSPHRASE_SYMBOLS = SECRET_SYMBOLS - HANDLE_SYMBOLS;
export const SECRET_GROUP = 4;
export const ARGON2_SALT_BYTES = 16;
export const ARGON2_OPSLIMIT = 3;
export const ARGON2_MEMLIMIT = 64 * 1024 * 1024;
export const ARGON2_OUTPUT_BYTES = 32;
export const VAULT_KEY_SALT = new Uint8Array(32);
export const TOKEN_BYTES = 32;
export const TOKEN_TTL = 12 * 60 * 60;

// Section 10: the vault.
export const VAULT_BLOB_VERSION = 1;
export const MAX_VAULT_ITEM = 1024 * 1024;
export const VAULT_MIN_PADDED = 256;

// Section 11: websocket authentication.
export const SERVER_ID_BYTES = 16;
export const WS_NONCE_BYTES = 32;

// Section 15: peer-support groups.
export const GROUP_FORMAT_VERSION = 1;
export const GROUP_MESSAGE_TYPE = 3;
export const MAX_GROUP_MEMBERS = 50;
export const MAX_GROUP_MODERATORS = 2;
export const MAX_ROSTER_ENTRIES = 255;
// Roster versions stay exact in JavaScript numbers.
export const MAX_ROSTER_VERSION = Number.MAX_SAFE_INTEGER;
export const ROSTER_FLAG_INVITE_ONLY = 0x01;
export const ROSTER_FLAG_PAUSED = 0x02;
export const MEMBER_ADMITTED = 1;
export const MEMBER_MUTED = 2;
export const MEMBER_LEFT = 3;
export const MEMBER_REMOVED = 4;
export const GROUP_NAME_MAX_CHARS = 40;
export const GROUP_NAME_MAX_BYTES = 160;
export const GROUP_NAME_SALT_BYTES = 32;
export const SENDER_KEY_MAX_SKIP = 1000;
export const SENDER_KEY_MAX_SKIPPED = 2000;
export const SENDER_KEYS_PER_MEMBER = 2;
export const SENDER_KEY_MAX_ITERATION = 0xffffffff;
export const SENDER_KEY_ROTATE_SECONDS = 7 * 24 * 60 * 60;
export const GROUP_DISTRIBUTION_MAX_BYTES =
  1 +
  ID_BYTES +
  8 +
  2 * ED25519_PUBLIC_KEY_BYTES +
  4 +
  HASH_BYTES +
  GROUP_NAME_SALT_BYTES +
  (1 + GROUP_NAME_MAX_BYTES + SIGNATURE_BYTES);
export const GROUP_NOTE_MAX_CHARS = 500;
export const GROUP_STATE_VERSION = 1;
export const GROUP_HEADER_BYTES = 2 + ID_BYTES + 8 + ED25519_PUBLIC_KEY_BYTES + 4;
export const MAX_GROUP_MESSAGE =
  GROUP_HEADER_BYTES + BUCKETS[BUCKETS.length - 1] + AEAD_TAG_BYTES + SIGNATURE_BYTES;

// Section 12: domain-separation strings.
export const CTX_PQXDH_INFO = ascii("Quietline_X25519_SHA-256_ML-KEM-768");
export const CTX_ROOT_CHAIN = ascii("Quietline v1 root chain");
export const CTX_MESSAGE_KEYS = ascii("Quietline v1 message keys");
export const CTX_SIGNED_PREKEY = ascii("Quietline v1 signed prekey");
export const CTX_PQ_PREKEY = ascii("Quietline v1 pq prekey");
export const CTX_ONE_TIME_PREKEY = ascii("Quietline v1 one-time prekey");
export const CTX_PROFILE = ascii("Quietline v1 profile");
export const CTX_REGISTER = ascii("Quietline v1 register");
export const CTX_WEBSOCKET_AUTH = ascii("Quietline v1 websocket auth");
export const CTX_ARGON2_SALT = ascii("Quietline v1 argon2id salt");
export const CTX_VAULT_KEY = ascii("Quietline v1 vault key");
export const CTX_LOGIN_KEY = ascii("Quietline v1 login key");
export const CTX_VAULT_ITEM = ascii("Quietline v1 vault item");
export const CTX_GROUP_ROSTER = ascii("Quietline v1 group roster");
export const CTX_GROUP_NAME = ascii("Quietline v1 group name");
export const CTX_GROUP_SENDER_KEY = ascii("Quietline v1 group sender key");
export const CTX_GROUP_MESSAGE = ascii("Quietline v1 group message");
export const CTX_GROUP_MESSAGE_KEYS = ascii("Quietline v1 group message keys");
export const CTX_GROUP_TOMBSTONE = ascii("Quietline v1 group tombstone");
export const CTX_GROUP_LISTING = ascii("Quietline v1 group listing");

// Therapist profiles (docs/API.md, "Profiles"): the server refuses anything
// larger, and the clients check the same limits before signing.
export const MAX_PROFILE_BYTES = 16 * 1024;
export const PROFILE_TEXT_CHARS = Object.freeze({
  display_name: 80,
  pronouns: 80,
  response_time: 80,
  office_hours: 80,
  time_zone: 64,
  away_message: 500,
});
export const PROFILE_LIST_ITEMS = 20;
export const PROFILE_LIST_ITEM_CHARS = 60;

// An open group's public listing (docs/API.md, "Groups"), checked like a
// profile. Only `name` and `max_members` are required.
export const MAX_GROUP_LISTING_BYTES = 16 * 1024;
export const GROUP_LISTING_TEXT_CHARS = Object.freeze({
  name: 80,
  description: 1000,
  rules: 4000,
  rhythm: 200,
});

// The idle lock (docs/WEB_CLIENT.md): the practice's default and each
// person's own choice both lie within these bounds.
export const IDLE_LOCK_DEFAULT_MINUTES = 5;
export const IDLE_LOCK_MIN_MINUTES = 1;
export const IDLE_LOCK_MAX_MINUTES = 240;

// Compare-and-swap writes (section 10): a write refused with `vault_conflict`
// is retried after a sync at most this many times after the first attempt;
// then the conflict error reaches the caller (app/vaultstore.js).
export const VAULT_CONFLICT_RETRIES = 4;
// Before retry r (0 for the first), a pause drawn uniformly from
// [0, VAULT_CONFLICT_PAUSE_MS * 2^r) ms, so that two devices colliding on the
// same items stop colliding in lockstep (app/vaultstore.js).
export const VAULT_CONFLICT_PAUSE_MS = 50;
