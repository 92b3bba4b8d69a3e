//! The metadata database, the same stories on both backends: each story is
//! one function, run once against a SQLite file in a temp dir
//! (`sqlite::name`) and once against PostgreSQL in a schema of its own
//! (`postgres::name`). PostgreSQL must be reachable: those tests fail, never
//! skip, without it.

use chrono::{DateTime, Duration, Utc};
use logflow_core::Level;
use logflow_store::meta::{
    AlertFilter, AlertRule, AlertStatus, Channel, Condition, DbBackend, Delivery, MetaDb,
    MetaError, NewUser, Observation, Role, RuleSpec, User, UserUpdate, UserWithHash,
};
use logflow_testkit::PgSchema;
use serde_json::json;
use sqlx::AnyPool;

/// A fresh, migrated metadata database and what it takes to reach it again.
/// Dropping it removes the SQLite file or the PostgreSQL schema.
struct TestDb {
    db: MetaDb,
    url: String,
    _dir: Option<tempfile::TempDir>,
    _schema: Option<PgSchema>,
}

impl TestDb {
    async fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("meta.db").display());
        let db = MetaDb::connect(&url).await.expect("connect to SQLite");
        TestDb {
            db,
            url,
            _dir: Some(dir),
            _schema: None,
        }
    }

    async fn postgres() -> TestDb {
        let schema = PgSchema::create().await;
        let url = schema.url();
        let db = MetaDb::connect(&url)
            .await
            .unwrap_or_else(|e| panic!("connect to PostgreSQL at {}: {e}", schema.base_url));
        TestDb {
            db,
            url,
            _dir: None,
            _schema: Some(schema),
        }
    }

    /// A separate pool on the same database, for what the repositories do
    /// not offer (foreign keys, raw timestamps).
    async fn raw(&self) -> AnyPool {
        sqlx::any::install_default_drivers();
        AnyPool::connect(&self.url).await.expect("raw pool")
    }
}

/// Generates `sqlite::story` and `postgres::story` for each story below.
macro_rules! on_both_backends {
    ($($story:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $story() {
                    let test = super::TestDb::sqlite().await;
                    super::$story(&test).await;
                    test.db.close().await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $story() {
                    let test = super::TestDb::postgres().await;
                    super::$story(&test).await;
                    test.db.close().await;
                }
            )*
        }
    };
}

on_both_backends!(
    connects_and_pings,
    creates_and_finds_users,
    duplicate_username_conflicts,
    duplicate_email_conflicts,
    lists_users_in_pages,
    updates_users,
    update_conflicts_and_unknown_ids,
    counts_admins,
    records_logins,
    config_round_trips_json,
    migrations_are_idempotent,
    roles_round_trip,
    foreign_keys_hold,
    unreadable_rows_are_corrupt,
    alert_rules_round_trip,
    fires_once_while_unresolved_and_after_the_cooldown,
    acknowledge_and_resolve_record_who_and_when,
    alerts_are_filtered_and_carry_their_deliveries,
    concurrent_firing_records_one_alert,
    leases_have_one_holder,
);

fn new_user(username: &str, role: Role) -> NewUser {
    NewUser {
        username: username.to_string(),
        email: format!("{}@example.com", username.to_lowercase()),
        full_name: Some(format!("{username} Example")),
        password_hash: format!("$argon2id$hash-of-{username}"),
        role,
    }
}

async fn create(test: &TestDb, username: &str, role: Role) -> User {
    test.db
        .users()
        .create(new_user(username, role))
        .await
        .expect("create user")
}

/// A time with every microsecond digit set, to catch any rounding.
fn precise(s: &str) -> DateTime<Utc> {
    s.parse().expect("test timestamp")
}

async fn connects_and_pings(test: &TestDb) {
    let expected = if test.url.starts_with("sqlite:") {
        DbBackend::Sqlite
    } else {
        DbBackend::Postgres
    };
    assert_eq!(test.db.backend(), expected);
    assert_eq!(test.db.backend().to_string(), expected.as_str());
    test.db.ping().await.expect("ping");
}

