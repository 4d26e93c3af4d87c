//! The auditor view in-process: a hub with a real assertion log runs sign-ins through `TestApp`, and an
//! auditor signs in to `hub::auditor::router` and reads them back: search, figures, proofs, the log in
//! the tlog-tiles layout, and the overview that says whether the log verifies.

use crate::{
    app::{Browser, Seen, SignIn, TestApp, LOG_ORIGIN, SVC},
    fake_provider::Outcome,
};
use axum::{
    body::Body,
    http::{header, Method, Request, StatusCode},
    Router,
};
use hub::{
    audit::{AuditSink as _, Entry, Fact},
    auditor::{self, AuditorState},
};
use std::collections::HashMap;
use tower::ServiceExt as _;

/// The auditor in these tests.
const ANN: &str = "ann";
const ANN_PASSWORD: &str = "correct horse battery staple";
/// The own log's slug in addresses.
const SLUG: &str = "hub.example-audit-test";

/// An auditor's browser on the auditor view: its cookies kept by name.
struct Desk {
    state: AuditorState,
    router: Router,
    cookies: HashMap<String, String>,
}

impl Desk {
    fn new(app: &TestApp) -> Self {
        let state = AuditorState::new(app.state.clone());
        Self {
            router: auditor::router(state.clone()),
            state,
            cookies: HashMap::new(),
        }
    }

    async fn request(&mut self, method: Method, uri: &str, form: &[(&str, &str)]) -> Seen {
        let cookie = self
            .cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ");
        let mut builder = Request::builder().method(method.clone()).uri(uri);
        if !cookie.is_empty() {
            builder = builder.header(header::COOKIE, cookie);
        }
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
        let response = self.router.clone().oneshot(builder.body(body).unwrap()).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let body = axum::body::to_bytes(response.into_body(), 1 << 24).await.unwrap();
        for value in headers.get_all(header::SET_COOKIE) {
            let text = value.to_str().unwrap();
            let (name, rest) = text.split_once('=').unwrap();
            let value = rest.split(';').next().unwrap();
            if value.is_empty() || text.contains("Max-Age=0") {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_string(), value.to_string());
            }
        }
        Seen {
            status,
            headers,
            body: String::from_utf8_lossy(&body).to_string(),
        }
    }

    async fn get(&mut self, uri: &str) -> Seen {
        self.request(Method::GET, uri, &[]).await
    }

    async fn post(&mut self, uri: &str, form: &[(&str, &str)]) -> Seen {
        self.request(Method::POST, uri, form).await
    }

    /// Fills in and sends the sign-in form.
    async fn sign_in(&mut self, name: &str, password: &str) -> Seen {
        let form = self.get("/sign-in").await;
        assert_eq!(form.status, StatusCode::OK, "{}", form.body);
        let csrf = form.hidden("csrf");
        self.post(
            "/sign-in",
            &[("name", name), ("password", password), ("csrf", &csrf), ("next", "/")],
        )
        .await
    }

    /// Signs in as Ann, who must get in.
    async fn signed_in(app: &TestApp) -> Self {
        let mut desk = Self::new(app);
        let seen = desk.sign_in(ANN, ANN_PASSWORD).await;
        assert_eq!(
            (seen.status, seen.location()),
            (StatusCode::FOUND, "/".to_string()),
            "{}",
            seen.body
        );
        desk
    }
}

/// A hub writing a real log, with Ann as its auditor.
fn app() -> TestApp {
    TestApp::new()
        .with_audit_log()
        .with_auditor_user(ANN, ANN_PASSWORD)
        .build()
}

/// Runs sign-ins, each in its own browser (no single sign-on), and waits for the log to publish them.
async fn sign_ins(app: &TestApp, runs: Vec<SignIn>) {
    for run in runs {
        let mut browser = Browser::default();
        let denied = matches!(run.outcome, Outcome::Denied);
        let ended = app.sign_in(&mut browser, run).await;
        if denied {
            // Back to the service from the error page: it gets access_denied.
            let link = ended.last.link("return-to-service");
            browser.get(app, &link).await;
        } else {
            assert!(ended.code().is_some(), "{:?}", ended.last);
        }
    }
    app.published().await;
}

