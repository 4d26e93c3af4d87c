//! Whole sign-ins in-process: the protocol rules a service relies on (codes single-use, short-lived and
//! bound to PKCE; client assertions single-use), consent, single sign-on, and every answer a provider can
//! give, broken ones included. Milliseconds each: no socket, no browser, the clock moved by hand.

use crate::{
    app::{Browser, Now as _, SignIn, TestApp, CORE, RETURN_CODE, SVC_REDIRECT},
    fake_provider::{Outcome, Persona},
};
use axum::{
    body::Body,
    http::{header, Method, Request, StatusCode},
};
use hub::{
    audit::{Fact, ProviderOutcome},
    http::rate::Rate,
};
use serde_json::{json, Value};

fn claims_of(jwt: &str) -> Value {
    Value::Object(keys::peek_claims(jwt).unwrap())
}

#[tokio::test]
async fn a_whole_sign_in_gives_a_code_tokens_and_userinfo_and_the_code_works_once() {
    let app = TestApp::new().build();
    let mut browser = Browser::default();
    let ended = app.sign_in(&mut browser, SignIn::cl_cm()).await;
    let code = ended.code().unwrap_or_else(|| panic!("no code: {:?}", ended.last));
    let params = ended.last.params();
    assert_eq!(params["state"], "svc-state");
    assert_eq!(params["iss"], "https://hub.example");

    let tokens = app.service.redeem(&app, &code, &ended.pkce.verifier).await;
    assert_eq!(tokens.status, StatusCode::OK, "{}", tokens.body);
    let body = tokens.json();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 180);
    let id = claims_of(body["id_token"].as_str().unwrap());
    assert_eq!(id["aud"], "svc");
    assert_eq!(id["vot"], "Cl.Cm");
    assert_eq!(id["nonce"], "svc-nonce");
    assert_eq!(id["exp"].as_i64().unwrap() - id["iat"].as_i64().unwrap(), 120);
    assert!(id["sub"].as_str().unwrap().starts_with("urn:fdc:gov.uk:2022:"));

    let access = body["access_token"].as_str().unwrap();
    let info = app.service.userinfo(&app, access).await;
    assert_eq!(info.status, StatusCode::OK);
    assert_eq!(info.json()["sub"], id["sub"]);
    assert_eq!(info.json()["email"], "alex.morgan@example.com");

    // The second use is invalid_grant and revokes the access token issued with the first.
    let again = app.service.redeem(&app, &code, &ended.pkce.verifier).await;
    assert_eq!(
        (again.status, again.json()["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    assert_eq!(
        app.service.userinfo(&app, access).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert!(app.facts().iter().any(|f| matches!(f, Fact::CodeReuseDetected { .. })));
}

#[tokio::test]
async fn pkce_binds_the_code_to_its_verifier() {
    let app = TestApp::new().build();
    let ended = app.sign_in(&mut Browser::default(), SignIn::cl_cm()).await;
    let code = ended.code().unwrap();
    let wrong = app.service.redeem(&app, &code, &hub::ids::random_token()).await;
    assert_eq!(wrong.json()["error"], "invalid_grant");
    assert!(wrong.json()["error_description"]
        .as_str()
        .unwrap()
        .contains("code_verifier"));
    // A failed attempt used the code up: the right verifier now finds nothing either.
    let right = app.service.redeem(&app, &code, &ended.pkce.verifier).await;
    assert_eq!(right.json()["error"], "invalid_grant");
}

#[tokio::test]
async fn codes_expire_after_five_minutes() {
    let app = TestApp::new().build();
    let ended = app.sign_in(&mut Browser::default(), SignIn::cl_cm()).await;
    app.clock.advance(301);
    let late = app
        .service
        .redeem(&app, &ended.code().unwrap(), &ended.pkce.verifier)
        .await;
    assert_eq!(late.json()["error"], "invalid_grant");

    let ended = app.sign_in(&mut Browser::default(), SignIn::cl_cm()).await;
    app.clock.advance(299);
    let in_time = app
        .service
        .redeem(&app, &ended.code().unwrap(), &ended.pkce.verifier)
        .await;
    assert_eq!(in_time.status, StatusCode::OK, "{}", in_time.body);
}

#[tokio::test]
async fn a_client_assertion_is_single_use_and_must_be_the_clients() {
    let app = TestApp::new().build();
    let ended = app.sign_in(&mut Browser::default(), SignIn::cl_cm()).await;
    let assertion = app.service.assertion(app.clock.now_secs(), json!({}));
    let first = app
        .service
        .redeem_with(&app, &ended.code().unwrap(), &ended.pkce.verifier, &assertion)
        .await;
    assert_eq!(first.status, StatusCode::OK);
    let ended = app.sign_in(&mut Browser::default(), SignIn::cl_cm()).await;
    let replay = app
        .service
        .redeem_with(&app, &ended.code().unwrap(), &ended.pkce.verifier, &assertion)
        .await;
    assert_eq!(replay.json()["error"], "invalid_client");
    assert!(replay.json()["error_description"].as_str().unwrap().contains("jti"));

    let other_key = keys::SigningKey::generate().unwrap();
    let now = app.clock.now_secs();
    let forged = other_key
        .sign_jwt(
            "JWT",
            json!({"iss": "svc", "sub": "svc", "aud": "https://hub.example/token", "jti": "j", "iat": now, "exp": now + 60})
                .as_object()
                .unwrap(),
        )
        .unwrap();
    let ended = app.sign_in(&mut Browser::default(), SignIn::cl_cm()).await;
    let refused = app
        .service
        .redeem_with(&app, &ended.code().unwrap(), &ended.pkce.verifier, &forged)
        .await;
    assert_eq!(refused.json()["error"], "invalid_client");
    // The code was not spent by a client that failed to authenticate.
    let ok = app
        .service
        .redeem(&app, &ended.code().unwrap(), &ended.pkce.verifier)
        .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);

    // An assertion that expired is refused; the clock says so, not the wall.
    let ended = app.sign_in(&mut Browser::default(), SignIn::cl_cm()).await;
    let assertion = app.service.assertion(app.clock.now_secs(), json!({}));
    app.clock.advance(301);
    let stale = app
        .service
        .redeem_with(&app, &ended.code().unwrap(), &ended.pkce.verifier, &assertion)
        .await;
    assert_eq!(stale.json()["error"], "invalid_client");
}

#[tokio::test]
async fn identity_is_released_only_after_consent_and_only_what_was_asked() {
    let app = TestApp::new().build();
    let mut browser = Browser::default();
    let ended = app.sign_in(&mut browser, SignIn::p2()).await;
    let code = ended.code().unwrap_or_else(|| panic!("{:?}", ended.last));
    let tokens = app.service.redeem(&app, &code, &ended.pkce.verifier).await.json();
    let info = app
        .service
        .userinfo(&app, tokens["access_token"].as_str().unwrap())
        .await
        .json();
    let credential = claims_of(info[CORE].as_str().unwrap());
    assert_eq!(credential["vot"], "P2");
    assert_eq!(
        credential["sub"],
        claims_of(tokens["id_token"].as_str().unwrap())["sub"]
    );
    assert_eq!(
        credential["vc"]["credentialSubject"]["birthDate"][0]["value"],
        "1990-04-12"
    );
    assert!(
        info.get("https://vocab.account.gov.uk/v1/passport").is_none(),
        "not asked for"
    );
    let consented = app
        .facts()
        .iter()
        .any(|f| matches!(f, Fact::ConsentGiven { claims, .. } if claims == &vec![CORE.to_string()]));
    assert!(consented, "{:?}", app.facts());

    // Declining sends the service access_denied and no code.
    let before = app.assertions();
    let declined = app.sign_in(&mut Browser::default(), SignIn::p2().decline()).await;
    assert!(declined.code().is_none());
    assert_eq!(declined.last.params()["error"], "access_denied");
    assert_eq!(app.assertions(), before);
}

#[tokio::test]
async fn single_sign_on_serves_a_second_request_without_the_provider_until_logout() {
    let app = TestApp::new().build();
    let mut browser = Browser::default();
    let first = app.sign_in(&mut browser, SignIn::cl_cm()).await;
    assert!(first.code().is_some());
    let provider_calls = app.provider.seen().len();

    let second = app.sign_in(&mut browser, SignIn::cl_cm()).await;
    assert!(second.code().is_some(), "{:?}", second.last);
    assert_eq!(
        app.provider.seen().len(),
        provider_calls,
        "the provider was asked again"
    );
    let sso = app.facts().iter().any(|f| {
        matches!(
            f,
            Fact::AssertionIssued {
                single_sign_on: true,
                ..
            }
        )
    });
    assert!(sso);

    // prompt=none answers at once with the session; prompt=login goes to the provider again.
    let none = app.sign_in(&mut browser, SignIn::cl_cm().param("prompt", "none")).await;
    assert!(none.code().is_some(), "{:?}", none.last);
    let login = app
        .sign_in(&mut browser, SignIn::cl_cm().param("prompt", "login"))
        .await;
    assert!(login.code().is_some());
    let at_provider = app.provider.seen().iter().filter(|s| s.url.ends_with("/token")).count();
    assert_eq!(at_provider, 2, "prompt=login signs in at the provider again");

    // max_age older than the session's authentication: the provider again.
    app.clock.advance(120);
    let aged = app.sign_in(&mut browser, SignIn::cl_cm().param("max_age", "60")).await;
    assert!(aged.code().is_some());
    let at_provider = app.provider.seen().iter().filter(|s| s.url.ends_with("/token")).count();
    assert_eq!(at_provider, 3, "max_age passed: the provider again");

    // A higher level than the session's: the provider.
    let higher = app.sign_in(&mut browser, SignIn::p2()).await;
    assert!(higher.code().is_some());
    assert_eq!(
        app.provider.seen().iter().filter(|s| s.url.ends_with("/token")).count(),
        4
    );

    // Logout ends it: prompt=none is login_required, and the service's back-channel is told.
    let confirm = browser.get(&app, "/logout").await;
    assert!(
        confirm.shows("Do you want to sign out?"),
        "no id_token_hint: the person is asked"
    );
    let out = browser.submit(&app, &confirm, "/logout", &[]).await;
    assert_eq!(out.status, StatusCode::OK);
    assert!(out.shows("You have signed out"));
    let none = app.sign_in(&mut browser, SignIn::cl_cm().param("prompt", "none")).await;
    assert_eq!(none.last.params()["error"], "login_required");
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let told = app
        .provider
        .seen()
        .iter()
        .any(|s| s.url == "https://svc.example/backchannel" && s.form.iter().any(|(k, _)| k == "logout_token"));
    assert!(told, "no back-channel logout");
}

#[tokio::test]
async fn sessions_expire_when_idle_and_at_their_absolute_limit() {
    let app = TestApp::new()
        .with_config(|c| {
            c.session_idle_secs = 600;
            c.session_absolute_secs = 1000;
        })
        .build();
    let mut browser = Browser::default();
    app.sign_in(&mut browser, SignIn::cl_cm()).await;
    app.clock.advance(500);
    let used = app.sign_in(&mut browser, SignIn::cl_cm().param("prompt", "none")).await;
    assert!(used.code().is_some(), "within the idle period");
    app.clock.advance(550);
    let absolute = app.sign_in(&mut browser, SignIn::cl_cm().param("prompt", "none")).await;
    assert_eq!(
        absolute.last.params()["error"],
        "login_required",
        "past 1000 s absolute"
    );

    let mut idle = Browser::default();
    app.sign_in(&mut idle, SignIn::cl_cm()).await;
    app.clock.advance(601);
    let gone = app.sign_in(&mut idle, SignIn::cl_cm().param("prompt", "none")).await;
    assert_eq!(gone.last.params()["error"], "login_required", "idle past 600 s");
}

/// What a person sees and what the service gets, for every answer a provider can give.
#[tokio::test]
async fn every_provider_outcome_and_broken_answer() {
    // (outcome, the page's code or "code", the audit outcome)
    let cases: &[(Outcome, &str, ProviderOutcome)] = &[
        (Outcome::Success, "code", ProviderOutcome::Success),
        (Outcome::Denied, "access_denied", ProviderOutcome::Denied),
        (Outcome::Unmet, "choice", ProviderOutcome::LevelNotReached),
        (Outcome::LevelBelow, "choice", ProviderOutcome::LevelNotReached),
        (
            Outcome::PendingError,
            "identity_check_pending",
            ProviderOutcome::Pending,
        ),
        (
            Outcome::FraudError,
            "identity_check_failed",
            ProviderOutcome::FraudSuspected,
        ),
        (
            Outcome::PendingSignIn,
            "identity_check_pending",
            ProviderOutcome::Pending,
        ),
        (
            Outcome::FraudSignIn,
            "identity_check_failed",
            ProviderOutcome::FraudSuspected,
        ),
        (Outcome::Unavailable, "provider_error", ProviderOutcome::Unavailable),
        (Outcome::BadSignature, "provider_error", ProviderOutcome::Invalid),
        (Outcome::AlgNone, "provider_error", ProviderOutcome::Invalid),
        (Outcome::WrongIss, "provider_error", ProviderOutcome::Invalid),
        (Outcome::WrongAud, "provider_error", ProviderOutcome::Invalid),
        (Outcome::Expired, "provider_error", ProviderOutcome::Invalid),
        (Outcome::NotYetValid, "provider_error", ProviderOutcome::Invalid),
        (Outcome::WrongNonce, "provider_error", ProviderOutcome::Invalid),
        (Outcome::UnknownAcr, "provider_error", ProviderOutcome::Invalid),
        (Outcome::MissingSub, "provider_error", ProviderOutcome::Invalid),
        (
            Outcome::TokenEndpointDown,
            "provider_error",
            ProviderOutcome::Unavailable,
        ),
        (Outcome::Garbage, "provider_error", ProviderOutcome::Invalid),
        (Outcome::MixUp, "provider_error", ProviderOutcome::Invalid),
        (Outcome::UserinfoOtherSub, "provider_error", ProviderOutcome::Invalid),
    ];
    for (outcome, shows, audited) in cases {
        let app = TestApp::new().build();
        let mut browser = Browser::default();
        let ended = app.sign_in(&mut browser, SignIn::p2().outcome(*outcome)).await;
        let name = format!("{outcome:?}");
        match *shows {
            "code" => assert!(ended.code().is_some(), "{name}: {:?}", ended.last),
            "choice" => {
                assert_eq!(ended.last.status, StatusCode::OK, "{name}");
                assert!(
                    ended.last.shows("did not reach") || ended.last.shows("level"),
                    "{name}: {}",
                    ended.last.body
                );
                assert!(ended.last.shows("name=\"provider\""), "{name}: not the choice page");
            }
            code => {
                assert!(ended.code().is_none(), "{name}: asserted anyway");
                assert!(
                    ended.last.shows(code),
                    "{name}: expected {code} on\n{}",
                    ended.last.body
                );
                assert!(!ended.last.location().starts_with(SVC_REDIRECT), "{name}");
            }
        }
        let facts = app.facts();
        let answered = facts.iter().find_map(|f| match f {
            Fact::ProviderAnswered { outcome, .. } => Some(*outcome),
            _ => None,
        });
        assert_eq!(answered, Some(*audited), "{name}: {facts:?}");
        if *shows != "code" {
            assert_eq!(app.assertions(), 0, "{name}: an assertion without every check");
        }
    }
}

#[tokio::test]
async fn after_a_failure_the_person_may_choose_again_or_return_to_the_service() {
    let app = TestApp::new().build();
    let mut browser = Browser::default();
    let failed = app
        .sign_in(&mut browser, SignIn::cl_cm().outcome(Outcome::BadSignature))
        .await;
    assert!(failed.last.shows("provider_error"));
    // The choice marks the provider as failing for this journey; choosing it again works.
    let choice = browser.get(&app, &failed.last.link("continue")).await;
    assert_eq!(choice.status, StatusCode::OK, "{}", choice.body);
    assert!(choice.shows("provider-failed") || choice.shows("did not work") || choice.status == StatusCode::OK);
    let again = browser
        .submit(&app, &choice, "/choose-provider", &[("provider", "idp")])
        .await;
    let back = app.provider.answer(&again.location(), Persona::p2(), Outcome::Success);
    let done = browser.get(&app, &back).await;
    assert!(done.location().starts_with(SVC_REDIRECT) && done.params().contains_key("code"));

    // Denied, then back to the service: access_denied with state and iss.
    let mut other = Browser::default();
    let denied = app.sign_in(&mut other, SignIn::cl_cm().outcome(Outcome::Denied)).await;
    let link = denied.last.link("return-to-service");
    assert!(
        link.starts_with("/cancel-link?journey=") && link.contains("&csrf="),
        "{link}"
    );
    let returned = other.get(&app, &link).await;
    let params = returned.params();
    assert_eq!(params["error"], "access_denied");
    assert_eq!(params["state"], "svc-state");
    assert_eq!(params["iss"], "https://hub.example");
    // The journey ended: a second cancel finds nothing.
    assert_eq!(other.get(&app, &link).await.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_service_asking_for_return_codes_gets_tokens_with_the_code_instead_of_access_denied() {
    let app = TestApp::new().build();
    for (outcome, want) in [(Outcome::PendingSignIn, "P"), (Outcome::FraudSignIn, "F")] {
        let ended = app
            .sign_in(
                &mut Browser::default(),
                SignIn::p2().claims(&[CORE, RETURN_CODE]).outcome(outcome),
            )
            .await;
        let code = ended.code().unwrap_or_else(|| panic!("{outcome:?}: {:?}", ended.last));
        let tokens = app.service.redeem(&app, &code, &ended.pkce.verifier).await.json();
        let info = app
            .service
            .userinfo(&app, tokens["access_token"].as_str().unwrap())
            .await
            .json();
        assert_eq!(info[RETURN_CODE], json!([{"code": want}]), "{outcome:?}");
        assert!(info.get(CORE).is_none(), "{outcome:?}: identity released without proof");
        assert_eq!(claims_of(tokens["id_token"].as_str().unwrap())["vot"], "Cl.Cm");
    }
    // Below the level, then back to the service: return code X.
    let mut browser = Browser::default();
    let below = app
        .sign_in(
            &mut browser,
            SignIn::p2().claims(&[CORE, RETURN_CODE]).persona(Persona::cl_cm()),
        )
        .await;
    let returned = browser.submit(&app, &below.last, "/cancel", &[]).await;
    let code = returned
        .params()
        .get("code")
        .cloned()
        .unwrap_or_else(|| panic!("{returned:?}"));
    assert!(!code.is_empty());
}

#[tokio::test]
async fn nothing_is_asserted_when_the_audit_log_cannot_record_it() {
    let app = TestApp::new().build();
    app.audit.set_failing(true);
    let ended = app.sign_in(&mut Browser::default(), SignIn::cl_cm()).await;
    assert!(ended.code().is_none(), "asserted without an audit entry");
    // The service is told, at its redirect URI, with its state and the hub's iss.
    assert!(
        ended.last.location().starts_with(crate::app::SVC_REDIRECT),
        "{:?}",
        ended.last
    );
    let told = ended.last.params();
    assert_eq!(told["error"], "temporarily_unavailable");
    assert_eq!(told["iss"], crate::app::HUB);
    assert!(told.contains_key("state"));
    assert_eq!(app.get("/readyz").await.status, StatusCode::SERVICE_UNAVAILABLE);
    app.audit.set_failing(false);
    assert_eq!(app.get("/readyz").await.status, StatusCode::OK);
    let ended = app.sign_in(&mut Browser::default(), SignIn::cl_cm()).await;
    assert!(ended.code().is_some());
}

#[tokio::test]
async fn a_full_memory_store_gives_try_again_and_recovers_as_entries_expire() {
    let app = TestApp::new().with_store_limit(3).build();
    let mut seen = Vec::new();
    for _ in 0..5 {
        let url = app.service.authorize(&crate::app::Pkce::new(), "Cl.Cm", &[], &[]);
        seen.push(Browser::default().get(&app, &url).await);
    }
    assert!(seen
        .iter()
        .take(3)
        .all(|s| s.location().starts_with("/choose-provider")));
    let refused = &seen[4];
    assert_eq!(refused.params()["error"], "temporarily_unavailable", "{refused:?}");
    app.clock.advance(3601);
    let url = app.service.authorize(&crate::app::Pkce::new(), "Cl.Cm", &[], &[]);
    assert!(Browser::default()
        .get(&app, &url)
        .await
        .location()
        .starts_with("/choose-provider"));
}

#[tokio::test]
async fn the_journey_in_one_browser_cannot_be_finished_from_another() {
    let app = TestApp::new().build();
    let mut victim = Browser::default();
    let url = app.service.authorize(&crate::app::Pkce::new(), "Cl.Cm", &[], &[]);
    let to_choice = victim.get(&app, &url).await;
    let choice = victim.get(&app, &to_choice.location()).await;
    let to_provider = victim
        .submit(&app, &choice, "/choose-provider", &[("provider", "idp")])
        .await;
    let callback = app
        .provider
        .answer(&to_provider.location(), Persona::p2(), Outcome::Success);
    // An attacker's browser presents the victim's callback: refused, and the state is spent.
    let attacker = Browser::default().get(&app, &callback).await;
    assert_eq!(attacker.status, StatusCode::BAD_REQUEST);
    assert!(attacker.shows("invalid_callback"));
    assert_eq!(app.assertions(), 0);
}

#[tokio::test]
async fn pairwise_subjects_differ_across_sectors_and_stay_within_one() {
    let app = TestApp::new()
        .with_client(
            r#"[[clients]]
client_id = "other"
client_name = "Another service"
redirect_uris = ["https://other.example.gov.uk/cb"]
scopes = ["openid", "email"]
public_key = """
$SVC_KEY"""
"#,
        )
        .with_provider(Persona::cl_cm())
        .build();
    let mut browser = Browser::default();
    let sub_of = |tokens: &Value| claims_of(tokens["id_token"].as_str().unwrap())["sub"].clone();
    let first = app.sign_in(&mut browser, SignIn::cl_cm()).await;
    let first = app
        .service
        .redeem(&app, &first.code().unwrap(), &first.pkce.verifier)
        .await
        .json();
    let again = app.sign_in(&mut Browser::default(), SignIn::cl_cm()).await;
    let again = app
        .service
        .redeem(&app, &again.code().unwrap(), &again.pkce.verifier)
        .await
        .json();
    assert_eq!(sub_of(&first), sub_of(&again), "one sector, one person: one sub");

    // The other service, by single sign-on in the same browser.
    let pkce = crate::app::Pkce::new();
    let url = app.service.authorize(
        &pkce,
        "Cl.Cm",
        &[],
        &[
            ("client_id", "other"),
            ("redirect_uri", "https://other.example.gov.uk/cb"),
        ],
    );
    let seen = browser.get(&app, &url).await;
    let code = seen.params().get("code").cloned().unwrap_or_else(|| panic!("{seen:?}"));
    let now = app.clock.now_secs();
    let assertion = app.service.assertion(now, json!({"iss": "other", "sub": "other"}));
    let tokens = app
        .post_form(
            "/token",
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", "https://other.example.gov.uk/cb"),
                ("code_verifier", &pkce.verifier),
                (
                    "client_assertion_type",
                    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                ),
                ("client_assertion", &assertion),
            ],
        )
        .await
        .json();
    assert_ne!(sub_of(&tokens), sub_of(&first), "two sectors must not be linkable");
}

#[tokio::test]
async fn a_provider_that_is_down_is_a_page_with_a_way_on_and_works_again_when_back() {
    let app = TestApp::new().build();
    app.provider.set_down(true);
    let down = app.sign_in(&mut Browser::default(), SignIn::cl_cm()).await;
    assert_eq!(down.last.status, StatusCode::BAD_GATEWAY);
    assert!(down.last.shows("provider_error") && down.last.shows("/choose-provider"));
    app.provider.set_down(false);
    // A failed discovery is remembered a few seconds, so a provider that is down is not hammered.
    let soon = app.sign_in(&mut Browser::default(), SignIn::cl_cm()).await;
    assert_eq!(soon.last.status, StatusCode::BAD_GATEWAY);
    app.clock.advance(hub::idp::providers::FAILURE_MEMORY_SECS + 1);
    let up = app.sign_in(&mut Browser::default(), SignIn::cl_cm()).await;
    assert!(up.code().is_some(), "{:?}", up.last);
    assert!(app
        .provider
        .seen()
        .iter()
        .any(|s| s.method == "POST" && s.url.ends_with("/token")));
}

#[tokio::test]
async fn finished_journeys_leave_the_store_and_abandoned_ones_expire() {
    let app = TestApp::new().build();
    let ended = app.sign_in(&mut Browser::default(), SignIn::cl_cm()).await;
    app.service
        .redeem(&app, &ended.code().unwrap(), &ended.pkce.verifier)
        .await;
    let after_one = app.store.len();
    let url = app.service.authorize(&crate::app::Pkce::new(), "Cl.Cm", &[], &[]);
    Browser::default().get(&app, &url).await;
    assert_eq!(app.store.len(), after_one + 1, "an abandoned journey is one entry");
    let ttl = app.state.config.journey_ttl_secs as i64;
    app.clock.advance(ttl + 1);
    for _ in 0..20 {
        app.get("/readyz").await;
    }
    assert!(app.store.len() < after_one + 1, "expired entries are swept");
}

#[tokio::test]
async fn a_provider_failing_again_and_again_is_shown_as_unavailable_until_it_recovers() {
    let app = TestApp::new().build();
    for _ in 0..3 {
        let ended = app
            .sign_in(&mut Browser::default(), SignIn::cl_cm().outcome(Outcome::Garbage))
            .await;
        assert!(ended.last.shows("provider_error"));
    }
    // The breaker is open: the choice shows the provider as unavailable, and choosing it is refused.
    let mut browser = Browser::default();
    let url = app.service.authorize(&crate::app::Pkce::new(), "Cl.Cm", &[], &[]);
    let to_choice = browser.get(&app, &url).await;
    let choice = browser.get(&app, &to_choice.location()).await;
    assert!(
        choice.shows("id=\"provider-idp\" name=\"provider\" type=\"radio\" value=\"idp\" disabled"),
        "{}",
        choice.body
    );
    let refused = browser
        .submit(&app, &choice, "/choose-provider", &[("provider", "idp")])
        .await;
    assert_ne!(refused.status, StatusCode::FOUND, "a failing provider cannot be chosen");
    // After the cooldown one attempt is let through, and a success closes the breaker.
    app.clock.advance(31);
    let ok = app.sign_in(&mut Browser::default(), SignIn::cl_cm()).await;
    assert!(ok.code().is_some(), "{:?}", ok.last);
    let choice = {
        let mut b = Browser::default();
        let to_choice = b
            .get(
                &app,
                &app.service.authorize(&crate::app::Pkce::new(), "Cl.Cm", &[], &[]),
            )
            .await;
        b.get(&app, &to_choice.location()).await
    };
    assert!(!choice.shows("value=\"idp\" disabled"));
}

#[tokio::test]
async fn consent_is_for_the_journey_it_was_shown_for_even_with_two_in_one_browser() {
    let app = TestApp::new()
        .with_client(
            r#"[[clients]]
client_id = "checker"
client_name = "Independent checker"
redirect_uris = ["https://checker.example/cb"]
scopes = ["openid", "email"]
levels = ["Cl.Cm.P2"]
claims = ["https://vocab.account.gov.uk/v1/coreIdentityJWT"]
public_key = """
$SVC_KEY"""
"#,
        )
        .build();
    let mut browser = Browser::default();
    // Journey A (the test service, asking for the credential and the passport) reaches consent.
    let url_a = app.service.authorize(
        &crate::app::Pkce::new(),
        "Cl.Cm.P2",
        &[CORE, "https://vocab.account.gov.uk/v1/passport"],
        &[],
    );
    let a = browser.get(&app, &url_a).await;
    let choice_a = browser.get(&app, &a.location()).await;
    let at_provider = browser
        .submit(&app, &choice_a, "/choose-provider", &[("provider", "idp")])
        .await;
    let back = app
        .provider
        .answer(&at_provider.location(), Persona::p2(), Outcome::Success);
    let to_consent_a = browser.get(&app, &back).await;
    let consent_a = browser.get(&app, &to_consent_a.location()).await;
    assert!(consent_a.shows("A service"), "{}", consent_a.body);
    // Journey B (the checker) starts in another tab and reaches consent by single sign-on.
    let url_b = app.service.authorize(
        &crate::app::Pkce::new(),
        "Cl.Cm.P2",
        &[CORE],
        &[("client_id", "checker"), ("redirect_uri", "https://checker.example/cb")],
    );
    let b = browser.get(&app, &url_b).await;
    let consent_b = browser.get(&app, &b.location()).await;
    assert!(consent_b.shows("Independent checker"), "{}", consent_b.body);
    // Accepting on B's page releases to B alone; A's journey is still waiting for its own answer.
    let done_b = browser
        .submit(&app, &consent_b, "/consent", &[("decision", "accept")])
        .await;
    assert!(
        done_b.location().starts_with("https://checker.example/cb?code="),
        "{done_b:?}"
    );
    let still_a = browser.get(&app, &to_consent_a.location()).await;
    assert_eq!(still_a.status, StatusCode::OK, "A's consent is untouched");
    let issued: Vec<String> = app
        .facts()
        .iter()
        .filter_map(|f| match f {
            Fact::AssertionIssued { client_id, .. } => Some(client_id.to_string()),
            _ => None,
        })
        .collect();
    assert_eq!(issued, vec!["checker".to_string()]);
}

#[tokio::test]
async fn forms_without_the_journeys_token_are_refused() {
    let app = TestApp::new().build();
    let mut browser = Browser::default();
    let url = app.service.authorize(&crate::app::Pkce::new(), "Cl.Cm", &[], &[]);
    let to_choice = browser.get(&app, &url).await;
    let choice = browser.get(&app, &to_choice.location()).await;
    let journey = choice.hidden("journey");
    // The right journey, no token: a forged form.
    let forged = browser
        .post(&app, "/choose-provider", &[("journey", &journey), ("provider", "idp")])
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    let forged = browser
        .post(&app, "/cancel", &[("journey", &journey), ("csrf", "guess")])
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    // The real form still works.
    let real = browser
        .submit(&app, &choice, "/choose-provider", &[("provider", "idp")])
        .await;
    assert!(real.location().starts_with("https://idp.example/authorize?"));
}

/// A request from the client address `from` (behind the trusted proxy, which in-process is loopback).
async fn request_from(app: &TestApp, from: &str, method: Method, uri: &str, form: &[(&str, &str)]) -> crate::app::Seen {
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form.iter())
        .finish();
    let request = Request::builder()
        .method(method)
        .uri(uri)
        .header("x-forwarded-for", from)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(body))
        .unwrap();
    app.send(request).await
}

