//! Auditors' sign-in state, in memory on this instance: sessions (a random id in the
//! `__Host-auditor-session` cookie, 30 minutes idle and 8 hours at most on the hub's clock, each with its
//! CSRF token), the sign-in form's own CSRF cookie (double submit, before there is a session), a counter
//! of failed sign-ins per client address, and the Argon2id check of a password, which does the same work
//! for a name nobody has.
//!
//! Every store here is bounded: a flood of sign-ins or addresses cannot grow memory without limit.

use crate::{config::AuditorUser, ids};
use argon2::{password_hash::PasswordHash, Argon2, PasswordVerifier};
use std::{
    collections::HashMap,
    net::IpAddr,
    sync::{Mutex, MutexGuard},
};

/// The session cookie.
pub const SESSION_COOKIE: &str = "__Host-auditor-session";
/// The sign-in form's CSRF cookie (its value is the form's hidden `csrf`).
pub const SIGN_IN_COOKIE: &str = "__Host-auditor-sign-in";
/// A session ends after this long without a request, seconds.
pub const IDLE_SECS: i64 = 30 * 60;
/// A session ends this long after sign-in whatever happens, seconds.
pub const ABSOLUTE_SECS: i64 = 8 * 3600;
/// The most sessions held at once; past it, the one idle longest ends.
const MAX_SESSIONS: usize = 1024;
/// Failed sign-ins an address may make in [`FAILURE_WINDOW_SECS`] before it must wait.
pub const MAX_FAILURES: u32 = 5;
/// The window over which failed sign-ins count, and how long an address then waits, seconds.
pub const FAILURE_WINDOW_SECS: i64 = 15 * 60;
/// The most addresses whose failures are counted at once.
const MAX_ADDRESSES: usize = 10_000;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A signed-in auditor, as a page sees them.
#[derive(Debug, Clone)]
pub struct Signed {
    /// Their name.
    pub name: String,
    /// The CSRF token of their session's forms.
    pub csrf: String,
}

#[derive(Debug, Clone)]
struct Session {
    name: String,
    csrf: String,
    started: i64,
    seen: i64,
}

/// The live sessions, keyed by the SHA-256 of their id (a dump of memory yields no usable cookie).
#[derive(Debug, Default)]
pub struct Sessions(Mutex<HashMap<String, Session>>);

impl Sessions {
    /// Starts a session for `name`; returns its id (for the cookie).
    pub fn start(&self, name: &str, now: i64) -> String {
        let id = ids::random_token();
        let mut map = lock(&self.0);
        map.retain(|_, s| live(s, now));
        if map.len() >= MAX_SESSIONS {
            if let Some(oldest) = map.iter().min_by_key(|(_, s)| s.seen).map(|(k, _)| k.clone()) {
                map.remove(&oldest);
            }
        }
        map.insert(
            ids::hash(&id),
            Session {
                name: name.to_string(),
                csrf: ids::random_token(),
                started: now,
                seen: now,
            },
        );
        id
    }

    /// The session with this id, if live; its idle time starts again.
    pub fn touch(&self, id: &str, now: i64) -> Option<Signed> {
        let key = ids::hash(id);
        let mut map = lock(&self.0);
        let session = map.get_mut(&key)?;
        if !live(session, now) {
            map.remove(&key);
            return None;
        }
        session.seen = now;
        Some(Signed {
            name: session.name.clone(),
            csrf: session.csrf.clone(),
        })
    }

    /// Ends the session with this id.
    pub fn end(&self, id: &str) {
        lock(&self.0).remove(&ids::hash(id));
    }

    /// How many sessions are held (live or not yet swept).
    pub fn len(&self) -> usize {
        lock(&self.0).len()
    }

    /// Whether no session is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn live(s: &Session, now: i64) -> bool {
    now - s.seen < IDLE_SECS && now - s.started < ABSOLUTE_SECS
}

/// Failed sign-ins per client address (an IPv6 address counts by its /64, which one machine usually has).
#[derive(Debug, Default)]
pub struct Failures(Mutex<HashMap<IpAddr, (u32, i64)>>);

/// The address failures are counted under.
fn counted_as(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => {
            let mut seg = v6.segments();
            seg[4..].fill(0);
            IpAddr::V6(seg.into())
        }
    }
}

impl Failures {
    /// Seconds the address must wait before it may try again, if it must.
    pub fn wait(&self, ip: IpAddr, now: i64) -> Option<i64> {
        let map = lock(&self.0);
        match map.get(&counted_as(ip)) {
            Some(&(n, first)) if n >= MAX_FAILURES && now - first < FAILURE_WINDOW_SECS => {
                Some(FAILURE_WINDOW_SECS - (now - first))
            }
            Some(_) => None,
            // An address never seen, while the table is full of live counts: refused, as it cannot be
            // counted (fail closed).
            None if map.len() >= MAX_ADDRESSES => Some(FAILURE_WINDOW_SECS),
            None => None,
        }
    }