async fn creates_and_finds_users(test: &TestDb) {
    let before = Utc::now() - Duration::seconds(1);
    let alice = create(test, "alice", Role::Admin).await;
    assert_eq!(alice.username, "alice");
    assert_eq!(alice.email, "alice@example.com");
    assert_eq!(alice.full_name.as_deref(), Some("alice Example"));
    assert_eq!(alice.role, Role::Admin);
    assert!(alice.is_active);
    assert_eq!(alice.created_at, alice.updated_at);
    assert!(alice.created_at > before && alice.created_at <= Utc::now());
    assert_eq!(alice.last_login_at, None);

    let expected = UserWithHash {
        user: alice.clone(),
        password_hash: "$argon2id$hash-of-alice".to_string(),
    };
    let users = test.db.users();
    assert_eq!(
        users.by_id(alice.id).await.expect("by id"),
        Some(expected.clone())
    );
    assert_eq!(
        users.by_username("alice").await.expect("by name"),
        Some(expected)
    );
    assert_eq!(users.by_username("Alice").await.expect("by name"), None);
    assert_eq!(users.by_username("bob").await.expect("by name"), None);
    assert_eq!(users.by_id(alice.id + 1000).await.expect("by id"), None);

    let mut bob = new_user("bob", Role::User);
    bob.full_name = None;
    let bob = users.create(bob).await.expect("create bob");
    assert!(bob.id > alice.id);
    let found = users.by_id(bob.id).await.expect("by id").expect("bob");
    assert_eq!(found.user, bob);
    assert_eq!(found.user.full_name, None);
}

/// `new_user(username)` with another email.
fn with_email(username: &str, email: &str) -> NewUser {
    NewUser {
        email: email.to_string(),
        ..new_user(username, Role::User)
    }
}

fn assert_conflict<T: std::fmt::Debug>(result: Result<T, MetaError>, field: &str) {
    match result {
        Err(MetaError::Conflict { field: got }) => assert_eq!(got, field),
        other => panic!("expected a conflict on {field}, got {other:?}"),
    }
}

fn assert_not_found<T: std::fmt::Debug>(result: Result<T, MetaError>) {
    assert!(matches!(result, Err(MetaError::NotFound)), "{result:?}");
}

async fn duplicate_username_conflicts(test: &TestDb) {
    let users = test.db.users();
    create(test, "alice", Role::User).await;
    let again = users.create(with_email("alice", "other@example.com")).await;
    assert_conflict(again, "username");

    // Usernames are case-sensitive.
    let capital = with_email("Alice", "capital@example.com");
    users.create(capital).await.expect("Alice is not alice");
    assert_eq!(users.count().await.expect("count"), 2);
}

async fn duplicate_email_conflicts(test: &TestDb) {
    let users = test.db.users();
    create(test, "alice", Role::User).await;
    let again = users
        .create(with_email("alicia", "alice@example.com"))
        .await;
    assert_conflict(again, "email");
    assert_eq!(users.count().await.expect("count"), 1);
}

async fn lists_users_in_pages(test: &TestDb) {
    let users = test.db.users();
    assert!(users.list(10, 0).await.expect("list").is_empty());
    assert_eq!(users.count().await.expect("count"), 0);
    let mut created = Vec::new();
    for name in ["erin", "carol", "alice", "dave", "bob"] {
        created.push(create(test, name, Role::User).await);
    }
    assert_eq!(users.list(2, 0).await.expect("page 1"), created[0..2]);
    assert_eq!(users.list(2, 2).await.expect("page 2"), created[2..4]);
    assert_eq!(users.list(2, 4).await.expect("page 3"), created[4..]);
    assert!(users.list(2, 6).await.expect("past the end").is_empty());
    assert_eq!(users.list(100, 0).await.expect("all"), created);
    assert_eq!(users.count().await.expect("count"), 5);
}

