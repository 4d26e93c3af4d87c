//! `TestApp`: the hub's router in-process with a fake provider, a memory store, a recording audit sink
//! and a clock the test moves. Builders say only what differs; `Browser` keeps cookies as a browser
//! does; `Service` is the test relying service with its own key.
//!
//! ```ignore
//! let app = TestApp::new().with_client(EXTRA_CLIENT).with_provider(Persona::p2()).build();
//! ```

use crate::fake_provider::{FakeInternet, FakeProvider, Outcome, Persona, HUB_CLIENT_ID};
use axum::{
    body::Body,
    http::{header, HeaderMap, Method, Request, StatusCode},
    Router,
};
use hub::{
    audit::{
        log::{AuditLog, LogHandle, LogSettings},
        AuditError, AuditSink, Entry, Fact, RecordingAudit,
    },
    clock::ManualClock,
    registry::{ClientRegistry, ProviderRegistry},
    state::{HubKeys, Seams},
    store::MemoryStore,
    AppState, Config,
};
use serde_json::{json, Value};
use std::{collections::HashMap, sync::Arc};
use tower::ServiceExt as _;

/// The hub's issuer in these tests.
pub const HUB: &str = "https://hub.example";
/// The fake provider's issuer.
pub const IDP: &str = "https://idp.example";
/// The test service.
pub const SVC: &str = "svc";
/// Its redirect URI.
pub const SVC_REDIRECT: &str = "https://svc.example/cb";
/// Where the test clock starts.
pub const T0: i64 = 1_800_000_000;
/// The identity credential claim.
pub const CORE: &str = "https://vocab.account.gov.uk/v1/coreIdentityJWT";
/// The return code claim.
pub const RETURN_CODE: &str = "https://vocab.account.gov.uk/v1/returnCode";

/// Builds a [`TestApp`].
pub struct Builder {
    extra_clients: String,
    persona: Persona,
    config: Box<dyn Fn(&mut Config)>,
    store_limit: usize,
    audit_log: bool,
    auditor_users: Vec<(String, String)>,
}

/// A hub in-process, its fake provider and seams.
pub struct TestApp {
    pub router: Router,
    pub clock: ManualClock,
    pub audit: Arc<RecordingAudit>,
    pub store: Arc<MemoryStore>,
    pub provider: FakeProvider,
    pub service: Service,
    pub state: AppState,
    /// The instance's real assertion log, when built [`Builder::with_audit_log`].
    pub audit_log: Option<LogHandle>,
    _dir: tempfile::TempDir,
}

impl TestApp {
    /// A builder with the test service and one provider signing in a P2 persona.
    #[allow(clippy::new_ret_no_self)]
    pub fn new() -> Builder {
        Builder {
            extra_clients: String::new(),
            persona: Persona::p2(),
            config: Box::new(|_| {}),
            store_limit: 100_000,
            audit_log: false,
            auditor_users: Vec::new(),
        }
    }
}

impl Builder {
    /// Appends `[[clients]]` TOML to the client registry (`$SVC_KEY` is the test service's public key).
    pub fn with_client(mut self, toml: &str) -> Self {
        self.extra_clients.push_str(toml);
        self
    }

    /// The persona the provider signs in by default.
    pub fn with_provider(mut self, persona: Persona) -> Self {
        self.persona = persona;
        self
    }

    /// Changes the hub's configuration.
    pub fn with_config(mut self, f: impl Fn(&mut Config) + 'static) -> Self {
        self.config = Box::new(f);
        self
    }

    /// Bounds the memory store.
    pub fn with_store_limit(mut self, entries: usize) -> Self {
        self.store_limit = entries;
        self
    }

    /// Writes every audit entry to a real assertion log in the app's temporary directory too (origin
    /// [`LOG_ORIGIN`], a checkpoint after every entry), as `state.audit_log`; the recording sink still
    /// sees every entry.
    pub fn with_audit_log(mut self) -> Self {
        self.audit_log = true;
        self
    }

    /// Lets an auditor with this name and password sign in to the auditor view.
    pub fn with_auditor_user(mut self, name: &str, password: &str) -> Self {
        self.auditor_users.push((name.to_string(), password.to_string()));
        self
    }

