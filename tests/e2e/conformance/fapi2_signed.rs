//! The modules the FAPI 2.0 Message Signing plan (`fapi2-message-signing-final-test-plan`) adds to the
//! Security Profile's for signed requests at PAR (`fapi_request_method=signed_non_repudiation`): PAR
//! carries `request=<JWS>` with `iss`, `aud`, `client_id`, `nbf`, `exp` and the request. They are not in
//! the Security Profile plan (which pushes plain parameters), but the hub takes signed requests at PAR,
//! and its `fapi2` profile holds them to `exp` − `nbf` ≤ 60 s: so they are reproduced here, for a
//! `fapi2` client registered for signed requests only (`jar_required`).

use super::{
    client::{ensure_endpoint_error, ensure_state_and_iss, random, sign_raw, Http},
    fapi2::{Dpop, Fapi, Options, Pushed},
    shared, Plan, Shared,
};
use crate::harness::{now, Agent};
use anyhow::{anyhow, ensure, Result};
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine as _};
use serde_json::{json, Map, Value};

/// How the request object is signed.
enum Signed<'a> {
    /// By the client's key, as it should be.
    Right,
    /// By another key (with its own `kid`).
    By(&'a keys::SigningKey),
    /// RS256 by an RSA key, naming the client's `kid`.
    Rs256,
    /// `alg: none`.
    None,
    /// The right key, the signature spoiled.
    BadSignature,
}

/// The suite's request object for `client`: the pushed parameters with `iss`, `aud` (the issuer),
/// `client_id`, `nbf` now and `exp` 60 s later; `edit` changes it.
fn object(s: &Shared, client: &Fapi, edit: &dyn Fn(&mut Map<String, Value>)) -> (Map<String, Value>, Pushed) {
    let (params, pushed) = client.par_params(&[]);
    let t = now();
    let mut claims: Map<String, Value> = params.into_iter().map(|(k, v)| (k, Value::String(v))).collect();
    claims.insert("iss".into(), json!(client.id));
    claims.insert("aud".into(), json!(s.hub()));
    claims.insert("nbf".into(), json!(t));
    claims.insert("exp".into(), json!(t + 60));
    claims.insert("jti".into(), json!(random()));
    edit(&mut claims);
    (claims, pushed)
}

fn sign(client: &Fapi, claims: &Map<String, Value>, how: &Signed<'_>) -> Result<String> {
    let typ = "oauth-authz-req+jwt";
    Ok(match how {
        Signed::Right => client.key.sign_jwt(typ, claims)?,
        Signed::By(key) => key.sign_jwt(typ, claims)?,
        Signed::Rs256 => {
            let rsa = keys::SigningKey::generate_rs256()?;
            let header = json!({"alg": "RS256", "typ": typ, "kid": client.key.kid()});
            sign_raw(
                &rsa,
                header.as_object().ok_or_else(|| anyhow!("header"))?,
                &Value::Object(claims.clone()),
            )?
        }
        Signed::None => format!(
            "{}.{}.",
            URL_SAFE_NO_PAD.encode(json!({"alg": "none", "typ": typ}).to_string()),
            URL_SAFE_NO_PAD.encode(Value::Object(claims.clone()).to_string())
        ),
        Signed::BadSignature => {
            let mut jws = client.key.sign_jwt(typ, claims)?;
            jws.truncate(jws.len() - 6);
            jws.push_str("AAAAAA");
            jws
        }
    })
}

/// PAR with a request object changed by `edit` and signed `how`.
async fn push(s: &'static Shared, edit: &dyn Fn(&mut Map<String, Value>), how: Signed<'_>) -> Result<(Http, Pushed)> {
    let client = Fapi::signed_only(s);
    let (claims, pushed) = object(s, &client, edit);
    let jws = sign(&client, &claims, &how)?;
    let params = vec![
        ("client_id".to_string(), client.id.to_string()),
        ("request".to_string(), jws),
    ];
    let answer = client.par_raw(&params, None, &|_| {}).await?;
    Ok((answer, pushed))
}