async fn updates_users(test: &TestDb) {
    let users = test.db.users();
    let alice = create(test, "alice", Role::User).await;
    // updated_at must visibly move, at microsecond precision.
    tokio::time::sleep(std::time::Duration::from_millis(2)).await;

    let renamed = users
        .update(
            alice.id,
            UserUpdate {
                full_name: Some(Some("Alice Liddell".to_string())),
                ..Default::default()
            },
        )
        .await
        .expect("set full name");
    assert_eq!(renamed.full_name.as_deref(), Some("Alice Liddell"));
    assert_eq!(renamed.email, alice.email);
    assert_eq!(renamed.created_at, alice.created_at);
    assert!(renamed.updated_at > alice.updated_at);

    let cleared = users
        .update(
            alice.id,
            UserUpdate {
                full_name: Some(None),
                email: Some("liddell@example.com".to_string()),
                ..Default::default()
            },
        )
        .await
        .expect("clear full name, change email");
    assert_eq!(cleared.full_name, None);
    assert_eq!(cleared.email, "liddell@example.com");

    let rehashed = users
        .update(
            alice.id,
            UserUpdate {
                password_hash: Some("$argon2id$new".to_string()),
                ..Default::default()
            },
        )
        .await
        .expect("change password");
    assert_eq!(
        rehashed.full_name, None,
        "an unset full_name stays as it is"
    );
    assert_eq!(rehashed.email, "liddell@example.com");

    let stored = users.by_id(alice.id).await.expect("by id").expect("alice");
    assert_eq!(stored.password_hash, "$argon2id$new");
    assert_eq!(stored.user, rehashed);
    assert_eq!(stored.user.username, "alice");
    assert_eq!(stored.user.role, Role::User);
}

async fn update_conflicts_and_unknown_ids(test: &TestDb) {
    let users = test.db.users();
    let alice = create(test, "alice", Role::User).await;
    let bob = create(test, "bob", Role::User).await;

    let taken = UserUpdate {
        email: Some(alice.email.clone()),
        ..Default::default()
    };
    assert_conflict(users.update(bob.id, taken).await, "email");
    let unchanged = users.by_id(bob.id).await.expect("by id").expect("bob");
    assert_eq!(unchanged.user, bob);

    assert_not_found(users.update(bob.id + 1000, UserUpdate::default()).await);
}

async fn counts_admins(test: &TestDb) {
    let users = test.db.users();
    assert_eq!(users.count_admins().await.expect("count"), 0);
    create(test, "alice", Role::Admin).await;
    create(test, "bob", Role::User).await;
    create(test, "carol", Role::Admin).await;
    assert_eq!(users.count_admins().await.expect("count"), 2);
    assert_eq!(users.count().await.expect("count"), 3);
}

async fn records_logins(test: &TestDb) {
    let users = test.db.users();
    let alice = create(test, "alice", Role::User).await;
    let at = precise("2026-11-22T10:00:00.123456Z");
    users
        .record_login(alice.id, at)
        .await
        .expect("record login");
    let stored = users.by_id(alice.id).await.expect("by id").expect("alice");
    assert_eq!(stored.user.last_login_at, Some(at));
    assert_eq!(
        stored.user.updated_at, alice.updated_at,
        "a login is not an edit"
    );

    let later = precise("2026-11-23T08:30:59.999999Z");
    users.record_login(alice.id, later).await.expect("again");
    let stored = users
        .by_username("alice")
        .await
        .expect("by name")
        .expect("alice");
    assert_eq!(stored.user.last_login_at, Some(later));

    assert_not_found(users.record_login(alice.id + 1000, at).await);
}