    /// Starts the hub.
    pub fn build(self) -> TestApp {
        let dir = tempfile::tempdir().unwrap();
        // The hub's keys are made once per test run (an RSA key takes a while) and copied into each app.
        static KEYS: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
        let made = KEYS.get_or_init(|| {
            let keys = tempfile::tempdir().unwrap();
            HubKeys::load_or_generate(keys.path()).unwrap();
            keys
        });
        for entry in std::fs::read_dir(made.path()).unwrap() {
            let path = entry.unwrap().path();
            std::fs::copy(&path, dir.path().join(path.file_name().unwrap())).unwrap();
        }
        let service_key = keys::SigningKey::generate().unwrap();
        let public = service_key.public_pem().unwrap();
        let clients = format!(
            r#"[[clients]]
client_id = "{SVC}"
client_name = "A service"
client_name_cy = "Gwasanaeth"
redirect_uris = ["{SVC_REDIRECT}"]
post_logout_redirect_uris = ["https://svc.example/signed-out"]
backchannel_logout_uri = "https://svc.example/backchannel"
scopes = ["openid", "email", "phone"]
levels = ["Cl.Cm", "Cl.Cm.P2"]
claims = [
  "https://vocab.account.gov.uk/v1/coreIdentityJWT",
  "https://vocab.account.gov.uk/v1/address",
  "https://vocab.account.gov.uk/v1/passport",
  "https://vocab.account.gov.uk/v1/returnCode",
]
max_age_enabled = true
public_key = """
{public}"""
{}"#,
            self.extra_clients.replace("$SVC_KEY", &public)
        );
        let providers = format!(
            r#"[[providers]]
id = "idp"
name = "Fake ID"
name_cy = "ID Ffug"
issuer = "{IDP}"
client_id = "{HUB_CLIENT_ID}"
levels = ["Cl", "Cl.Cm", "Cl.Cm.P1", "Cl.Cm.P2"]
claims = [
  "https://vocab.account.gov.uk/v1/coreIdentityJWT",
  "https://vocab.account.gov.uk/v1/address",
  "https://vocab.account.gov.uk/v1/passport",
]
[[providers]]
id = "down"
name = "Down ID"
name_cy = "ID i Lawr"
issuer = "https://down.example"
client_id = "{HUB_CLIENT_ID}"
levels = ["Cl.Cm", "Cl.Cm.P2"]
temporarily_unavailable = true
"#
        );
        let mut config = Config {
            issuer: HUB.into(),
            ..Config::default()
        };
        (self.config)(&mut config);
        for (name, password) in &self.auditor_users {
            config.auditor.users.push(hub::config::AuditorUser {
                name: name.clone(),
                password_hash: keys::hash_secret(password).unwrap(),
            });
        }
        let clock = ManualClock::at(T0);
        let store = Arc::new(MemoryStore::new(Arc::new(clock.clone()), self.store_limit));
        let audit = Arc::new(RecordingAudit::default());
        let provider = FakeProvider::new(IDP, self.persona, clock.clone());
        let audit_log = self.audit_log.then(|| {
            let settings = LogSettings {
                dir: dir.path().join("audit-log"),
                origin: LOG_ORIGIN.into(),
                key_file: dir.path().join("audit.key"),
                checkpoint_interval: std::time::Duration::from_millis(50),
                checkpoint_every: 1,
            };
            LogHandle(Arc::new(AuditLog::open(&settings).unwrap()))
        });
        let sink: hub::audit::Sink = match &audit_log {
            Some(log) => Arc::new(BothSinks {
                recording: audit.clone(),
                log: log.clone(),
            }),
            None => audit.clone(),
        };
        let seams = Seams {
            store: store.clone(),
            clock: Arc::new(clock.clone()),
            outbound: Arc::new(FakeInternet {
                provider: provider.clone(),
            }),
            audit: sink,
        };
        let mut state = AppState::new(
            config,
            ClientRegistry::parse(&clients).unwrap(),
            ProviderRegistry::parse(&providers).unwrap(),
            HubKeys::load_or_generate(dir.path()).unwrap(),
            seams,
        );
        if let Some(inner) = Arc::get_mut(&mut state.0) {
            inner.audit_log = audit_log.clone();
        }
        TestApp {
            router: hub::router(state.clone()),
            clock,
            audit,
            store,
            provider,
            service: Service { key: service_key },
            state,
            audit_log,
            _dir: dir,
        }
    }
}

/// The origin of a [`Builder::with_audit_log`] app's log.
pub const LOG_ORIGIN: &str = "hub.example/audit/test";

/// Records every entry in memory and in the real log.
#[derive(Debug)]
struct BothSinks {
    recording: Arc<RecordingAudit>,
    log: LogHandle,
}

