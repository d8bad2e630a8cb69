-- 0001_init.sql: the SDK's client state schema (state_dir/state.db).
--
-- Applied by client/keystore.c inside one BEGIN IMMEDIATE transaction (so no
-- BEGIN/COMMIT here); schema_migrations(version, applied_at) is created by
-- the runner itself. Forward-only: a later change is a new NNNN file.
--
-- This file holds secrets (identity private key, ratchet state, plaintext in
-- inbox/pending). The file is created 0600 and secure_delete is on.
-- Addresses are stored as their 32-char base32 text, which is also the
-- libsignal address name; device is always 1 in v1 but kept in the keys.

-- local_identity: this agent's identity (exactly one row once created).
CREATE TABLE local_identity (
    id              INTEGER PRIMARY KEY CHECK (id = 1),
    pub             BLOB NOT NULL CHECK (length(pub) = 33),
    priv            BLOB NOT NULL CHECK (length(priv) = 32),
    registration_id INTEGER NOT NULL
);

-- settings: small key/value state (server url, ca file, prekey counters,
-- signed prekey id, rotation time, tunables). Values are text.
CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;

-- libsignal stores (LIBSIGNAL.md section 4): records are opaque blobs.
CREATE TABLE sessions (
    name        TEXT NOT NULL,
    device      INTEGER NOT NULL,
    record      BLOB NOT NULL,
    user_record BLOB,
    PRIMARY KEY (name, device)
) WITHOUT ROWID;

CREATE TABLE prekeys (
    id     INTEGER PRIMARY KEY,
    record BLOB NOT NULL
);

-- signed_prekeys: created = unix seconds; retired = when a newer one replaced
-- it (NULL while current). Retired keys are deleted after the grace period.
CREATE TABLE signed_prekeys (
    id      INTEGER PRIMARY KEY,
    record  BLOB NOT NULL,
    created INTEGER NOT NULL,
    retired INTEGER
);

-- identities: the peer identity key seen for an address (self-certifying:
-- it must hash to the name, so it never legitimately changes).
CREATE TABLE identities (
    name       TEXT NOT NULL,
    device     INTEGER NOT NULL,
    key        BLOB NOT NULL,
    first_seen INTEGER NOT NULL,
    PRIMARY KEY (name, device)
) WITHOUT ROWID;

CREATE TABLE sender_keys (
    group_id    BLOB NOT NULL,
    name        TEXT NOT NULL,
    device      INTEGER NOT NULL,
    record      BLOB NOT NULL,
    user_record BLOB,
    PRIMARY KEY (group_id, name, device)
) WITHOUT ROWID;

-- inbox: decrypted messages until the application marks them done.
CREATE TABLE inbox (
    id          INTEGER PRIMARY KEY,
    message_id  BLOB NOT NULL UNIQUE CHECK (length(message_id) = 16),
    sender      TEXT NOT NULL,
    received_at INTEGER NOT NULL,
    body        BLOB NOT NULL
);

-- seen: every relay message id processed (stored, dropped or duplicate), so
-- a redelivery after inbox_done is still recognised. seen_hour = unix hours;
-- rows older than 60 days are pruned.
CREATE TABLE seen (
    message_id BLOB PRIMARY KEY CHECK (length(message_id) = 16),
    seen_hour  INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX seen_by_hour ON seen (seen_hour);

-- outbox: sealed envelopes waiting for upload (idempotent by message_id).
CREATE TABLE outbox (
    id         INTEGER PRIMARY KEY,
    message_id BLOB NOT NULL UNIQUE CHECK (length(message_id) = 16),
    recipient  TEXT NOT NULL,
    content    BLOB NOT NULL,
    created    INTEGER NOT NULL
);

-- pending: plaintext waiting for a session (relay unreachable at send time,
-- no session yet). Moved to the outbox by sync in one transaction.
CREATE TABLE pending (
    id         INTEGER PRIMARY KEY,
    message_id BLOB NOT NULL UNIQUE CHECK (length(message_id) = 16),
    recipient  TEXT NOT NULL,
    body       BLOB NOT NULL,
    created    INTEGER NOT NULL
);
