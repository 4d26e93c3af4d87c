//! Accessibility: every page a person meets in a sign-in, on the service, the hub and the stub provider, is
//! checked in headless Chromium by axe-core (Deque, pinned in `tests/a11y`) against its WCAG 2.0, 2.1 and
//! 2.2 level A and AA rules. A violation fails the test with the rule, the WCAG reference and the element.
//! The auditor view's pages (its own listener and sign-in) are checked the same way.

use crate::{
    browser::Browser,
    harness::{free_port, Federation, Options, StoreKind},
};
use anyhow::{anyhow, Context, Result};
use std::path::PathBuf;
use tokio::sync::OnceCell;

fn a11y_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("a11y")
}

/// axe-core's source, installed once per test run from the lockfile.
async fn axe_source() -> Result<&'static str> {
    static SOURCE: OnceCell<String> = OnceCell::const_new();
    SOURCE
        .get_or_try_init(|| async {
            crate::harness::ensure_node_project(a11y_dir(), "axe-core", (18, 0)).await?;
            let path = a11y_dir().join("node_modules/axe-core/axe.min.js");
            std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))
        })
        .await
        .map(String::as_str)
}

/// The WCAG rule sets checked: A and AA of WCAG 2.0, 2.1 and 2.2.
const WCAG_TAGS: &[&str] = &["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22a", "wcag22aa"];

/// Runs axe on the browser's current page and returns one line per violation (empty when it passes).
async fn violations(browser: &Browser) -> Result<Vec<String>> {
    let client = &browser.client;
    client.execute(axe_source().await?, vec![]).await?;
    let result = client
        .execute_async(
            r#"const done = arguments[arguments.length - 1];
               axe.run(document, { runOnly: { type: 'tag', values: arguments[0] }, resultTypes: ['violations'] })
                  .then(r => done({ ok: r.violations.map(v =>
                      v.id + ' (' + v.tags.filter(t => t.startsWith('wcag')).join(', ') + '): ' + v.help + ' at ' +
                      v.nodes.map(n => n.target.join(' ')).join('; ')) }))
                  .catch(e => done({ error: String(e) }));"#,
            vec![serde_json::json!(WCAG_TAGS)],
        )
        .await?;
    if let Some(error) = result.get("error") {
        return Err(anyhow!("axe failed: {error}"));
    }
    Ok(result["ok"]
        .as_array()
        .ok_or_else(|| anyhow!("axe answered {result}"))?
        .iter()
        .map(|v| v.as_str().unwrap_or_default().to_string())
        .collect())
}

/// Checks the current page; records what it found under `name`.
async fn check(browser: &Browser, name: &str, found: &mut Vec<String>) -> Result<()> {
    let url = browser.client.current_url().await?;
    let seen = violations(browser).await?;
    found.extend(seen.into_iter().map(|v| format!("{name} ({url}): {v}")));
    Ok(())
}

