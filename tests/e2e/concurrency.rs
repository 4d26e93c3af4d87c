//! Every single-use step stays single-use when the same request arrives many times at once: consent, the
//! provider's callback, code redemption, logout, and a session's refresh racing its logout. Each test fires
//! the requests in parallel and asserts one winner.

use crate::{
    flows::{authorize_url, code_of, finish, get_code, to_provider_page, Pkce},
    harness::{Agent, Federation, StoreKind, TEST_REDIRECT},
};
use anyhow::{anyhow, ensure, Result};
use serde_json::json;

/// How many copies of one request are fired at once.
const COPIES: usize = 24;

fn client() -> Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?)
}

/// Fires `COPIES` copies of a request at once and returns (status, Location) of each.
async fn at_once(request: impl Fn() -> reqwest::RequestBuilder) -> Result<Vec<(u16, String)>> {
    let mut handles = Vec::new();
    for _ in 0..COPIES {
        let r = request();
        handles.push(tokio::spawn(async move { r.send().await }));
    }
    let mut out = Vec::new();
    for h in handles {
        let response = h.await??;
        let location = response
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        out.push((response.status().as_u16(), location));
    }
    Ok(out)
}

#[tokio::test]
async fn parallel_consent_posts_issue_one_code() -> Result<()> {
    for store in [StoreKind::Memory, StoreKind::Redis] {
        let fed = Federation::start(store).await?;
        let core = r#"{"userinfo":{"https://vocab.account.gov.uk/v1/coreIdentityJWT":null}}"#;
        let fed_with = fed;
        let mut agent = Agent::new()?;
        let url = authorize_url(
            &fed_with,
            &Pkce::new(),
            &[
                ("client_id", Some("rp-example")),
                ("redirect_uri", Some(&format!("{}/callback", fed_with.rp))),
                ("vtr", Some(r#"["Cl.Cm.P2"]"#)),
                ("claims", Some(core)),
            ],
        );
        let page = to_provider_page(&mut agent, &url, "stub-a").await?;
        let consent = agent
            .submit(
                &page,
                "continue",
                &[("persona", "alex-morgan"), ("outcome", "success")],
                Some(&fed_with.rp),
            )
            .await?;
        ensure!(consent.url.contains("/consent?journey="), "at {}", consent.url);
        let journey = consent
            .html()
            .select(&scraper::Selector::parse("input[name=journey]").map_err(|e| anyhow!("{e:?}"))?)
            .next()
            .and_then(|e| e.value().attr("value").map(str::to_string))
            .unwrap_or_default();
        let csrf = consent
            .html()
            .select(&scraper::Selector::parse("input[name=csrf]").map_err(|e| anyhow!("{e:?}"))?)
            .next()
            .and_then(|e| e.value().attr("value").map(str::to_string))
            .unwrap_or_default();
        let http = client()?;
        let cookies = agent.cookie_header();
        let target = format!("{}/consent", fed_with.hub);
        let results = at_once(|| {
            http.post(&target).header("cookie", cookies.clone()).form(&[
                ("journey", journey.as_str()),
                ("csrf", csrf.as_str()),
                ("decision", "accept"),
            ])
        })
        .await?;
        let codes = results
            .iter()
            .filter(|(s, l)| *s == 302 && l.starts_with(&format!("{}/callback?code=", fed_with.rp)))
            .count();
        ensure!(
            codes == 1,
            "{store:?}: {codes} codes from {COPIES} consents: {results:?}"
        );
        ensure!(
            results.iter().all(|(s, _)| *s == 302 || *s == 400),
            "{store:?}: {results:?}"
        );
    }
    Ok(())
}

#[tokio::test]
async fn parallel_callbacks_with_one_state_assert_once() -> Result<()> {
    let fed = Federation::start(StoreKind::Redis).await?;
    let mut agent = Agent::new()?;
    let page = to_provider_page(&mut agent, &authorize_url(&fed, &Pkce::new(), &[]), "stub-a").await?;
    let back = agent
        .submit(
            &page,
            "continue",
            &[("outcome", "success")],
            Some(&format!("{}/upstream/callback", fed.hub)),
        )
        .await?;
    let callback = back.location.clone().ok_or_else(|| anyhow!("no callback"))?;
    let http = client()?;
    let cookies = agent.cookie_header();
    let results = at_once(|| http.get(&callback).header("cookie", cookies.clone())).await?;
    let codes = results
        .iter()
        .filter(|(s, l)| *s == 302 && l.starts_with(TEST_REDIRECT) && l.contains("code="))
        .count();
    ensure!(codes == 1, "{codes} codes from one provider answer: {results:?}");
    Ok(())
}

#[tokio::test]
async fn parallel_code_redemptions_give_one_token() -> Result<()> {
    for store in [StoreKind::Memory, StoreKind::Redis] {
        let fed = Federation::start(store).await?;
        let pkce = Pkce::new();
        let code = get_code(&fed, &pkce).await?;
        let mut handles = Vec::new();
        for _ in 0..COPIES {
            let (hub, code, verifier) = (fed.hub.clone(), code.clone(), pkce.verifier.clone());
            let assertion = fed.assertion(json!({}))?;
            handles.push(tokio::spawn(
                async move { redeem(&hub, &code, &verifier, &assertion).await },
            ));
        }
        let mut ok = 0;
        for h in handles {
            let (status, body) = h.await??;
            match status {
                200 => ok += 1,
                400 => ensure!(body["error"] == "invalid_grant", "{body}"),
                other => return Err(anyhow!("{store:?}: status {other}: {body}")),
            }
        }
        ensure!(ok == 1, "{store:?}: {ok} token responses for one code");
    }
    Ok(())
}

/// Redeems a code at the hub's token endpoint.
async fn redeem(hub: &str, code: &str, verifier: &str, assertion: &str) -> Result<(u16, serde_json::Value)> {
    let response = reqwest::Client::new()
        .post(format!("{hub}/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", TEST_REDIRECT),
            ("code_verifier", verifier),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ),
            ("client_assertion", assertion),
        ])
        .send()
        .await?;
    let status = response.status().as_u16();
    Ok((status, response.json().await.unwrap_or_default()))
}

