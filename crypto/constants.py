"""Every constant and domain-separation string of docs/PROTOCOL.md.

One place, named as in the document, so that a reviewer can check them against
the contract line by line and the server and the client can never drift apart.
The last sections hold the few rules that are not part of the wire protocol
but that the server and both clients must apply alike (profile limits, the
idle lock, retrying after a vault conflict); client_web/lib/constants.js
mirrors this file value by value.
"""

# Section 1: sizes of primitives and identifiers.
ID_BYTES = 16
ED25519_PUBLIC_KEY_BYTES = 32
ED25519_SEED_BYTES = 32
SIGNATURE_BYTES = 64
X25519_KEY_BYTES = 32
DH_OUTPUT_BYTES = 32
AEAD_KEY_BYTES = 32
AEAD_NONCE_BYTES = 24
AEAD_TAG_BYTES = 16
MLKEM_PUBLIC_KEY_BYTES = 1184
MLKEM_CIPHERTEXT_BYTES = 1088
MLKEM_SHARED_SECRET_BYTES = 32
MLKEM_SEED_BYTES = 64
HASH_BYTES = 32

# Section 3: prekey supply.
OPK_LOW_WATER = 10
OPK_BATCH = 50
SPK_ROTATE_DAYS = 7
PREKEY_ID_MAX = 0xFFFFFFFF

# Section 4: PQXDH.
PQXDH_F = b"\xff" * 32
PQXDH_SALT = bytes(32)
AD_BYTES = 2 * ED25519_PUBLIC_KEY_BYTES

# Section 5: Double Ratchet.
MAX_SKIP = 1000
MAX_SKIPPED_KEYS = 2000
MAX_PREVIOUS_RATCHET_KEYS = 64
HEADER_BYTES = X25519_KEY_BYTES + 4 + 4
MESSAGE_KEY_SALT = bytes(32)
CK_MESSAGE_BYTE = b"\x01"
CK_CHAIN_BYTE = b"\x02"
SESSION_STATE_VERSION = 1
SESSION_RECORD_VERSION = 1
MAX_ARCHIVED_SESSIONS = 4

# Section 6: payload and padding.
PAYLOAD_VERSION = 1
MAX_BODY_CHARS = 16000
MAX_PLAINTEXT = 65535
BUCKETS: tuple[int, ...] = (256, 1024, 4096, 16384, 65536)
PAD_MARKER = 0x80

# Section 7: envelope wire format.
ENVELOPE_VERSION = 1
ENVELOPE_TYPE_PREKEY = 1
ENVELOPE_TYPE_MESSAGE = 2
PREKEY_ENVELOPE_FIXED_BYTES = 2 + 32 + 32 + 4 + 4 + 4 + MLKEM_CIPHERTEXT_BYTES + HEADER_BYTES
MESSAGE_ENVELOPE_FIXED_BYTES = 2 + HEADER_BYTES
MAX_ENVELOPE = PREKEY_ENVELOPE_FIXED_BYTES + BUCKETS[-1] + AEAD_TAG_BYTES

# Section 8: safety numbers.
SAFETY_FINGERPRINT_VERSION = 0
SAFETY_ITERATIONS = 5200
SAFETY_CHUNKS = 6
SAFETY_CHUNK_MODULUS = 100000

# Section 9: account secret and keys derived from it.
CROCKFORD_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
SECRET_SYMBOLS = 24
HANDLE_SYMBOLS = 8
PASSPHRASE_SYMBOLS = SECRET_SYMBOLS - HANDLE_SYMBOLS
SECRET_GROUP = 4
ARGON2_SALT_BYTES = 16
ARGON2_OPSLIMIT = 3
ARGON2_MEMLIMIT = 64 * 1024 * 1024
ARGON2_OUTPUT_BYTES = 32
VAULT_KEY_SALT = bytes(32)
TOKEN_BYTES = 32
TOKEN_TTL = 12 * 60 * 60
SERVER_LOGIN_HASH_TIME_COST = 2
SERVER_LOGIN_HASH_MEMORY_KIB = 19 * 1024
SERVER_LOGIN_HASH_PARALLELISM = 1

# Section 10: the vault.
VAULT_BLOB_VERSION = 1
MAX_VAULT_ITEM = 1024 * 1024
VAULT_MIN_PADDED = 256

# Section 11: websocket authentication.
SERVER_ID_BYTES = 16
WS_NONCE_BYTES = 32
# Seconds a websocket challenge may stay unanswered; the server's
# `auth_timeout` defaults to this and may only be set lower.
WS_CHALLENGE_TTL = 30