async fn config_round_trips_json(test: &TestDb) {
    let config = test.db.config();
    assert_eq!(config.get("retention").await.expect("get"), None);
    assert!(config.all().await.expect("all").is_empty());

    let retention = json!({"days": 30, "per_service": {"payment-service": 90}});
    config.set("retention", &retention).await.expect("set");
    assert_eq!(config.get("retention").await.expect("get"), Some(retention));

    let stamped = stamped_at(test, "retention").await;
    tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    let replaced = json!({"days": 7});
    config.set("retention", &replaced).await.expect("upsert");
    assert_eq!(
        config.get("retention").await.expect("get"),
        Some(replaced.clone())
    );
    assert!(
        stamped_at(test, "retention").await > stamped,
        "upsert stamps updated_at"
    );

    let banner = json!("Wartung heute um 18 Uhr — bitte speichern ✓");
    let limits = json!([1.5, null, true, {"nested": ["a", "\"quoted\""]}]);
    config.set("banner", &banner).await.expect("set");
    config.set("limits", &limits).await.expect("set");
    assert_eq!(
        config.all().await.expect("all"),
        vec![
            ("banner".to_string(), banner),
            ("limits".to_string(), limits),
            ("retention".to_string(), replaced),
        ]
    );
}

/// The raw `updated_at` of one setting.
async fn stamped_at(test: &TestDb, key: &str) -> i64 {
    let raw = test.raw().await;
    let stamped = sqlx::query_scalar("SELECT updated_at FROM system_config WHERE key = $1")
        .bind(key.to_string())
        .fetch_one(&raw)
        .await
        .expect("updated_at");
    raw.close().await;
    stamped
}

async fn migrations_are_idempotent(test: &TestDb) {
    let alice = create(test, "alice", Role::Admin).await;
    test.db.config().set("k", &json!(1)).await.expect("set");

    let again = MetaDb::connect(&test.url).await.expect("connect again");
    let found = again.users().by_id(alice.id).await.expect("by id");
    assert_eq!(found.map(|found| found.user), Some(alice));
    assert_eq!(again.config().get("k").await.expect("get"), Some(json!(1)));
    again.close().await;

    let raw = test.raw().await;
    let applied: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations")
        .fetch_one(&raw)
        .await
        .expect("applied migrations");
    // Each migration once, however often the database was opened.
    let files = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/sqlite"))
        .expect("migrations directory")
        .count();
    assert_eq!(applied, files as i64);
    raw.close().await;
}

async fn roles_round_trip(test: &TestDb) {
    let users = test.db.users();
    for (name, role) in [("admin1", Role::Admin), ("user1", Role::User)] {
        let created = create(test, name, role).await;
        let found = users
            .by_username(name)
            .await
            .expect("by name")
            .expect("user");
        assert_eq!(found.user.role, role);
        assert_eq!(created.role, role);
        let json = serde_json::to_value(&found.user).expect("serialize user");
        assert_eq!(json["role"], role.as_str());
        assert!(json.get("password_hash").is_none());
    }
}

async fn foreign_keys_hold(test: &TestDb) {
    let owner = create(test, "owner", Role::Admin).await;
    let raw = test.raw().await;
    let insert_rule = "INSERT INTO alert_rules \
        (name, condition, threshold, window_minutes, channel, owner_id, created_at, updated_at) \
        VALUES ('errors', 'count_above', 10.5, 5, 'console', $1, 0, 0) RETURNING id";

    let err = sqlx::query(insert_rule)
        .bind(owner.id + 1000)
        .execute(&raw)
        .await
        .expect_err("owner must exist");
    let db_err = err.as_database_error().expect("database error");
    assert!(db_err.is_foreign_key_violation(), "{err:?}");

    let rule_id: i64 = sqlx::query_scalar(insert_rule)
        .bind(owner.id)
        .fetch_one(&raw)
        .await
        .expect("rule");
    sqlx::query(
        "INSERT INTO triggered_alerts \
         (rule_id, triggered_at, observed_value, threshold, window_minutes, status, \
          acknowledged_by, acknowledged_at) \
         VALUES ($1, 0, 42.0, 10.5, 5, 'acknowledged', $2, 1)",
    )
    .bind(rule_id)
    .bind(owner.id)
    .execute(&raw)
    .await
    .expect("triggered alert");

    // A user who owns rules and handled alerts is deactivated, never deleted.
    let err = sqlx::query("DELETE FROM users WHERE id = $1")
        .bind(owner.id)
        .execute(&raw)
        .await
        .expect_err("user still referenced");
    let db_err = err.as_database_error().expect("database error");
    assert!(db_err.is_foreign_key_violation(), "{err:?}");

    // Deleting a rule takes its triggered alerts with it.
    sqlx::query("DELETE FROM alert_rules WHERE id = $1")
        .bind(rule_id)
        .execute(&raw)
        .await
        .expect("delete rule");
    let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM triggered_alerts")
        .fetch_one(&raw)
        .await
        .expect("count");
    assert_eq!(left, 0);
    raw.close().await;
}

