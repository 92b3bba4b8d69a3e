-- Alerting: at most one unresolved alert per rule (the database, not only
-- the engine, refuses a second), each notification attempt with its
-- outcome, and leases that let one engine of several evaluate.

CREATE UNIQUE INDEX triggered_alerts_one_unresolved_idx
    ON triggered_alerts (rule_id) WHERE status IN ('open', 'acknowledged');

CREATE TABLE alert_deliveries (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    alert_id     BIGINT  NOT NULL REFERENCES triggered_alerts (id) ON DELETE CASCADE,
    attempt      BIGINT  NOT NULL,
    channel      TEXT    NOT NULL,
    attempted_at BIGINT  NOT NULL,
    succeeded    INTEGER NOT NULL CHECK (succeeded IN (0, 1)),
    detail       TEXT
);

CREATE INDEX alert_deliveries_alert_idx ON alert_deliveries (alert_id);

CREATE TABLE leases (
    name       TEXT   NOT NULL PRIMARY KEY,
    holder     TEXT   NOT NULL,
    expires_at BIGINT NOT NULL
);