#[async_trait::async_trait]
impl AuditSink for BothSinks {
    async fn record(&self, entry: Entry) -> Result<(), AuditError> {
        self.recording.record(entry.clone()).await?;
        self.log.record(entry).await
    }

    fn note(&self, entry: Entry) {
        self.recording.note(entry.clone());
        self.log.note(entry);
    }

    fn healthy(&self) -> bool {
        self.recording.healthy() && self.log.healthy()
    }
}

impl TestApp {
    /// Waits until every entry written to the real log is published (in its tiles and checkpoint).
    pub async fn published(&self) {
        let Some(log) = &self.audit_log else { return };
        for _ in 0..500 {
            let log = log.0.log();
            if log.queued() == 0 && log.published_size() == log.size() {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        panic!("the log did not publish its entries");
    }
}

/// One response as seen.
#[derive(Debug, Clone)]
pub struct Seen {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Seen {
    /// The `Location` header.
    pub fn location(&self) -> String {
        self.headers
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    }

    /// The body as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }

    /// The query (or fragment) parameters of the redirect.
    pub fn params(&self) -> HashMap<String, String> {
        let location = self.location();
        let query = location.split_once(['?', '#']).map(|(_, q)| q).unwrap_or_default();
        url::form_urlencoded::parse(query.as_bytes()).into_owned().collect()
    }

    /// The error code a page shows (`govuk` pages carry it for support).
    pub fn shows(&self, text: &str) -> bool {
        self.body.contains(text)
    }

    /// The `href` of the element with this id (a link or a button-styled link).
    pub fn link(&self, id: &str) -> String {
        let doc = scraper::Html::parse_document(&self.body);
        let sel = scraper::Selector::parse(&format!("#{id}")).unwrap();
        doc.select(&sel)
            .next()
            .and_then(|e| e.value().attr("href"))
            .unwrap_or_default()
            .replace("&amp;", "&")
    }

    /// The value of the first hidden input named `name` on the page.
    pub fn hidden(&self, name: &str) -> String {
        let doc = scraper::Html::parse_document(&self.body);
        let sel = scraper::Selector::parse(&format!("input[type=hidden][name={name}]")).unwrap();
        doc.select(&sel)
            .next()
            .and_then(|e| e.value().attr("value"))
            .unwrap_or_default()
            .to_string()
    }

    /// The hidden `journey` and `csrf` of the page's forms, with `extra` fields.
    pub fn form<'a>(&self, extra: &[(&'a str, &'a str)]) -> Vec<(String, String)> {
        let mut fields = vec![
            ("journey".to_string(), self.hidden("journey")),
            ("csrf".to_string(), self.hidden("csrf")),
        ];
        fields.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        fields
    }
}

impl TestApp {
    /// Sends one request through the router.
    pub async fn send(&self, request: Request<Body>) -> Seen {
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let body = axum::body::to_bytes(response.into_body(), 1 << 22).await.unwrap();
        Seen {
            status,
            headers,
            body: String::from_utf8_lossy(&body).to_string(),
        }
    }

    /// A GET without cookies.
    pub async fn get(&self, uri: &str) -> Seen {
        self.send(Request::get(uri).body(Body::empty()).unwrap()).await
    }

    /// A form POST without cookies.
    pub async fn post_form(&self, uri: &str, form: &[(&str, &str)]) -> Seen {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form.iter())
            .finish();
        self.send(
            Request::post(uri)
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from(body))
                .unwrap(),
        )
        .await
    }

    /// The audit facts so far.
    pub fn facts(&self) -> Vec<Fact> {
        self.audit.facts()
    }

    /// How many codes were asserted (audit "assertion issued" entries).
    pub fn assertions(&self) -> usize {
        self.facts()
            .iter()
            .filter(|f| matches!(f, Fact::AssertionIssued { .. }))
            .count()
    }
}

/// A browser: cookies kept per name, as a browser keeps the hub's on its one origin.
#[derive(Debug, Default, Clone)]
pub struct Browser {
    pub cookies: HashMap<String, String>,
}

