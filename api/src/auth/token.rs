//! Access tokens: HS256 JWTs signed with `SECRET_KEY`. Only HS256 is
//! accepted, so `alg: none` and algorithm-swapping tokens fail verification.

use chrono::Utc;
use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use logflow_store::meta::{Role, User};
use rand::distr::{Alphanumeric, SampleString};
use serde::{Deserialize, Serialize};

/// Who issued the token; checked on every request so tokens minted for
/// another system with the same secret are not accepted.
const ISSUER: &str = "logflow";

/// Shortest secret accepted: HS256 is only as strong as its key.
pub const MIN_SECRET_BYTES: usize = 32;

/// What an access token says.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    /// The user id.
    pub sub: String,
    pub username: String,
    pub role: Role,
    pub iat: i64,
    pub exp: i64,
    pub iss: String,
}

/// A freshly signed token and its lifetime in seconds.
pub struct IssuedToken {
    pub token: String,
    pub expires_in: i64,
}

/// A `SECRET_KEY` that cannot sign safely.
#[derive(Debug, thiserror::Error)]
#[error("SECRET_KEY must be at least {MIN_SECRET_BYTES} bytes long (it is {0}); generate one with `openssl rand -hex 32`")]
pub struct WeakSecret(usize);

/// Signs and verifies access tokens.
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    ttl_seconds: i64,
}

impl TokenKeys {
    /// Keys from the configured secret.
    pub fn from_secret(secret: &str, ttl_minutes: u32) -> Result<Self, WeakSecret> {
        if secret.len() < MIN_SECRET_BYTES {
            return Err(WeakSecret(secret.len()));
        }
        Ok(Self::build(secret.as_bytes(), ttl_minutes))
    }

    /// Keys from a random secret: tokens die with the process.
    pub fn random(ttl_minutes: u32) -> Self {
        let secret = Alphanumeric.sample_string(&mut rand::rng(), 64);
        Self::build(secret.as_bytes(), ttl_minutes)
    }

    fn build(secret: &[u8], ttl_minutes: u32) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_required_spec_claims(&["exp", "iss", "sub"]);
        // Clocks within one deployment agree to within seconds.
        validation.leeway = 5;
        TokenKeys {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            ttl_seconds: i64::from(ttl_minutes) * 60,
        }
    }

    /// A token for `user`, valid for the configured lifetime.
    pub fn issue(&self, user: &User) -> Result<IssuedToken, jsonwebtoken::errors::Error> {
        let now = Utc::now().timestamp();
        let claims = Claims {
            sub: user.id.to_string(),
            username: user.username.clone(),
            role: user.role,
            iat: now,
            exp: now + self.ttl_seconds,
            iss: ISSUER.to_string(),
        };
        let token = encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)?;
        Ok(IssuedToken {
            token,
            expires_in: self.ttl_seconds,
        })
    }

    /// The claims of a valid token: right algorithm, right key, right
    /// issuer, not expired.
    pub fn verify(&self, token: &str) -> Result<Claims, jsonwebtoken::errors::Error> {
        decode::<Claims>(token, &self.decoding, &self.validation).map(|data| data.claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;

    fn user(role: Role) -> User {
        let now = Utc::now();
        User {
            id: 7,
            username: "ada".into(),
            email: "ada@example.com".into(),
            full_name: None,
            role,
            is_active: true,
            created_at: now,
            updated_at: now,
            last_login_at: None,
        }
    }

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn issued_tokens_verify_and_carry_the_role() {
        let keys = TokenKeys::from_secret(SECRET, 30).unwrap();
        let issued = keys.issue(&user(Role::Admin)).unwrap();
        assert_eq!(issued.expires_in, 1800);
        let claims = keys.verify(&issued.token).unwrap();
        assert_eq!((claims.sub.as_str(), claims.role), ("7", Role::Admin));
    }

    #[test]
    fn short_secrets_are_refused() {
        let err = TokenKeys::from_secret("short", 30).err().unwrap();
        assert!(err.to_string().contains("at least 32 bytes"), "{err}");
    }

    #[test]
    fn wrong_key_tampered_and_unsigned_tokens_fail() {
        let keys = TokenKeys::from_secret(SECRET, 30).unwrap();
        let other = TokenKeys::from_secret(&SECRET.replace('0', "1"), 30).unwrap();
        let token = other.issue(&user(Role::User)).unwrap().token;
        assert!(keys.verify(&token).is_err(), "wrong key accepted");

        let token = keys.issue(&user(Role::User)).unwrap().token;
        let parts: Vec<&str> = token.split('.').collect();
        let payload = String::from_utf8(URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        let forged = URL_SAFE_NO_PAD.encode(payload.replace("\"user\"", "\"admin\""));
        let tampered = format!("{}.{}.{}", parts[0], forged, parts[2]);
        assert!(keys.verify(&tampered).is_err(), "tampered payload accepted");

        let none_header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
        let unsigned = format!("{none_header}.{}.", parts[1]);
        assert!(keys.verify(&unsigned).is_err(), "alg none accepted");
    }
}