async fn unreadable_rows_are_corrupt(test: &TestDb) {
    let alice = create(test, "alice", Role::User).await;
    let raw = test.raw().await;
    sqlx::query("UPDATE users SET created_at = $1 WHERE id = $2")
        .bind(i64::MAX)
        .bind(alice.id)
        .execute(&raw)
        .await
        .expect("damage the row");
    raw.close().await;
    let err = test
        .db
        .users()
        .by_id(alice.id)
        .await
        .expect_err("out-of-range timestamp");
    match err {
        MetaError::Corrupt { what } => assert!(what.contains("users.created_at"), "{what}"),
        other => panic!("expected Corrupt, got {other:?}"),
    }
}

/// A database that cannot be reached is a `Connect` error whose URL does not
/// show the password.
#[tokio::test]
async fn unreachable_postgres_hides_the_password() {
    let err = MetaDb::connect("postgres://app:s3cret@127.0.0.1:1/logflow")
        .await
        .expect_err("nothing listens on port 1");
    let MetaError::Connect { url, .. } = &err else {
        panic!("expected Connect, got {err:?}");
    };
    assert_eq!(url, "postgres://app:***@127.0.0.1:1/logflow");
    assert!(!err.to_string().contains("s3cret"), "{err}");
}

#[tokio::test]
async fn unsupported_scheme_is_a_connect_error() {
    let err = MetaDb::connect("mysql://root@127.0.0.1/logflow")
        .await
        .expect_err("no MySQL");
    assert!(matches!(err, MetaError::Connect { .. }), "{err:?}");
    assert!(err.to_string().contains("mysql"), "{err}");
}

/// The embedded default: a plain `sqlite://` URL in a data directory that
/// does not exist yet.
#[tokio::test]
async fn sqlite_creates_file_and_directory() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("data").join("logflow.db");
    let db = MetaDb::connect(&format!("sqlite://{}", path.display()))
        .await
        .expect("connect");
    assert!(path.is_file());
    let first = db
        .users()
        .create(new_user("first", Role::Admin))
        .await
        .expect("create");
    assert_eq!(first.id, 1);
    db.close().await;

    // Readers must not block the writer: the file is in WAL mode.
    sqlx::any::install_default_drivers();
    let raw = AnyPool::connect(&format!("sqlite://{}", path.display()))
        .await
        .expect("raw pool");
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(&raw)
        .await
        .expect("journal mode");
    assert_eq!(mode, "wal");
    raw.close().await;
}

fn spec(name: &str, cooldown_minutes: i64) -> RuleSpec {
    RuleSpec {
        name: name.to_string(),
        description: Some("errors in checkout".into()),
        condition: Condition::GreaterThan,
        threshold: 10.0,
        window_minutes: 5,
        levels: vec![Level::Error, Level::Critical],
        services: vec!["checkout".into()],
        query: Some("timeout".into()),
        channel: Channel::Webhook,
        channel_config: json!({"url": "http://hooks.example/alert", "secret": "s"}),
        is_active: true,
        cooldown_minutes,
    }
}

