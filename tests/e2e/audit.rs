//! The assertion log as auditors see it, through `hub audit …` on logs the real hub wrote: tampering of
//! every kind is found and named; a hub killed mid-burst leaves a log that verifies with every code's
//! "assertion issued" entry; a full or read-only disk means no code; a P2 journey in a browser leaves no
//! personal data in the log; a witness cosigns.

use crate::{
    flows::{authorize_url, code_of, finish, to_provider_page, Pkce},
    harness::{binary, Agent, Federation, Options, StoreKind, TEST_REDIRECT},
};
use anyhow::{anyhow, ensure, Context, Result};
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine as _};
use sha2::{Digest, Sha256};
use std::{
    path::{Path, PathBuf},
    process::Command,
    time::Duration,
};

/// `hub audit <args>`: (succeeded, stdout + stderr).
fn audit(args: &[&str]) -> Result<(bool, String)> {
    let out = Command::new(binary("hub")?).arg("audit").args(args).output()?;
    Ok((
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    ))
}

/// The log's published size, from its checkpoint file.
fn size_of(dir: &Path) -> u64 {
    std::fs::read_to_string(dir.join("checkpoint"))
        .ok()
        .and_then(|c| c.lines().nth(1).and_then(|l| l.parse().ok()))
        .unwrap_or(0)
}