impl Browser {
    fn keep(&mut self, headers: &HeaderMap) {
        for value in headers.get_all(header::SET_COOKIE) {
            let text = value.to_str().unwrap_or_default();
            let Some((name, rest)) = text.split_once('=') else {
                continue;
            };
            let value = rest.split(';').next().unwrap_or_default();
            if value.is_empty() || text.contains("Max-Age=0") {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_string(), value.to_string());
            }
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// A request with this browser's cookies; the cookies it is given are kept.
    pub async fn request(&mut self, app: &TestApp, method: Method, uri: &str, form: &[(&str, &str)]) -> Seen {
        let mut builder = Request::builder()
            .method(method.clone())
            .uri(uri)
            .header(header::COOKIE, self.cookie_header());
        let body = if method == Method::POST {
            builder = builder.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
            Body::from(
                url::form_urlencoded::Serializer::new(String::new())
                    .extend_pairs(form.iter())
                    .finish(),
            )
        } else {
            Body::empty()
        };
        let seen = app.send(builder.body(body).unwrap()).await;
        self.keep(&seen.headers);
        seen
    }

    /// A GET.
    pub async fn get(&mut self, app: &TestApp, uri: &str) -> Seen {
        self.request(app, Method::GET, uri, &[]).await
    }

    /// A form POST.
    pub async fn post(&mut self, app: &TestApp, uri: &str, form: &[(&str, &str)]) -> Seen {
        self.request(app, Method::POST, uri, form).await
    }

    /// Submits a page's form (its hidden `journey` and `csrf`) to `uri` with `extra` fields.
    pub async fn submit(&mut self, app: &TestApp, page: &Seen, uri: &str, extra: &[(&str, &str)]) -> Seen {
        let fields = page.form(extra);
        let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        self.request(app, Method::POST, uri, &fields).await
    }
}

/// A PKCE pair (RFC 7636).
#[derive(Debug, Clone)]
pub struct Pkce {
    pub verifier: String,
    pub challenge: String,
}

impl Pkce {
    pub fn new() -> Self {
        let verifier = hub::ids::random_token();
        Self {
            challenge: hub::ids::pkce_challenge(&verifier),
            verifier,
        }
    }
}

/// The test relying service: it builds authorization requests and redeems codes with `private_key_jwt`.
#[derive(Debug)]
pub struct Service {
    pub key: keys::SigningKey,
}

impl Service {
    /// The authorization URL (path and query) for `vtr` and `claims`, with PKCE and `extra` parameters.
    pub fn authorize(&self, pkce: &Pkce, vtr: &str, claims: &[&str], extra: &[(&str, &str)]) -> String {
        let claims = if claims.is_empty() {
            None
        } else {
            let map: serde_json::Map<String, Value> = claims.iter().map(|c| (c.to_string(), Value::Null)).collect();
            Some(json!({ "userinfo": map }).to_string())
        };
        let mut params: Vec<(&str, String)> = vec![
            ("response_type", "code".into()),
            ("client_id", SVC.into()),
            ("redirect_uri", SVC_REDIRECT.into()),
            ("scope", "openid email".into()),
            ("state", "svc-state".into()),
            ("nonce", "svc-nonce".into()),
            ("code_challenge", pkce.challenge.clone()),
            ("code_challenge_method", "S256".into()),
            ("vtr", format!("[\"{vtr}\"]")),
        ];
        if let Some(c) = claims {
            params.push(("claims", c));
        }
        for (k, v) in extra {
            params.retain(|(name, _)| name != k);
            params.push((k, v.to_string()));
        }
        let query = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(params.iter().map(|(k, v)| (*k, v.as_str())))
            .finish();
        format!("/authorize?{query}")
    }

    /// A client assertion for the token endpoint, with claims overridable.
    pub fn assertion(&self, now: i64, overrides: Value) -> String {
        let mut claims = json!({
            "iss": SVC, "sub": SVC, "aud": format!("{HUB}/token"),
            "jti": hub::ids::random_token(), "iat": now, "exp": now + 300,
        });
        if let (Some(map), Some(o)) = (claims.as_object_mut(), overrides.as_object()) {
            for (k, v) in o {
                map.insert(k.clone(), v.clone());
            }
        }
        self.key.sign_jwt("JWT", claims.as_object().unwrap()).unwrap()
    }

    /// Redeems a code with a fresh assertion.
    pub async fn redeem(&self, app: &TestApp, code: &str, verifier: &str) -> Seen {
        let assertion = self.assertion(app.clock.now_secs(), json!({}));
        self.redeem_with(app, code, verifier, &assertion).await
    }

    /// Redeems a code with the given assertion.
    pub async fn redeem_with(&self, app: &TestApp, code: &str, verifier: &str, assertion: &str) -> Seen {
        app.post_form(
            "/token",
            &[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", SVC_REDIRECT),
                ("code_verifier", verifier),
                (
                    "client_assertion_type",
                    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                ),
                ("client_assertion", assertion),
            ],
        )
        .await
    }