/// The value of a counter in `/metrics` (0 before any).
async fn counter(fed: &Federation, series: &str) -> Result<u64> {
    let text = reqwest::get(format!("{}/metrics", fed.hub)).await?.text().await?;
    Ok(text
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{series} ")))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .unwrap_or(0.0) as u64)
}

#[tokio::test]
async fn parallel_logouts_end_the_session_and_tell_the_service_once() -> Result<()> {
    let fed = Federation::start(StoreKind::Redis).await?;
    let mut agent = Agent::new()?;
    // Sign in to rp-example (it registered a back-channel logout URI) and keep its hint.
    let start = agent.visit(&format!("{}/", fed.rp), None).await?;
    let choose = agent.submit(&start, "sign-in", &[], None).await?;
    let stub = agent
        .submit(&choose, "continue", &[("provider", "stub-a")], None)
        .await?;
    let account = agent.submit(&stub, "continue", &[("outcome", "success")], None).await?;
    ensure!(
        account.url.starts_with(&format!("{}/account", fed.rp)),
        "at {}",
        account.url
    );
    // Logout from the hub's confirmation form, many times at once.
    let confirm = agent.get(&format!("{}/logout", fed.hub)).await?;
    let csrf = confirm
        .html()
        .select(&scraper::Selector::parse("input[name=csrf]").map_err(|e| anyhow!("{e:?}"))?)
        .next()
        .and_then(|e| e.value().attr("value").map(str::to_string))
        .ok_or_else(|| anyhow!("no confirmation form: {}", confirm.body))?;
    let http = client()?;
    let cookies = agent.cookie_header();
    let target = format!("{}/logout", fed.hub);
    let results = at_once(|| {
        http.post(&target)
            .header("cookie", cookies.clone())
            .form(&[("csrf", csrf.as_str())])
    })
    .await?;
    ensure!(results.iter().all(|(s, _)| *s == 200), "{results:?}");
    let mut told = 0;
    for _ in 0..100 {
        told = counter(&fed, "hub_backchannel_logout_total{outcome=\"delivered\"}").await?;
        if told > 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let told_after = counter(&fed, "hub_backchannel_logout_total{outcome=\"delivered\"}").await?;
    ensure!(told == 1 && told_after == 1, "the service was told {told_after} times");
    Ok(())
}

#[tokio::test]
async fn a_session_refreshed_while_it_is_logged_out_stays_logged_out() -> Result<()> {
    let fed = Federation::start(StoreKind::Redis).await?;
    for round in 0..10 {
        let mut agent = Agent::new()?;
        let page = to_provider_page(&mut agent, &authorize_url(&fed, &Pkce::new(), &[]), "stub-a").await?;
        code_of(&fed, &finish(&mut agent, &page, "success").await?)?;
        let session = agent
            .cookie("__Host-hub-session")
            .ok_or_else(|| anyhow!("no session"))?;
        let confirm = agent.get(&format!("{}/logout", fed.hub)).await?;
        let csrf = confirm
            .html()
            .select(&scraper::Selector::parse("input[name=csrf]").map_err(|e| anyhow!("{e:?}"))?)
            .next()
            .and_then(|e| e.value().attr("value").map(str::to_string))
            .unwrap_or_default();
        // Single sign-on requests (each refreshing the session) race the logout.
        let http = client()?;
        let cookies = agent.cookie_header();
        let mut racing = Vec::new();
        for _ in 0..COPIES {
            let r = http
                .get(authorize_url(&fed, &Pkce::new(), &[]))
                .header("cookie", cookies.clone());
            racing.push(tokio::spawn(async move { r.send().await }));
        }
        let out = http
            .post(format!("{}/logout", fed.hub))
            .header("cookie", cookies.clone())
            .form(&[("csrf", csrf.as_str())])
            .send()
            .await?;
        ensure!(out.status() == 200);
        for r in racing {
            let _ = r.await?;
        }
        // The stolen cookie, after the person signed out: nothing.
        let mut thief = Agent::new()?;
        thief.set_cookie("__Host-hub-session", &session);
        let seen = thief
            .get(&authorize_url(&fed, &Pkce::new(), &[("prompt", Some("none"))]))
            .await?;
        ensure!(
            seen.location_params().get("error").map(String::as_str) == Some("login_required"),
            "round {round}: the session came back after logout: {:?}",
            seen.location
        );
    }
    Ok(())
}