# Section 15: peer-support groups.
GROUP_FORMAT_VERSION = 1
GROUP_MESSAGE_TYPE = 3
MAX_GROUP_MEMBERS = 50
MAX_GROUP_MODERATORS = 2
MAX_ROSTER_ENTRIES = 255
# Roster versions stay exact in JavaScript numbers.
MAX_ROSTER_VERSION = (1 << 53) - 1
ROSTER_FLAG_INVITE_ONLY = 0x01
ROSTER_FLAG_PAUSED = 0x02
MEMBER_ADMITTED = 1
MEMBER_MUTED = 2
MEMBER_LEFT = 3
MEMBER_REMOVED = 4
GROUP_NAME_MAX_CHARS = 40
GROUP_NAME_MAX_BYTES = 160
GROUP_NAME_SALT_BYTES = 32
SENDER_KEY_MAX_SKIP = 1000
SENDER_KEY_MAX_SKIPPED = 2000
SENDER_KEYS_PER_MEMBER = 2
SENDER_KEY_MAX_ITERATION = 0xFFFFFFFF
SENDER_KEY_ROTATE_SECONDS = 7 * 24 * 60 * 60
GROUP_DISTRIBUTION_MAX_BYTES = (
    1 + ID_BYTES + 8 + 2 * ED25519_PUBLIC_KEY_BYTES + 4 + HASH_BYTES + GROUP_NAME_SALT_BYTES
) + (1 + GROUP_NAME_MAX_BYTES + SIGNATURE_BYTES)
GROUP_NOTE_MAX_CHARS = 500
GROUP_STATE_VERSION = 1
GROUP_HEADER_BYTES = 2 + ID_BYTES + 8 + ED25519_PUBLIC_KEY_BYTES + 4
MAX_GROUP_MESSAGE = GROUP_HEADER_BYTES + BUCKETS[-1] + AEAD_TAG_BYTES + SIGNATURE_BYTES

# Section 12: domain-separation strings.
CTX_PQXDH_INFO = b"Quietline_X25519_SHA-256_ML-KEM-768"
CTX_ROOT_CHAIN = b"Quietline v1 root chain"
CTX_MESSAGE_KEYS = b"Quietline v1 message keys"
CTX_SIGNED_PREKEY = b"Quietline v1 signed prekey"
CTX_PQ_PREKEY = b"Quietline v1 pq prekey"
CTX_ONE_TIME_PREKEY = b"Quietline v1 one-time prekey"
CTX_PROFILE = b"Quietline v1 profile"
CTX_REGISTER = b"Quietline v1 register"
CTX_WEBSOCKET_AUTH = b"Quietline v1 websocket auth"
CTX_ARGON2_SALT = b"Quietline v1 argon2id salt"
CTX_VAULT_KEY = b"Quietline v1 vault key"
CTX_LOGIN_KEY = b"Quietline v1 login key"
CTX_VAULT_ITEM = b"Quietline v1 vault item"
CTX_GROUP_ROSTER = b"Quietline v1 group roster"
CTX_GROUP_NAME = b"Quietline v1 group name"
CTX_GROUP_SENDER_KEY = b"Quietline v1 group sender key"
CTX_GROUP_MESSAGE = b"Quietline v1 group message"
CTX_GROUP_MESSAGE_KEYS = b"Quietline v1 group message keys"
CTX_GROUP_TOMBSTONE = b"Quietline v1 group tombstone"
CTX_GROUP_LISTING = b"Quietline v1 group listing"

# Therapist profiles (docs/API.md, "Profiles"): the server refuses anything
# larger, and the clients check the same limits before signing, so that a
# profile the client accepts is never refused after it was signed.
MAX_PROFILE_BYTES = 16 * 1024
PROFILE_TEXT_CHARS: dict[str, int] = {
    "display_name": 80,
    "pronouns": 80,
    "response_time": 80,
    "office_hours": 80,
    # An IANA time zone name, for the office hours ("Europe/Berlin").
    "time_zone": 64,
    "away_message": 500,
}
PROFILE_LIST_ITEMS = 20
PROFILE_LIST_ITEM_CHARS = 60

# An open group's public listing (docs/API.md, "Groups"), checked like a
# profile: the server refuses anything else, and the clients check the same
# limits before signing. Only `name` and `max_members` are required.
MAX_GROUP_LISTING_BYTES = 16 * 1024
GROUP_LISTING_TEXT_CHARS: dict[str, int] = {
    "name": 80,
    "description": 1000,
    "rules": 4000,
    "rhythm": 200,
}

# The web client's idle lock (docs/WEB_CLIENT.md): the practice's default
# (`idle_lock_minutes`, which the server refuses outside these bounds) and
# each person's own choice both lie within them.
IDLE_LOCK_DEFAULT_MINUTES = 5
IDLE_LOCK_MIN_MINUTES = 1
IDLE_LOCK_MAX_MINUTES = 240

# Compare-and-swap writes (docs/PROTOCOL.md section 10): a write refused with
# `vault_conflict` is retried after a sync at most this many times after the
# first attempt (so at most VAULT_CONFLICT_RETRIES + 1 attempts in all); then
# the conflict error reaches the caller. Each retry follows a sync, so running
# out means devices keep racing, not that the work was lost.
VAULT_CONFLICT_RETRIES = 4
# Before retry `r` (0 for the first), a pause drawn uniformly from
# [0, VAULT_CONFLICT_PAUSE_MS * 2^r) milliseconds: two devices that keep
# colliding on the same items draw different pauses, so one of them commits
# while the other waits, instead of both syncing and colliding again in
# lockstep. At most 50 + 100 + 200 + 400 = 750 ms in all.
VAULT_CONFLICT_PAUSE_MS = 50
