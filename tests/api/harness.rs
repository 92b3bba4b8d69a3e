//! The api's test harness: a real api on a random port over a real store,
//! with SQLite or PostgreSQL (its own schema) behind it, and a dataset
//! written through the real pipeline (broker → `logflow processor` → store).

use crate::common::{logflow, spawn, stored_count, wait_until, Proc};
use chrono::{DateTime, Duration as TimeDelta, DurationRound, Utc};
use logflow_api::cache::CacheArgs;
use logflow_api::ratelimit::{Rate, RateLimitArgs};
use logflow_api::{Config, ServerArgs};
use logflow_kafka::KafkaArgs;
use logflow_testkit::{unique_topic, Broker, PgSchema, RedisPrefix};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::ClientConfig;
use reqwest::{Method, RequestBuilder, StatusCode};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

pub const ADMIN_PASSWORD: &str = "quartz-lantern-57-harbor";
pub const SECRET: &str = "test-secret-0123456789abcdef-0123456789";
pub const STRONG: &str = "violet-kettle-93-orbit";

#[derive(Debug, Clone, Copy)]
pub enum Db {
    Sqlite,
    Postgres,
    /// PostgreSQL reached through a proxy on this port, which a test can
    /// cut to take the database away.
    PostgresVia(u16),
}

/// Where the cache and rate limits live.
#[derive(Debug, Clone, Copy)]
pub enum Backend {
    Memory,
    /// The test Redis, under the test's own key prefix.
    Redis,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Memory => "memory",
            Backend::Redis => "redis",
        }
    }

    pub fn configure(self, server: &mut ServerArgs, prefix: &RedisPrefix) {
        if let Backend::Redis = self {
            server.redis_url = Some(logflow_testkit::redis_url());
            server.redis_key_prefix = prefix.prefix.clone();
        }
    }
}

/// The `host:port` of the test PostgreSQL.
pub fn pg_host_port() -> String {
    let url = logflow_testkit::pg_base_url();
    let after_at = url.rsplit_once('@').map_or(url.as_str(), |(_, rest)| rest);
    let after_scheme = after_at
        .split_once("://")
        .map_or(after_at, |(_, rest)| rest);
    after_scheme
        .split(['/', '?'])
        .next()
        .unwrap_or("127.0.0.1:5432")
        .to_string()
}

/// An api with no data and no broker (nothing listens on the port): for
/// the routes that need neither.
pub async fn bare_api(db: Db) -> (TestApi, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let bootstrap = format!("127.0.0.1:{}", logflow_testkit::free_port());
    let api = TestApi::start(db, dir.path(), &bootstrap, "logflow.logs").await;
    (api, dir)
}

/// A running api, stopped when dropped.
pub struct TestApi {
    pub base: String,
    pub http: reqwest::Client,
    shutdown: CancellationToken,
    task: Option<tokio::task::JoinHandle<Result<(), logflow_api::ApiStartError>>>,
    _schema: Option<PgSchema>,
    /// The metadata database the api uses.
    pub database_url: String,
}

impl TestApi {
    /// An api over the store in `data_dir`, with the broker at `bootstrap`
    /// (which may be down).
    pub async fn start(db: Db, data_dir: &Path, bootstrap: &str, topic: &str) -> TestApi {
        Self::start_with(db, data_dir, bootstrap, topic, |_| {}).await
    }

    /// As [`TestApi::start`], with the api's own settings changed by
    /// `configure` (Redis, cache TTLs, rate limits). By default limits are
    /// high enough that only the rate-limit stories reach them.
    pub async fn start_with(
        db: Db,
        data_dir: &Path,
        bootstrap: &str,
        topic: &str,
        configure: impl FnOnce(&mut ServerArgs),
    ) -> TestApi {
        let schema = match db {
            Db::Sqlite => None,
            Db::Postgres | Db::PostgresVia(_) => Some(PgSchema::create().await),
        };
        let generous: Rate = "100000/minute".parse().unwrap();
        let mut server = ServerArgs {
            addr: "127.0.0.1:0".parse().unwrap(),
            database_url: schema.as_ref().map(|s| match db {
                Db::PostgresVia(port) => s
                    .url()
                    .replace(&pg_host_port(), &format!("127.0.0.1:{port}")),
                _ => s.url(),
            }),
            redis_url: None,
            redis_key_prefix: "logflow:".into(),
            secret_key: Some(SECRET.to_string()),
            access_token_expire_minutes: 30,
            admin_username: "admin".into(),
            admin_password: Some(ADMIN_PASSWORD.into()),
            bcrypt_cost: 4,
            cache: CacheArgs {
                cache_ttl_overview: Duration::from_secs(30),
                cache_ttl_service: Duration::from_secs(60),
                cache_ttl_system: Duration::from_secs(45),
                cache_ttl_timeseries: Duration::from_secs(120),
                cache_max_mb: 64,
            },
            rate_limits: RateLimitArgs {
                rate_limit_enabled: true,
                rate_limit_default: generous,
                rate_limit_search: generous,
                rate_limit_recent: generous,
                rate_limit_lookup: generous,
                rate_limit_login: generous,
                rate_limit_register: generous,
                rate_limit_metrics: generous,
                trusted_proxies: Default::default(),
            },
        };
        configure(&mut server);
        let config = Config {
            kafka: KafkaArgs {
                bootstrap_servers: bootstrap.to_string(),
                topic: topic.to_string(),
                partitions: 2,
                replication_factor: 1,
            },
            data_dir: data_dir.to_path_buf(),
            group_id: format!("{topic}-processor"),
            store: logflow_store::StoreArgs {
                elasticsearch_hosts: None,
                elasticsearch_index_prefix: "logflow".into(),
            },
            server,
        };
        let database_url = config.database_url();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(logflow_api::serve(config, listener, shutdown.clone()));
        let api = TestApi {
            base,
            http: reqwest::Client::new(),
            shutdown,
            task: Some(task),
            _schema: schema,
            database_url,
        };
        wait_until(
            "the api to answer /health",
            Duration::from_secs(30),
            || async {
                let r = api.http.get(api.url("/health")).send().await;
                (r.is_ok(), r.err().map(|e| e.to_string()))
            },
        )
        .await;
        api
    }