async fn rule(test: &TestDb, name: &str, cooldown_minutes: i64) -> (AlertRule, User) {
    let owner = create(test, &format!("owner-{name}"), Role::User).await;
    let rule = test
        .db
        .alerts()
        .create_rule(spec(name, cooldown_minutes), owner.id)
        .await
        .expect("create rule");
    (rule, owner)
}

/// Whether `rule` fires at `at` (with an observed count of 50).
async fn fires(test: &TestDb, rule: &AlertRule, at: DateTime<Utc>) -> bool {
    let fired = test.db.alerts().fire(rule, seen(at, 50.0)).await;
    fired.expect("fire").is_some()
}

fn seen(at: DateTime<Utc>, observed_value: f64) -> Observation {
    Observation { at, observed_value }
}

async fn alert_rules_round_trip(test: &TestDb) {
    let alerts = test.db.alerts();
    let (created, owner) = rule(test, "checkout-errors", 15).await;
    assert_eq!(created.spec, spec("checkout-errors", 15));
    assert_eq!(created.owner_id, Some(owner.id));
    assert_eq!(
        (created.trigger_count, created.last_triggered_at),
        (0, None)
    );
    assert_eq!(
        alerts.rule(created.id).await.unwrap(),
        Some(created.clone())
    );

    let mut quiet = spec("quiet", 0);
    quiet.is_active = false;
    quiet.levels = vec![];
    quiet.query = None;
    quiet.channel = Channel::Console;
    quiet.channel_config = json!({});
    let quiet = alerts.create_rule(quiet, owner.id).await.unwrap();
    let all: Vec<i64> = alerts
        .rules(false)
        .await
        .unwrap()
        .iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(all, [created.id, quiet.id]);
    let active: Vec<i64> = alerts
        .rules(true)
        .await
        .unwrap()
        .iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(active, [created.id]);

    let mut changed = created.spec.clone();
    changed.threshold = 2.5;
    changed.condition = Condition::LessThanOrEqual;
    let updated = alerts
        .update_rule(created.id, changed.clone())
        .await
        .unwrap();
    assert_eq!(updated.spec, changed);
    assert!(updated.updated_at >= created.updated_at);
    assert!(matches!(
        alerts.update_rule(9999, changed).await,
        Err(MetaError::NotFound)
    ));
    assert!(alerts.delete_rule(quiet.id).await.unwrap());
    assert!(!alerts.delete_rule(quiet.id).await.unwrap());
    assert_eq!(alerts.rule(quiet.id).await.unwrap(), None);
}

async fn fires_once_while_unresolved_and_after_the_cooldown(test: &TestDb) {
    let alerts = test.db.alerts();
    let (rule, owner) = rule(test, "bursts", 10).await;
    let t0 = precise("2026-11-22T10:00:00.123456Z");
    let first = alerts
        .fire(&rule, seen(t0, 42.0))
        .await
        .unwrap()
        .expect("fires");
    assert_eq!(
        (first.rule_id, first.rule_name.as_str(), first.status),
        (rule.id, "bursts", AlertStatus::Open)
    );
    assert_eq!(
        (first.observed_value, first.threshold, first.window_minutes),
        (42.0, 10.0, 5)
    );
    assert_eq!(first.triggered_at, t0);
    // Open, then acknowledged: still unresolved, no second alert.
    assert!(!fires(test, &rule, t0 + Duration::minutes(20)).await);
    alerts
        .acknowledge(first.id, owner.id, t0)
        .await
        .unwrap()
        .unwrap();
    assert!(!fires(test, &rule, t0 + Duration::minutes(20)).await);
    // Resolved, but inside the 10-minute cooldown since it fired.
    alerts
        .resolve(first.id, owner.id, t0)
        .await
        .unwrap()
        .unwrap();
    assert!(!fires(test, &rule, t0 + Duration::minutes(9)).await);
    let second = alerts
        .fire(&rule, seen(t0 + Duration::minutes(10), 51.0))
        .await
        .unwrap()
        .expect("fires again once the cooldown has passed");
    assert_ne!(second.id, first.id);
    let stats = alerts.rule(rule.id).await.unwrap().unwrap();
    assert_eq!(stats.trigger_count, 2);
    assert_eq!(stats.last_triggered_at, Some(t0 + Duration::minutes(10)));
    assert_eq!(stats.last_checked_at, Some(t0 + Duration::minutes(10)));
    alerts
        .record_check(rule.id, t0 + Duration::minutes(11))
        .await
        .unwrap();
    let checked = alerts.rule(rule.id).await.unwrap().unwrap();
    assert_eq!(checked.last_checked_at, Some(t0 + Duration::minutes(11)));
    assert_eq!(checked.last_triggered_at, Some(t0 + Duration::minutes(10)));
}