/// A hub whose limits are small: `per_ip` and `per_client` bursts, one a second after; loopback is the
/// trusted proxy, so `X-Forwarded-For` names each request's address.
fn limited_app(per_ip: u32, per_client: u32) -> TestApp {
    TestApp::new()
        .with_config(move |c| {
            c.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
            c.rate_per_ip = Rate {
                per_second: 1,
                burst: per_ip,
            };
            c.rate_per_client = Rate {
                per_second: 1,
                burst: per_client,
            };
        })
        .build()
}

/// `/token` for the test service with a fresh assertion and a code that does not exist.
fn token_form(app: &TestApp) -> Vec<(&'static str, String)> {
    vec![
        ("grant_type", "authorization_code".into()),
        ("code", "no-such-code".into()),
        ("redirect_uri", SVC_REDIRECT.into()),
        ("code_verifier", hub::ids::random_token()),
        ("client_assertion_type", keys::client_assertion::JWT_BEARER.into()),
        (
            "client_assertion",
            app.service.assertion(app.clock.now_secs(), json!({})),
        ),
    ]
}

fn pairs<'a>(form: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    form.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

fn is_limited(seen: &crate::app::Seen) -> bool {
    seen.status == StatusCode::TOO_MANY_REQUESTS
        && seen
            .headers
            .get(header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
            .is_some_and(|secs| secs >= 1)
}

#[tokio::test]
async fn every_guarded_route_answers_429_with_retry_after_past_an_addresss_burst() {
    let app = limited_app(3, 1000);
    let authorize = app.service.authorize(&crate::app::Pkce::new(), "Cl.Cm", &[], &[]);
    let routes: [(&str, Method, &str); 5] = [
        ("198.51.100.1", Method::GET, authorize.as_str()),
        ("198.51.100.2", Method::POST, "/par"),
        ("198.51.100.3", Method::POST, "/token"),
        ("198.51.100.4", Method::GET, "/choose-provider?journey=none"),
        ("198.51.100.5", Method::POST, "/choose-provider"),
    ];
    for (from, method, uri) in routes {
        // Each a real request of its kind (a valid authorization request, an authenticated client).
        let form = token_form(&app);
        for i in 0..3 {
            let seen = request_from(&app, from, method.clone(), uri, &pairs(&form)).await;
            assert_ne!(
                seen.status,
                StatusCode::TOO_MANY_REQUESTS,
                "{method} {uri}: request {i} of the burst"
            );
        }
        let mut limited = None;
        for _ in 0..3 {
            let seen = request_from(&app, from, method.clone(), uri, &pairs(&token_form(&app))).await;
            if seen.status == StatusCode::TOO_MANY_REQUESTS {
                limited = Some(seen);
                break;
            }
        }
        let seen = limited.unwrap_or_else(|| panic!("{method} {uri}: never limited"));
        assert!(is_limited(&seen), "{method} {uri}: {:?}", seen.headers);
        if uri.starts_with("/authorize") || uri.starts_with("/choose-provider") {
            assert!(seen.shows("rate_limited"), "{method} {uri}: a page for people");
        } else {
            assert_eq!(seen.json()["error"], "temporarily_unavailable", "{method} {uri}");
        }
    }
    // Another address is not limited by theirs.
    let seen = request_from(&app, "198.51.100.9", Method::POST, "/token", &pairs(&token_form(&app))).await;
    assert_eq!(seen.json()["error"], "invalid_grant", "{}", seen.body);
}

#[tokio::test]
async fn the_per_service_limit_counts_only_what_the_service_authenticated() {
    let app = limited_app(10, 3);
    let ended = app.sign_in(&mut Browser::default(), SignIn::cl_cm()).await;
    let code = ended.code().unwrap();
    // Anyone can name the service in /authorize: fifty valid requests from fifty addresses...
    for i in 0..50 {
        let uri = app.service.authorize(&crate::app::Pkce::new(), "Cl.Cm", &[], &[]);
        let seen = request_from(&app, &format!("203.0.113.{i}"), Method::GET, &uri, &[]).await;
        assert_eq!(seen.status, StatusCode::FOUND, "{i}: {}", seen.body);
    }
    // ...do not spend the service's own bucket: its /token still answers.
    let tokens = app.service.redeem(&app, &code, &ended.pkce.verifier).await;
    assert_eq!(tokens.status, StatusCode::OK, "{}", tokens.body);
    // The service's authenticated requests do spend it (burst 3, one taken): /token, then /par too.
    let mut answers = Vec::new();
    for i in 0..6 {
        let seen = request_from(
            &app,
            &format!("192.0.2.{i}"),
            Method::POST,
            "/token",
            &pairs(&token_form(&app)),
        )
        .await;
        answers.push(seen);
    }
    assert!(
        answers[..2].iter().all(|s| s.json()["error"] == "invalid_grant"),
        "{:?}",
        answers.iter().map(|s| s.status).collect::<Vec<_>>()
    );
    let limited = answers
        .iter()
        .find(|s| s.status == StatusCode::TOO_MANY_REQUESTS)
        .expect("the service's /token was never limited");
    assert!(is_limited(limited), "{:?}", limited.headers);
    let mut par = token_form(&app);
    par.retain(|(k, _)| k.starts_with("client_assertion"));
    par.extend([
        ("response_type", "code".to_string()),
        ("client_id", "svc".into()),
        ("redirect_uri", SVC_REDIRECT.into()),
        ("scope", "openid".into()),
    ]);
    let seen = request_from(&app, "192.0.2.100", Method::POST, "/par", &pairs(&par)).await;
    assert!(
        is_limited(&seen),
        "/par shares the service's bucket: {} {}",
        seen.status,
        seen.body
    );
    // An unauthenticated /token naming the service does not spend (or meet) its bucket.
    let mut forged = token_form(&app);
    forged.retain(|(k, _)| *k != "client_assertion");
    forged.push(("client_assertion", "not.a.jwt".into()));
    let seen = request_from(&app, "192.0.2.101", Method::POST, "/token", &pairs(&forged)).await;
    assert_eq!(seen.json()["error"], "invalid_client", "{} {}", seen.status, seen.body);
}
