//! Levels of confidence, proven identity and the choice of provider: a P2 journey in the browser, every
//! forced outcome and broken answer of the stub providers, the filtering of the choice page, consent,
//! `returnCode`, single sign-on across sectors and the privacy partition between services and providers.

use crate::{
    browser::Browser,
    flows::{authorize_url, finish, hub_keys, to_provider_page, token, userinfo, Pkce},
    harness::{Agent, Federation, Options, Seen, StoreKind, TEST_CLIENT, TEST_CLIENT_PUBLIC_KEY, TEST_REDIRECT},
};
use anyhow::{anyhow, bail, ensure, Result};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use std::time::Duration;

const P2: &str = r#"["Cl.Cm.P2"]"#;
const P3: &str = r#"["Cl.Cm.P3"]"#;
const CORE_IDENTITY: &str = "https://vocab.account.gov.uk/v1/coreIdentityJWT";
const ADDRESS: &str = "https://vocab.account.gov.uk/v1/address";
const PASSPORT: &str = "https://vocab.account.gov.uk/v1/passport";
const DRIVING_PERMIT: &str = "https://vocab.account.gov.uk/v1/drivingPermit";
const RETURN_CODE: &str = "https://vocab.account.gov.uk/v1/returnCode";

/// The `claims` request parameter asking for these userinfo claims.
fn claims_param(names: &[&str]) -> String {
    let userinfo: Map<String, Value> = names.iter().map(|n| (n.to_string(), Value::Null)).collect();
    json!({ "userinfo": userinfo }).to_string()
}

/// A `[[clients]]` entry signing with the test client's key; `more` adds registry lines.
fn client_toml(id: &str, name: &str, redirect: &str, levels: &[&str], claims: &[&str], more: &str) -> String {
    format!(
        r#"
[[clients]]
client_id = "{id}"
client_name = "{name}"
redirect_uris = ["{redirect}"]
scopes = ["openid", "email", "phone"]
levels = {levels}
claims = {claims}
{more}
public_key = """
{TEST_CLIENT_PUBLIC_KEY}"""
"#,
        levels = json!(levels),
        claims = json!(claims),
    )
}

/// A relying service driven by hand: its registration and the values it sends.
#[derive(Debug, Clone, Copy)]
struct Rp<'a> {
    id: &'a str,
    /// Starts with [`TEST_REDIRECT`], so the flow helpers stop there too.
    redirect: &'a str,
    state: &'a str,
    nonce: &'a str,
}

/// The test client registered by the harness.
const TEST_RP: Rp<'static> = Rp {
    id: TEST_CLIENT,
    redirect: TEST_REDIRECT,
    state: "state-123",
    nonce: "nonce-456",
};

/// Signed tokens and userinfo, as a service receives them.
struct Redeemed {
    id_token: Map<String, Value>,
    body: Value,
    userinfo: Value,
}

impl Rp<'_> {
    /// An authorization URL for this service; `set` adds or overrides parameters (`None` removes).
    fn url(&self, fed: &Federation, pkce: &Pkce, set: &[(&str, Option<&str>)]) -> String {
        let mut all = vec![
            ("client_id", Some(self.id)),
            ("redirect_uri", Some(self.redirect)),
            ("state", Some(self.state)),
            ("nonce", Some(self.nonce)),
        ];
        all.extend_from_slice(set);
        authorize_url(fed, pkce, &all)
    }

    /// The query of a redirect to this service, checking `state` and `iss` (RFC 9207).
    fn params(&self, fed: &Federation, seen: &Seen) -> Result<std::collections::HashMap<String, String>> {
        let location = seen
            .location
            .clone()
            .ok_or_else(|| anyhow!("no redirect; got {} {}\n{}", seen.status, seen.url, seen.body))?;
        ensure!(
            location.starts_with(&format!("{}?", self.redirect)),
            "redirect to {location}, not to {}",
            self.redirect
        );
        let params = seen.location_params();
        ensure!(
            params.get("state").map(String::as_str) == Some(self.state),
            "state in {location}"
        );
        ensure!(params.get("iss") == Some(&fed.hub), "iss in {location}");
        Ok(params)
    }

    /// The code of a successful redirect.
    fn code(&self, fed: &Federation, seen: &Seen) -> Result<String> {
        let params = self.params(fed, seen)?;
        ensure!(!params.contains_key("error"), "error redirect: {params:?}");
        params
            .get("code")
            .cloned()
            .ok_or_else(|| anyhow!("no code in {params:?}"))
    }

    /// The `error` of an error redirect, which carries no code.
    fn error(&self, fed: &Federation, seen: &Seen) -> Result<String> {
        let params = self.params(fed, seen)?;
        ensure!(!params.contains_key("code"), "a code came with the error: {params:?}");
        params
            .get("error")
            .cloned()
            .ok_or_else(|| anyhow!("no error in {params:?}"))
    }

    /// Exchanges a code (private_key_jwt with the test client's key), verifies the ID token and fetches
    /// userinfo.
    async fn redeem(&self, fed: &Federation, code: &str, verifier: &str) -> Result<Redeemed> {
        let assertion = fed.assertion(json!({"iss": self.id, "sub": self.id}))?;
        let (status, body) = token(
            fed,
            &[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", self.redirect),
                ("code_verifier", verifier),
                (
                    "client_assertion_type",
                    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                ),
                ("client_assertion", &assertion),
            ],
        )
        .await?;
        ensure!(status == 200, "token endpoint answered {status}: {body}");
        let (_, id_token) = hub_keys(fed)
            .await?
            .verify(body["id_token"].as_str().unwrap_or_default())?;
        ensure!(id_token.get("aud") == Some(&json!(self.id)), "aud {id_token:?}");
        ensure!(id_token.get("nonce") == Some(&json!(self.nonce)), "nonce {id_token:?}");
        let access = body["access_token"].as_str().unwrap_or_default().to_string();
        let (status, _, info) = userinfo(fed, &access).await?;
        ensure!(status == 200, "userinfo answered {status}: {info}");
        ensure!(info.get("sub") == id_token.get("sub"), "userinfo sub differs");
        Ok(Redeemed {
            id_token,
            body,
            userinfo: info,
        })
    }
}