async fn acknowledge_and_resolve_record_who_and_when(test: &TestDb) {
    let alerts = test.db.alerts();
    let (rule, owner) = rule(test, "ack", 0).await;
    let admin = create(test, "boss", Role::Admin).await;
    let t0 = precise("2026-11-22T10:00:00.123456Z");
    let alert = alerts.fire(&rule, seen(t0, 11.0)).await.unwrap().unwrap();
    let acked = alerts
        .acknowledge(alert.id, owner.id, t0 + Duration::seconds(5))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(acked.status, AlertStatus::Acknowledged);
    assert_eq!(
        (acked.acknowledged_by, acked.acknowledged_at),
        (Some(owner.id), Some(t0 + Duration::seconds(5)))
    );
    assert!(alerts
        .acknowledge(alert.id, owner.id, t0)
        .await
        .unwrap()
        .is_none());
    let resolved = alerts
        .resolve(alert.id, admin.id, t0 + Duration::seconds(9))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(resolved.status, AlertStatus::Resolved);
    assert_eq!(
        (resolved.resolved_by, resolved.resolved_at),
        (Some(admin.id), Some(t0 + Duration::seconds(9)))
    );
    assert_eq!(resolved.acknowledged_by, Some(owner.id), "kept");
    assert!(alerts
        .resolve(alert.id, admin.id, t0)
        .await
        .unwrap()
        .is_none());
    assert!(alerts
        .acknowledge(alert.id, admin.id, t0)
        .await
        .unwrap()
        .is_none());
    assert!(alerts.resolve(9999, admin.id, t0).await.unwrap().is_none());
    // Resolving reopens the rule (no cooldown here).
    assert!(alerts.fire(&rule, seen(t0, 12.0)).await.unwrap().is_some());
}