#[tokio::test]
async fn every_page_of_a_sign_in_meets_wcag_2_2_aa_by_axe() -> Result<()> {
    let fed = Federation::start(StoreKind::Memory).await?;
    let browser = Browser::start().await?;
    let mut found = Vec::new();
    let outcome = async {
        let (rp, hub, stub) = (&fed.rp, &fed.hub, &fed.stub);
        browser.client.goto(&format!("{rp}/")).await?;
        check(&browser, "service start page", &mut found).await?;
        browser.click("#level-cl-cm-p2").await?;
        browser.click("#sign-in").await?;
        browser.wait_for_url(&format!("{hub}/choose-provider")).await?;
        check(&browser, "provider choice", &mut found).await?;
        // Continuing without a choice shows the error summary.
        browser.click("#continue").await?;
        browser.text(".govuk-error-summary").await?;
        check(&browser, "provider choice with an error", &mut found).await?;
        browser.click("#provider-stub-a").await?;
        browser.click("#continue").await?;
        browser.wait_for_url(&format!("{stub}/stub-a/authorize")).await?;
        check(&browser, "stub provider's sign-in page", &mut found).await?;
        browser.click("#persona-bethan-jones").await?;
        browser.click("#continue").await?;
        browser.wait_for_url(&format!("{hub}/consent")).await?;
        check(&browser, "consent", &mut found).await?;
        browser.click("#continue").await?;
        browser.wait_for_url(&format!("{rp}/account")).await?;
        check(&browser, "service account page", &mut found).await?;
        browser.click("#sign-out").await?;
        browser.wait_for_url(&format!("{rp}/signed-out")).await?;
        check(&browser, "service signed-out page", &mut found).await?;

        // The hub's pages that end a journey: session timed out, not found, signed out.
        for (name, url, heading) in [
            (
                "hub session timed out",
                format!("{hub}/choose-provider"),
                "Your session has timed out",
            ),
            ("hub page not found", format!("{hub}/no-such-page"), "Page not found"),
            ("hub signed out", format!("{hub}/logout"), "You have signed out"),
            ("stub home", format!("{stub}/"), ""),
        ] {
            browser.client.goto(&url).await?;
            let h1 = browser.text("h1").await?;
            anyhow::ensure!(h1.contains(heading), "{name}: heading {h1:?}");
            check(&browser, name, &mut found).await?;
        }

        // The choice in Welsh (ui_locales=cy).
        let welsh = crate::flows::authorize_url(&fed, &crate::flows::Pkce::new(), &[("ui_locales", Some("cy"))]);
        browser.client.goto(&welsh).await?;
        browser.wait_for_url(&format!("{hub}/choose-provider")).await?;
        check(&browser, "provider choice in Welsh", &mut found).await?;

        // The language stays with the person: a P2 journey from the service now asks consent in Welsh.
        browser.client.goto(&format!("{rp}/")).await?;
        browser.click("#level-cl-cm-p2").await?;
        browser.click("#sign-in").await?;
        browser.wait_for_url(&format!("{hub}/choose-provider")).await?;
        browser.click("#provider-stub-b").await?;
        browser.click("#continue").await?;
        browser.wait_for_url(&format!("{stub}/stub-b/authorize")).await?;
        browser.click("#persona-bethan-jones").await?;
        browser.click("#continue").await?;
        browser.wait_for_url(&format!("{hub}/consent")).await?;
        let heading = browser.text("h1").await?;
        anyhow::ensure!(
            heading == "Rhannu eich gwybodaeth gyda Gwasanaeth enghreifftiol",
            "consent heading {heading:?}"
        );
        check(&browser, "consent in Welsh", &mut found).await?;

        // The checker itself finds faults: a page with an image without alternative text and no language.
        browser
            .client
            .goto("data:text/html,<title>t</title><main><img src='x.png'><input type='text'></main>")
            .await?;
        let faults = violations(&browser).await?;
        for rule in ["image-alt", "html-has-lang", "label"] {
            anyhow::ensure!(
                faults.iter().any(|f| f.starts_with(&format!("{rule} "))),
                "axe did not report {rule} on a faulty page: {faults:?}"
            );
        }
        anyhow::Ok(())
    }
    .await;
    browser.close().await?;
    outcome?;
    assert!(found.is_empty(), "accessibility violations:\n{}", found.join("\n"));
    Ok(())
}

/// The auditor view, as an auditor meets it in a browser: the sign-in page (empty, then with its error
/// summary), the overview, a search with results, the figures with their charts, and one entry.
#[tokio::test]
async fn the_auditor_views_pages_meet_wcag_2_2_aa_by_axe() -> Result<()> {
    let port = free_port()?;
    let password = "a long enough passphrase";
    let hash = keys::hash_secret(password)?;
    let fed = Federation::start_with(Options {
        hub_config: format!(
            "[auditor]\nenabled = true\nlisten = \"127.0.0.1:{port}\"\nrefresh_secs = 1\n\
             users = [{{ name = \"auditor\", password_hash = \"{hash}\" }}]\n"
        ),
        ..Options::default()
    })
    .await?;
    // One sign-in, so the log has entries to show.
    crate::flows::sign_in_and_out(&fed.rp, &fed.hub, &fed.stub).await?;
    let auditor = format!("http://127.0.0.1:{port}");
    let browser = Browser::start().await?;
    let mut found = Vec::new();
    let outcome = async {
        browser.client.goto(&format!("{auditor}/sign-in")).await?;
        check(&browser, "auditor sign-in", &mut found).await?;
        browser.click("#sign-in").await?;
        browser.text(".govuk-error-summary").await?;
        check(&browser, "auditor sign-in with errors", &mut found).await?;
        for (field, value) in [("#name", "auditor"), ("#password", password)] {
            let input = browser.client.find(fantoccini::Locator::Css(field)).await?;
            input.clear().await?;
            input.send_keys(value).await?;
        }
        browser.click("#sign-in").await?;
        browser.wait_for_url(&format!("{auditor}/")).await?;
        check(&browser, "auditor overview", &mut found).await?;
        // The view reads new entries every second: wait for the sign-in's assertion to show.
        let search = format!("{auditor}/search?event=assertion_issued");
        let mut shown = false;
        for _ in 0..60 {
            browser.client.goto(&search).await?;
            if browser
                .client
                .find(fantoccini::Locator::Css("a[href*='/entry/']"))
                .await
                .is_ok()
            {
                shown = true;
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        }
        anyhow::ensure!(shown, "the assertion never showed in the auditor's search");
        check(&browser, "auditor search with results", &mut found).await?;
        browser.click("a[href*='/entry/']").await?;
        browser.wait_for_url(&format!("{auditor}/entry/")).await?;
        check(&browser, "auditor entry", &mut found).await?;
        browser.client.goto(&format!("{auditor}/figures")).await?;
        browser.text("h1").await?;
        check(&browser, "auditor figures", &mut found).await?;
        anyhow::Ok(())
    }
    .await;
    browser.close().await?;
    outcome?;
    assert!(found.is_empty(), "accessibility violations:\n{}", found.join("\n"));
    Ok(())
}
