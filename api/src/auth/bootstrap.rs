//! The first admin. There is never a fixed default password: it comes from
//! `LOGFLOW_ADMIN_PASSWORD`, or is generated and printed once.

use super::password::{check_strength, Passwords};
use logflow_store::meta::{MetaError, NewUser, Role, UserRepository};
use rand::distr::{Alphanumeric, SampleString};

/// Why the first admin could not be created.
#[derive(Debug, thiserror::Error)]
pub enum BootstrapError {
    #[error("LOGFLOW_ADMIN_PASSWORD is too weak: {0}")]
    WeakPassword(String),
    #[error("cannot create the first admin {username:?}: a non-admin user already has that name; set LOGFLOW_ADMIN_USERNAME to another name")]
    NameTaken { username: String },
    #[error("creating the first admin failed: {0}")]
    Database(#[from] MetaError),
    #[error("hashing the admin password failed: {0}")]
    Hash(String),
}

/// What start-up did about the first admin.
#[derive(Debug, PartialEq, Eq)]
pub enum Bootstrap {
    /// An admin already existed; nothing changed.
    Existing,
    /// Created with the configured password.
    Configured,
    /// Created with this generated password, which must be shown once.
    Generated(String),
}

/// Creates `username` as admin when the database has no admin yet.
pub async fn ensure_admin(
    users: &dyn UserRepository,
    passwords: Passwords,
    username: &str,
    configured: Option<&str>,
) -> Result<Bootstrap, BootstrapError> {
    if users.count_admins().await? > 0 {
        return Ok(Bootstrap::Existing);
    }
    let (password, outcome) = match configured {
        Some(p) => {
            check_strength(p, &[username]).map_err(BootstrapError::WeakPassword)?;
            (p.to_string(), Bootstrap::Configured)
        }
        None => {
            let p = Alphanumeric.sample_string(&mut rand::rng(), 24);
            (p.clone(), Bootstrap::Generated(p))
        }
    };
    let password_hash = passwords
        .hash(password)
        .await
        .map_err(|e| BootstrapError::Hash(e.error))?;
    let created = users
        .create(NewUser {
            username: username.to_string(),
            email: format!("{username}@logflow.local"),
            full_name: Some("LogFlow administrator".into()),
            password_hash,
            role: Role::Admin,
        })
        .await;
    match created {
        Ok(_) => Ok(outcome),
        // Another replica starting at the same moment may have won the race.
        Err(MetaError::Conflict { .. }) if users.count_admins().await? > 0 => {
            Ok(Bootstrap::Existing)
        }
        Err(MetaError::Conflict { .. }) => Err(BootstrapError::NameTaken {
            username: username.to_string(),
        }),
        Err(e) => Err(e.into()),
    }
}