/// The `href` of the element `#id`, resolved against the page's URL.
fn href_of(seen: &Seen, id: &str) -> Result<String> {
    seen.href(id)
}

/// The provider radios of a choice page: (id, disabled, checked), in page order.
fn provider_radios(seen: &Seen) -> Result<Vec<(String, bool, bool)>> {
    let html = seen.html();
    let sel = scraper::Selector::parse("input[name=provider]").map_err(|e| anyhow!("{e:?}"))?;
    Ok(html
        .select(&sel)
        .map(|e| {
            let v = e.value();
            (
                v.attr("value").unwrap_or_default().to_string(),
                v.attr("disabled").is_some(),
                v.attr("checked").is_some(),
            )
        })
        .collect())
}

/// Whether a page is the hub's provider choice.
fn is_choice_page(fed: &Federation, seen: &Seen) -> bool {
    seen.is_choice(&fed.hub)
}

/// The stub's subject for a persona at a provider (idp-stub `Persona::subject`).
pub(crate) fn stub_subject(provider: &str, persona: &str) -> String {
    let digest = Sha256::digest(format!("idp-stub subject {provider} {persona}").as_bytes());
    let suffix: String = digest.iter().take(6).map(|b| format!("{b:02x}")).collect();
    format!("{provider}-{persona}-{suffix}")
}

/// Everything the stub recorded.
async fn stub_requests(fed: &Federation) -> Result<Vec<Value>> {
    let list: Value = reqwest::get(format!("{}/_requests", fed.stub)).await?.json().await?;
    list.as_array()
        .cloned()
        .ok_or_else(|| anyhow!("/_requests is not a list: {list}"))
}

/// Forces (or with `None`, clears) an outcome at a stub provider.
async fn force(fed: &Federation, provider: &str, outcome: Option<&str>) -> Result<()> {
    let response = reqwest::Client::new()
        .post(format!("{}/{provider}/config", fed.stub))
        .json(&json!({ "outcome": outcome }))
        .send()
        .await?;
    ensure!(
        response.status().is_success(),
        "forcing {outcome:?}: {}",
        response.status()
    );
    Ok(())
}

/// The hub's DID document, served to be cached for an hour (INTERFACE.md §1).
async fn did_document(fed: &Federation) -> Result<Value> {
    let response = reqwest::get(format!("{}/.well-known/did.json", fed.hub)).await?;
    ensure!(response.status() == 200, "did.json: {}", response.status());
    let cache = response
        .headers()
        .get("cache-control")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    ensure!(cache.contains("max-age=3600"), "did.json Cache-Control {cache:?}");
    Ok(response.json().await?)
}

/// The assertion method of the DID document named by a JWT's `kid`, checking the document's shape.
fn did_key_for(did: &Value, jwt: &str) -> Result<keys::VerifyingKey> {
    let kid = keys::decode_header(jwt)?
        .kid
        .ok_or_else(|| anyhow!("the coreIdentityJWT has no kid"))?;
    let id = did["id"].as_str().unwrap_or_default();
    ensure!(id.starts_with("did:web:127.0.0.1%3A"), "DID id {id}");
    ensure!(kid.starts_with(&format!("{id}#")), "kid {kid} is not in {id}");
    let method = did["assertionMethod"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|m| m["id"] == json!(kid))
        .ok_or_else(|| anyhow!("did.json does not list {kid}: {did}"))?;
    ensure!(
        method["type"] == "JsonWebKey" && method["controller"] == json!(id),
        "{method}"
    );
    // The JWK's own kid is the fragment; the JWT names the whole DID URL.
    let mut jwk = method["publicKeyJwk"].clone();
    ensure!(
        jwk["kid"].as_str().is_some_and(|k| kid.ends_with(&format!("#{k}"))),
        "publicKeyJwk kid {} is not the fragment of {kid}",
        jwk["kid"]
    );
    if let Some(map) = jwk.as_object_mut() {
        map.insert("kid".into(), json!(kid));
    }
    Ok(keys::VerifyingKey::from_jwk(&jwk)?)
}

// ---------------------------------------------------------------------------------------------------
// 1. A P2 journey in the browser.

#[tokio::test]
async fn browser_p2_journey_shows_the_proven_identity_on_the_service() -> Result<()> {
    let fed = Federation::start(StoreKind::Memory).await?;
    let browser = Browser::start().await?;
    let outcome = async {
        browser.client.goto(&format!("{}/", fed.rp)).await?;
        browser.click("#level-cl-cm-p2").await?;
        browser.click("#sign-in").await?;
        browser.wait_for_url(&format!("{}/choose-provider", fed.hub)).await?;
        browser.click("#provider-stub-a").await?;
        browser.click("#continue").await?;
        browser.wait_for_url(&format!("{}/stub-a/authorize", fed.stub)).await?;
        // Bethan Jones reaches P2 (and is not the page's default persona).
        browser.click("#persona-bethan-jones").await?;
        browser.click("#continue").await?;
        browser.wait_for_url(&format!("{}/consent", fed.hub)).await?;
        let asked = browser.text("#claims-asked").await?;
        assert!(asked.contains("your name and date of birth"), "consent lists {asked:?}");
        assert!(asked.contains("your address"), "consent lists {asked:?}");
        browser.click("#continue").await?;
        browser.wait_for_url(&format!("{}/account", fed.rp)).await?;
        assert_eq!(browser.text("#name").await?, "Bethan Jones");
        assert_eq!(browser.text("#birth-date").await?, "1990-11-03");
        assert_eq!(browser.text("#identity-level").await?, "P2");
        let jwt = browser.text("#core-identity").await?;
        anyhow::Ok(jwt)
    }
    .await;
    browser.close().await?;
    let jwt = outcome?;
    // The key that signed the credential is the one the hub's DID document lists.
    let did = did_document(&fed).await?;
    let key = did_key_for(&did, jwt.trim())?;
    let (_, claims) = keys::VerifyingKeys::new(vec![key]).verify(jwt.trim())?;
    assert_eq!(claims.get("vot"), Some(&json!("P2")));
    assert_eq!(claims.get("aud"), Some(&json!("rp-example")));
    Ok(())
}

