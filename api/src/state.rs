//! What every handler can reach: chosen once at start-up, shared by `Arc`.

use crate::auth::password::Passwords;
use crate::auth::token::TokenKeys;
use crate::broker::Broker;
use crate::cache::ResponseCache;
use crate::health::HealthCache;
use crate::ratelimit::RateLimits;
use logflow_store::meta::{MetaDb, UserRepository};
use logflow_store::redis::RedisPool;
use logflow_store::LogStore;
use std::sync::Arc;
use std::time::Instant;

#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn LogStore>,
    pub db: Arc<MetaDb>,
    pub users: Arc<dyn UserRepository>,
    pub tokens: Arc<TokenKeys>,
    pub passwords: Passwords,
    pub broker: Arc<Broker>,
    /// Present when `REDIS_URL` is set.
    pub redis: Option<RedisPool>,
    pub cache: Arc<ResponseCache>,
    pub limits: Arc<RateLimits>,
    pub started: Instant,
    pub health: Arc<HealthCache>,
}
