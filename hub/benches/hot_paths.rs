//! Microbenchmarks of a sign-in's hot paths (issue "sign-ins at national scale"): `cargo bench -p hub`.
//! Each figure is one operation as the hub does it; `ceiling/*` adds up the signatures and hashes a
//! brokered sign-in cannot avoid, the floor under the hub's CPU per sign-in in BENCHMARKS.md.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use criterion::{black_box, criterion_group, criterion_main, BatchSize, Criterion};
use hub::{
    clock::ManualClock,
    provider::authorize::{validate, Params},
    registry::{ClientRegistry, ProviderRegistry},
    store::{seal::Sealer, MemoryStore, SessionStore},
};
use serde_json::{json, Value};
use std::{sync::Arc, time::Duration};

const NOW: i64 = 1_800_000_000;
const HUB: &str = "https://hub.example";

fn clients(public_pem: &str) -> ClientRegistry {
    ClientRegistry::parse(&format!(
        r#"
[[clients]]
client_id = "svc"
client_name = "A service"
redirect_uris = ["https://svc.example/callback"]
scopes = ["openid", "email"]
levels = ["Cl.Cm", "Cl.Cm.P2"]
claims = ["https://vocab.account.gov.uk/v1/coreIdentityJWT"]
public_key = """
{public_pem}"""
"#
    ))
    .unwrap()
}

fn providers() -> ProviderRegistry {
    ProviderRegistry::parse(
        r#"
[[providers]]
id = "stub-a"
name = "Stub A"
name_cy = "Stub A"
issuer = "https://idp.example/stub-a"
client_id = "federation-hub"
levels = ["Cl.Cm", "Cl.Cm.P2"]
claims = ["https://vocab.account.gov.uk/v1/coreIdentityJWT"]
"#,
    )
    .unwrap()
}

