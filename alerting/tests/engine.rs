//! The alert engine over a real store and a real metadata database: each
//! condition at, just below and just above its threshold, one alert while
//! unresolved, firing again after resolve, and two engines on one
//! PostgreSQL firing a rule exactly once.

use chrono::{DateTime, Duration, Utc};
use clap::Parser;
use logflow_alerting::{Engine, Notifier, NotifyArgs, Tick};
use logflow_core::{Level, LogRecord, RecordId};
use logflow_store::meta::{AlertFilter, AlertRule, Channel, Condition, MetaDb, RuleSpec};
use logflow_store::tantivy_store::{OpenMode, TantivyStore, WriterOptions};
use logflow_store::{LogStore, NewRecord};
use logflow_testkit::PgSchema;
use std::sync::Arc;

/// A store holding, relative to `now`: 10 checkout ERRORs "card declined"
/// a minute ago (what the rules count), 5 payment ERRORs and 20 checkout
/// INFOs a minute ago, and 7 checkout ERRORs two hours ago.
async fn store(dir: &std::path::Path, now: DateTime<Utc>) -> Arc<dyn LogStore> {
    let store = TantivyStore::open(dir, OpenMode::ReadWrite(WriterOptions::default())).unwrap();
    let recent = now - Duration::minutes(1);
    let old = now - Duration::hours(2);
    let mut records = Vec::new();
    for (n, at, service, level) in [
        (10, recent, "checkout", Level::Error),
        (5, recent, "payment", Level::Error),
        (20, recent, "checkout", Level::Info),
        (7, old, "checkout", Level::Error),
    ] {
        for _ in 0..n {
            records.push(LogRecord::new(at, service, level, "card declined"));
        }
    }
    let batch: Vec<NewRecord> = records
        .into_iter()
        .zip(0..)
        .map(|(record, offset)| NewRecord {
            id: RecordId::new("logflow.logs", 0, offset),
            record,
        })
        .collect();
    store.write(batch.into()).await.unwrap();
    Arc::new(store)
}

fn spec(name: &str, condition: Condition, threshold: f64) -> RuleSpec {
    RuleSpec {
        name: name.to_string(),
        description: None,
        condition,
        threshold,
        window_minutes: 5,
        levels: vec![Level::Error],
        services: vec!["checkout".into()],
        query: Some("declined".into()),
        channel: Channel::Console,
        channel_config: serde_json::json!({}),
        is_active: true,
        cooldown_minutes: 0,
    }
}

async fn sqlite(dir: &std::path::Path) -> MetaDb {
    MetaDb::connect(&format!(
        "sqlite://{}?mode=rwc",
        dir.join("meta.db").display()
    ))
    .await
    .unwrap()
}

async fn owner(db: &MetaDb) -> i64 {
    db.users()
        .create(logflow_store::meta::NewUser {
            username: "owner".into(),
            email: "owner@example.com".into(),
            full_name: None,
            password_hash: "x".into(),
            role: logflow_store::meta::Role::User,
        })
        .await
        .unwrap()
        .id
}

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    notify: NotifyArgs,
}

/// An engine evaluating every minute, notifying with the defaults.
fn engine(
    store: Arc<dyn LogStore>,
    alerts: Arc<dyn logflow_store::meta::AlertRepository>,
) -> Engine {
    let notifier = Notifier::new(&Cli::parse_from(["logflow"]).notify).unwrap();
    Engine::new(store, alerts, notifier, std::time::Duration::from_secs(60))
}

fn fired_names(tick: Tick) -> Vec<String> {
    match tick {
        Tick::Evaluated { fired, .. } => fired.into_iter().map(|a| a.rule_name).collect(),
        Tick::NotLeader => panic!("the only engine must lead"),
    }
}