async fn alerts_are_filtered_and_carry_their_deliveries(test: &TestDb) {
    let alerts = test.db.alerts();
    let (a, owner) = rule(test, "a", 0).await;
    let (b, _) = rule(test, "b", 0).await;
    let t0 = precise("2026-11-22T10:00:00.123456Z");
    let a1 = alerts.fire(&a, seen(t0, 1.0)).await.unwrap().unwrap();
    alerts.resolve(a1.id, owner.id, t0).await.unwrap();
    let a2 = alerts
        .fire(&a, seen(t0 + Duration::hours(1), 2.0))
        .await
        .unwrap()
        .unwrap();
    let b1 = alerts
        .fire(&b, seen(t0 + Duration::hours(2), 3.0))
        .await
        .unwrap()
        .unwrap();
    for (attempt, succeeded, detail) in [(1, false, "HTTP 503"), (2, true, "HTTP 200")] {
        let delivery = Delivery {
            attempt,
            channel: Channel::Webhook,
            attempted_at: t0 + Duration::seconds(attempt),
            succeeded,
            detail: Some(detail.into()),
        };
        alerts.record_delivery(a2.id, &delivery).await.unwrap();
    }
    let ids = |list: Vec<logflow_store::meta::TriggeredAlert>| -> Vec<i64> {
        list.iter().map(|x| x.id).collect()
    };
    let all = AlertFilter {
        limit: 100,
        ..Default::default()
    };
    assert_eq!(
        ids(alerts.alerts(&all).await.unwrap()),
        [b1.id, a2.id, a1.id]
    );
    let open = AlertFilter {
        status: Some(AlertStatus::Open),
        ..all.clone()
    };
    assert_eq!(ids(alerts.alerts(&open).await.unwrap()), [b1.id, a2.id]);
    let of_a = AlertFilter {
        rule_id: Some(a.id),
        ..all.clone()
    };
    assert_eq!(ids(alerts.alerts(&of_a).await.unwrap()), [a2.id, a1.id]);
    let window = AlertFilter {
        from: Some(t0 + Duration::minutes(30)),
        to: Some(t0 + Duration::hours(2)),
        ..all.clone()
    };
    assert_eq!(ids(alerts.alerts(&window).await.unwrap()), [a2.id]);
    let one = AlertFilter { limit: 1, ..all };
    assert_eq!(ids(alerts.alerts(&one).await.unwrap()), [b1.id]);

    let read = alerts.alert(a2.id).await.unwrap().unwrap();
    let outcomes: Vec<(i64, bool, Option<&str>)> = read
        .deliveries
        .iter()
        .map(|d| (d.attempt, d.succeeded, d.detail.as_deref()))
        .collect();
    assert_eq!(
        outcomes,
        [(1, false, Some("HTTP 503")), (2, true, Some("HTTP 200"))]
    );
    assert!(alerts
        .alert(b1.id)
        .await
        .unwrap()
        .unwrap()
        .deliveries
        .is_empty());
    assert_eq!(alerts.alert(9999).await.unwrap(), None);
    // Deleting a rule takes its alerts and their deliveries with it.
    assert!(alerts.delete_rule(a.id).await.unwrap());
    assert_eq!(alerts.alert(a2.id).await.unwrap(), None);
}

async fn concurrent_firing_records_one_alert(test: &TestDb) {
    let (rule, _) = rule(test, "race", 0).await;
    let now = Utc::now();
    let attempts = (0..8).map(|_| {
        let alerts = test.db.alerts();
        let rule = rule.clone();
        tokio::spawn(async move { alerts.fire(&rule, seen(now, 99.0)).await })
    });
    let mut fired = 0;
    for attempt in attempts {
        // SQLite may report the writers' contention as "database is locked";
        // what matters is that at most one alert exists.
        if let Ok(Some(_)) = attempt.await.unwrap() {
            fired += 1;
        }
    }
    assert_eq!(fired, 1);
    let stored = test
        .db
        .alerts()
        .alerts(&AlertFilter {
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(
        test.db
            .alerts()
            .rule(rule.id)
            .await
            .unwrap()
            .unwrap()
            .trigger_count,
        1
    );
}

async fn leases_have_one_holder(test: &TestDb) {
    let alerts = test.db.alerts();
    let minute = Duration::minutes(1);
    assert!(alerts.acquire_lease("engine", "a", minute).await.unwrap());
    assert!(!alerts.acquire_lease("engine", "b", minute).await.unwrap());
    assert!(
        alerts.acquire_lease("engine", "a", minute).await.unwrap(),
        "renewed"
    );
    assert!(
        alerts.acquire_lease("other", "b", minute).await.unwrap(),
        "leases are per name"
    );
    // A lease that lapses passes to whoever asks next.
    assert!(alerts
        .acquire_lease("engine", "a", Duration::milliseconds(50))
        .await
        .unwrap());
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert!(alerts.acquire_lease("engine", "b", minute).await.unwrap());
    assert!(!alerts.acquire_lease("engine", "a", minute).await.unwrap());
}