    /// The api's metadata database, opened beside it.
    pub async fn meta(&self) -> logflow_store::meta::MetaDb {
        logflow_store::meta::MetaDb::connect(&self.database_url)
            .await
            .unwrap()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub fn req(&self, method: Method, path: &str, token: Option<&str>) -> RequestBuilder {
        let r = self.http.request(method, self.url(path));
        match token {
            Some(t) => r.bearer_auth(t),
            None => r,
        }
    }

    pub fn get(&self, path: &str, token: &str) -> RequestBuilder {
        self.req(Method::GET, path, Some(token))
    }

    /// GETs `path` with `token`, asserts `status`, returns the JSON body.
    pub async fn get_json(&self, path: &str, token: &str, status: StatusCode) -> Value {
        let r = self.get(path, token).send().await.unwrap();
        assert_eq!(r.status(), status, "GET {path}: {:?}", r.text().await);
        r.json().await.unwrap()
    }

    pub async fn login(&self, username: &str, password: &str) -> String {
        let r = self
            .req(Method::POST, "/api/v1/auth/login", None)
            .json(&json!({"username": username, "password": password}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "login {username}: {:?}", r.text().await);
        let body: Value = r.json().await.unwrap();
        body["access_token"].as_str().unwrap().to_string()
    }

    pub async fn admin_token(&self) -> String {
        self.login("admin", ADMIN_PASSWORD).await
    }

    /// Registers `username` (password [`STRONG`]) and logs in.
    pub async fn user_token(&self, username: &str) -> String {
        let r = self
            .req(Method::POST, "/api/v1/auth/register", None)
            .json(&json!({"username": username, "email": format!("{username}@example.com"), "password": STRONG}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201, "register {username}: {:?}", r.text().await);
        self.login(username, STRONG).await
    }
}

impl Drop for TestApi {
    fn drop(&mut self) {
        self.shutdown.cancel();
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// One record of a dataset, before it is produced.
#[derive(Debug, Clone)]
pub struct Rec {
    pub at: DateTime<Utc>,
    pub service: &'static str,
    pub level: &'static str,
    pub message: String,
    pub correlation_id: Option<&'static str>,
}

impl Rec {
    pub fn json(&self) -> Value {
        json!({
            "timestamp": self.at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            "service": self.service,
            "level": self.level,
            "message": self.message,
            "host": format!("{}-1", self.service),
            "correlation_id": self.correlation_id,
        })
    }
}

/// The known dataset the numbers tests check, relative to `now` (rounded
/// down to the minute so buckets are predictable):
/// - checkout: 40 INFO (one with a message full of CSV specials), 2 WARN,
///   4 ERROR "card declined", 2 ERROR "gateway timeout"
/// - payment: 20 INFO, 3 ERROR "gateway timeout", 1 CRITICAL "ledger unreachable"
/// - auth: 10 DEBUG, 8 INFO
/// - batch: 5 INFO three hours ago (outside a 1h window)
///
/// plus the flow `flow-1`, ten minutes ago: checkout INFO, auth INFO,
/// payment INFO, payment ERROR "flow: charge retried", checkout INFO.
///
/// All but batch lie within the last 46 minutes. So over the last hour:
/// 95 logs (checkout 50, payment 26, auth 19); INFO 72, DEBUG 10, WARN 2,
/// ERROR 10, CRITICAL 1.
pub fn dataset(now: DateTime<Utc>) -> Vec<Rec> {
    let now = now.duration_trunc(TimeDelta::minutes(1)).unwrap();
    let mut out = Vec::new();
    let mut add = |service, level, message: &str, n: usize| {
        for _ in 0..n {
            out.push(Rec {
                at: now,
                service,
                level,
                message: message.to_string(),
                correlation_id: None,
            });
        }
    };
    add("checkout", "INFO", "order placed", 39);
    add("checkout", "INFO", "he said \"hi\", then\nleft", 1);
    add("checkout", "WARN", "slow response", 2);
    add("checkout", "ERROR", "card declined", 4);
    add("checkout", "ERROR", "gateway timeout", 2);
    add("payment", "INFO", "payment accepted", 20);
    add("payment", "ERROR", "gateway timeout", 3);
    add("payment", "CRITICAL", "ledger unreachable", 1);
    add("auth", "DEBUG", "token checked", 10);
    add("auth", "INFO", "login ok", 8);
    // Spread the recent ones over the last 45 minutes, 30 s apart.
    for (i, r) in out.iter_mut().enumerate() {
        r.at = now - TimeDelta::seconds(30 * (i as i64 + 1));
    }
    for i in 0..5 {
        out.push(Rec {
            at: now - TimeDelta::hours(3) + TimeDelta::seconds(i),
            service: "batch",
            level: "INFO",
            message: "nightly job step".into(),
            correlation_id: None,
        });
    }
    // The flow: a request through checkout → auth → payment → checkout.
    let start = now - TimeDelta::minutes(10) + TimeDelta::milliseconds(1);
    let flow = [
        ("checkout", "INFO", "flow: request received", 0),
        ("auth", "INFO", "flow: token verified", 20),
        ("payment", "INFO", "flow: charge started", 150),
        ("payment", "ERROR", "flow: charge retried", 400),
        ("checkout", "INFO", "flow: response sent", 450),
    ];
    for (service, level, message, ms) in flow {
        out.push(Rec {
            at: start + TimeDelta::milliseconds(ms),
            service,
            level,
            message: message.into(),
            correlation_id: Some("flow-1"),
        });
    }
    out
}

/// A store filled through the real pipeline: the records are produced to
/// Kafka and indexed by a `logflow processor` process, which keeps running
/// (so lag and custom events can be observed).
pub struct Pipeline {
    pub broker: Broker,
    pub topic: String,
    pub dir: tempfile::TempDir,
    /// Runs until the pipeline is dropped.
    _processor: Proc,
}

impl Pipeline {
    pub async fn with(records: &[Rec]) -> Pipeline {
        let broker = Broker::start().await;
        let topic = unique_topic("api");
        let dir = tempfile::tempdir().unwrap();
        let mut cmd = logflow("processor", &broker, &topic, dir.path());
        cmd.arg("processor")
            .env("KAFKA_PARTITIONS", "2")
            .env("LOGFLOW_CONSUMER_GROUP", format!("{topic}-processor"))
            .env("LOGFLOW_BATCH_WAIT", "100ms");
        let processor = spawn("processor", cmd);
        let pipeline = Pipeline {
            broker,
            topic,
            dir,
            _processor: processor,
        };
        pipeline.produce(records).await;
        let want = records.len() as u64;
        let data = pipeline.data_dir();
        wait_until("the dataset to be indexed", Duration::from_secs(60), || {
            let data = data.clone();
            async move {
                let n = stored_count(&data).await;
                (n == want, n)
            }
        })
        .await;
        pipeline
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }

    pub async fn produce(&self, records: &[Rec]) {
        let producer: FutureProducer = ClientConfig::new()
            .set("bootstrap.servers", self.broker.bootstrap())
            .create()
            .unwrap();
        let sends = records.iter().map(|r| {
            let payload = r.json().to_string();
            let producer = &producer;
            let topic = &self.topic;
            async move {
                producer
                    .send(
                        FutureRecord::to(topic).key(r.service).payload(&payload),
                        Duration::from_secs(30),
                    )
                    .await
                    .map_err(|(e, _)| e)
                    .expect("produce a test record");
            }
        });
        futures::future::join_all(sends).await;
    }

    pub async fn api(&self, db: Db) -> TestApi {
        TestApi::start(db, self.dir.path(), &self.broker.bootstrap(), &self.topic).await
    }
}

/// A TCP forwarder to `target` on a random port. [`TcpProxy::cut`] closes
/// the listener and every connection, as a dependency going down would.
pub struct TcpProxy {
    pub port: u16,
    stop: CancellationToken,
}

impl TcpProxy {
    pub async fn start(target: String) -> TcpProxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = CancellationToken::new();
        let token = stop.clone();
        tokio::spawn(async move {
            loop {
                let (mut inbound, _) = tokio::select! {
                    () = token.cancelled() => return,
                    accepted = listener.accept() => match accepted {
                        Ok(c) => c,
                        Err(_) => return,
                    },
                };
                let (target, token) = (target.clone(), token.clone());
                tokio::spawn(async move {
                    let Ok(mut outbound) = tokio::net::TcpStream::connect(&target).await else {
                        return;
                    };
                    tokio::select! {
                        () = token.cancelled() => {}
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                    }
                });
            }
        });
        TcpProxy { port, stop }
    }

    pub fn cut(&self) {
        self.stop.cancel();
    }
}