// ---------------------------------------------------------------------------------------------------
// 2. Each forced outcome and each broken answer.

/// The provider's page for a new journey of the test client at `vtr`.
async fn stub_page(fed: &Federation, vtr: &str) -> Result<(Agent, Seen)> {
    let mut agent = Agent::new()?;
    let url = TEST_RP.url(fed, &Pkce::new(), &[("vtr", Some(vtr))]);
    let page = to_provider_page(&mut agent, &url, "stub-a").await?;
    Ok((agent, page))
}

/// Checks that the service was never reached in this agent's history.
fn never_reached_service(agent: &Agent, what: &str) {
    assert!(
        !agent.history.iter().any(|u| u.starts_with(TEST_REDIRECT)),
        "{what}: the browser was sent to the service: {:?}",
        agent.history
    );
}

/// From a page with a return link: the service receives `access_denied` with `state` and `iss`.
async fn return_link_gives_access_denied(fed: &Federation, agent: &mut Agent, page: &Seen, what: &str) -> Result<()> {
    let link = href_of(page, "return-to-service")?;
    let back = agent.visit(&link, Some(TEST_REDIRECT)).await?;
    assert_eq!(TEST_RP.error(fed, &back)?, "access_denied", "{what}");
    Ok(())
}

#[tokio::test]
async fn every_forced_outcome_and_broken_answer_of_a_provider() -> Result<()> {
    // Every broken answer in a row: keep the provider's circuit breaker from opening on them.
    let fed = Federation::start_with(Options {
        hub_config: "provider_breaker_failures = 1000".into(),
        ..Default::default()
    })
    .await?;

    // Success, at Cl.Cm and at P2.
    for vtr in [r#"["Cl.Cm"]"#, P2] {
        let pkce = Pkce::new();
        let mut agent = Agent::new()?;
        let page = to_provider_page(&mut agent, &TEST_RP.url(&fed, &pkce, &[("vtr", Some(vtr))]), "stub-a").await?;
        let done = finish(&mut agent, &page, "success").await?;
        let code = TEST_RP.code(&fed, &done)?;
        let redeemed = TEST_RP.redeem(&fed, &code, &pkce.verifier).await?;
        assert_eq!(redeemed.id_token.get("vot"), Some(&json!("Cl.Cm")), "{vtr}");
    }

    // The person fails or cancels: a page saying so; its return link sends the service access_denied.
    for outcome in ["authentication-failed", "cancel"] {
        let (mut agent, page) = stub_page(&fed, r#"["Cl.Cm"]"#).await?;
        let seen = finish(&mut agent, &page, outcome).await?;
        assert_eq!(seen.status, 200, "{outcome}");
        assert_eq!(
            seen.text_of("#error-code").as_deref(),
            Some("access_denied"),
            "{outcome}"
        );
        never_reached_service(&agent, outcome);
        return_link_gives_access_denied(&fed, &mut agent, &seen, outcome).await?;
    }

    // The level was not reached: back on the choice with a notice, free to choose again.
    for (outcome, vtr) in [
        ("level-not-reached", P2),
        ("level-not-reached", r#"["Cl.Cm"]"#),
        ("unmet-requirements", r#"["Cl.Cm"]"#),
        ("unmet-requirements", P2),
    ] {
        let (mut agent, page) = stub_page(&fed, vtr).await?;
        let seen = finish(&mut agent, &page, outcome).await?;
        assert!(
            is_choice_page(&fed, &seen),
            "{outcome} {vtr}: at {} {}",
            seen.status,
            seen.url
        );
        let notice = seen.text_of("#notice").unwrap_or_default();
        assert!(notice.contains("Stub Identity A"), "{outcome} {vtr}: notice {notice:?}");
        never_reached_service(&agent, outcome);
        // The way on works: another provider this time.
        let again = agent
            .submit(&seen, "continue", &[("provider", "stub-b")], Some(TEST_REDIRECT))
            .await?;
        assert!(
            again.url.starts_with(&format!("{}/stub-b/authorize", fed.stub)),
            "{outcome} {vtr}: at {}",
            again.url
        );
    }

    // An identity check pending or fraud suspected, at a P2 journey: a clear page, no code.
    for (outcome, code) in [
        ("pending", "identity_check_pending"),
        ("fraud-suspected", "identity_check_failed"),
    ] {
        let (mut agent, page) = stub_page(&fed, P2).await?;
        let seen = finish(&mut agent, &page, outcome).await?;
        assert_eq!(seen.status, 200, "{outcome}");
        assert!(seen.location.is_none(), "{outcome}: redirected to {:?}", seen.location);
        assert_eq!(seen.text_of("#error-code").as_deref(), Some(code), "{outcome}");
        never_reached_service(&agent, outcome);
        return_link_gives_access_denied(&fed, &mut agent, &seen, outcome).await?;
    }

    // The provider is down, or its answer is broken: an error page with a way on, never the service.
    for (outcome, vtr) in [
        "temporarily-unavailable",
        "bad-signature",
        "alg-none",
        "wrong-iss",
        "wrong-aud",
        "expired",
        "not-yet-valid",
        "wrong-nonce",
        "wrong-acr",
        "missing-sub",
    ]
    .into_iter()
    .flat_map(|o| [(o, P2), (o, r#"["Cl.Cm"]"#)])
    {
        let (mut agent, page) = stub_page(&fed, vtr).await?;
        let seen = finish(&mut agent, &page, outcome).await?;
        let outcome = format!("{outcome} at {vtr}");
        assert!(seen.location.is_none(), "{outcome}: redirected to {:?}", seen.location);
        assert_eq!(seen.status, 502, "{outcome}: {}", seen.body);
        assert_eq!(
            seen.text_of("#error-code").as_deref(),
            Some("provider_error"),
            "{outcome}"
        );
        never_reached_service(&agent, &outcome);
        let choose = agent.visit(&href_of(&seen, "continue")?, Some(TEST_REDIRECT)).await?;
        assert!(is_choice_page(&fed, &choose), "{outcome}: at {}", choose.url);
        assert!(
            choose.body.contains("Did not work just now"),
            "{outcome}: provider not marked as failing"
        );
    }

    // Forcing through the stub's /config overrides the person's choice on the page, until cleared.
    force(&fed, "stub-a", Some("cancel")).await?;
    let (mut agent, page) = stub_page(&fed, r#"["Cl.Cm"]"#).await?;
    let seen = finish(&mut agent, &page, "success").await?;
    assert_eq!(
        seen.text_of("#error-code").as_deref(),
        Some("access_denied"),
        "forced cancel"
    );
    force(&fed, "stub-a", None).await?;
    let pkce = Pkce::new();
    let mut agent = Agent::new()?;
    let page = to_provider_page(&mut agent, &TEST_RP.url(&fed, &pkce, &[]), "stub-a").await?;
    let done = finish(&mut agent, &page, "success").await?;
    TEST_RP.code(&fed, &done)?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------------
// 3. The choice page.

#[tokio::test]
async fn choice_page_filters_by_level_shows_unavailable_remembers_and_speaks_welsh() -> Result<()> {
    let p3 = Rp {
        id: "p3-service",
        redirect: "http://127.0.0.1:9/callback/p3",
        state: "state-p3",
        nonce: "nonce-p3",
    };
    let fed = Federation::start_with(Options {
        extra_clients: client_toml(
            p3.id,
            "High assurance service",
            p3.redirect,
            &["Cl.Cm", "Cl.Cm.P2", "Cl.Cm.P3"],
            &[CORE_IDENTITY],
            "",
        ),
        extra_providers: r#"
[[providers]]
id = "stub-c"
name = "Stub Identity C"
name_cy = "Darparwr Hunaniaeth C"
issuer = "$STUB/stub-b"
client_id = "federation-hub"
levels = ["Cl", "Cl.Cm", "Cl.Cm.P1", "Cl.Cm.P2", "Cl.Cm.P3"]
temporarily_unavailable = true
"#
        .into(),
        ..Options::default()
    })
    .await?;

    // P3: only the providers reaching P3; the unavailable one shown disabled with its hint.
    let mut agent = Agent::new()?;
    let choose = agent
        .visit(&p3.url(&fed, &Pkce::new(), &[("vtr", Some(P3))]), Some(p3.redirect))
        .await?;
    assert!(is_choice_page(&fed, &choose), "at {} {}", choose.status, choose.url);
    let radios = provider_radios(&choose)?;
    let ids: Vec<&str> = radios.iter().map(|(id, _, _)| id.as_str()).collect();
    assert_eq!(ids, ["stub-a", "stub-c"], "P3 choice lists {ids:?}");
    assert!(!choose.body.contains("Stub Identity B"), "stub-b cannot reach P3");
    assert!(
        radios.contains(&("stub-c".into(), true, false)),
        "stub-c not disabled: {radios:?}"
    );
    assert!(radios.contains(&("stub-a".into(), false, false)), "{radios:?}");
    let hint = choose.text_of("#provider-stub-c-hint").unwrap_or_default();
    assert!(hint.starts_with("Temporarily unavailable"), "hint {hint:?}");
    // It cannot be chosen: the page again, with an error, and no visit to any provider.
    let before = agent.history.len();
    let refused = agent
        .submit(&choose, "continue", &[("provider", "stub-c")], Some(p3.redirect))
        .await?;
    assert_eq!(refused.status, 400, "{}", refused.body);
    assert!(
        refused.url.starts_with(&format!("{}/choose-provider", fed.hub)),
        "{}",
        refused.url
    );
    assert!(refused.text_of("#provider-error").is_some(), "no error message shown");
    assert!(!agent.history[before..].iter().any(|u| u.starts_with(&fed.stub)));
    // Nor can a provider that does not reach the level.
    let refused = agent
        .submit(&choose, "continue", &[("provider", "stub-b")], Some(p3.redirect))
        .await?;
    assert_eq!(refused.status, 400, "stub-b chosen for P3");

    // Cl.Cm: every provider; the last chosen one is offered first and pre-checked next time.
    let mut agent = Agent::new()?;
    let choose = agent
        .visit(&TEST_RP.url(&fed, &Pkce::new(), &[]), Some(TEST_REDIRECT))
        .await?;
    let radios = provider_radios(&choose)?;
    assert_eq!(
        radios,
        vec![
            ("stub-a".to_string(), false, false),
            ("stub-b".to_string(), false, false),
            ("stub-c".to_string(), true, false),
        ]
    );
    let page = agent
        .submit(&choose, "continue", &[("provider", "stub-b")], Some(TEST_REDIRECT))
        .await?;
    let done = finish(&mut agent, &page, "success").await?;
    TEST_RP.code(&fed, &done)?;
    assert!(agent.has_cookie("__Host-hub-last-provider"));
    let choose = agent
        .visit(
            &TEST_RP.url(&fed, &Pkce::new(), &[("prompt", Some("login"))]),
            Some(TEST_REDIRECT),
        )
        .await?;
    assert!(is_choice_page(&fed, &choose), "at {}", choose.url);
    let radios = provider_radios(&choose)?;
    assert_eq!(radios.first(), Some(&("stub-b".to_string(), false, true)), "{radios:?}");
    assert_eq!(radios.iter().filter(|(_, _, checked)| *checked).count(), 1);

    // Welsh pages and names when Welsh comes first in ui_locales; English otherwise.
    for (locales, a_name, b_name, lang, heading) in [
        (
            "cy",
            "Darparwr Hunaniaeth A",
            "Darparwr Hunaniaeth B",
            "cy",
            "Dewiswch sut i fewngofnodi i Test service",
        ),
        (
            "cy en",
            "Darparwr Hunaniaeth A",
            "Darparwr Hunaniaeth B",
            "cy",
            "Dewiswch sut i fewngofnodi i Test service",
        ),
        (
            "en cy",
            "Stub Identity A",
            "Stub Identity B",
            "en",
            "Choose how to sign in to Test service",
        ),
    ] {
        let mut agent = Agent::new()?;
        let choose = agent
            .visit(
                &TEST_RP.url(&fed, &Pkce::new(), &[("ui_locales", Some(locales))]),
                Some(TEST_REDIRECT),
            )
            .await?;
        assert_eq!(
            choose.text_of("label[for=provider-stub-a]").as_deref(),
            Some(a_name),
            "{locales}"
        );
        assert_eq!(
            choose.text_of("label[for=provider-stub-b]").as_deref(),
            Some(b_name),
            "{locales}"
        );
        assert!(choose.body.contains(&format!("<html lang=\"{lang}\"")), "{locales}");
        assert_eq!(choose.text_of("h1").as_deref(), Some(heading), "{locales}");
        // The provider's own page follows the same choice.
        let page = agent
            .submit(&choose, "continue", &[("provider", "stub-a")], Some(TEST_REDIRECT))
            .await?;
        assert!(
            page.body.contains(a_name),
            "{locales}: the provider's page does not say {a_name}"
        );
    }

    // The person switches language on the page itself, without JavaScript, and the choice stays.
    let mut agent = Agent::new()?;
    let english = agent
        .visit(&TEST_RP.url(&fed, &Pkce::new(), &[]), Some(TEST_REDIRECT))
        .await?;
    assert_eq!(
        english.text_of("#switch-language .govuk-visually-hidden").as_deref(),
        Some("Newid yr iaith i'r Gymraeg")
    );
    assert_eq!(
        english.text_of("#switch-language [aria-hidden]").as_deref(),
        Some("Cymraeg")
    );
    let welsh = agent
        .visit(&href_of(&english, "switch-language")?, Some(TEST_REDIRECT))
        .await?;
    assert!(welsh.body.contains("<html lang=\"cy\""), "{}", welsh.body);
    assert_eq!(
        welsh.text_of("label[for=provider-stub-a]").as_deref(),
        Some("Darparwr Hunaniaeth A")
    );
    let error = agent.submit(&welsh, "continue", &[], Some(TEST_REDIRECT)).await?;
    assert_eq!(error.status, 400);
    assert_eq!(
        error.text_of(".govuk-error-summary__title").as_deref(),
        Some("Mae problem wedi codi")
    );
    assert_eq!(
        error.text_of("#provider-error").as_deref(),
        Some("Gwall: Dewiswch sut rydych eisiau mewngofnodi")
    );
    let again = agent.visit(&english.url, Some(TEST_REDIRECT)).await?;
    assert!(
        again.body.contains("<html lang=\"cy\""),
        "the switch was not remembered"
    );
    let back = agent
        .visit(&href_of(&again, "switch-language")?, Some(TEST_REDIRECT))
        .await?;
    assert!(back.body.contains("<html lang=\"en\""));
    assert_eq!(
        back.text_of("label[for=provider-stub-a]").as_deref(),
        Some("Stub Identity A")
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------------
// 4. Consent.

#[tokio::test]
async fn declining_consent_sends_the_service_access_denied_and_no_code() -> Result<()> {
    let rp = Rp {
        id: "identity-service",
        redirect: "http://127.0.0.1:9/callback/identity",
        state: "state-consent",
        nonce: "nonce-consent",
    };
    let fed = Federation::start_with(Options {
        extra_clients: client_toml(
            rp.id,
            "Identity service",
            rp.redirect,
            &["Cl.Cm", "Cl.Cm.P2"],
            &[CORE_IDENTITY, ADDRESS],
            "",
        ),
        ..Options::default()
    })
    .await?;
    let claims = claims_param(&[CORE_IDENTITY, ADDRESS]);
    let url = |pkce: &Pkce| rp.url(&fed, pkce, &[("vtr", Some(P2)), ("claims", Some(&claims))]);

    let mut agent = Agent::new()?;
    let page = to_provider_page(&mut agent, &url(&Pkce::new()), "stub-a").await?;
    let consent = finish(&mut agent, &page, "success").await?;
    assert!(
        consent.url.starts_with(&format!("{}/consent?journey=", fed.hub)),
        "{} {}",
        consent.url,
        consent.body
    );
    assert_eq!(consent.status, 200);
    let asked = consent.text_of("#claims-asked").unwrap_or_default();
    assert!(
        asked.contains("your name and date of birth") && asked.contains("your address"),
        "consent lists {asked:?}"
    );
    assert!(
        consent.body.contains("Identity service"),
        "the service asking is not named"
    );
    let back = agent
        .submit(&consent, "decline", &[("decision", "decline")], Some(rp.redirect))
        .await?;
    assert_eq!(rp.error(&fed, &back)?, "access_denied");

    // Accepting, in another journey, releases the credential.
    let pkce = Pkce::new();
    let mut agent = Agent::new()?;
    let page = to_provider_page(&mut agent, &url(&pkce), "stub-a").await?;
    let consent = finish(&mut agent, &page, "success").await?;
    let back = agent
        .submit(&consent, "continue", &[("decision", "accept")], Some(rp.redirect))
        .await?;
    let code = rp.code(&fed, &back)?;
    let redeemed = rp.redeem(&fed, &code, &pkce.verifier).await?;
    assert!(redeemed.userinfo.get(CORE_IDENTITY).is_some(), "{}", redeemed.userinfo);
    assert!(redeemed.userinfo.get(ADDRESS).is_some(), "{}", redeemed.userinfo);
    Ok(())
}

// ---------------------------------------------------------------------------------------------------
// 5. returnCode.

#[tokio::test]
async fn return_code_instead_of_a_failure_page_for_a_service_that_asks_for_it() -> Result<()> {
    let rp = Rp {
        id: "return-code-service",
        redirect: "http://127.0.0.1:9/callback/return-code",
        state: "state-rc",
        nonce: "nonce-rc",
    };
    let fed = Federation::start_with(Options {
        extra_clients: client_toml(
            rp.id,
            "Return code service",
            rp.redirect,
            &["Cl.Cm.P2"],
            &[CORE_IDENTITY, RETURN_CODE],
            "",
        ),
        ..Options::default()
    })
    .await?;
    let with_rc = claims_param(&[CORE_IDENTITY, RETURN_CODE]);
    for (outcome, letter) in [("pending", "P"), ("fraud-suspected", "F")] {
        let pkce = Pkce::new();
        let mut agent = Agent::new()?;
        let url = rp.url(&fed, &pkce, &[("vtr", Some(P2)), ("claims", Some(&with_rc))]);
        let page = to_provider_page(&mut agent, &url, "stub-a").await?;
        let back = finish(&mut agent, &page, outcome).await?;
        let code = rp.code(&fed, &back)?;
        let redeemed = rp.redeem(&fed, &code, &pkce.verifier).await?;
        assert_eq!(
            redeemed.userinfo.get(RETURN_CODE),
            Some(&json!([{ "code": letter }])),
            "{outcome}: {}",
            redeemed.userinfo
        );
        assert!(
            redeemed.userinfo.get(CORE_IDENTITY).is_none(),
            "{outcome}: an identity credential came with a failed check"
        );
        assert_eq!(redeemed.id_token.get("vot"), Some(&json!("Cl.Cm")), "{outcome}");
    }
    // Not asking for it: the page instead.
    let mut agent = Agent::new()?;
    let url = rp.url(
        &fed,
        &Pkce::new(),
        &[("vtr", Some(P2)), ("claims", Some(&claims_param(&[CORE_IDENTITY])))],
    );
    let page = to_provider_page(&mut agent, &url, "stub-a").await?;
    let seen = finish(&mut agent, &page, "pending").await?;
    assert!(seen.location.is_none(), "redirected to {:?}", seen.location);
    assert_eq!(seen.text_of("#error-code").as_deref(), Some("identity_check_pending"));
    Ok(())
}

// ---------------------------------------------------------------------------------------------------
// 6. Single sign-on.

#[tokio::test]
async fn single_sign_on_across_sectors_prompt_max_age_and_logout() -> Result<()> {
    let a = Rp {
        id: "service-a",
        redirect: "http://127.0.0.1:9/callback/a",
        state: "state-a",
        nonce: "nonce-a",
    };
    let b = Rp {
        id: "service-b",
        redirect: "http://127.0.0.1:9/callback/b",
        state: "state-b",
        nonce: "nonce-b",
    };
    let c = Rp {
        id: "service-c",
        redirect: "http://127.0.0.1:9/callback/c",
        state: "state-c",
        nonce: "nonce-c",
    };
    let levels = ["Cl.Cm", "Cl.Cm.P2"];
    let fed = Federation::start_with(Options {
        extra_clients: [
            client_toml(
                a.id,
                "Service A",
                a.redirect,
                &levels,
                &[],
                r#"sector_identifier_uri = "https://service-a.example/sector.json""#,
            ),
            client_toml(
                b.id,
                "Service B",
                b.redirect,
                &levels,
                &[],
                "sector_identifier_uri = \"https://service-b.example/sector.json\"\nmax_age_enabled = true",
            ),
            client_toml(
                c.id,
                "Service C",
                c.redirect,
                &levels,
                &[],
                r#"sector_identifier_uri = "https://www.service-a.example/other-sector.json""#,
            ),
        ]
        .concat(),
        ..Options::default()
    })
    .await?;
    let mut agent = Agent::new()?;

    // prompt=none without a session: login_required, no page.
    let seen = agent
        .get(&a.url(&fed, &Pkce::new(), &[("prompt", Some("none"))]))
        .await?;
    assert_eq!(a.error(&fed, &seen)?, "login_required");

    // Sign in at A through the provider.
    let pkce_a = Pkce::new();
    let page = to_provider_page(&mut agent, &a.url(&fed, &pkce_a, &[]), "stub-a").await?;
    let code_a = a.code(&fed, &finish(&mut agent, &page, "success").await?)?;

    // B, in another sector, and C, in A's sector: a code straight back, no provider.
    let recorded = stub_requests(&fed).await?.len();
    let history = agent.history.len();
    let pkce_b = Pkce::new();
    let seen = agent.get(&b.url(&fed, &pkce_b, &[])).await?;
    let code_b = b.code(&fed, &seen)?;
    let pkce_c = Pkce::new();
    let seen = agent.get(&c.url(&fed, &pkce_c, &[])).await?;
    let code_c = c.code(&fed, &seen)?;
    assert!(
        !agent.history[history..].iter().any(|u| u.starts_with(&fed.stub)),
        "single sign-on visited the provider: {:?}",
        &agent.history[history..]
    );
    assert_eq!(stub_requests(&fed).await?.len(), recorded, "the stub was asked again");

    let at_a = a.redeem(&fed, &code_a, &pkce_a.verifier).await?.id_token;
    let at_b = b.redeem(&fed, &code_b, &pkce_b.verifier).await?.id_token;
    let at_c = c.redeem(&fed, &code_c, &pkce_c.verifier).await?.id_token;
    let (sub_a, sub_b, sub_c) = (at_a["sub"].clone(), at_b["sub"].clone(), at_c["sub"].clone());
    assert!(sub_a.is_string());
    assert_ne!(sub_a, sub_b, "two sectors share a sub");
    assert_eq!(sub_a, sub_c, "one sector, two subs");
    assert_ne!(at_a["sid"], at_b["sid"], "sid links the two services");
    assert_eq!(
        at_a["auth_time"], at_b["auth_time"],
        "single sign-on is not a new authentication"
    );

    // prompt=none with the session: a code, no page.
    let pkce = Pkce::new();
    let seen = agent.get(&b.url(&fed, &pkce, &[("prompt", Some("none"))])).await?;
    let code = b.code(&fed, &seen)?;
    assert_eq!(b.redeem(&fed, &code, &pkce.verifier).await?.id_token["sub"], sub_b);

    // A higher level than the session's sends the person to a provider again.
    let seen = agent
        .visit(&b.url(&fed, &Pkce::new(), &[("vtr", Some(P2))]), Some(TEST_REDIRECT))
        .await?;
    assert!(
        is_choice_page(&fed, &seen),
        "P2 after Cl.Cm: at {} {:?}",
        seen.url,
        seen.location
    );

    // prompt=login always goes to a provider.
    let seen = agent
        .visit(
            &a.url(&fed, &Pkce::new(), &[("prompt", Some("login"))]),
            Some(TEST_REDIRECT),
        )
        .await?;
    assert!(
        is_choice_page(&fed, &seen),
        "prompt=login: at {} {:?}",
        seen.url,
        seen.location
    );

    // max_age: within it, single sign-on; past it, a provider again.
    let seen = agent
        .get(&b.url(&fed, &Pkce::new(), &[("max_age", Some("3600"))]))
        .await?;
    b.code(&fed, &seen)?;
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let seen = agent
        .visit(
            &b.url(&fed, &Pkce::new(), &[("max_age", Some("1"))]),
            Some(TEST_REDIRECT),
        )
        .await?;
    assert!(
        is_choice_page(&fed, &seen),
        "max_age=1: at {} {:?}",
        seen.url,
        seen.location
    );

    // Logout ends the hub session, at the hub and not only in the browser.
    let session = agent
        .cookie("__Host-hub-session")
        .ok_or_else(|| anyhow!("no hub session cookie"))?;
    // Without an id_token_hint the hub asks first (RP-Initiated Logout §2), and the form ends it.
    let confirm = agent.visit(&format!("{}/logout", fed.hub), Some(TEST_REDIRECT)).await?;
    assert!(confirm.body.contains("Do you want to sign out?"), "{}", confirm.body);
    let out = agent.submit(&confirm, "sign-out", &[], Some(TEST_REDIRECT)).await?;
    assert_eq!(out.status, 200);
    assert!(out.body.contains("You have signed out"));
    assert!(
        !agent.has_cookie("__Host-hub-session"),
        "session cookie kept after logout"
    );
    agent.set_cookie("__Host-hub-session", &session);
    let seen = agent
        .visit(&a.url(&fed, &Pkce::new(), &[]), Some(TEST_REDIRECT))
        .await?;
    assert!(
        is_choice_page(&fed, &seen),
        "after logout: at {} {:?}",
        seen.url,
        seen.location
    );
    let seen = agent
        .get(&a.url(&fed, &Pkce::new(), &[("prompt", Some("none"))]))
        .await?;
    assert_eq!(a.error(&fed, &seen)?, "login_required", "after logout");
    Ok(())
}

/// The Redis key of the hub session named by the agent's cookie (the hub writes
/// `{prefix}session:{base64url(SHA-256(id))}`: a cookie value is never a store key).
fn session_key(fed: &Federation, agent: &Agent) -> Result<String> {
    use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine as _};
    let id = agent
        .cookie("__Host-hub-session")
        .ok_or_else(|| anyhow!("no hub session cookie"))?;
    let hashed = URL_SAFE_NO_PAD.encode(Sha256::digest(id.as_bytes()));
    Ok(format!(
        "{}session:{hashed}",
        fed.redis_prefix.clone().unwrap_or_default()
    ))
}

#[tokio::test]
async fn hub_sessions_last_sixty_idle_minutes_renewed_by_each_use() -> Result<()> {
    let fed = Federation::start(StoreKind::Redis).await?;
    let client = redis::Client::open(crate::harness::redis_url())?;
    let mut conn = client.get_multiplexed_async_connection().await?;
    let mut agent = Agent::new()?;
    let page = to_provider_page(&mut agent, &TEST_RP.url(&fed, &Pkce::new(), &[]), "stub-a").await?;
    TEST_RP.code(&fed, &finish(&mut agent, &page, "success").await?)?;

    // A new session is kept for 60 idle minutes (the default), no longer.
    let key = session_key(&fed, &agent)?;
    let ttl: i64 = redis::cmd("PTTL").arg(&key).query_async(&mut conn).await?;
    assert!(ttl > 3_500_000 && ttl <= 3_600_000, "session TTL {ttl} ms");

    // Use renews it: with 100 s left, a second sign-in by single sign-on gives it 60 minutes again.
    let set: i64 = redis::cmd("PEXPIRE")
        .arg(&key)
        .arg(100_000)
        .query_async(&mut conn)
        .await?;
    assert_eq!(set, 1, "no key {key}");
    let history = agent.history.len();
    let seen = agent.get(&TEST_RP.url(&fed, &Pkce::new(), &[])).await?;
    TEST_RP.code(&fed, &seen)?;
    assert!(
        !agent.history[history..].iter().any(|u| u.starts_with(&fed.stub)),
        "single sign-on went to the provider: {:?}",
        &agent.history[history..]
    );
    let ttl: i64 = redis::cmd("PTTL").arg(&key).query_async(&mut conn).await?;
    assert!(ttl > 3_500_000, "session not renewed by use: TTL {ttl} ms");

    // Once idle past its TTL, the session is gone and the person chooses a provider again.
    let set: i64 = redis::cmd("PEXPIRE").arg(&key).arg(1).query_async(&mut conn).await?;
    assert_eq!(set, 1, "no key {key}");
    tokio::time::sleep(Duration::from_millis(20)).await;
    let seen = agent.visit(&TEST_RP.url(&fed, &Pkce::new(), &[]), None).await?;
    assert!(
        is_choice_page(&fed, &seen),
        "an expired session still signed in: {}",
        seen.url
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------------
// 7. The privacy partition.

/// Every string value in a JSON value, JWTs (in any string) decoded to their claims as well.
fn with_decoded_jwts(value: &Value) -> String {
    let mut out = value.to_string();
    let mut stack = vec![value];
    while let Some(v) = stack.pop() {
        match v {
            Value::String(s) => {
                if let Ok(claims) = keys::peek_claims(s) {
                    out.push('\n');
                    out.push_str(&with_decoded_jwts(&Value::Object(claims)));
                }
            }
            Value::Array(list) => stack.extend(list),
            Value::Object(map) => stack.extend(map.values()),
            _ => {}
        }
    }
    out
}

#[tokio::test]
async fn nothing_of_the_service_reaches_the_provider_and_nothing_of_the_provider_reaches_the_service() -> Result<()> {
    let rp = Rp {
        id: "quokka-licensing-7f3a",
        redirect: "http://127.0.0.1:9/callback/quokka-return-5e1d",
        state: "quokka-state-8d2b61",
        nonce: "quokka-nonce-4c9e07",
    };
    let client_name = "Office of Quokkaworks Permits";
    let fed = Federation::start_with(Options {
        extra_clients: client_toml(
            rp.id,
            client_name,
            rp.redirect,
            &["Cl.Cm", "Cl.Cm.P2"],
            &[CORE_IDENTITY, ADDRESS, PASSPORT, DRIVING_PERMIT],
            "",
        ),
        capture_hub_log: true,
        ..Options::default()
    })
    .await?;
    let claims = claims_param(&[CORE_IDENTITY, ADDRESS, PASSPORT, DRIVING_PERMIT]);
    let pkce = Pkce::new();
    let mut agent = Agent::new()?;
    let login_hint = "alex.morgan@example.com";
    let url = rp.url(
        &fed,
        &pkce,
        &[
            ("vtr", Some(P2)),
            ("claims", Some(&claims)),
            ("scope", Some("openid email phone")),
            ("login_hint", Some(login_hint)),
        ],
    );
    let page = to_provider_page(&mut agent, &url, "stub-a").await?;
    let consent = finish(&mut agent, &page, "success").await?;
    assert!(consent.body.contains(client_name), "consent does not name the service");
    let back = agent
        .submit(&consent, "continue", &[("decision", "accept")], Some(rp.redirect))
        .await?;
    let code = rp.code(&fed, &back)?;

    // Upstream: the stub saw the whole sign-in, and nothing of the service.
    let recorded = stub_requests(&fed).await?;
    let paths: Vec<&str> = recorded.iter().filter_map(|r| r["path"].as_str()).collect();
    for path in [
        "/stub-a/authorize",
        "/stub-a/authorize/decide",
        "/stub-a/token",
        "/stub-a/userinfo",
    ] {
        assert!(paths.contains(&path), "the stub did not record {path}: {paths:?}");
    }
    let upstream = Value::Array(recorded).to_string();
    let encoded = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    for secret in [
        rp.id.to_string(),
        rp.state.to_string(),
        rp.nonce.to_string(),
        rp.redirect.to_string(),
        encoded(rp.redirect),
        "quokka-return-5e1d".to_string(),
        client_name.to_string(),
        encoded(client_name),
        "Quokkaworks".to_string(),
        pkce.challenge.clone(),
    ] {
        assert!(!upstream.contains(&secret), "the provider received {secret:?}");
    }

    // Downstream: tokens and userinfo carry nothing of the provider.
    let redeemed = rp.redeem(&fed, &code, &pkce.verifier).await?;
    let core = redeemed.userinfo[CORE_IDENTITY]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let key = did_key_for(&did_document(&fed).await?, &core)?;
    let (_, vc) = keys::VerifyingKeys::new(vec![key]).verify(&core)?;
    assert_eq!(vc.get("sub"), redeemed.id_token.get("sub"));
    assert_eq!(vc.get("aud"), Some(&json!(rp.id)));
    assert_eq!(vc.get("iss"), Some(&json!(fed.hub)));
    assert_eq!(vc.get("vot"), Some(&json!("P2")));
    let subject = &vc["vc"]["credentialSubject"];
    assert_eq!(subject["birthDate"], json!([{"value": "1984-02-29"}]), "{subject}");
    assert_eq!(
        subject["name"][0]["nameParts"],
        json!([{"type": "GivenName", "value": "Alex"}, {"type": "FamilyName", "value": "Morgan"}])
    );
    assert_eq!(redeemed.id_token.get("vot"), Some(&json!("Cl.Cm")));
    let provider_sub = stub_subject("stub-a", "alex-morgan");
    let downstream = [
        with_decoded_jwts(&Value::Object(redeemed.id_token.clone())),
        with_decoded_jwts(&redeemed.body),
        with_decoded_jwts(&redeemed.userinfo),
    ]
    .join("\n");
    for secret in [
        format!("{}/stub-a", fed.stub),
        "stub-a".to_string(),
        provider_sub.clone(),
    ] {
        assert!(
            !downstream.contains(&secret),
            "the service received {secret:?}:\n{downstream}"
        );
    }

    // The hub's own logs, at debug level, hold no personal data and no secret of the journey.
    let log = fed.hub_log();
    assert!(log.contains("code issued"), "the hub's log was not captured:\n{log}");
    assert!(log.contains("DEBUG"), "the hub did not log at debug level:\n{log}");
    let access_token = redeemed.body["access_token"].as_str().unwrap_or_default().to_string();
    let hub_sub = redeemed.id_token["sub"].as_str().unwrap_or_default().to_string();
    for secret in [
        "Morgan",
        "1984-02-29",
        login_hint,
        &encoded(login_hint),
        "Acacia Avenue",
        "BS1 4ZZ",
        &encoded("BS1 4ZZ"),
        "549364783",
        "MORGA842294A99XY",
        "+447700900123",
        &provider_sub,
        &hub_sub,
        &code,
        &access_token,
        rp.state,
        rp.nonce,
        &pkce.verifier,
    ] {
        assert!(!secret.is_empty());
        assert!(!log.contains(secret), "the hub logged {secret:?}:\n{log}");
    }
    Ok(())
}

/// Guards the helper above against silently finding nothing.
#[test]
fn decoding_finds_claims_inside_jwts() -> Result<()> {
    let key = keys::SigningKey::generate()?;
    let mut claims = Map::new();
    claims.insert("iss".into(), json!("hidden-issuer"));
    let jwt = key.sign_jwt("JWT", &claims)?;
    let text = with_decoded_jwts(&json!({"outer": [jwt]}));
    if !text.contains("hidden-issuer") {
        bail!("JWT claims were not decoded: {text}");
    }
    Ok(())
}
