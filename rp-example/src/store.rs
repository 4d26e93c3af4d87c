//! In-memory stores for logins in progress and signed-in people. An example service keeps them in
//! process; a real one would use its own session store. Entries are keyed by 256-bit random ids that
//! travel in `__Host-` cookies.

use std::{
    collections::HashMap,
    sync::{Mutex, MutexGuard},
};

use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use openidconnect::{CsrfToken, Nonce, PkceCodeVerifier};
use serde_json::{Map, Value};

use crate::{assertion::random_token, core_identity::CoreIdentity, oidc::Level};

/// Cookie naming the login in progress.
pub const LOGIN_COOKIE: &str = "__Host-rp-login";
/// Cookie naming the session.
pub const SESSION_COOKIE: &str = "__Host-rp-session";
/// A login not finished within this time is forgotten.
pub const LOGIN_TTL_SECS: u64 = 600;
/// A session lasts at most this long.
pub const SESSION_TTL_SECS: u64 = 8 * 3600;

/// A `__Host-` cookie: Secure, HttpOnly, SameSite=Lax, Path=/, no Domain.
pub fn host_cookie(name: &'static str, value: String) -> Cookie<'static> {
    Cookie::build((name, value))
        .path("/")
        .secure(true)
        .http_only(true)
        .same_site(SameSite::Lax)
        .build()
}

/// Adds to `jar` the removal of a `__Host-` cookie (with the same attributes, as browsers require).
pub fn remove_cookie(jar: CookieJar, name: &'static str) -> CookieJar {
    jar.remove(host_cookie(name, String::new()))
}

/// What `/sign-in` remembers for `/callback`.
pub struct PendingLogin {
    /// The `state` sent.
    pub state: CsrfToken,
    /// The `nonce` sent, expected back in the ID token.
    pub nonce: Nonce,
    /// The PKCE verifier whose S256 challenge was sent.
    pub pkce_verifier: PkceCodeVerifier,
    /// The level asked for.
    pub level: Level,
    /// The W3C `traceparent` of the sign-in's start, when traces are on: the callback joins its trace.
    pub trace: Option<String>,
    created_at: u64,
}

impl PendingLogin {
    /// A login started now.
    pub fn new(state: CsrfToken, nonce: Nonce, pkce_verifier: PkceCodeVerifier, level: Level, now: u64) -> Self {
        Self {
            state,
            nonce,
            pkce_verifier,
            level,
            trace: None,
            created_at: now,
        }
    }

    /// The login, remembering the trace it started in.
    pub fn traced(self, trace: Option<String>) -> Self {
        Self { trace, ..self }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Logins in progress.
#[derive(Default)]
pub struct LoginStore {
    logins: Mutex<HashMap<String, PendingLogin>>,
}

impl LoginStore {
    /// Remembers a login and returns its id (for the cookie); forgets expired ones.
    pub fn insert(&self, login: PendingLogin, now: u64) -> String {
        let id = random_token();
        let mut logins = lock(&self.logins);
        logins.retain(|_, l| now.saturating_sub(l.created_at) < LOGIN_TTL_SECS);
        logins.insert(id.clone(), login);
        id
    }

    /// Takes the login (single use), if it exists and has not expired.
    pub fn take(&self, id: &str, now: u64) -> Option<PendingLogin> {
        lock(&self.logins)
            .remove(id)
            .filter(|l| now.saturating_sub(l.created_at) < LOGIN_TTL_SECS)
    }
}

/// A signed-in person: what the hub told us.
#[derive(Debug, Clone)]
pub struct Session {
    /// The pairwise subject.
    pub sub: String,
    /// The level reached.
    pub vot: String,
    /// The trust mark URL.
    pub vtm: Option<String>,
    /// The hub's journey session id (back-channel logout may name it).
    pub sid: Option<String>,
    /// The ID token, sent back as `id_token_hint` at logout.
    pub id_token: String,
    /// The userinfo response as received.
    pub userinfo: Map<String, Value>,
    /// The identity credential, validated at sign-in (`None` when userinfo had none).
    pub identity: Option<CoreIdentity>,
    created_at: u64,
}

impl Session {
    /// A session starting now.
    pub fn new(
        sub: String,
        vot: String,
        vtm: Option<String>,
        sid: Option<String>,
        id_token: String,
        userinfo: Map<String, Value>,
        now: u64,
    ) -> Self {
        Self {
            sub,
            vot,
            vtm,
            sid,
            id_token,
            userinfo,
            identity: None,
            created_at: now,
        }
    }

    /// The session with a validated identity credential.
    pub fn with_identity(mut self, identity: Option<CoreIdentity>) -> Self {
        self.identity = identity;
        self
    }
}

/// Signed-in people, by session id.
#[derive(Default)]
pub struct SessionStore {
    sessions: Mutex<HashMap<String, Session>>,
}

impl SessionStore {
    /// Stores a session and returns its id (for the cookie); forgets expired ones.
    pub fn insert(&self, session: Session, now: u64) -> String {
        let id = random_token();
        let mut sessions = lock(&self.sessions);
        sessions.retain(|_, s| now.saturating_sub(s.created_at) < SESSION_TTL_SECS);
        sessions.insert(id.clone(), session);
        id
    }

    /// The session with this id, if it exists and has not expired.
    pub fn get(&self, id: &str, now: u64) -> Option<Session> {
        lock(&self.sessions)
            .get(id)
            .filter(|s| now.saturating_sub(s.created_at) < SESSION_TTL_SECS)
            .cloned()
    }

    /// Ends the session with this id, returning it.
    pub fn remove(&self, id: &str) -> Option<Session> {
        lock(&self.sessions).remove(id)
    }

    /// Ends every session of this subject, or of this hub session id (back-channel logout); returns how many.
    pub fn remove_matching(&self, sub: Option<&str>, sid: Option<&str>) -> usize {
        let mut sessions = lock(&self.sessions);
        let before = sessions.len();
        sessions.retain(|_, s| {
            let by_sub = sub.is_some_and(|sub| s.sub == sub);
            let by_sid = sid.is_some_and(|sid| s.sid.as_deref() == Some(sid));
            !(by_sub || by_sid)
        });
        before - sessions.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(sub: &str, sid: &str) -> Session {
        Session::new(
            sub.into(),
            "Cl.Cm".into(),
            None,
            Some(sid.into()),
            "t".into(),
            Map::new(),
            0,
        )
    }

    #[test]
    fn backchannel_removal_by_sub_or_sid() {
        let store = SessionStore::default();
        let a = store.insert(session("alice", "s1"), 0);
        let b = store.insert(session("bob", "s2"), 0);
        let c = store.insert(session("carol", "s3"), 0);
        assert_eq!(store.remove_matching(Some("alice"), None), 1);
        assert_eq!(store.remove_matching(None, Some("s2")), 1);
        assert!(store.get(&a, 0).is_none());
        assert!(store.get(&b, 0).is_none());
        assert!(store.get(&c, 0).is_some());
        assert!(store.get(&c, SESSION_TTL_SECS).is_none());
    }

    #[test]
    fn logins_are_single_use_and_expire() {
        let store = LoginStore::default();
        let new = || {
            let (_, verifier) = openidconnect::PkceCodeChallenge::new_random_sha256();
            PendingLogin::new(
                CsrfToken::new("s".into()),
                Nonce::new("n".into()),
                verifier,
                Level::ClCm,
                0,
            )
        };
        let id = store.insert(new(), 0);
        assert!(store.take(&id, 1).is_some());
        assert!(store.take(&id, 1).is_none());
        let id = store.insert(new(), 0);
        assert!(store.take(&id, LOGIN_TTL_SECS).is_none());
    }
}