fn authorize_params() -> Params {
    Params {
        response_type: Some("code".into()),
        client_id: Some("svc".into()),
        redirect_uri: Some("https://svc.example/callback".into()),
        scope: Some("openid email".into()),
        state: Some("c3RhdGUtb2YtdGhlLXNlcnZpY2U".into()),
        nonce: Some("bm9uY2Utb2YtdGhlLXNlcnZpY2U".into()),
        code_challenge: Some("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".into()),
        code_challenge_method: Some("S256".into()),
        vtr: Some(r#"["Cl.Cm.P2"]"#.into()),
        claims: Some(r#"{"userinfo":{"https://vocab.account.gov.uk/v1/coreIdentityJWT":null}}"#.into()),
        ..Params::default()
    }
}

fn id_token_claims() -> Value {
    json!({
        "iss": HUB, "sub": "urn:fdc:gov.uk:2022:2Xw8kPqG7hYjL0bQ1sTzV4nM9cR6eU3aD5fI8oK2wE0", "aud": "svc",
        "iat": NOW, "exp": NOW + 120, "nonce": "bm9uY2Utb2YtdGhlLXNlcnZpY2U", "vot": "Cl.Cm",
        "vtm": "https://hub.example/trustmark", "sid": "dGhlLXNpZC1vZi10aGlzLWpvdXJuZXk", "auth_time": NOW,
        "at_hash": "77QmUPtjPfzWtF2AnpK9RQ"
    })
}

fn credential_claims() -> Value {
    json!({
        "iss": HUB, "sub": "urn:fdc:gov.uk:2022:2Xw8kPqG7hYjL0bQ1sTzV4nM9cR6eU3aD5fI8oK2wE0", "aud": "svc",
        "nbf": NOW, "iat": NOW, "exp": NOW + 1800, "vot": "P2", "vtm": "https://hub.example/trustmark",
        "vc": {"type": ["VerifiableCredential", "VerifiableIdentityCredential"], "credentialSubject": {
            "name": [{"nameParts": [{"type": "GivenName", "value": "Alex"}, {"type": "FamilyName", "value": "Morgan"}]}],
            "birthDate": [{"value": "1990-01-01"}]}}
    })
}

fn provider_id_token_claims() -> Value {
    json!({
        "iss": "https://idp.example/stub-a", "sub": "stub-a-0001", "aud": "federation-hub", "iat": NOW,
        "exp": NOW + 300, "nonce": "dXBzdHJlYW0tbm9uY2U", "acr": "Cl.Cm.P2", "auth_time": NOW,
        "given_name": "Alex", "family_name": "Morgan", "birthdate": "1990-01-01"
    })
}

fn signatures(c: &mut Criterion) {
    let hub_key = keys::SigningKey::generate().unwrap();
    let client_key = keys::SigningKey::generate().unwrap();
    let provider_key = keys::SigningKey::generate().unwrap();
    let rsa_client = keys::SigningKey::generate_rs256().unwrap();
    let (id_claims, cred_claims) = (id_token_claims(), credential_claims());
    let assertion_claims = keys::client_assertion::Claims::new("svc", "https://hub.example/token", "jti-1", NOW);

    c.bench_function("sign/id_token_es256", |b| {
        b.iter(|| hub_key.sign("JWT", black_box(&id_claims)).unwrap())
    });
    c.bench_function("sign/identity_credential_es256", |b| {
        b.iter(|| {
            hub_key
                .sign_with_kid("JWT", "did:web:hub.example#k1", black_box(&cred_claims))
                .unwrap()
        })
    });
    c.bench_function("sign/client_assertion_to_provider_es256", |b| {
        b.iter(|| hub_key.sign("JWT", black_box(&assertion_claims)).unwrap())
    });

    // Client assertion verification as the token endpoint does it: the parsed key, then the claim rules.
    let pem = client_key.public_pem().unwrap();
    let pem_keys = keys::VerifyingKeys::new(vec![keys::VerifyingKey::from_pem(pem.as_bytes(), None).unwrap()]);
    let assertion = client_key.sign("JWT", &assertion_claims).unwrap();
    let audiences = ["https://hub.example/token", HUB];
    let expected = keys::client_assertion::Expected {
        client_id: "svc",
        audiences: &audiences,
        now: NOW,
    };
    c.bench_function("verify/client_assertion_es256", |b| {
        b.iter(|| {
            let (_, claims) = pem_keys.verify(black_box(&assertion)).unwrap();
            keys::client_assertion::check(&claims, &expected).unwrap()
        })
    });
    let rsa_pem = rsa_client.public_pem().unwrap();
    let rsa_keys = keys::VerifyingKeys::new(vec![keys::VerifyingKey::from_pem(rsa_pem.as_bytes(), None).unwrap()]);
    let rsa_assertion = rsa_client.sign("JWT", &assertion_claims).unwrap();
    c.bench_function("verify/client_assertion_rs256", |b| {
        b.iter(|| rsa_keys.verify(black_box(&rsa_assertion)).unwrap())
    });
    c.bench_function(
        "parse/client_pem_key_es256 (what every token request paid before)",
        |b| b.iter(|| keys::VerifyingKey::from_pem(black_box(pem.as_bytes()), None).unwrap()),
    );

    // The provider's ID token: signature by its JWKS key, then OIDC Core §3.1.3.7's claim checks.
    let jwks = keys::VerifyingKeys::from_jwks(&keys::jwks([&provider_key])).unwrap();
    let token = provider_key.sign("JWT", &provider_id_token_claims()).unwrap();
    let reg = providers();
    let provider = reg.get("stub-a").unwrap();
    let expected = hub::idp::check::Expected {
        issuer: "https://idp.example/stub-a",
        client_id: "federation-hub",
        nonce: "dXBzdHJlYW0tbm9uY2U",
    };
    c.bench_function("verify/provider_id_token_es256", |b| {
        b.iter(|| {
            let (_, claims) = jwks.verify(black_box(&token)).unwrap();
            hub::idp::check::check_id_token(&claims, provider, &expected, NOW).unwrap()
        })
    });
}

fn hashes(c: &mut Criterion) {
    let secret = [7u8; 32];
    c.bench_function("hash/pairwise_sub", |b| {
        b.iter(|| {
            hub::pairwise::pairwise_sub(
                black_box(&secret),
                "urn:fdc:gov.uk:2022:",
                "svc.example",
                "https://idp.example/stub-a",
                "stub-a-0001",
            )
        })
    });
    c.bench_function("hash/store_key_sha256", |b| {
        b.iter(|| hub::ids::hash(black_box("c29tZS1yYW5kb20tY29kZS1vZi00My1jaGFyYWN0ZXJzLWxvbmc")))
    });
    let sealer = Sealer::ephemeral();
    let journey = vec![b'j'; 1200];
    let sealed = sealer.seal("journey:abc", &journey).unwrap();
    c.bench_function("seal/seal_1200_bytes", |b| {
        b.iter(|| sealer.seal("journey:abc", black_box(&journey)).unwrap())
    });
    c.bench_function("seal/open_1200_bytes", |b| {
        b.iter(|| sealer.open("journey:abc", black_box(&sealed)).unwrap())
    });
}

fn protocol(c: &mut Criterion) {
    let key = keys::SigningKey::generate().unwrap();
    let reg = clients(&key.public_pem().unwrap());
    let params = authorize_params();
    c.bench_function("authorize/validate", |b| {
        b.iter(|| validate(black_box(&params), &reg).unwrap())
    });
}

fn pages(c: &mut Criterion) {
    use askama::Template;
    use hub::web::{
        choose_provider::{ChooseProvider, ProviderOption},
        chrome::Chrome,
    };
    let option = |id: &str, name: &str, checked| ProviderOption {
        id: id.into(),
        name: name.into(),
        unavailable: false,
        failed: false,
        checked,
    };
    let page = ChooseProvider {
        chrome: Chrome {
            lang: hub::i18n::Lang::En,
            switch: Some((hub::i18n::Lang::Cy, "/choose-provider?journey=j&lang=cy".into())),
        },
        heading: "Choose how to prove your identity for A service".into(),
        return_to: "Return to A service".into(),
        hint: "Pick the provider you have an account with.".into(),
        providers: vec![
            option("stub-a", "Stub Identity A", true),
            option("stub-b", "Stub Identity B", false),
        ],
        notice: None,
        error: None,
        journey: "Zm9vYmFyYmF6cXV4cXV1eGNvcmdlZ3JhdWx0Z2FycGx5".into(),
        csrf: "Y3NyZi10b2tlbi1vZi10aGlzLWpvdXJuZXk".into(),
    };
    c.bench_function("page/choose_provider_render", |b| {
        b.iter(|| black_box(&page).render().unwrap())
    });
}

fn stores(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let ttl = Duration::from_secs(3600);
    let value = vec![b'v'; 1200];
    for live in [0usize, 1_000_000] {
        let store = MemoryStore::new(Arc::new(ManualClock::at(NOW)), 4_000_000);
        runtime.block_on(async {
            for i in 0..live {
                store
                    .put(&format!("journey:{i:043}"), vec![b'v'; 64], ttl)
                    .await
                    .unwrap();
            }
        });
        let mut n = 0u64;
        c.bench_function(&format!("store/memory_put_get_take_{live}_live"), |b| {
            b.iter(|| {
                n += 1;
                let key = format!("code:{n:043}");
                runtime.block_on(async {
                    store.put(&key, value.clone(), ttl).await.unwrap();
                    store.get(&key).await.unwrap();
                    store.take(&key).await.unwrap();
                })
            })
        });
    }
    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let prefix = format!("bench:{}:", hub::ids::random_token());
    let Ok(redis) = runtime.block_on(hub::store::RedisStore::connect(&url, &prefix)) else {
        eprintln!("no Redis at {url}: the Redis store's figures are left out");
        return;
    };
    let mut n = 0u64;
    c.bench_function("store/redis_put_get_take (3 round trips)", |b| {
        b.iter_batched(
            || {
                n += 1;
                format!("code:{n:043}")
            },
            |key| {
                runtime.block_on(async {
                    redis.put(&key, value.clone(), ttl).await.unwrap();
                    redis.get(&key).await.unwrap();
                    redis.take(&key).await.unwrap();
                })
            },
            BatchSize::SmallInput,
        )
    });
}

/// The signatures and hashes one brokered sign-in cannot avoid, measured together: the floor under the
/// hub's CPU per sign-in. Cl.Cm: verify the service's client assertion, sign the ID token, sign the
/// hub's client assertion to the provider, verify the provider's ID token, the pairwise `sub`, the
/// store keys' hashes (about eight) and sealing (four values sealed, six opened). P2 adds the identity
/// credential's signature.
fn ceiling(c: &mut Criterion) {
    let hub_key = keys::SigningKey::generate().unwrap();
    let client_key = keys::SigningKey::generate().unwrap();
    let provider_key = keys::SigningKey::generate().unwrap();
    let client_keys = keys::VerifyingKeys::from_jwks(&keys::jwks([&client_key])).unwrap();
    let provider_keys = keys::VerifyingKeys::from_jwks(&keys::jwks([&provider_key])).unwrap();
    let assertion_claims = keys::client_assertion::Claims::new("svc", "https://hub.example/token", "jti-1", NOW);
    let assertion = client_key.sign("JWT", &assertion_claims).unwrap();
    let provider_token = provider_key.sign("JWT", &provider_id_token_claims()).unwrap();
    let (id_claims, cred_claims) = (id_token_claims(), credential_claims());
    let secret = [7u8; 32];
    let sealer = Sealer::ephemeral();
    let journey = vec![b'j'; 1200];
    let sealed = sealer.seal("journey:abc", &journey).unwrap();
    let cl_cm = || {
        client_keys.verify(&assertion).unwrap();
        hub_key.sign("JWT", &id_claims).unwrap();
        hub_key.sign("JWT", &assertion_claims).unwrap();
        provider_keys.verify(&provider_token).unwrap();
        hub::pairwise::pairwise_sub(&secret, "urn:fdc:gov.uk:2022:", "svc.example", "https://i", "s");
        for _ in 0..8 {
            hub::ids::hash("c29tZS1yYW5kb20tY29kZS1vZi00My1jaGFyYWN0ZXJzLWxvbmc");
        }
        for _ in 0..4 {
            sealer.seal("journey:abc", &journey).unwrap();
        }
        for _ in 0..6 {
            sealer.open("journey:abc", &sealed).unwrap();
        }
    };
    c.bench_function("ceiling/cl_cm_sign_in", |b| b.iter(cl_cm));
    // What a provider must do per sign-in (idp-stub's floor): verify the hub's client assertion, sign
    // the ID token.
    c.bench_function("ceiling/provider_sign_in", |b| {
        b.iter(|| {
            client_keys.verify(&assertion).unwrap();
            provider_key.sign("JWT", &provider_id_token_claims()).unwrap();
        })
    });
    c.bench_function("ceiling/p2_sign_in", |b| {
        b.iter(|| {
            cl_cm();
            hub_key
                .sign_with_kid("JWT", "did:web:hub.example#k1", &cred_claims)
                .unwrap();
        })
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(30)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = signatures, hashes, protocol, pages, stores, ceiling
}
criterion_main!(benches);
