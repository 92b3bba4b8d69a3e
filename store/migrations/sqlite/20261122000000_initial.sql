-- The metadata schema for SQLite. Kept column for column in step with
-- ../postgres: the same queries run on both through sqlx's Any driver.
--
-- Types are chosen for that driver, not for SQLite alone:
-- * timestamps are unix microseconds (BIGINT), since Any has no date type;
-- * flags are INTEGER 0/1, never BOOLEAN: Any rejects a column whose
--   declared SQLite type is BOOLEAN, even on reads;
-- * JSON is TEXT.
-- AUTOINCREMENT so that ids are never reused: audit trails keep meaning.
-- Foreign keys to users have no ON DELETE action on purpose: a user who
-- owns rules or handled alerts is deactivated, not deleted.

CREATE TABLE users (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    username      TEXT    NOT NULL CONSTRAINT users_username_key UNIQUE,
    email         TEXT    NOT NULL CONSTRAINT users_email_key UNIQUE,
    full_name     TEXT,
    password_hash TEXT    NOT NULL,
    role          TEXT    NOT NULL CHECK (role IN ('user', 'admin')),
    is_active     INTEGER NOT NULL DEFAULT 1 CHECK (is_active IN (0, 1)),
    created_at    BIGINT  NOT NULL,
    updated_at    BIGINT  NOT NULL,
    last_login_at BIGINT
);

CREATE TABLE alert_rules (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    name              TEXT    NOT NULL,
    description       TEXT,
    condition         TEXT    NOT NULL,
    threshold         REAL    NOT NULL,
    window_minutes    INTEGER NOT NULL CHECK (window_minutes > 0),
    levels            TEXT    NOT NULL DEFAULT '[]',
    services          TEXT    NOT NULL DEFAULT '[]',
    query             TEXT,
    channel           TEXT    NOT NULL,
    channel_config    TEXT    NOT NULL DEFAULT '{}',
    is_active         INTEGER NOT NULL DEFAULT 1 CHECK (is_active IN (0, 1)),
    cooldown_minutes  INTEGER NOT NULL DEFAULT 0 CHECK (cooldown_minutes >= 0),
    owner_id          INTEGER REFERENCES users (id),
    created_at        BIGINT  NOT NULL,
    updated_at        BIGINT  NOT NULL,
    last_checked_at   BIGINT,
    last_triggered_at BIGINT,
    trigger_count     INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE triggered_alerts (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    rule_id         INTEGER NOT NULL REFERENCES alert_rules (id) ON DELETE CASCADE,
    triggered_at    BIGINT  NOT NULL,
    observed_value  REAL    NOT NULL,
    threshold       REAL    NOT NULL,
    window_minutes  INTEGER NOT NULL,
    status          TEXT    NOT NULL DEFAULT 'open'
                    CHECK (status IN ('open', 'acknowledged', 'resolved')),
    acknowledged_by INTEGER REFERENCES users (id),
    acknowledged_at BIGINT,
    resolved_by     INTEGER REFERENCES users (id),
    resolved_at     BIGINT
);

CREATE INDEX triggered_alerts_rule_status_idx ON triggered_alerts (rule_id, status);

CREATE TABLE system_config (
    key        TEXT   NOT NULL PRIMARY KEY,
    value      TEXT   NOT NULL,
    updated_at BIGINT NOT NULL
);