/// A signed push that must succeed, then the flow on: the code, the tokens, the resource.
async fn accepted(edit: &dyn Fn(&mut Map<String, Value>)) -> Result<()> {
    let s = shared(Plan::Fapi).await?;
    let (answer, pushed) = push(s, edit, Signed::Right).await?;
    ensure!(answer.status == 201, "PAR answered {}: {}", answer.status, answer.body);
    answer.ensure_json()?;
    let pushed = Pushed {
        request_uri: answer.json()["request_uri"]
            .as_str()
            .ok_or_else(|| anyhow!("no request_uri"))?
            .to_string(),
        ..pushed
    };
    let client = Fapi::signed_only(s);
    let options = Options {
        bare: true,
        ..Options::default()
    };
    let response = client
        .callback(&mut Agent::new()?, &client.authorize_url(&pushed, &options), "success")
        .await?;
    ensure_state_and_iss(s, &response, pushed.state.as_deref())?;
    let dpop = Dpop::new()?;
    let tokens = client.redeem(&response.code()?, &pushed, &dpop).await?;
    client.ensure_resource(&tokens, &dpop).await
}

/// A signed push that must be refused at PAR with one of `codes`.
async fn refused(edit: &dyn Fn(&mut Map<String, Value>), how: Signed<'_>, codes: &[&str]) -> Result<()> {
    let s = shared(Plan::Fapi).await?;
    let (answer, _) = push(s, edit, how).await?;
    ensure_endpoint_error(&answer, &[400], codes)
}

/// `fapi2-security-profile-final-ensure-request-object-with-multiple-aud-succeeds`: `aud` an array with
/// the issuer and another value: accepted; `/authorize` with `client_id` and `request_uri` only.
#[tokio::test]
async fn fapi2_security_profile_final_ensure_request_object_with_multiple_aud_succeeds() -> Result<()> {
    let s = shared(Plan::Fapi).await?;
    let hub = s.hub().to_string();
    accepted(&move |c| {
        c.insert("aud".into(), json!([hub, "https://other.example/"]));
    })
    .await
}

/// `fapi2-security-profile-final-ensure-request-object-without-exp-fails`: PAR `invalid_request_object`.
#[tokio::test]
async fn fapi2_security_profile_final_ensure_request_object_without_exp_fails() -> Result<()> {
    refused(
        &|c| {
            c.remove("exp");
        },
        Signed::Right,
        &["invalid_request_object"],
    )
    .await
}

/// `fapi2-security-profile-final-ensure-request-object-without-nbf-fails`.
#[tokio::test]
async fn fapi2_security_profile_final_ensure_request_object_without_nbf_fails() -> Result<()> {
    refused(
        &|c| {
            c.remove("nbf");
        },
        Signed::Right,
        &["invalid_request_object"],
    )
    .await
}

/// `fapi2-security-profile-final-ensure-expired-request-object-fails`.
#[tokio::test]
async fn fapi2_security_profile_final_ensure_expired_request_object_fails() -> Result<()> {
    refused(
        &|c| {
            c.insert("nbf".into(), json!(now() - 120));
            c.insert("exp".into(), json!(now() - 60));
        },
        Signed::Right,
        &["invalid_request_object"],
    )
    .await
}

/// `fapi2-security-profile-final-ensure-request-object-with-bad-aud-fails`.
#[tokio::test]
async fn fapi2_security_profile_final_ensure_request_object_with_bad_aud_fails() -> Result<()> {
    refused(
        &|c| {
            c.insert("aud".into(), json!("https://other.example/"));
        },
        Signed::Right,
        &["invalid_request_object"],
    )
    .await
}