    /// Counts a failed sign-in from the address.
    pub fn failed(&self, ip: IpAddr, now: i64) {
        let mut map = lock(&self.0);
        if map.len() >= MAX_ADDRESSES {
            map.retain(|_, (_, first)| now - *first < FAILURE_WINDOW_SECS);
        }
        if map.len() >= MAX_ADDRESSES && !map.contains_key(&counted_as(ip)) {
            return;
        }
        let entry = map.entry(counted_as(ip)).or_insert((0, now));
        if now - entry.1 >= FAILURE_WINDOW_SECS {
            *entry = (0, now);
        }
        entry.0 += 1;
    }

    /// Forgets the address's failures (it signed in).
    pub fn succeeded(&self, ip: IpAddr) {
        lock(&self.0).remove(&counted_as(ip));
    }
}

/// Whether `password` is the password of the user `name`; the same Argon2id work is done for a name no
/// user has (against a hash made once at start), so the time taken does not tell who is a user.
/// Blocking (tens of milliseconds): call it off the async threads.
pub fn check_password(users: &[AuditorUser], name: &str, password: &str) -> bool {
    static DUMMY_HASH: std::sync::LazyLock<String> =
        std::sync::LazyLock::new(|| keys::hash_secret("not-the-password-of-any-auditor").unwrap_or_default());
    let user = users.iter().find(|u| ids::constant_time_eq(&u.name, name));
    let hash = user.map(|u| u.password_hash.as_str()).unwrap_or(DUMMY_HASH.as_str());
    let ok = PasswordHash::new(hash)
        .is_ok_and(|parsed| Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok());
    ok && user.is_some()
}

/// The view's cookies (`__Host-`, `Secure`, `HttpOnly`, `SameSite=Strict`), set, cleared and read through
/// the hub's one cookie module.
pub use crate::http::cookies::strict::{clear, read, set};

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn sessions_end_after_idle_time_and_at_their_absolute_end() {
        let sessions = Sessions::default();
        let id = sessions.start("ann", 0);
        assert_eq!(sessions.touch(&id, IDLE_SECS - 1).unwrap().name, "ann");
        assert!(
            sessions.touch(&id, 2 * IDLE_SECS - 2).is_some(),
            "touching restarts the idle time"
        );
        assert!(sessions.touch(&id, 3 * IDLE_SECS).is_none(), "idle too long");
        let id = sessions.start("ann", 0);
        let mut t = 0;
        while t + IDLE_SECS / 2 < ABSOLUTE_SECS {
            t += IDLE_SECS / 2;
            assert!(sessions.touch(&id, t).is_some());
        }
        assert!(
            sessions.touch(&id, ABSOLUTE_SECS).is_none(),
            "past the absolute lifetime"
        );
        assert!(sessions.touch("not-a-session", 0).is_none());
        let id = sessions.start("bob", 0);
        sessions.end(&id);
        assert!(sessions.touch(&id, 1).is_none());
    }

    #[test]
    fn sessions_are_bounded() {
        let sessions = Sessions::default();
        let first = sessions.start("a", 0);
        for t in 1..=MAX_SESSIONS as i64 {
            sessions.start("a", t);
        }
        assert_eq!(sessions.len(), MAX_SESSIONS);
        assert!(sessions.touch(&first, MAX_SESSIONS as i64).is_none(), "the oldest went");
    }

    #[test]
    fn failures_make_an_address_wait_and_expire() {
        let f = Failures::default();
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        for _ in 0..MAX_FAILURES {
            assert_eq!(f.wait(ip, 10), None);
            f.failed(ip, 10);
        }
        assert_eq!(f.wait(ip, 10), Some(FAILURE_WINDOW_SECS));
        assert_eq!(f.wait("192.0.2.2".parse().unwrap(), 10), None, "another address");
        assert_eq!(f.wait(ip, 10 + FAILURE_WINDOW_SECS), None, "the window passed");
        f.failed(ip, 10 + FAILURE_WINDOW_SECS);
        assert_eq!(f.wait(ip, 10 + FAILURE_WINDOW_SECS), None, "counting starts again");
        let a: IpAddr = "2001:db8::1".parse().unwrap();
        let b: IpAddr = "2001:db8::2".parse().unwrap();
        for _ in 0..MAX_FAILURES {
            f.failed(a, 0);
        }
        assert!(f.wait(b, 0).is_some(), "one /64 counts as one address");
        f.succeeded(b);
        assert_eq!(f.wait(a, 0), None);
    }

    #[test]
    fn passwords_check_against_argon2id_hashes() {
        let users = vec![AuditorUser {
            name: "ann".into(),
            password_hash: keys::hash_secret("correct horse").unwrap(),
        }];
        assert!(check_password(&users, "ann", "correct horse"));
        assert!(!check_password(&users, "ann", "wrong"));
        assert!(!check_password(&users, "bob", "correct horse"));
        assert!(!check_password(&users, "bob", "not-the-password-of-any-auditor"));
    }
}
