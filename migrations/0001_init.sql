-- 0001_init.sql: the relay's initial schema.
--
-- What the relay keeps, and nothing more: public keys, sealed ciphertext,
-- random ids, SHA-256 hashes of bearer tokens and proof nonces, and times
-- rounded to the hour (store_hour() / store_hour_ceil()). There is no sender
-- column anywhere and no IP address anywhere; adding either is a privacy
-- regression that needs a design review, not a migration.
--
-- Dialect: SQLite (applied by server/store/store_sqlite.c inside one
-- BEGIN IMMEDIATE transaction, so this file must not contain BEGIN/COMMIT).
-- The queries in the backend are portable SQL; a PostgreSQL backend will
-- carry its own translation of this DDL (BLOB -> BYTEA, AUTOINCREMENT ->
-- identity columns, triggers -> plpgsql).
--
-- schema_migrations(version, applied_hour) is created by the migration
-- runner itself, not here: it must exist before any migration can be
-- recorded.

-- accounts: one row per registered identity (one device in v1).
--   address       first 20 bytes of SHA-256(domain || identity_key), unique;
--                 the relay derives it, the client never chooses it.
--   identity_key  33-byte libsignal public key (0x05 || X25519).
--   created_hour, active_hour
--                 hour precision only; active_hour drives idle expiry and
--                 only ever moves forward (store_account_touch).
--   mail_count, mail_bytes
--                 the mailbox quota counters. They are maintained by the
--                 triggers on `mail` below, so every path that inserts or
--                 deletes mail (send, ack, retention pruner) keeps them
--                 exact in the same statement, hence the same transaction.
-- AUTOINCREMENT: an id is never reused after an account is deleted, so an
-- in-memory reference (long-poll waiter, rate-limit entry) to a deleted
-- account can never point at a newer one.
CREATE TABLE accounts (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    address         BLOB    NOT NULL UNIQUE CHECK (length(address) = 20),
    identity_key    BLOB    NOT NULL CHECK (length(identity_key) = 33),
    registration_id INTEGER NOT NULL CHECK (registration_id BETWEEN 1 AND 2147483646),
    device_id       INTEGER NOT NULL CHECK (device_id >= 1),
    created_hour    INTEGER NOT NULL CHECK (created_hour % 3600 = 0),
    active_hour     INTEGER NOT NULL CHECK (active_hour % 3600 = 0),
    mail_count      INTEGER NOT NULL DEFAULT 0 CHECK (mail_count >= 0),
    mail_bytes      INTEGER NOT NULL DEFAULT 0 CHECK (mail_bytes >= 0)
);
-- idle-account expiry scans by activity
CREATE INDEX accounts_active ON accounts (active_hour);

-- signed_prekeys: the current signed prekey of each account plus the ones it
-- replaced. superseded_hour IS NULL marks the current key; at most one per
-- account (partial unique index). Superseded keys stay for a grace period so
-- a session started from a bundle fetched just before a rotation still
-- works; the pruner deletes them afterwards. A key id is never reused with
-- other bytes while its row exists (primary key).
CREATE TABLE signed_prekeys (
    account_id      INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    key_id          INTEGER NOT NULL CHECK (key_id BETWEEN 1 AND 16777215),
    public_key      BLOB    NOT NULL CHECK (length(public_key) = 33),
    signature       BLOB    NOT NULL CHECK (length(signature) = 64),
    superseded_hour INTEGER CHECK (superseded_hour IS NULL OR superseded_hour % 3600 = 0),
    PRIMARY KEY (account_id, key_id)
);
CREATE UNIQUE INDEX signed_prekeys_current ON signed_prekeys (account_id)
    WHERE superseded_hour IS NULL;
CREATE INDEX signed_prekeys_superseded ON signed_prekeys (superseded_hour)
    WHERE superseded_hour IS NOT NULL;

-- prekeys: one-time prekeys, each handed out at most once. seq is the upload
-- order; a bundle takes the lowest seq of the account (oldest first) with a
-- single DELETE ... RETURNING, so a key is gone the moment it is handed out.
-- A taken id uploaded again later is simply a new prekey: the SDK never
-- reuses ids (it keeps a counter), so that does not happen in practice.
-- No upload time is kept: it is not needed to serve or prune prekeys.
CREATE TABLE prekeys (
    seq        INTEGER PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    key_id     INTEGER NOT NULL CHECK (key_id BETWEEN 1 AND 16777215),
    public_key BLOB    NOT NULL CHECK (length(public_key) = 33),
    UNIQUE (account_id, key_id)
);
-- oldest-first take and per-account count
CREATE INDEX prekeys_account_seq ON prekeys (account_id, seq);

-- tokens: bearer tokens, stored only as SHA-256(token); the token itself is
-- shown to the client once and never kept. expires_at is hour-aligned.
CREATE TABLE tokens (
    hash       BLOB    PRIMARY KEY CHECK (length(hash) = 32),
    account_id INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    expires_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX tokens_account ON tokens (account_id);
CREATE INDEX tokens_expires ON tokens (expires_at);

-- replay: keys of proofs already used (SHA-256 over domain, address and
-- nonce, never the malleable signature), kept until the proof could no
-- longer pass the timestamp window anyway.
CREATE TABLE replay (
    key        BLOB    PRIMARY KEY CHECK (length(key) = 32),
    expires_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX replay_expires ON replay (expires_at);

-- mail: sealed envelopes waiting for their recipient. No sender: the sender
-- is inside the ciphertext, readable only by the recipient.
--   seq           storage order and the fetch cursor. AUTOINCREMENT so a
--                 seq is never reused after the newest row was acked: a
--                 client paging with `after = cursor` can never skip mail.
--   message_id    chosen by the sender (16 random bytes); with recipient_id
--                 it makes a retried send idempotent.
--   received_hour hour precision; drives the envelope TTL.
CREATE TABLE mail (
    seq           INTEGER PRIMARY KEY AUTOINCREMENT,
    recipient_id  INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    message_id    BLOB    NOT NULL CHECK (length(message_id) = 16),
    content       BLOB    NOT NULL CHECK (length(content) > 0),
    received_hour INTEGER NOT NULL CHECK (received_hour % 3600 = 0),
    UNIQUE (recipient_id, message_id)
);
CREATE INDEX mail_recipient_seq ON mail (recipient_id, seq);
CREATE INDEX mail_received ON mail (received_hour);

-- Quota counters follow the mail rows in the same statement.
CREATE TRIGGER mail_count_insert AFTER INSERT ON mail
BEGIN
    UPDATE accounts
       SET mail_count = mail_count + 1,
           mail_bytes = mail_bytes + length(NEW.content)
     WHERE id = NEW.recipient_id;
END;

CREATE TRIGGER mail_count_delete AFTER DELETE ON mail
BEGIN
    UPDATE accounts
       SET mail_count = mail_count - 1,
           mail_bytes = mail_bytes - length(OLD.content)
     WHERE id = OLD.recipient_id;
END;