#[tokio::test]
async fn each_condition_at_below_and_above_its_threshold() {
    let dir = tempfile::tempdir().unwrap();
    let now = Utc::now();
    let store = store(dir.path(), now).await;
    let db = sqlite(dir.path()).await;
    let owner = owner(&db).await;
    // The rules count 10 logs; thresholds 9, 10 and 11 for each operator.
    for condition in Condition::ALL {
        for threshold in [9.0, 10.0, 11.0] {
            let name = format!("{condition} {threshold}");
            db.alerts()
                .create_rule(spec(&name, condition, threshold), owner)
                .await
                .unwrap();
        }
    }
    let engine = engine(store, db.alerts());
    let mut fired = fired_names(engine.tick(now).await.unwrap());
    engine.settle().await;
    fired.sort();
    assert_eq!(
        fired,
        [
            "equals 10",
            "greater_than 9",
            "greater_than_or_equal 10",
            "greater_than_or_equal 9",
            "less_than 11",
            "less_than_or_equal 10",
            "less_than_or_equal 11",
        ]
    );
    let alerts = db
        .alerts()
        .alerts(&AlertFilter {
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(alerts
        .iter()
        .all(|a| a.observed_value == 10.0 && a.window_minutes == 5));
    // Each was sent to the console, and the attempt recorded.
    assert!(alerts
        .iter()
        .all(|a| a.deliveries.len() == 1 && a.deliveries[0].succeeded));
    // Every rule was checked, fired or not.
    let rules: Vec<AlertRule> = db.alerts().rules(false).await.unwrap();
    assert!(rules
        .iter()
        .all(|r| r.last_checked_at == Some(now_micros(now))));
    db.close().await;
}

fn now_micros(now: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(now.timestamp_micros()).unwrap()
}

#[tokio::test]
async fn a_rule_fires_once_until_resolved_then_again() {
    let dir = tempfile::tempdir().unwrap();
    let now = Utc::now();
    let store = store(dir.path(), now).await;
    let db = sqlite(dir.path()).await;
    let owner = owner(&db).await;
    let rule = db
        .alerts()
        .create_rule(spec("burst", Condition::GreaterThan, 5.0), owner)
        .await
        .unwrap();
    let mut quiet = spec("never", Condition::GreaterThan, 50.0);
    quiet.levels = vec![];
    db.alerts().create_rule(quiet, owner).await.unwrap();
    let engine = engine(store, db.alerts());

    assert_eq!(fired_names(engine.tick(now).await.unwrap()), ["burst"]);
    for later in 1..=3 {
        let tick = engine.tick(now + Duration::seconds(later)).await.unwrap();
        assert!(fired_names(tick).is_empty(), "open: no second alert");
    }
    let open = db
        .alerts()
        .alerts(&AlertFilter {
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(open.len(), 1);
    db.alerts()
        .resolve(open[0].id, owner, now)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        fired_names(engine.tick(now + Duration::seconds(5)).await.unwrap()),
        ["burst"]
    );
    let stats = db.alerts().rule(rule.id).await.unwrap().unwrap();
    assert_eq!(stats.trigger_count, 2);
    db.close().await;
}

#[tokio::test]
async fn two_engines_on_one_postgres_fire_once() {
    let dir = tempfile::tempdir().unwrap();
    let now = Utc::now();
    let store = store(dir.path(), now).await;
    let schema = PgSchema::create().await;
    let (db_a, db_b) = (
        MetaDb::connect(&schema.url()).await.unwrap(),
        MetaDb::connect(&schema.url()).await.unwrap(),
    );
    let owner = owner(&db_a).await;
    db_a.alerts()
        .create_rule(spec("burst", Condition::GreaterThan, 5.0), owner)
        .await
        .unwrap();
    let a = engine(store.clone(), db_a.alerts());
    let b = engine(store, db_b.alerts());
    // Both evaluate at once, several rounds.
    let mut leaders = 0;
    let mut fired = 0;
    for round in 0..5 {
        let at = now + Duration::seconds(round);
        let (ta, tb) = tokio::join!(a.tick(at), b.tick(at));
        for tick in [ta.unwrap(), tb.unwrap()] {
            if let Tick::Evaluated { fired: f, .. } = tick {
                leaders += 1;
                fired += f.len();
            }
        }
    }
    assert_eq!(leaders, 5, "exactly one engine evaluates each round");
    assert_eq!(fired, 1);
    a.settle().await;
    b.settle().await;
    let alerts = db_b
        .alerts()
        .alerts(&AlertFilter {
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].deliveries.len(), 1, "notified once");
    db_a.close().await;
    db_b.close().await;
}

#[tokio::test]
async fn an_alert_recorded_but_never_notified_is_sent_next_round() {
    let dir = tempfile::tempdir().unwrap();
    let now = Utc::now();
    let store = store(dir.path(), now).await;
    let db = sqlite(dir.path()).await;
    let owner = owner(&db).await;
    let rule = db
        .alerts()
        .create_rule(spec("burst", Condition::GreaterThan, 5.0), owner)
        .await
        .unwrap();
    // An engine fired the rule and died before notifying.
    let observation = logflow_store::meta::Observation {
        at: now,
        observed_value: 10.0,
    };
    let orphan = db.alerts().fire(&rule, observation).await.unwrap().unwrap();
    assert!(orphan.deliveries.is_empty());

    let engine = engine(store, db.alerts());
    let tick = engine.tick(now + Duration::seconds(1)).await.unwrap();
    assert!(
        fired_names(tick).is_empty(),
        "still open: nothing new fires"
    );
    engine.settle().await;
    let alert = db.alerts().alert(orphan.id).await.unwrap().unwrap();
    assert_eq!(alert.deliveries.len(), 1);
    assert!(alert.deliveries[0].succeeded);
    // Notified once: the next round leaves it alone.
    engine.tick(now + Duration::seconds(2)).await.unwrap();
    engine.settle().await;
    let alert = db.alerts().alert(orphan.id).await.unwrap().unwrap();
    assert_eq!(alert.deliveries.len(), 1);
    db.close().await;
}