    /// Userinfo with a Bearer token.
    pub async fn userinfo(&self, app: &TestApp, token: &str) -> Seen {
        app.send(
            Request::get("/userinfo")
                .header(header::AUTHORIZATION, format!("Bearer {token}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await
    }
}

/// The clock's time in seconds.
pub trait Now {
    fn now_secs(&self) -> i64;
}

impl Now for ManualClock {
    fn now_secs(&self) -> i64 {
        hub::clock::Clock::now(self)
    }
}

/// Where a sign-in ended.
#[derive(Debug)]
pub struct Ended {
    /// The last response (a redirect to the service, or a page).
    pub last: Seen,
    pub pkce: Pkce,
}

impl Ended {
    /// The code given to the service, if the journey ended with one.
    pub fn code(&self) -> Option<String> {
        self.last
            .location()
            .starts_with(SVC_REDIRECT)
            .then(|| self.last.params().get("code").cloned())
            .flatten()
    }
}

/// A sign-in to drive: what the service asks, and how the provider answers.
#[derive(Debug, Clone)]
pub struct SignIn {
    pub vtr: &'static str,
    pub claims: Vec<&'static str>,
    pub extra: Vec<(&'static str, String)>,
    pub outcome: Outcome,
    pub persona: Option<Persona>,
    /// Accept (or decline) consent when asked.
    pub consent: bool,
}

impl SignIn {
    /// A `Cl.Cm` sign-in that succeeds.
    pub fn cl_cm() -> Self {
        Self {
            vtr: "Cl.Cm",
            claims: Vec::new(),
            extra: Vec::new(),
            outcome: Outcome::Success,
            persona: None,
            consent: true,
        }
    }

    /// A `Cl.Cm.P2` sign-in asking for the identity credential, that succeeds.
    pub fn p2() -> Self {
        Self {
            vtr: "Cl.Cm.P2",
            claims: vec![CORE],
            ..Self::cl_cm()
        }
    }

    pub fn outcome(mut self, outcome: Outcome) -> Self {
        self.outcome = outcome;
        self
    }

    pub fn persona(mut self, persona: Persona) -> Self {
        self.persona = Some(persona);
        self
    }

    pub fn claims(mut self, claims: &[&'static str]) -> Self {
        self.claims = claims.to_vec();
        self
    }

    pub fn param(mut self, name: &'static str, value: &str) -> Self {
        self.extra.push((name, value.to_string()));
        self
    }

    pub fn decline(mut self) -> Self {
        self.consent = false;
        self
    }
}

impl TestApp {
    /// Drives one whole sign-in in `browser`: authorize, the choice, the provider, consent when asked;
    /// stops at the redirect to the service or at any page that is not the next step.
    pub async fn sign_in(&self, browser: &mut Browser, s: SignIn) -> Ended {
        let pkce = Pkce::new();
        let extra: Vec<(&str, &str)> = s.extra.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let url = self.service.authorize(&pkce, s.vtr, &s.claims, &extra);
        self.drive(browser, &url, pkce, s).await
    }

    /// Drives a sign-in from `url` (an `/authorize` URL of any client), as [`TestApp::sign_in`] does.
    pub async fn drive(&self, browser: &mut Browser, url: &str, pkce: Pkce, s: SignIn) -> Ended {
        let mut seen = browser.get(self, url).await;
        let mut answered = false;
        for _ in 0..10 {
            let location = seen.location();
            seen = if seen.status != StatusCode::FOUND || location.starts_with(SVC_REDIRECT) {
                return Ended { last: seen, pkce };
            } else if location.starts_with("/choose-provider") {
                let page = browser.get(self, &location).await;
                // Back at the choice after the provider answered: that is where this sign-in ends.
                if page.status != StatusCode::OK || answered {
                    return Ended { last: page, pkce };
                }
                browser
                    .submit(self, &page, "/choose-provider", &[("provider", "idp")])
                    .await
            } else if location.starts_with(IDP) {
                let persona = s.persona.clone().unwrap_or_else(|| self.provider.persona.clone());
                let back = self.provider.answer(&location, persona, s.outcome);
                answered = true;
                browser.get(self, &back).await
            } else if location.starts_with("/consent") {
                let page = browser.get(self, &location).await;
                assert_eq!(page.status, StatusCode::OK, "{}", page.body);
                let decision = if s.consent { "accept" } else { "decline" };
                browser.submit(self, &page, "/consent", &[("decision", decision)]).await
            } else {
                return Ended { last: seen, pkce };
            };
        }
        panic!("too many redirects")
    }
}
