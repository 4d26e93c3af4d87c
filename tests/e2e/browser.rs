//! The whole sign-in in headless Chromium through WebDriver (fantoccini + chromedriver), clicking as a
//! person would: service start page → hub provider choice → stub provider → back on the service.

use crate::harness::{free_port, Federation, StoreKind};
use anyhow::{anyhow, bail, Context, Result};
use fantoccini::{Client, ClientBuilder, Locator};
use std::{
    process::{Child, Command, Stdio},
    time::Duration,
};

/// Chromium flags for this closed-network machine (see the developers' guide).
const CHROME_ARGS: &[&str] = &[
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
];

/// A chromedriver process and a WebDriver session; both end on drop / [`Browser::close`].
pub struct Browser {
    pub client: Client,
    driver: Child,
    _profile: tempfile::TempDir,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

fn find(name: &str, candidates: &[&str]) -> Result<String> {
    candidates
        .iter()
        .find(|p| std::path::Path::new(p).exists())
        .map(|p| p.to_string())
        .ok_or_else(|| {
            anyhow!(
                "{name} is not installed: run `apt-get install -y chromium chromium-driver` (scripts/test checks this)"
            )
        })
}

impl Browser {
    /// Starts chromedriver on a free port and opens a headless Chromium session with a fresh profile.
    pub async fn start() -> Result<Self> {
        // fantoccini's rustls build links both ring and aws-lc-rs; pick one for the process.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let chromium = find("chromium", &["/usr/bin/chromium", "/usr/bin/chromium-browser"])?;
        let chromedriver = find("chromedriver", &["/usr/bin/chromedriver"])?;
        let port = free_port()?;
        let driver = Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting chromedriver")?;
        let profile = tempfile::tempdir()?;
        let mut args: Vec<String> = CHROME_ARGS.iter().map(|s| s.to_string()).collect();
        args.push(format!("--user-data-dir={}", profile.path().display()));
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            serde_json::json!({ "binary": chromium, "args": args }),
        );
        let mut last = None;
        for _ in 0..100 {
            match ClientBuilder::rustls()?
                .capabilities(caps.clone())
                .connect(&format!("http://127.0.0.1:{port}"))
                .await
            {
                Ok(client) => {
                    return Ok(Self {
                        client,
                        driver,
                        _profile: profile,
                    })
                }
                Err(e) => last = Some(e),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        bail!("could not start a WebDriver session: {last:?}")
    }

    /// Waits for the page at a URL starting with `prefix`.
    pub async fn wait_for_url(&self, prefix: &str) -> Result<String> {
        // A ceiling for a loaded 2-core machine, not a timing assertion.
        for _ in 0..600 {
            let url = self.client.current_url().await?.to_string();
            if url.starts_with(prefix) {
                return Ok(url);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let url = self.client.current_url().await?;
        let source = self.client.source().await.unwrap_or_default();
        bail!("never reached {prefix}; at {url}\n{source}")
    }

    /// Clicks the element with this CSS selector once it is there.
    pub async fn click(&self, css: &str) -> Result<()> {
        self.client
            .wait()
            .at_most(Duration::from_secs(30))
            .for_element(Locator::Css(css))
            .await
            .with_context(|| format!("waiting for {css}"))?
            .click()
            .await?;
        Ok(())
    }

    /// The text of the element with this CSS selector.
    pub async fn text(&self, css: &str) -> Result<String> {
        Ok(self
            .client
            .wait()
            .at_most(Duration::from_secs(30))
            .for_element(Locator::Css(css))
            .await?
            .text()
            .await?)
    }

    /// Ends the session.
    pub async fn close(&self) -> Result<()> {
        self.client.clone().close().await?;
        Ok(())
    }
}

async fn sign_in_in_a_browser(store: StoreKind) -> Result<()> {
    let fed = Federation::start(store).await?;
    let browser = Browser::start().await?;
    let outcome = async {
        browser.client.goto(&format!("{}/", fed.rp)).await?;
        browser.click("#sign-in").await?;
        browser.wait_for_url(&format!("{}/choose-provider", fed.hub)).await?;
        browser.click("#provider-stub-a").await?;
        browser.click("#continue").await?;
        browser.wait_for_url(&format!("{}/stub-a/authorize", fed.stub)).await?;
        browser.click("#continue").await?;
        browser.wait_for_url(&format!("{}/account", fed.rp)).await?;
        let sub = browser.text("#sub").await?;
        assert!(sub.starts_with("urn:fdc:gov.uk:2022:"), "sub {sub:?}");
        assert_eq!(browser.text("#vot").await?, "Cl.Cm");
        browser.click("#sign-out").await?;
        browser.wait_for_url(&format!("{}/signed-out", fed.rp)).await?;
        anyhow::Ok(())
    }
    .await;
    browser.close().await?;
    outcome
}

#[tokio::test]
async fn browser_sign_in_and_out_on_memory_store() -> Result<()> {
    sign_in_in_a_browser(StoreKind::Memory).await
}

#[tokio::test]
async fn browser_sign_in_and_out_on_redis() -> Result<()> {
    sign_in_in_a_browser(StoreKind::Redis).await
}

/// OAuth 2.0 Form Post Response Mode §2 in a real browser: the hub's page submits itself, without a
/// click (its one script, allowed by its hash in the page's CSP, whose `form-action` lets the form go
/// to the service's origin), by POST, urlencoded, to the service's redirect URI (the conformance
/// callback listener, which answers with what it received).
#[tokio::test]
async fn the_form_post_page_submits_itself_to_the_service_in_a_real_browser() -> Result<()> {
    use crate::conformance::{callback::Received, client::Rp, shared, Mode, Plan};
    let s = shared(Plan::Oidc).await?;
    let rp = Rp::basic(Mode::FormPost);
    let request = rp.request(s, &[]);
    let browser = Browser::start().await?;
    let outcome = async {
        browser.client.goto(&request.url).await?;
        browser.wait_for_url(&format!("{}/choose-provider", s.hub())).await?;
        browser.click("#provider-stub-a").await?;
        browser.click("#continue").await?;
        browser
            .wait_for_url(&format!("{}/stub-a/authorize", s.fed.stub))
            .await?;
        browser.click("#continue").await?;
        let at = browser.wait_for_url(&format!("{}/callback", s.cb)).await?;
        anyhow::ensure!(at == format!("{}/callback", s.cb), "at {at}");
        let body = browser.text("body").await?;
        let got = Received::from_json(&serde_json::from_str(&body)?)?;
        anyhow::ensure!(got.method == "POST", "{got:?}");
        anyhow::ensure!(
            got.content_type.as_deref() == Some("application/x-www-form-urlencoded"),
            "{got:?}"
        );
        let field = |name: &str| got.form.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
        anyhow::ensure!(field("code").is_some_and(|c| !c.is_empty()), "{got:?}");
        anyhow::ensure!(
            field("state") == request.state && field("iss").as_deref() == Some(s.hub()),
            "{got:?}"
        );
        anyhow::Ok(())
    }
    .await;
    browser.close().await?;
    outcome
}