/// Waits until the published log holds at least `n` entries.
async fn published(dir: &Path, n: u64) -> Result<()> {
    for _ in 0..200 {
        if size_of(dir) >= n {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Err(anyhow!(
        "{} never published {n} entries (has {})",
        dir.display(),
        size_of(dir)
    ))
}

/// One whole sign-in of the test client; returns the journey id the hub named on its pages.
async fn sign_in(fed: &Federation) -> Result<(String, String)> {
    let mut agent = Agent::new()?;
    let page = to_provider_page(&mut agent, &authorize_url(fed, &Pkce::new(), &[]), "stub-a").await?;
    let journey = agent
        .history
        .iter()
        .find_map(|u| {
            u.split("journey=")
                .nth(1)
                .map(|j| j.split('&').next().unwrap_or(j).to_string())
        })
        .ok_or_else(|| anyhow!("no journey in {:?}", agent.history))?;
    let code = code_of(fed, &finish(&mut agent, &page, "success").await?)?;
    Ok((journey, code))
}

fn copy_dir(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}

/// The entries of a bundle (big-endian uint16 length, then the bytes).
fn bundle(bytes: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut i = 0;
    while i + 2 <= bytes.len() {
        let n = usize::from(u16::from_be_bytes([bytes[i], bytes[i + 1]]));
        out.push(bytes[i + 2..(i + 2 + n).min(bytes.len())].to_vec());
        i += 2 + n;
    }
    out
}

fn unbundle(entries: &[Vec<u8>]) -> Vec<u8> {
    entries
        .iter()
        .flat_map(|e| (e.len() as u16).to_be_bytes().into_iter().chain(e.iter().copied()))
        .collect()
}

#[tokio::test]
async fn verify_finds_and_names_every_kind_of_tampering_and_an_untouched_log_verifies() -> Result<()> {
    let fed = Federation::start(StoreKind::Memory).await?;
    for _ in 0..3 {
        sign_in(&fed).await?;
    }
    let dir = fed.audit_log_dir();
    published(&dir, 12).await?;
    let vkey = std::fs::read_to_string(dir.join("vkey"))?.trim().to_string();
    let work = tempfile::tempdir()?;
    let pristine = work.path().join("pristine");
    copy_dir(&dir, &pristine)?;
    let size = size_of(&pristine);
    ensure!(size < 256, "the test expects one partial tile, got {size} entries");
    let (ok, out) = audit(&["verify", "--log", &pristine.display().to_string(), "--vkey", &vkey])?;
    ensure!(ok, "an untouched log does not verify:\n{out}");

    let bundle_path = format!("tile/entries/000.p/{size}");
    let tile_path = format!("tile/0/000.p/{size}");
    type Tamper = Box<dyn Fn(&Path) -> Result<()>>;
    type Edit = Box<dyn Fn(&mut Vec<Vec<u8>>)>;
    let edit_bundle = |f: Edit| -> Tamper {
        let path = bundle_path.clone();
        Box::new(move |d: &Path| {
            let file = d.join(&path);
            let mut entries = bundle(&std::fs::read(&file).with_context(|| file.display().to_string())?);
            f(&mut entries);
            std::fs::write(&file, unbundle(&entries))?;
            Ok(())
        })
    };
    let cases: Vec<(&str, Tamper, &str)> = vec![
        (
            "a byte of an entry",
            edit_bundle(Box::new(|e| {
                if let Some(b) = e[2].iter_mut().find(|b| b.is_ascii_lowercase()) {
                    *b = b.to_ascii_uppercase();
                }
            })),
            "entry 2",
        ),
        (
            "a byte of a tile",
            Box::new({
                let p = tile_path.clone();
                move |d: &Path| {
                    let file = d.join(&p);
                    let mut bytes = std::fs::read(&file)?;
                    bytes[40] ^= 0x01;
                    std::fs::write(&file, bytes)?;
                    Ok(())
                }
            }),
            "tile/0/000.p",
        ),
        ("an entry deleted", edit_bundle(Box::new(|e| drop(e.remove(3)))), "entr"),
        (
            "two entries swapped",
            edit_bundle(Box::new(|e| e.swap(4, 5))),
            "entry 4",
        ),
        (
            "the tail cut",
            Box::new({
                let p = bundle_path.clone();
                move |d: &Path| {
                    let file = d.join(&p);
                    let bytes = std::fs::read(&file)?;
                    std::fs::write(&file, &bytes[..bytes.len() - 40])?;
                    Ok(())
                }
            }),
            "tile/entries/000.p",
        ),
        (
            "a forged checkpoint",
            Box::new(|d: &Path| {
                let file = d.join("checkpoint");
                let text = std::fs::read_to_string(&file)?;
                let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
                lines[2] = URL_SAFE_NO_PAD.encode([7u8; 32]).replace('-', "+").replace('_', "/") + "=";
                std::fs::write(&file, lines.join("\n") + "\n")?;
                Ok(())
            }),
            "checkpoint",
        ),
    ];
    for (what, tamper, place) in cases {
        let copy = work.path().join(what.replace(' ', "-"));
        copy_dir(&pristine, &copy)?;
        tamper(&copy)?;
        let (ok, out) = audit(&["verify", "--log", &copy.display().to_string(), "--vkey", &vkey])?;
        ensure!(!ok, "{what}: verify passed:\n{out}");
        ensure!(
            out.contains(place),
            "{what}: the output does not name {place:?}:\n{out}"
        );
    }
    Ok(())
}

#[tokio::test]
async fn a_hub_killed_in_a_burst_leaves_a_log_that_verifies_with_every_codes_assertion() -> Result<()> {
    // One named instance, so the restarted hub recovers the same log.
    let mut fed = Federation::start_with(Options {
        store: StoreKind::Redis,
        hub_config: "instance = \"hub-a\"".into(),
        ..Options::default()
    })
    .await?;
    let received = std::sync::Arc::new(tokio::sync::Mutex::new(Vec::<String>::new()));
    let mut burst = Vec::new();
    for _ in 0..8 {
        let (received, journeys) = (received.clone(), {
            let urls: Vec<String> = (0..50).map(|_| authorize_url(&fed, &Pkce::new(), &[])).collect();
            urls
        });
        burst.push(tokio::spawn(async move {
            for url in journeys {
                let Ok(mut agent) = Agent::new() else { break };
                let Ok(page) = to_provider_page(&mut agent, &url, "stub-a").await else {
                    break;
                };
                let journey = agent.history.iter().find_map(|u| {
                    u.split("journey=")
                        .nth(1)
                        .map(|j| j.split('&').next().unwrap_or(j).to_string())
                });
                let Ok(done) = finish(&mut agent, &page, "success").await else {
                    break;
                };
                let got_code = done.location.as_deref().unwrap_or_default().starts_with(TEST_REDIRECT)
                    && done.location_params().contains_key("code");
                if let (true, Some(j)) = (got_code, journey) {
                    received.lock().await.push(j);
                }
            }
        }));
    }
    for _ in 0..200 {
        if received.lock().await.len() >= 15 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    fed.signal_hub("KILL")?;
    for b in burst {
        let _ = b.await;
    }
    let received = received.lock().await.clone();
    ensure!(!received.is_empty(), "no code before the kill");
    // As the hub died the log may be mid-write; the published part verifies as it is.
    let dir = fed.audit_log_dir_of("hub-a");
    let vkey = std::fs::read_to_string(dir.join("vkey"))?.trim().to_string();
    let (ok, out) = audit(&["verify", "--log", &dir.display().to_string(), "--vkey", &vkey])?;
    ensure!(ok, "the log left by the kill does not verify:\n{out}");
    // Restarted, the instance recovers its log and publishes everything that was durable.
    fed.start_another_hub().await?;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (ok, out) = audit(&["verify", "--log", &dir.display().to_string(), "--vkey", &vkey])?;
    ensure!(ok, "the recovered log does not verify:\n{out}");
    let (ok, out) = audit(&[
        "query",
        "--log",
        &dir.display().to_string(),
        "--vkey",
        &vkey,
        "--event",
        "assertion_issued",
        "--format",
        "jsonl",
    ])?;
    ensure!(ok, "{out}");
    for journey in &received {
        let hashed = URL_SAFE_NO_PAD.encode(Sha256::digest(journey.as_bytes()));
        ensure!(
            out.contains(&format!("\"journey\":\"{hashed}\"")),
            "a code the service received has no assertion_issued entry (journey {hashed})"
        );
    }
    Ok(())
}

/// A small filesystem for the audit log, unmounted on drop.
struct SmallDisk(PathBuf);

impl SmallDisk {
    fn mount(at: &Path, size: &str) -> Result<Self> {
        std::fs::create_dir_all(at)?;
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(at)
            .status()
            .context("mount")?
            .success();
        ensure!(
            ok,
            "mounting a tmpfs at {} (the test needs root, as CI runs)",
            at.display()
        );
        Ok(Self(at.to_path_buf()))
    }

    fn fill(&self) {
        let _ = Command::new("dd")
            .args(["if=/dev/zero", "bs=4k", "count=100000"])
            .arg(format!("of={}", self.0.join("filler").display()))
            .stderr(std::process::Stdio::null())
            .status();
    }

    fn mount_read_only(at: &Path) -> Result<Self> {
        std::fs::create_dir_all(at)?;
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=1m,ro", "tmpfs"])
            .arg(at)
            .status()
            .context("mount")?
            .success();
        ensure!(
            ok,
            "mounting a read-only tmpfs at {} (the test needs root, as CI runs)",
            at.display()
        );
        Ok(Self(at.to_path_buf()))
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

#[tokio::test]
async fn a_full_or_read_only_log_disk_means_no_code_and_temporarily_unavailable() -> Result<()> {
    for fault in ["full", "read-only"] {
        let place = tempfile::tempdir()?;
        let disk = match fault {
            "full" => SmallDisk::mount(&place.path().join("disk"), "2m")?,
            _ => SmallDisk::mount_read_only(&place.path().join("disk"))?,
        };
        let fed = Federation::start_with(Options {
            hub_config: format!("audit_log_dir = \"{}\"", disk.0.display()),
            ..Options::default()
        })
        .await?;
        if fault == "full" {
            sign_in(&fed).await?;
            disk.fill();
        }
        // Until the log's last page is full a write may still fit; once one fails, no code is issued.
        let mut refused = None;
        for _ in 0..20 {
            let mut agent = Agent::new()?;
            let page = to_provider_page(&mut agent, &authorize_url(&fed, &Pkce::new(), &[]), "stub-a").await?;
            let seen = finish(&mut agent, &page, "success").await?;
            let coded = agent
                .history
                .iter()
                .any(|u| u.starts_with(TEST_REDIRECT) && u.contains("code="))
                || seen.location_params().contains_key("code");
            if !coded {
                refused = Some(seen);
                break;
            }
            ensure!(fault == "full", "{fault}: a code was issued");
        }
        let seen = refused.ok_or_else(|| anyhow!("{fault}: codes kept being issued"))?;
        // The service is told, at its redirect URI, with its state and the hub's iss.
        let told = seen.location_params();
        ensure!(
            seen.location.as_deref().is_some_and(|l| l.starts_with(TEST_REDIRECT))
                && told.get("error").map(String::as_str) == Some("temporarily_unavailable")
                && told.contains_key("state")
                && told.get("iss").map(String::as_str) == Some(fed.hub.as_str()),
            "{fault}: {} {:?}",
            seen.status,
            seen.location
        );
        let ready = reqwest::get(format!("{}/readyz", fed.hub)).await?.status().as_u16();
        ensure!(ready == 503, "{fault}: /readyz {ready}");
        drop(fed);
        drop(disk);
    }
    Ok(())
}

#[tokio::test]
async fn a_witness_cosigns_the_logs_checkpoints_and_the_served_checkpoint_carries_it() -> Result<()> {
    let work = tempfile::tempdir()?;
    let key = work.path().join("witness.key");
    let made = Command::new(binary("witness")?)
        .args(["keygen", "--name", "witness.test/w1", "--out"])
        .arg(&key)
        .output()?;
    ensure!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    let wvkey = String::from_utf8_lossy(&made.stdout)
        .lines()
        .find(|l| l.starts_with("witness.test/w1+"))
        .ok_or_else(|| anyhow!("no vkey printed: {}", String::from_utf8_lossy(&made.stdout)))?
        .to_string();
    // The witness starts once the hub has made its log key; the hub retries until it answers.
    let port = crate::harness::free_port()?;
    let log_key = work.path().join("audit.key");
    let fed = Federation::start_with(Options {
        hub_config: format!(
            "instance = \"w\"\naudit_key_file = \"{}\"\naudit_witnesses = [{{ url = \"http://127.0.0.1:{port}\", vkey = \"{wvkey}\" }}]",
            log_key.display()
        ),
        ..Options::default()
    })
    .await?;
    let dir = fed.audit_log_dir_of("w");
    let vkey = std::fs::read_to_string(dir.join("vkey"))?.trim().to_string();
    let mut witness = Command::new(binary("witness")?)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--key"])
        .arg(&key)
        .arg("--state")
        .arg(work.path().join("witness-state.json"))
        .args(["--log", &vkey])
        .spawn()?;
    sign_in(&fed).await?;
    let mut cosigned = false;
    for _ in 0..100 {
        let served = std::fs::read_to_string(dir.join("checkpoint")).unwrap_or_default();
        if served.contains("— witness.test/w1 ") {
            cosigned = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = witness.kill();
    let _ = witness.wait();
    ensure!(
        cosigned,
        "the served checkpoint never carried the witness's cosignature"
    );
    Ok(())
}

#[tokio::test]
async fn inclusion_and_consistency_proofs_check_offline_with_only_the_verifier_key() -> Result<()> {
    let fed = Federation::start(StoreKind::Memory).await?;
    sign_in(&fed).await?;
    let dir = fed.audit_log_dir();
    published(&dir, 4).await?;
    let vkey = std::fs::read_to_string(dir.join("vkey"))?.trim().to_string();
    let work = tempfile::tempdir()?;
    let (ok, out) = audit(&[
        "query",
        "--log",
        &dir.display().to_string(),
        "--vkey",
        &vkey,
        "--event",
        "assertion_issued",
        "--format",
        "jsonl",
    ])?;
    ensure!(ok, "{out}");
    let found: serde_json::Value = serde_json::from_str(out.lines().next().unwrap_or_default())?;
    let index = found["index"].as_u64().ok_or_else(|| anyhow!("no index: {found}"))?;
    let proof = work.path().join("entry.tlog-proof");
    let entry = work.path().join("entry.json");
    let (ok, out) = audit(&[
        "prove",
        "--log",
        &dir.display().to_string(),
        "--vkey",
        &vkey,
        "--index",
        &index.to_string(),
        "--out",
        &proof.display().to_string(),
        "--entry-out",
        &entry.display().to_string(),
    ])?;
    ensure!(ok, "{out}");
    // The entry written beside the proof is the entry's exact bytes, as the log holds them.
    let (_, entries) = tlog::read::read_entries(&dir, &vkey)?;
    let bytes = entries
        .filter_map(Result::ok)
        .find(|(i, _)| *i == index)
        .map(|(_, b)| b)
        .ok_or_else(|| anyhow!("no entry {index}"))?;
    ensure!(std::fs::read(&entry)? == bytes, "prove --entry-out wrote other bytes");
    let elsewhere = work.path().join("elsewhere");
    std::fs::create_dir_all(&elsewhere)?;
    std::fs::copy(&proof, elsewhere.join("entry.tlog-proof"))?;
    let (ok, out) = audit(&[
        "check-proof",
        &elsewhere.join("entry.tlog-proof").display().to_string(),
        "--vkey",
        &vkey,
        "--entry",
        &entry.display().to_string(),
    ])?;
    ensure!(ok, "the proof does not check:\n{out}");
    std::fs::write(&entry, [bytes.as_slice(), b" "].concat())?;
    let (ok, _) = audit(&[
        "check-proof",
        &elsewhere.join("entry.tlog-proof").display().to_string(),
        "--vkey",
        &vkey,
        "--entry",
        &entry.display().to_string(),
    ])?;
    ensure!(!ok, "a changed entry passed its proof");

    // The log grows; a consistency proof from the earlier checkpoint to the new one checks offline.
    let earlier = work.path().join("earlier.checkpoint");
    std::fs::copy(dir.join("checkpoint"), &earlier)?;
    let before = size_of(&dir);
    sign_in(&fed).await?;
    published(&dir, before + 4).await?;
    let consistency = elsewhere.join("grew.tlog-proof");
    let (ok, out) = audit(&[
        "prove",
        "--log",
        &dir.display().to_string(),
        "--vkey",
        &vkey,
        "--consistency",
        &earlier.display().to_string(),
        "--out",
        &consistency.display().to_string(),
    ])?;
    ensure!(ok, "{out}");
    let (ok, out) = audit(&[
        "check-proof",
        &consistency.display().to_string(),
        "--vkey",
        &vkey,
        "--consistency",
    ])?;
    ensure!(ok && out.contains(&format!("grew from {before} ")), "{out}");
    let (ok, out) = audit(&[
        "check-proof",
        &consistency.display().to_string(),
        "--vkey",
        &tlog::NoteSigner::generate(&vkey[..vkey.find('+').unwrap_or(0)])?.vkey(),
        "--consistency",
    ])?;
    ensure!(!ok, "a consistency proof passed under another key: {out}");
    Ok(())
}

/// Every string of a persona worth searching for: each field's value (and its JSON-escaped form), not
/// the level the persona reaches nor the stub's note about it, nor values too short to mean anything.
fn persona_values(persona: &serde_json::Value, out: &mut Vec<String>) {
    match persona {
        serde_json::Value::String(s) if s.chars().count() >= 4 => {
            out.push(s.clone());
            let escaped = serde_json::to_string(s).unwrap_or_default();
            out.push(escaped.trim_matches('"').to_string());
        }
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                if !["max_level", "note", "issued_by", "icao_issuer_code"].contains(&k.as_str()) {
                    persona_values(v, out);
                }
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| persona_values(v, out)),
        _ => {}
    }
}

/// Every file under `dir`, as bytes read lossily as text.
fn every_file(dir: &Path, out: &mut Vec<(PathBuf, String)>) -> Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            every_file(&path, out)?;
        } else {
            out.push((
                path.clone(),
                String::from_utf8_lossy(&std::fs::read(&path)?).into_owned(),
            ));
        }
    }
    Ok(())
}

#[tokio::test]
async fn a_p2_journey_in_a_browser_leaves_entries_that_name_no_personal_data() -> Result<()> {
    let fed = Federation::start(StoreKind::Memory).await?;
    let browser = crate::browser::Browser::start().await?;
    let outcome = async {
        browser.client.goto(&format!("{}/", fed.rp)).await?;
        browser.click("#level-cl-cm-p2").await?;
        browser.click("#sign-in").await?;
        browser.wait_for_url(&format!("{}/choose-provider", fed.hub)).await?;
        browser.click("#provider-stub-a").await?;
        browser.click("#continue").await?;
        browser.wait_for_url(&format!("{}/stub-a/authorize", fed.stub)).await?;
        browser.click("#persona-bethan-jones").await?;
        browser.click("#continue").await?;
        browser.wait_for_url(&format!("{}/consent", fed.hub)).await?;
        browser.click("#continue").await?;
        browser.wait_for_url(&format!("{}/account", fed.rp)).await?;
        ensure!(browser.text("#name").await? == "Bethan Jones");
        let sub = browser.text("#sub").await?;
        let credential = browser.text("#core-identity").await?;
        browser.click("#sign-out").await?;
        browser.wait_for_url(&format!("{}/signed-out", fed.rp)).await?;
        anyhow::Ok((sub, credential))
    }
    .await;
    browser.close().await?;
    let (sub, credential) = outcome?;

    // The journey's entries are there: started, chosen, answered, consent, issued, redeemed, logged out.
    let dir = fed.audit_log_dir();
    let vkey = std::fs::read_to_string(dir.join("vkey"))?.trim().to_string();
    let mut events = Vec::new();
    for _ in 0..200 {
        let (_, entries) = tlog::read::read_entries(&dir, &vkey)?;
        events = entries
            .filter_map(Result::ok)
            .filter_map(|(_, bytes)| serde_json::from_slice::<serde_json::Value>(&bytes).ok())
            .collect::<Vec<_>>();
        if events.iter().any(|e| e["event"] == "logged_out") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let named = |event: &str| events.iter().find(|e| e["event"] == event).cloned();
    let issued = named("assertion_issued").ok_or_else(|| anyhow!("no assertion_issued in {events:?}"))?;
    ensure!(issued["sub"] == sub.as_str(), "{issued}");
    ensure!(
        issued.to_string().contains("P2"),
        "the assertion's level is not logged: {issued}"
    );
    let credential_hash = URL_SAFE_NO_PAD.encode(Sha256::digest(credential.trim().as_bytes()));
    ensure!(
        issued["identity_credential_sha256"] == credential_hash.as_str(),
        "the credential's hash is not logged: {issued}"
    );
    for event in [
        "journey_started",
        "provider_chosen",
        "provider_answered",
        "consent_given",
        "code_redeemed",
        "logged_out",
    ] {
        ensure!(named(event).is_some(), "no {event} entry in {events:?}");
    }

    // Nothing of the person is in any file of the log: not a field of the persona, not the provider's
    // subject for them, not the credential itself.
    let personas: serde_json::Value = reqwest::get(format!("{}/personas", fed.stub)).await?.json().await?;
    let bethan = personas
        .as_array()
        .and_then(|all| all.iter().find(|p| p["id"] == "bethan-jones"))
        .ok_or_else(|| anyhow!("no bethan-jones in {personas}"))?;
    let mut secrets = Vec::new();
    persona_values(bethan, &mut secrets);
    secrets.push(crate::identity::stub_subject("stub-a", "bethan-jones"));
    secrets.push(credential.trim().to_string());
    ensure!(secrets.iter().any(|s| s == "Heol y Frenhines") && secrets.iter().any(|s| s == "JONES911030B99ZX"));
    let mut files = Vec::new();
    every_file(&dir, &mut files)?;
    ensure!(files.len() >= 3, "the log has only {files:?}");
    for (path, text) in &files {
        for secret in &secrets {
            ensure!(!text.contains(secret.as_str()), "{} holds {secret:?}", path.display());
        }
    }
    Ok(())
}

/// `hub audit <args>`: (succeeded, stdout, stderr), apart.
fn audit_apart(args: &[&str]) -> Result<(bool, String, String)> {
    let out = Command::new(binary("hub")?).arg("audit").args(args).output()?;
    Ok((
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    ))
}

/// Someone rewrites an entry of a log the real hub wrote and, so that every entry still matches its
/// tile hash, the level-0 tile too: `verify` catches it, and so must every reader. `query` (even one
/// matching nothing), `export` and `prove --entry-out` fail naming the tile, print no entry and write no
/// file, rather than give an answer the signed checkpoint does not back.
#[tokio::test]
async fn query_export_and_prove_fail_on_an_entry_and_tile_rewritten_below_the_signed_root() -> Result<()> {
    let fed = Federation::start(StoreKind::Memory).await?;
    for _ in 0..2 {
        sign_in(&fed).await?;
    }
    let dir = fed.audit_log_dir();
    published(&dir, 8).await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let vkey = std::fs::read_to_string(dir.join("vkey"))?.trim().to_string();
    let work = tempfile::tempdir()?;
    let log = work.path().join("log");
    copy_dir(&dir, &log)?;
    let size = size_of(&log);
    ensure!(size < 256, "the test expects one partial tile, got {size} entries");
    let log_s = log.display().to_string();
    let (ok, out, err) = audit_apart(&["query", "--log", &log_s, "--vkey", &vkey, "--format", "jsonl"])?;
    ensure!(
        ok && out.lines().count() as u64 == size,
        "the untouched copy:\n{out}{err}"
    );

    // The rewrite: an assertion's sub changed (still valid JSON), the tile recomputed from the bundle.
    let bundle_path = log.join(format!("tile/entries/000.p/{size}"));
    let tile = format!("tile/0/000.p/{size}");
    let mut entries = tlog::tile::decode_bundle(&std::fs::read(&bundle_path)?)?;
    let at = entries
        .iter()
        .position(|e| String::from_utf8_lossy(e).contains("\"event\":\"assertion_issued\""))
        .ok_or_else(|| anyhow!("no assertion_issued entry"))?;
    let edited = String::from_utf8(entries[at].clone())?.replace("\"sub\":\"urn:", "\"sub\":\"urn:x");
    ensure!(edited.as_bytes() != entries[at], "nothing edited");
    entries[at] = edited.into_bytes();
    std::fs::write(&bundle_path, tlog::tile::encode_bundle(&entries)?)?;
    let hashes: Vec<tlog::Hash> = entries.iter().map(|e| tlog::merkle::leaf_hash(e)).collect();
    std::fs::write(log.join(&tile), tlog::tile::join_hashes(&hashes))?;

    let (ok, out, err) = audit_apart(&["verify", "--log", &log_s, "--vkey", &vkey])?;
    ensure!(!ok, "verify passed a rewritten log:\n{out}{err}");
    for filters in [&["--format", "jsonl"][..], &["--service", "nobody-at-all"][..]] {
        let mut args = vec!["query", "--log", &log_s, "--vkey", &vkey];
        args.extend(filters);
        let (ok, out, err) = audit_apart(&args)?;
        ensure!(!ok, "query {filters:?} passed on a rewritten log:\n{out}{err}");
        ensure!(out.is_empty(), "query {filters:?} printed entries:\n{out}");
        ensure!(err.contains(&tile), "query {filters:?} does not name {tile}:\n{err}");
    }
    let csv = work.path().join("out.csv");
    let (ok, out, err) = audit_apart(&[
        "export",
        "--log",
        &log_s,
        "--vkey",
        &vkey,
        "--out",
        &csv.display().to_string(),
    ])?;
    ensure!(
        !ok && err.contains(&tile) && !csv.exists(),
        "export on a rewritten log:\n{out}{err}"
    );
    let (proof, entry) = (work.path().join("p.tlog-proof"), work.path().join("e.json"));
    let (ok, out, err) = audit_apart(&[
        "prove",
        "--log",
        &log_s,
        "--vkey",
        &vkey,
        "--index",
        &at.to_string(),
        "--out",
        &proof.display().to_string(),
        "--entry-out",
        &entry.display().to_string(),
    ])?;
    ensure!(
        !ok && err.contains(&tile) && !proof.exists() && !entry.exists(),
        "prove --entry-out on a rewritten log:\n{out}{err}"
    );
    Ok(())
}

/// One JSON object in the shape the hub writes (`hub::audit::Entry`).
fn hub_entry(time: i64, event: &str, client: &str, sub: &str) -> Vec<u8> {
    let entry = match event {
        "assertion_issued" => serde_json::json!({
            "time": time, "event": event, "client_id": client, "provider_id": "stub-a", "sub": sub,
            "levels_asked": ["Cl.Cm"], "level_reached": "Cl.Cm", "claims_released": [],
            "single_sign_on": false,
        }),
        _ => serde_json::json!({
            "time": time, "event": event, "client_id": client, "provider_id": "stub-a",
            "outcome": "success", "level_reached": "Cl.Cm",
        }),
    };
    entry.to_string().into_bytes()
}

/// Two instances' logs, written with `tlog` directly (no federation needed): `query` finds one day's
/// assertions in both, in time order, the day's first and last second in and the seconds either side
/// out; `export` writes them as CSV and as JSON Lines, and a `--from` time narrows them.
#[tokio::test]
async fn query_and_export_find_one_days_assertions_across_two_instances_logs() -> Result<()> {
    const DAY: i64 = 1_796_083_200; // 2026-12-01T00:00:00Z
    let work = tempfile::tempdir()?;
    let mut logs = Vec::new();
    for instance in ["hub-a", "hub-b"] {
        let origin = format!("hub.test/audit/{instance}");
        let key = tlog::NoteSigner::generate(&origin)?;
        let vkey = key.vkey();
        let dir = work.path().join(instance);
        let log = tlog::Log::open(&dir, &origin, key, tlog::LogOptions::default())?;
        let sub = |what: &str| format!("urn:fdc:gov.uk:2022:{instance}-{what}");
        for (time, event, what) in [
            (DAY - 1, "assertion_issued", "day-before"),
            (DAY, "assertion_issued", "midnight"),
            (DAY + 600, "provider_answered", "answered"),
            (DAY + 43_200, "assertion_issued", "noon"),
            (DAY + 86_399, "assertion_issued", "last-second"),
            (DAY + 86_400, "assertion_issued", "day-after"),
        ] {
            log.append(hub_entry(time, event, "rp-example", &sub(what))).await?;
        }
        log.close().await?;
        logs.push((dir.display().to_string(), vkey));
    }
    let mut both: Vec<&str> = Vec::new();
    for (dir, vkey) in &logs {
        both.extend(["--log", dir, "--vkey", vkey]);
    }
    let run = |command: &str, extra: &[&str]| -> Result<String> {
        let mut args = vec![command];
        args.extend(&both);
        args.extend(extra);
        let (ok, out, err) = audit_apart(&args)?;
        ensure!(ok, "{args:?}:\n{out}{err}");
        Ok(out)
    };
    let day = [
        "--event",
        "assertion_issued",
        "--from",
        "2026-12-01",
        "--to",
        "2026-12-01",
    ];
    let want = [
        ("hub-a", "midnight", DAY),
        ("hub-b", "midnight", DAY),
        ("hub-a", "noon", DAY + 43_200),
        ("hub-b", "noon", DAY + 43_200),
        ("hub-a", "last-second", DAY + 86_399),
        ("hub-b", "last-second", DAY + 86_399),
    ];
    let rows = |jsonl: &str| -> Result<Vec<(String, String, i64)>> {
        jsonl
            .lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l)?;
                let sub = v["sub"].as_str().unwrap_or_default();
                let rest = sub.trim_start_matches("urn:fdc:gov.uk:2022:");
                let (instance, what) = (rest.get(..5).unwrap_or_default(), rest.get(5..).unwrap_or_default());
                ensure!(
                    v["log"] == format!("hub.test/audit/{instance}").as_str(),
                    "an entry's log is not its instance's: {v}"
                );
                Ok((
                    instance.to_string(),
                    what.trim_start_matches('-').to_string(),
                    v["time"].as_i64().unwrap_or(-1),
                ))
            })
            .collect()
    };
    let want_rows = |from: usize| -> Vec<(String, String, i64)> {
        want[from..]
            .iter()
            .map(|(i, w, t)| (i.to_string(), w.to_string(), *t))
            .collect()
    };

    // query: the day's three assertions from each log, merged in time order (then log).
    let mut args = day.to_vec();
    args.extend(["--format", "jsonl"]);
    let found = rows(&run("query", &args)?)?;
    ensure!(found == want_rows(0), "query found {found:?}");

    // export as JSON Lines to a file: the same; with a --from time, only from noon on.
    let jsonl = work.path().join("day.jsonl");
    let mut args = day.to_vec();
    args.extend(["--format", "jsonl", "--out"]);
    let jsonl_s = jsonl.display().to_string();
    args.push(&jsonl_s);
    run("export", &args)?;
    let exported = rows(&std::fs::read_to_string(&jsonl)?)?;
    ensure!(exported == want_rows(0), "export jsonl wrote {exported:?}");
    let out = run(
        "export",
        &[
            "--event",
            "assertion_issued",
            "--from",
            "2026-12-01T12:00:00Z",
            "--to",
            "2026-12-01",
            "--format",
            "jsonl",
        ],
    )?;
    let narrowed = rows(&out)?;
    ensure!(narrowed == want_rows(2), "--from a time: {narrowed:?}");

    // export as CSV (the default): a header, then one row an entry with log, index, UTC time, time.
    let csv = work.path().join("day.csv");
    let csv_s = csv.display().to_string();
    let mut args = day.to_vec();
    args.extend(["--out", &csv_s]);
    run("export", &args)?;
    let text = std::fs::read_to_string(&csv)?;
    let mut lines = text.lines();
    let header = lines.next().unwrap_or_default();
    ensure!(
        header.starts_with("log,index,utc,time,event,") && header.contains(",sub,"),
        "CSV header: {header}"
    );
    let got: Vec<(String, String, String)> = lines
        .map(|l| {
            let cells: Vec<&str> = l.split(',').collect();
            (
                cells.first().copied().unwrap_or_default().to_string(),
                cells.get(2).copied().unwrap_or_default().to_string(),
                cells.get(4).copied().unwrap_or_default().to_string(),
            )
        })
        .collect();
    let expected: Vec<(String, String, String)> = want
        .iter()
        .map(|(i, _, t)| {
            (
                format!("hub.test/audit/{i}"),
                utc_of(*t),
                "assertion_issued".to_string(),
            )
        })
        .collect();
    ensure!(got == expected, "CSV rows {got:?}\nwant {expected:?}\n{text}");
    ensure!(
        want.iter()
            .all(|(i, w, _)| text.contains(&format!("urn:fdc:gov.uk:2022:{i}-{w}"))),
        "a sub is missing from the CSV:\n{text}"
    );
    Ok(())
}

/// A time as `hub audit` prints it, `YYYY-MM-DDTHH:MM:SSZ` (only for 2026-12-01 and 02 here).
fn utc_of(t: i64) -> String {
    const DAY: i64 = 1_796_083_200;
    let (d, s) = ((t - DAY).div_euclid(86_400), (t - DAY).rem_euclid(86_400));
    format!("2026-12-{:02}T{:02}:{:02}:{:02}Z", 1 + d, s / 3600, s / 60 % 60, s % 60)
}