/// The texts of the elements `selector` picks.
fn texts(seen: &Seen, selector: &str) -> Vec<String> {
    let doc = scraper::Html::parse_document(&seen.body);
    let sel = scraper::Selector::parse(selector).unwrap();
    doc.select(&sel)
        .map(|e| {
            e.text()
                .collect::<String>()
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect()
}

/// The `href`s of the elements `selector` picks.
fn hrefs(seen: &Seen, selector: &str) -> Vec<String> {
    let doc = scraper::Html::parse_document(&seen.body);
    let sel = scraper::Selector::parse(selector).unwrap();
    doc.select(&sel)
        .filter_map(|e| e.value().attr("href"))
        .map(|h| h.replace("&amp;", "&"))
        .collect()
}

fn log_dir(app: &TestApp) -> std::path::PathBuf {
    app.audit_log.as_ref().unwrap().0.dir().to_path_buf()
}

fn vkey(app: &TestApp) -> String {
    app.audit_log.as_ref().unwrap().0.vkey().to_string()
}

/// The log's entries as bytes, by index.
fn log_entries(app: &TestApp) -> Vec<Vec<u8>> {
    let (_, entries) = tlog::read::read_entries(&log_dir(app), &vkey(app)).unwrap();
    entries.map(|e| e.unwrap().1).collect()
}

#[tokio::test]
async fn every_page_needs_a_signed_in_auditor_and_a_wrong_password_is_refused() {
    let app = app();
    let mut desk = Desk::new(&app);
    for page in ["/", "/search?service=svc", "/entry/x/0", "/entry/x/0/proof"] {
        let seen = desk.get(page).await;
        assert_eq!(seen.status, StatusCode::FOUND, "{page}");
        assert!(seen.location().starts_with("/sign-in"), "{page}: {}", seen.location());
    }
    let figures = desk.get("/figures?from=2027-01-01").await;
    assert_eq!(figures.location(), "/sign-in?next=%2Ffigures%3Ffrom%3D2027-01-01");

    // The form, its CSRF cookie strict and host-only.
    let form = desk.get("/sign-in").await;
    assert_eq!(form.status, StatusCode::OK);
    assert_eq!(texts(&form, "h1"), ["Sign in to the assertion log auditor"]);
    assert_eq!(form.headers[header::X_FRAME_OPTIONS], "DENY");
    assert_eq!(form.headers[header::CACHE_CONTROL], "no-store");
    let set = form.headers[header::SET_COOKIE].to_str().unwrap();
    for attr in [
        "__Host-auditor-sign-in=",
        "Secure",
        "HttpOnly",
        "SameSite=Strict",
        "Path=/",
    ] {
        assert!(set.contains(attr), "{set} lacks {attr}");
    }

    // A wrong password, and a name nobody has: refused, with no session.
    for (name, password) in [(ANN, "wrong"), ("bob", ANN_PASSWORD)] {
        let refused = desk.sign_in(name, password).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST);
        assert_eq!(
            texts(&refused, "#error-summary a"),
            ["The name or password is not right"]
        );
        assert!(texts(&refused, "title")[0].starts_with("Error: "));
        assert!(!desk.cookies.contains_key("__Host-auditor-session"));
        assert_eq!(desk.get("/").await.status, StatusCode::FOUND);
    }

    // Empty fields are named in the error summary, and link to their inputs.
    let csrf = desk.get("/sign-in").await.hidden("csrf");
    let empty = desk
        .post("/sign-in", &[("name", ""), ("password", ""), ("csrf", &csrf)])
        .await;
    assert_eq!(hrefs(&empty, "#error-summary a"), ["#name", "#password"]);

    // Without the form's CSRF token: refused even with the right password.
    let mut stranger = Desk::new(&app);
    let forged = stranger
        .post(
            "/sign-in",
            &[("name", ANN), ("password", ANN_PASSWORD), ("csrf", &csrf)],
        )
        .await;
    assert_eq!(forged.status, StatusCode::BAD_REQUEST);
    assert!(!stranger.cookies.contains_key("__Host-auditor-session"));

    // The right password: a session cookie, strict and host-only, and the pages.
    let seen = desk.sign_in(ANN, ANN_PASSWORD).await;
    assert_eq!((seen.status, seen.location()), (StatusCode::FOUND, "/".to_string()));
    let set: Vec<&str> = seen
        .headers
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    let session = set.iter().find(|c| c.starts_with("__Host-auditor-session=")).unwrap();
    for attr in ["Secure", "HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(session.contains(attr), "{session} lacks {attr}");
    }
    let overview = desk.get("/").await;
    assert_eq!(overview.status, StatusCode::OK, "{}", overview.body);
    assert_eq!(texts(&overview, "#signed-in-as"), [ANN]);

    // Signing out needs the session's CSRF token; then the pages are closed again.
    let wrong = desk.post("/sign-out", &[("csrf", "not-the-token")]).await;
    assert_eq!(wrong.status, StatusCode::BAD_REQUEST);
    assert_eq!(desk.get("/").await.status, StatusCode::OK);
    let csrf = overview.hidden("csrf");
    let out = desk.post("/sign-out", &[("csrf", &csrf)]).await;
    assert_eq!(
        (out.status, out.location()),
        (StatusCode::FOUND, "/sign-in".to_string())
    );
    assert_eq!(desk.get("/").await.status, StatusCode::FOUND);
}

#[tokio::test]
async fn a_session_ends_after_thirty_idle_minutes() {
    let app = app();
    let mut desk = Desk::signed_in(&app).await;
    app.clock.advance(29 * 60);
    assert_eq!(desk.get("/").await.status, StatusCode::OK, "29 minutes idle");
    app.clock.advance(29 * 60);
    assert_eq!(
        desk.get("/").await.status,
        StatusCode::OK,
        "each request starts the idle time again"
    );
    app.clock.advance(30 * 60);
    let seen = desk.get("/").await;
    assert_eq!(
        (seen.status, seen.location()),
        (StatusCode::FOUND, "/sign-in".to_string())
    );
}

#[tokio::test]
async fn an_address_that_keeps_failing_must_wait() {
    let app = app();
    let mut desk = Desk::new(&app);
    for _ in 0..hub::auditor::session::MAX_FAILURES {
        assert_eq!(desk.sign_in(ANN, "guess").await.status, StatusCode::BAD_REQUEST);
    }
    // Now even the right password is not checked.
    let waiting = desk.sign_in(ANN, ANN_PASSWORD).await;
    assert_eq!(waiting.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(waiting.headers[header::RETRY_AFTER], "900");
    assert!(!desk.cookies.contains_key("__Host-auditor-session"));
    app.clock.advance(15 * 60);
    assert_eq!(desk.sign_in(ANN, ANN_PASSWORD).await.status, StatusCode::FOUND);
}

#[tokio::test]
async fn a_signed_in_auditor_finds_the_assertions_issued_to_a_service() {
    let app = app();
    sign_ins(
        &app,
        vec![SignIn::cl_cm(), SignIn::p2(), SignIn::cl_cm().outcome(Outcome::Denied)],
    )
    .await;
    let mut desk = Desk::signed_in(&app).await;

    let seen = desk.get(&format!("/search?service={SVC}&event=assertion_issued")).await;
    assert_eq!(seen.status, StatusCode::OK, "{}", seen.body);
    assert_eq!(texts(&seen, "#results-heading"), ["2 entries match"]);
    let rows = texts(&seen, "#results tbody tr");
    assert_eq!(rows.len(), 2);
    for row in &rows {
        assert!(
            row.contains("assertion_issued") && row.contains("client_id: svc"),
            "{row}"
        );
        assert!(row.contains(LOG_ORIGIN) && row.contains("15 January 2027"), "{row}");
    }
    // Newest first: the P2 sign-in came second.
    assert!(rows[0].contains("level_reached: Cl.Cm.P2"), "{}", rows[0]);
    assert!(rows[1].contains("level_reached: Cl.Cm "), "{}", rows[1]);

    // Each row links to its entry, whose JSON is the log's.
    let links = hrefs(&seen, "#results tbody a");
    let entries = log_entries(&app);
    for link in &links {
        let index: usize = link.rsplit('/').next().unwrap().parse().unwrap();
        assert!(link.starts_with(&format!("/entry/{SLUG}/")), "{link}");
        let page = desk.get(link).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        assert_eq!(texts(&page, "#event"), ["assertion_issued"]);
        let shown: serde_json::Value = serde_json::from_str(&texts(&page, "#entry-json")[0]).unwrap();
        let logged: serde_json::Value = serde_json::from_slice(&entries[index]).unwrap();
        assert_eq!(shown, logged);
        let entry: Entry = serde_json::from_value(logged).unwrap();
        assert!(matches!(entry.fact, Fact::AssertionIssued { .. }));
    }

    // Other filters: level, outcome, a period, nothing matching.
    let p2 = desk.get("/search?level=P2&event=assertion_issued").await;
    assert_eq!(texts(&p2, "#results-heading"), ["1 entry matches"]);
    let denied = desk.get("/search?outcome=access_denied").await;
    assert_eq!(texts(&denied, "#results-heading"), ["1 entry matches"]);
    assert!(texts(&denied, "#results tbody tr")[0].contains("returned_with_error"));
    let before = desk.get("/search?event=assertion_issued&to=2027-01-14").await;
    assert_eq!(texts(&before, "#results-heading"), ["No entries match"]);
    let other = desk.get("/search?service=another&event=assertion_issued").await;
    assert_eq!(texts(&other, "#results-heading"), ["No entries match"]);

    // Mistakes are named and linked to their field.
    let bad = desk.get("/search?event=made_up&from=yesterday").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(hrefs(&bad, "#error-summary a"), ["#event", "#from"]);
    assert_eq!(
        desk.get(&format!("/entry/{SLUG}/9999")).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        desk.get(&format!("/entry/{SLUG}/01")).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(desk.get("/entry/no-such-log/0").await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn search_results_come_fifty_a_page_newest_first() {
    let app = app();
    for i in 0..120 {
        let entry = Entry {
            time: crate::app::T0 + i,
            journey: None,
            fact: Fact::ConsentDeclined {
                client_id: format!("svc-{i}").as_str().into(),
            },
        };
        app.state.audit.record(entry).await.unwrap();
    }
    app.published().await;
    let mut desk = Desk::signed_in(&app).await;
    let first = desk.get("/search?event=consent_declined").await;
    assert_eq!(texts(&first, "#results-heading"), ["120 entries match"]);
    assert_eq!(
        texts(&first, "#results caption"),
        ["Entries 1 to 50 of 120, newest first"]
    );
    let rows = texts(&first, "#results tbody tr");
    assert_eq!(rows.len(), 50);
    assert!(rows[0].contains("client_id: svc-119"), "{}", rows[0]);
    assert!(hrefs(&first, "#previous-page").is_empty());
    let next = hrefs(&first, "#next-page");
    assert_eq!(next, ["/search?event=consent_declined&page=2"]);
    let third = desk.get("/search?event=consent_declined&page=3").await;
    let rows = texts(&third, "#results tbody tr");
    assert_eq!(rows.len(), 20);
    assert!(rows[19].contains("client_id: svc-0"), "{}", rows[19]);
    assert!(hrefs(&third, "#next-page").is_empty());
    assert_eq!(
        hrefs(&third, "#previous-page"),
        ["/search?event=consent_declined&page=2"]
    );
    let all = desk.get("/search?service=&event=&page=").await;
    assert_eq!(
        texts(&all, "#results-heading"),
        ["120 entries match"],
        "an empty form asks for everything"
    );
}

#[tokio::test]
async fn the_figures_count_the_sign_ins_once_each_and_draw_them() {
    let app = app();
    sign_ins(
        &app,
        vec![
            SignIn::cl_cm(),
            SignIn::p2(),
            SignIn::cl_cm(),
            SignIn::cl_cm().outcome(Outcome::Denied),
        ],
    )
    .await;
    let mut desk = Desk::signed_in(&app).await;
    desk.state.refresh().await;
    let figures = desk.get("/figures?from=2027-01-15&to=2027-01-15").await;
    assert_eq!(figures.status, StatusCode::OK, "{}", figures.body);
    assert_eq!(texts(&figures, "#total-started"), ["4"]);
    assert_eq!(texts(&figures, "#total-completed"), ["3"]);
    assert_eq!(texts(&figures, "#total-rate"), ["75.0%"]);
    assert_eq!(texts(&figures, "#total-levels"), ["Cl.Cm: 2, Cl.Cm.P2: 1"]);
    assert_eq!(texts(&figures, "#days tbody tr"), ["15 January 2027 4 3 75.0%"]);
    let service = &texts(&figures, "#services tbody tr")[0];
    assert!(service.starts_with("svc 4 3 75.0% Cl.Cm: 2, Cl.Cm.P2: 1"), "{service}");
    assert!(
        service.contains("denied: 1, success: 3") && service.contains("access_denied: 1"),
        "{service}"
    );
    let provider = &texts(&figures, "#providers tbody tr")[0];
    assert!(provider.starts_with("idp 4 3 75.0%"), "{provider}");
    assert_eq!(
        texts(&figures, "#outcomes tbody tr"),
        [
            "Provider answered: denied 1",
            "Provider answered: success 3",
            "Returned with error: access_denied 1"
        ]
    );
    // Charts on the server, as images with a title, and the same numbers in the tables.
    let doc = scraper::Html::parse_document(&figures.body);
    let svg = scraper::Selector::parse("figure svg[role=img]").unwrap();
    let charts: Vec<_> = doc.select(&svg).collect();
    assert_eq!(charts.len(), 2);
    for chart in &charts {
        assert!(chart.value().attr("aria-label").is_some_and(|l| !l.is_empty()));
        let title = scraper::Selector::parse("title").unwrap();
        assert!(chart.select(&title).next().is_some());
        assert!(chart.value().attr("style").is_none(), "the CSP forbids inline styles");
    }
    assert!(charts[0]
        .value()
        .attr("aria-label")
        .unwrap()
        .contains("4 sign-ins started and 3 completed"));
    assert!(figures.body.contains("<rect"), "bars drawn");

    // Refreshing again reads only what is new: nothing is counted twice.
    let counted = desk.state.with_tally(|t| t.next.clone());
    assert_eq!(counted, vec![log_entries(&app).len() as u64]);
    desk.state.refresh().await;
    let again = desk.get("/figures?from=2027-01-15&to=2027-01-15").await;
    assert_eq!(texts(&again, "#total-started"), ["4"]);
    sign_ins(&app, vec![SignIn::cl_cm()]).await;
    desk.state.refresh().await;
    let more = desk.get("/figures").await;
    assert_eq!(texts(&more, "#total-started"), ["5"], "the last 30 days by default");
    assert_eq!(texts(&more, "#total-completed"), ["4"]);
    assert_eq!(
        desk.state.with_tally(|t| t.next.clone()),
        vec![log_entries(&app).len() as u64]
    );

    // A day before the sign-ins has none; mistakes are named.
    let empty = desk.get("/figures?from=2027-01-14&to=2027-01-14").await;
    assert_eq!(texts(&empty, "#total-started"), ["0"]);
    assert_eq!(texts(&empty, "#total-rate"), ["–"]);
    let bad = desk.get("/figures?from=2027-02-30&to=2027-01-01").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(hrefs(&bad, "#error-summary a"), ["#from"]);
    let backwards = desk.get("/figures?from=2027-01-15&to=2027-01-01").await;
    assert_eq!(hrefs(&backwards, "#error-summary a"), ["#to"]);
}

#[tokio::test]
async fn an_inclusion_proof_downloaded_from_the_view_checks_with_the_log_key() {
    let app = app();
    sign_ins(&app, vec![SignIn::cl_cm(), SignIn::cl_cm()]).await;
    let mut desk = Desk::signed_in(&app).await;
    let seen = desk.get("/search?event=assertion_issued").await;
    let entry = hrefs(&seen, "#results tbody a")[0].clone();
    let index: usize = entry.rsplit('/').next().unwrap().parse().unwrap();
    let page = desk.get(&entry).await;
    let proof_link = hrefs(&page, "#proof")[0].clone();
    assert_eq!(proof_link, format!("{entry}/proof"));

    let proof = desk.get(&proof_link).await;
    assert_eq!(proof.status, StatusCode::OK, "{}", proof.body);
    assert_eq!(
        proof.headers[header::CONTENT_DISPOSITION],
        format!("attachment; filename=\"{SLUG}-{index}.tlog-proof\"").as_str()
    );
    assert!(proof.body.starts_with("c2sp.org/tlog-proof@v1\n"));
    let entries = log_entries(&app);
    let key = desk.get("/log/vkey").await.body.trim().to_string();
    assert_eq!(key, vkey(&app));
    let checked = tlog::proof::check_proof(&proof.body, tlog::proof::Leaf::Entry(&entries[index]), &key).unwrap();
    assert_eq!(checked.index, index as u64);
    assert_eq!(checked.checkpoint.size, entries.len() as u64);
    // The proof is of that entry and no other.
    let other = &entries[(index + 1) % entries.len()];
    assert!(tlog::proof::check_proof(&proof.body, tlog::proof::Leaf::Entry(other), &key).is_err());
    assert_eq!(
        desk.get(&format!("/entry/{SLUG}/{}/proof", entries.len())).await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn the_log_is_served_in_the_tiles_layout_without_sign_in_and_nothing_else_is() {
    let app = app();
    // 300 entries: one full tile and bundle, and partial ones after them.
    let mut writes = tokio::task::JoinSet::new();
    for i in 0..300 {
        let sink = app.state.audit.clone();
        writes.spawn(async move {
            let entry = Entry {
                time: crate::app::T0 + i,
                journey: None,
                fact: Fact::SessionExpired,
            };
            sink.record(entry).await
        });
    }
    while let Some(done) = writes.join_next().await {
        done.unwrap().unwrap();
    }
    app.published().await;
    let mut anyone = Desk::new(&app);
    let dir = log_dir(&app);

    let checkpoint = anyone.get("/log/checkpoint").await;
    assert_eq!(checkpoint.status, StatusCode::OK);
    assert_eq!(checkpoint.headers[header::CONTENT_TYPE], "text/plain; charset=utf-8");
    assert_eq!(checkpoint.headers[header::CACHE_CONTROL], "no-cache");
    assert_eq!(
        checkpoint.body,
        std::fs::read_to_string(dir.join("checkpoint")).unwrap()
    );
    assert!(checkpoint.body.starts_with(&format!("{LOG_ORIGIN}\n300\n")));

    let cases = [
        ("/log/tile/0/000", 256 * 32, "public, max-age=31536000, immutable"),
        ("/log/tile/0/001.p/44", 44 * 32, "no-cache"),
        ("/log/tile/1/000.p/1", 32, "no-cache"),
        ("/log/tile/entries/000", 0, "public, max-age=31536000, immutable"),
        ("/log/tile/entries/001.p/44", 0, "no-cache"),
    ];
    for (path, len, cache) in cases {
        let seen = anyone.get(path).await;
        assert_eq!(seen.status, StatusCode::OK, "{path}");
        assert_eq!(seen.headers[header::CONTENT_TYPE], "application/octet-stream", "{path}");
        assert_eq!(seen.headers[header::CACHE_CONTROL], cache, "{path}");
        let on_disk = std::fs::read(dir.join(path.trim_start_matches("/log/"))).unwrap();
        let sent: usize = seen.headers[header::CONTENT_LENGTH].to_str().unwrap().parse().unwrap();
        assert_eq!(sent, on_disk.len(), "{path}");
        if len > 0 {
            assert_eq!(on_disk.len(), len, "{path}");
        }
    }
    assert_eq!(anyone.get("/log/vkey").await.body, format!("{}\n", vkey(&app)));
    assert_eq!(anyone.get("/healthz").await.status, StatusCode::OK);

    for path in [
        "/log/tile/../checkpoint",
        "/log/tile/0/../../.wal",
        "/log/tile/0/%2e%2e/%2e%2e/.lock",
        "/log/tile/..%2f.wal",
        "/log/.wal",
        "/log/.lock",
        "/log/.tmp",
        "/log/checkpoints/300",
        "/log/tile//etc/passwd",
        "/log/tile/0/000.p/0",
        "/log/tile/0/01",
        "/log/tile/0/999",
        "/log/tile/entries/000.p/300",
        "/log/",
        "/log/tile/",
    ] {
        let seen = anyone.get(path).await;
        assert_eq!(seen.status, StatusCode::NOT_FOUND, "{path}: {}", seen.body);
    }
}

#[tokio::test]
async fn a_tampered_log_shows_as_failing_on_the_overview() {
    let app = app();
    sign_ins(&app, vec![SignIn::cl_cm()]).await;
    let mut desk = Desk::signed_in(&app).await;
    let before = desk.get("/").await;
    assert_eq!(texts(&before, &format!("[id='status-{SLUG}']")), ["Not checked yet"]);
    desk.state.refresh().await;
    let verified = desk.get("/").await;
    assert_eq!(texts(&verified, &format!("[id='status-{SLUG}']")), ["Verified"]);
    let size = log_entries(&app).len();
    assert_eq!(texts(&verified, &format!("[id='size-{SLUG}']")), [size.to_string()]);
    assert_eq!(texts(&verified, "section h2"), [LOG_ORIGIN]);

    // Change one byte of the last entry in its bundle: the entry no longer hashes to its tile.
    let bundle = log_dir(&app).join(format!("tile/entries/000.p/{size}"));
    let mut bytes = std::fs::read(&bundle).unwrap();
    let at = bytes.len() - 3;
    bytes[at] ^= 0x01;
    std::fs::write(&bundle, bytes).unwrap();
    desk.state.refresh().await;
    let failed = desk.get("/").await;
    assert_eq!(texts(&failed, &format!("[id='status-{SLUG}']")), ["Failed"]);
    assert_eq!(
        texts(&failed, &format!("[id='failed-place-{SLUG}']")),
        [format!("entry {} (tile/entries/000.p/{size})", size - 1)]
    );
}

#[tokio::test]
async fn logs_named_in_the_configuration_are_shown_beside_the_own() {
    // Another instance's log, written and closed.
    let other = tempfile::tempdir().unwrap();
    let settings = hub::audit::log::LogSettings {
        dir: other.path().join("log"),
        origin: "hub.example/audit/other".into(),
        key_file: other.path().join("other.key"),
        checkpoint_interval: std::time::Duration::from_millis(50),
        checkpoint_every: 1,
    };
    let log = hub::audit::log::LogHandle(std::sync::Arc::new(hub::audit::log::AuditLog::open(&settings).unwrap()));
    log.record(Entry {
        time: crate::app::T0,
        journey: None,
        fact: Fact::ConsentDeclined {
            client_id: "svc".into(),
        },
    })
    .await
    .unwrap();
    log.close().await;
    drop(log);
    let dir = settings.dir.clone();
    let app = TestApp::new()
        .with_audit_log()
        .with_auditor_user(ANN, ANN_PASSWORD)
        .with_config(move |c| {
            c.auditor.logs.push(hub::config::AuditorLog {
                dir: dir.clone(),
                vkey: None,
            })
        })
        .build();
    sign_ins(&app, vec![SignIn::cl_cm()]).await;
    let mut desk = Desk::signed_in(&app).await;
    desk.state.refresh().await;
    let overview = desk.get("/").await;
    assert_eq!(texts(&overview, "section h2"), [LOG_ORIGIN, "hub.example/audit/other"]);
    assert_eq!(
        texts(&overview, "[id='status-hub.example-audit-other']"),
        ["Verified"],
        "{}",
        overview.body
    );
    let found = desk.get("/search?event=consent_declined").await;
    assert_eq!(texts(&found, "#results-heading"), ["1 entry matches"]);
    assert_eq!(hrefs(&found, "#results tbody a"), ["/entry/hub.example-audit-other/0"]);
    assert_eq!(
        desk.get("/entry/hub.example-audit-other/0").await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn the_overview_names_the_witnesses_that_cosigned_the_checkpoint() {
    let known = tlog::cosignature::CosignatureSigner::generate("witness.example/one").unwrap();
    let unknown = tlog::cosignature::CosignatureSigner::generate("witness.example/two").unwrap();
    let vkey_known = known.vkey();
    let app = TestApp::new()
        .with_audit_log()
        .with_auditor_user(ANN, ANN_PASSWORD)
        .with_config(move |c| {
            c.audit_witnesses.push(hub::audit::log::WitnessConfig {
                url: "https://witness.example".into(),
                vkey: vkey_known.clone(),
            })
        })
        .build();
    sign_ins(&app, vec![SignIn::cl_cm()]).await;
    let log = app.audit_log.as_ref().unwrap().0.log();
    let checkpoint = log.checkpoint().unwrap();
    let body = tlog::note::Note::parse(&checkpoint).unwrap().text;
    for witness in [&known, &unknown] {
        let line = witness.cosign(&body, crate::app::T0 as u64).unwrap().to_line();
        log.add_cosignature(&checkpoint, &line, &witness.vkey()).await.unwrap();
    }
    let mut desk = Desk::signed_in(&app).await;
    let overview = desk.get("/").await;
    let rows = texts(&overview, &format!("[id='cosignatures-{SLUG}'] tbody tr"));
    assert_eq!(rows.len(), 2, "{}", overview.body);
    assert!(
        rows[0].starts_with("witness.example/one ") && rows[0].ends_with("15 January 2027, 08:00:00 UTC Yes"),
        "{}",
        rows[0]
    );
    assert!(
        rows[1].starts_with("witness.example/two ") && rows[1].ends_with(" No"),
        "{}",
        rows[1]
    );
    // The served checkpoint carries them.
    let served = desk.get("/log/checkpoint").await.body;
    assert!(
        served.contains("\u{2014} witness.example/one ") && served.contains("\u{2014} witness.example/two "),
        "{served}"
    );
}
