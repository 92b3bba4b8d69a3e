//! Password hashing (bcrypt, off the async threads: one hash costs tens to
//! hundreds of milliseconds by design) and the strength rules.

use crate::error::ApiError;
use std::sync::Arc;
use tokio::sync::Semaphore;
use zxcvbn::{zxcvbn, Score};

/// Shortest password accepted.
pub const MIN_LENGTH: usize = 8;
/// bcrypt reads only the first 72 bytes; longer passwords would be silently
/// cut, so they are refused instead.
pub const MAX_BYTES: usize = 72;

/// Hashes and checks passwords at a configured bcrypt cost.
///
/// At most one bcrypt computation per core runs at a time: a flood of
/// logins then queues here instead of filling the blocking pool that store
/// searches also need.
#[derive(Debug, Clone)]
pub struct Passwords {
    cost: u32,
    permits: Arc<Semaphore>,
}

impl Passwords {
    pub fn new(cost: u32) -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Passwords {
            cost,
            permits: Arc::new(Semaphore::new(cores)),
        }
    }

    pub async fn hash(&self, password: String) -> Result<String, ApiError> {
        let cost = self.cost;
        let _permit = self.permit().await?;
        tokio::task::spawn_blocking(move || bcrypt::hash(password, cost))
            .await
            .map_err(|e| ApiError::internal("password hashing task failed", e))?
            .map_err(|e| ApiError::internal("password hashing failed", e))
    }

    /// True when `password` matches `hash`. A malformed stored hash counts
    /// as a mismatch (and is logged), never as a server error to the client.
    pub async fn verify(&self, password: String, hash: String) -> Result<bool, ApiError> {
        let _permit = self.permit().await?;
        let outcome = tokio::task::spawn_blocking(move || bcrypt::verify(password, &hash))
            .await
            .map_err(|e| ApiError::internal("password check task failed", e))?;
        Ok(outcome.unwrap_or_else(|e| {
            tracing::error!(error = %e, "stored password hash is unreadable");
            false
        }))
    }
}

impl Passwords {
    async fn permit(&self) -> Result<tokio::sync::SemaphorePermit<'_>, ApiError> {
        self.permits
            .acquire()
            .await
            .map_err(|e| ApiError::internal("password hashing is shut down", e))
    }
}

/// Why a password is too weak, or `Ok` when it is strong enough: at least
/// [`MIN_LENGTH`] characters, at most [`MAX_BYTES`] bytes, and hard to guess
/// (zxcvbn score 3 of 4, i.e. over 10^8 guesses), counting the user's own
/// name and email as known to an attacker.
pub fn check_strength(password: &str, user_inputs: &[&str]) -> Result<(), String> {
    if password.chars().count() < MIN_LENGTH {
        return Err(format!("password must be at least {MIN_LENGTH} characters"));
    }
    if password.len() > MAX_BYTES {
        return Err(format!("password must be at most {MAX_BYTES} bytes"));
    }
    if password.contains('\0') {
        return Err("password must not contain NUL characters".into());
    }
    let entropy = zxcvbn(password, user_inputs);
    if entropy.score() >= Score::Three {
        return Ok(());
    }
    let mut reason = String::from("password is too easy to guess");
    if let Some(feedback) = entropy.feedback() {
        if let Some(warning) = feedback.warning() {
            reason.push_str(&format!(": {warning}"));
        }
        if let Some(suggestion) = feedback.suggestions().first() {
            reason.push_str(&format!(" ({suggestion})"));
        }
    }
    Err(reason)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weak_passwords_are_refused_with_a_reason() {
        let short = check_strength("a1!", &[]).unwrap_err();
        assert!(short.contains("at least 8"), "{short}");
        let common = check_strength("password123", &[]).unwrap_err();
        assert!(
            common.starts_with("password is too easy to guess"),
            "{common}"
        );
        let own_name = check_strength("margaret.hamilton", &["margaret.hamilton"]).unwrap_err();
        assert!(own_name.contains("too easy"), "{own_name}");
        let long = check_strength(&"x".repeat(73), &[]).unwrap_err();
        assert!(long.contains("72 bytes"), "{long}");
    }

    #[test]
    fn strong_passwords_pass() {
        check_strength("violet-kettle-93-orbit", &["ada"]).unwrap();
    }

    #[tokio::test]
    async fn hashes_verify_and_garbage_hashes_do_not_match() {
        let p = Passwords::new(4);
        let hash = p.hash("violet-kettle-93-orbit".into()).await.unwrap();
        assert!(p
            .verify("violet-kettle-93-orbit".into(), hash.clone())
            .await
            .unwrap());
        assert!(!p
            .verify("violet-kettle-93-orbiT".into(), hash)
            .await
            .unwrap());
        assert!(!p.verify("x".into(), "not a hash".into()).await.unwrap());
    }
}
