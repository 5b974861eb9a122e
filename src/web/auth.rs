//! The parents' login: the argon2 password, sessions held in memory, their CSRF tokens, and
//! the rate limit on login attempts.
//!
//! Every table here has a fixed bound, so no client, logged in or not, can make it grow:
//! sessions beyond [`MAX_SESSIONS`] push out the oldest one (only someone who knows the
//! password can create one), and login attempts are counted per source address in a table of
//! at most [`MAX_SOURCES`] addresses, past which new addresses share one allowance. Expiry is
//! measured on the server's clock, the one the queries are decided on, so tests can move it.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Duration;

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use jiff::Timestamp;

use crate::attempts::Attempts;

/// Sessions held at once: a household has a few parents with a few devices each.
pub const MAX_SESSIONS: usize = 32;
/// Login attempts allowed per source address per [`ATTEMPT_WINDOW`].
pub const MAX_ATTEMPTS: u32 = 5;
/// The window [`MAX_ATTEMPTS`] counts in.
pub const ATTEMPT_WINDOW: Duration = Duration::from_secs(60);
/// Source addresses whose attempts are counted separately; past it, new addresses share one
/// count, so a flood from many addresses cannot grow the table (and still gets only
/// [`MAX_ATTEMPTS`] guesses a minute between them).
pub const MAX_SOURCES: usize = 256;

/// Login attempts per source address: at most [`MAX_ATTEMPTS`] per [`ATTEMPT_WINDOW`].
pub fn login_limiter() -> Attempts<IpAddr> {
    Attempts::new(ATTEMPT_WINDOW, MAX_SOURCES)
}
/// Name of the session cookie.
pub const COOKIE: &str = "familydns_session";

#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("cannot read random bytes for the salt: {0}")]
    Random(#[from] getrandom::Error),
    #[error("cannot hash the password: {0}")]
    Hash(argon2::password_hash::Error),
}

/// The argon2id PHC string of `password` with a random salt: what `familydns passwd` prints.
pub fn hash_password(password: &str) -> Result<String, PasswordError> {
    let mut salt = [0u8; 16];
    getrandom::getrandom(&mut salt)?;
    let salt = SaltString::encode_b64(&salt).map_err(PasswordError::Hash)?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(PasswordError::Hash)
}

/// Whether `password` matches the PHC string `hash` (checked when the config was loaded; a
/// hash that does not parse matches nothing). Slow on purpose: call it off the async threads.
pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|h| {
        Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

/// 32 random bytes in hex: session ids and CSRF tokens.
fn random_token() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 32];
    getrandom::getrandom(&mut bytes)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// One logged-in browser.
#[derive(Debug, Clone)]
pub struct Session {
    /// The token every form of this session carries and every POST must return.
    pub csrf: String,
    created: Timestamp,
    expires: Timestamp,
    /// A message for the next page shown (what the last action did).
    pub flash: Option<String>,
}

/// The sessions, by id (the cookie's value).
#[derive(Default)]
pub struct Sessions {
    by_id: HashMap<String, Session>,
}

impl Sessions {
    /// A new session lasting `length` from `now`; returns its id. Ended sessions are dropped
    /// first, and at [`MAX_SESSIONS`] the oldest one is logged out.
    pub fn create(&mut self, now: Timestamp, length: Duration) -> Result<String, getrandom::Error> {
        self.by_id.retain(|_, s| s.expires > now);
        if self.by_id.len() >= MAX_SESSIONS
            && let Some(oldest) = self
                .by_id
                .iter()
                .min_by_key(|(_, s)| s.created)
                .map(|(id, _)| id.clone())
        {
            self.by_id.remove(&oldest);
        }
        let id = random_token()?;
        let expires = jiff::SignedDuration::try_from(length)
            .ok()
            .and_then(|d| now.checked_add(d).ok())
            .unwrap_or(Timestamp::MAX);
        self.by_id.insert(
            id.clone(),
            Session {
                csrf: random_token()?,
                created: now,
                expires,
                flash: None,
            },
        );
        Ok(id)
    }

    /// The session `id` names, if it has not ended at `now`.
    pub fn get_mut(&mut self, id: &str, now: Timestamp) -> Option<&mut Session> {
        self.by_id.get_mut(id).filter(|s| s.expires > now)
    }

    pub fn remove(&mut self, id: &str) {
        self.by_id.remove(id);
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.by_id.len()
    }
}

/// The session id in a `Cookie` header's value.
pub fn session_id(cookie_header: &str) -> Option<&str> {
    cookie_header
        .split(';')
        .filter_map(|c| c.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value)
}

/// The `Set-Cookie` value of a new session: only this site's pages under `/parents` get it,
/// scripts never see it, other sites' pages never make the browser send it.
pub fn set_cookie(id: &str, length: Duration) -> String {
    format!(
        "{COOKIE}={id}; HttpOnly; SameSite=Strict; Path=/parents; Max-Age={}",
        length.as_secs()
    )
}

/// The `Set-Cookie` value that removes the session cookie (logout).
pub fn clear_cookie() -> String {
    format!("{COOKIE}=; HttpOnly; SameSite=Strict; Path=/parents; Max-Age=0")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + secs).unwrap()
    }

    #[test]
    fn a_password_hash_verifies_only_its_password() {
        let hash = hash_password("correct horse").unwrap();
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        assert!(verify_password("correct horse", &hash));
        assert!(!verify_password("correct hors", &hash));
        assert!(!verify_password("correct horse", "not a hash"));
        assert_ne!(hash, hash_password("correct horse").unwrap(), "random salt");
    }

    #[test]
    fn sessions_are_bounded_and_the_oldest_is_logged_out() {
        let mut s = Sessions::default();
        let hour = Duration::from_secs(3600);
        let ids: Vec<String> = (0..=MAX_SESSIONS as i64)
            .map(|i| s.create(at(i), hour).unwrap())
            .collect();
        assert_eq!(s.len(), MAX_SESSIONS);
        assert!(s.get_mut(&ids[0], at(100)).is_none(), "the oldest went");
        assert!(ids[1..].iter().all(|id| s.get_mut(id, at(100)).is_some()));
        // Sessions end on the clock, and ended ones make room before anyone is pushed out.
        assert!(s.get_mut(&ids[1], at(3601)).is_none());
        s.create(at(7200), hour).unwrap();
        assert_eq!(s.len(), 1);
    }

    #[test]
    fn the_session_cookie_is_found_among_others() {
        assert_eq!(session_id("a=1; familydns_session=abc; b=2"), Some("abc"));
        assert_eq!(session_id("familydns_sessionx=abc"), None);
        let c = set_cookie("abc", Duration::from_secs(43200));
        for part in [
            "HttpOnly",
            "SameSite=Strict",
            "Path=/parents",
            "Max-Age=43200",
        ] {
            assert!(c.contains(part), "{c}");
        }
    }
}