/// `fapi2-security-profile-final-ensure-request-object-with-exp-over-60-fails`: `exp` 70 minutes ahead.
#[tokio::test]
async fn fapi2_security_profile_final_ensure_request_object_with_exp_over_60_fails() -> Result<()> {
    refused(
        &|c| {
            c.insert("exp".into(), json!(now() + 70 * 60));
        },
        Signed::Right,
        &["invalid_request_object"],
    )
    .await
}

/// `fapi2-security-profile-final-ensure-request-object-with-nbf-over-60-fails`: `nbf` 70 minutes ago.
#[tokio::test]
async fn fapi2_security_profile_final_ensure_request_object_with_nbf_over_60_fails() -> Result<()> {
    refused(
        &|c| {
            c.insert("nbf".into(), json!(now() - 70 * 60));
        },
        Signed::Right,
        &["invalid_request_object"],
    )
    .await
}

/// `fapi2-security-profile-final-ensure-request-object-with-nbf-8-seconds-in-the-future-is-accepted`:
/// PAR 201 (and the flow on).
#[tokio::test]
async fn fapi2_security_profile_final_ensure_request_object_with_nbf_8_seconds_in_the_future_is_accepted() -> Result<()>
{
    accepted(&|c| {
        let nbf = now() + 8;
        c.insert("nbf".into(), json!(nbf));
        c.insert("exp".into(), json!(nbf + 60));
    })
    .await
}

/// `fapi2-security-profile-final-ensure-signed-request-object-with-RS256-fails`.
#[allow(non_snake_case)]
#[tokio::test]
async fn fapi2_security_profile_final_ensure_signed_request_object_with_RS256_fails() -> Result<()> {
    refused(&|_| {}, Signed::Rs256, &["invalid_request_object"]).await
}

/// `fapi2-security-profile-final-ensure-request-object-signature-algorithm-is-not-none`.
#[tokio::test]
async fn fapi2_security_profile_final_ensure_request_object_signature_algorithm_is_not_none() -> Result<()> {
    refused(&|_| {}, Signed::None, &["invalid_request_object"]).await
}

/// `fapi2-security-profile-final-ensure-request-object-with-invalid-signature-fails`.
#[tokio::test]
async fn fapi2_security_profile_final_ensure_request_object_with_invalid_signature_fails() -> Result<()> {
    refused(&|_| {}, Signed::BadSignature, &["invalid_request_object"]).await
}

/// `fapi2-security-profile-final-ensure-matching-key-in-authorization-request`: the object signed with
/// client 2's key.
#[tokio::test]
async fn fapi2_security_profile_final_ensure_matching_key_in_authorization_request() -> Result<()> {
    let s = shared(Plan::Fapi).await?;
    refused(
        &|_| {},
        Signed::By(&s.fapi_keys[1]),
        &["invalid_request", "invalid_request_object"],
    )
    .await
}

/// `fapi2-security-profile-final-ensure-unsigned-request-at-par-endpoint-fails`: plain parameters pushed
/// by a client registered for signed requests: PAR 400 `invalid_request`.
#[tokio::test]
async fn fapi2_security_profile_final_ensure_unsigned_request_at_par_endpoint_fails() -> Result<()> {
    let s = shared(Plan::Fapi).await?;
    let client = Fapi::signed_only(s);
    let (params, _) = client.par_params(&[]);
    let answer = client.par_raw(&params, None, &|_| {}).await?;
    ensure_endpoint_error(&answer, &[400], &["invalid_request"])
}

/// `fapi2-security-profile-final-par-authorization-request-containing-request_uri`: a `request_uri`
/// inside the object: PAR `invalid_request_object`.
#[tokio::test]
async fn fapi2_security_profile_final_par_authorization_request_containing_request_uri() -> Result<()> {
    refused(
        &|c| {
            c.insert(
                "request_uri".into(),
                json!(format!("urn:ietf:params:oauth:request_uri:{}", random())),
            );
        },
        Signed::Right,
        &["invalid_request_object"],
    )
    .await
}
