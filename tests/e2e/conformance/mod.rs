//! The OpenID Foundation's OP conformance test modules, reproduced as our own end-to-end tests: one test
//! per module, named after it, asserting what the module asserts (its FAILURE conditions), through the
//! real hub, idp-stub and Redis, with a small client in the test playing the conformance suite's part.
//!
//! Plans (the suite's names): Basic OP (`oidcc-basic-certification-test-plan`, [`basic_op`]), Config OP
//! ([`config`]), Form Post OP (the Basic modules with `response_mode=form_post`, [`form_post_op`]),
//! RP-Initiated Logout OP and Back-Channel Logout OP ([`logout`]), FAPI 2.0 Security Profile Final
//! ([`fapi2`]). The README's "Conformance" table lists every module of those plans; [`table`] keeps it
//! true.
//!
//! One federation per group of plans is started once and shared by its tests ([`shared`]): each test
//! has its own browser (cookie jar), state and nonce, so tests never see each other's sessions.

pub mod basic;
pub mod callback;
pub mod client;
pub mod config;
pub mod fapi2;
pub mod fapi2_signed;
pub mod logout;
pub mod table;

use crate::harness::{Federation, Options, StoreKind};
use anyhow::Result;
use tokio::sync::OnceCell;

/// The suite's static clients for the OIDC plans (Basic, Form Post, logout): a `client_secret_basic`
/// client, a second one, and a `client_secret_post` one, all `oidc-basic`.
pub const BASIC: &str = "conf-basic";
pub const BASIC_2: &str = "conf-basic-2";
pub const POST: &str = "conf-post";
/// Their secrets (what the suite's configuration would hold).
pub const BASIC_SECRET: &str = "conformance-basic-secret-0123456789abcdef";
pub const BASIC_2_SECRET: &str = "conformance-second-secret-0123456789abcdef";
pub const POST_SECRET: &str = "conformance-post-secret-0123456789abcdef";
/// The two FAPI 2.0 clients, with different keys; the second's redirect URI carries a query.
pub const FAPI_1: &str = "conf-fapi-1";
pub const FAPI_2: &str = "conf-fapi-2";
/// A FAPI client registered for signed requests only (`jar_required`), with the first client's key:
/// what the FAPI 2.0 Message Signing plan's client is.
pub const FAPI_JAR: &str = "conf-fapi-jar";
/// The query the second FAPI client's redirect URI carries (the suite's `client2`).
pub const DUMMY_QUERY: &str = "dummy1=lorem&dummy2=ipsum";

/// Which shared federation a test runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plan {
    /// Basic, Config, Form Post, RP-initiated and back-channel logout: the `oidc-basic` clients.
    Oidc,
    /// FAPI 2.0 Security Profile: the `fapi2` clients.
    Fapi,
    /// Both kinds of client on a hub whose codes live 4 s and pushed requests 5 s: what stands in for
    /// the suite's waits of 30 and 62 seconds (a code the test knows is past its life).
    ShortLived,
}

/// Codes on the [`Plan::ShortLived`] federation live this long, seconds.
pub const SHORT_CODE_TTL: u64 = 4;
/// Pushed requests on the [`Plan::ShortLived`] federation live this long, seconds (the suite's least).
pub const SHORT_REQUEST_URI_TTL: u64 = 5;

/// A federation shared by the tests of a plan, the test's callback listener, and the FAPI clients' keys.
pub struct Shared {
    pub fed: Federation,
    /// The callback listener's base URL ([`callback`]).
    pub cb: String,
    /// The private keys of [`FAPI_1`] and [`FAPI_2`].
    pub fapi_keys: [keys::SigningKey; 2],
}

impl Shared {
    /// The hub's issuer.
    pub fn hub(&self) -> &str {
        &self.fed.hub
    }

    /// The redirect URI registered for a client.
    pub fn redirect_uri(&self, client_id: &str) -> String {
        if client_id == FAPI_2 {
            format!("{}/callback?{DUMMY_QUERY}", self.cb)
        } else {
            format!("{}/callback", self.cb)
        }
    }

    /// The post-logout redirect URI registered for the OIDC clients.
    pub fn post_logout_redirect_uri(&self) -> String {
        format!("{}/post_logout_redirect", self.cb)
    }
}

fn registry(cb: &str, fapi_keys: &[keys::SigningKey; 2]) -> Result<String> {
    let secret = |s: &str| keys::hash_secret(s).map_err(|e| anyhow::anyhow!("{e}"));
    let basic = |id: &str, method: &str, secret_hash: String| {
        format!(
            r#"
[[clients]]
client_id = "{id}"
client_name = "Conformance client {id}"
redirect_uris = ["{cb}/callback"]
post_logout_redirect_uris = ["{cb}/post_logout_redirect"]
backchannel_logout_uri = "{cb}/backchannel_logout"
scopes = ["openid", "email", "phone"]
profile = "oidc-basic"
token_endpoint_auth_method = "{method}"
client_secret_hash = "{secret_hash}"
"#
        )
    };
    let fapi = |id: &str, redirect: &str, key: &keys::SigningKey| -> Result<String> {
        Ok(format!(
            r#"
[[clients]]
client_id = "{id}"
client_name = "Conformance FAPI client {id}"
redirect_uris = ["{redirect}"]
scopes = ["openid", "email", "phone"]
profile = "fapi2"
jar_required = {}
public_key = """
{}"""
"#,
            id == FAPI_JAR,
            key.public_pem()?
        ))
    };
    Ok([
        basic(BASIC, "client_secret_basic", secret(BASIC_SECRET)?),
        basic(BASIC_2, "client_secret_basic", secret(BASIC_2_SECRET)?),
        basic(POST, "client_secret_post", secret(POST_SECRET)?),
        fapi(FAPI_1, &format!("{cb}/callback"), &fapi_keys[0])?,
        fapi(FAPI_2, &format!("{cb}/callback?{DUMMY_QUERY}"), &fapi_keys[1])?,
        fapi(FAPI_JAR, &format!("{cb}/callback"), &fapi_keys[0])?,
    ]
    .concat())
}

async fn start(plan: Plan) -> Result<Shared> {
    let cb = callback::base()?;
    let fapi_keys = [keys::SigningKey::generate()?, keys::SigningKey::generate()?];
    let hub_config = match plan {
        Plan::ShortLived => {
            format!("code_ttl_secs = {SHORT_CODE_TTL}\nrequest_uri_ttl_secs = {SHORT_REQUEST_URI_TTL}\n")
        }
        _ => String::new(),
    };
    let fed = Federation::start_with(Options {
        store: StoreKind::Redis,
        extra_clients: registry(&cb, &fapi_keys)?,
        hub_config,
        shared: true,
        ..Options::default()
    })
    .await?;
    Ok(Shared { fed, cb, fapi_keys })
}

/// The federation of a plan, started by the first test that needs it and kept for the whole run.
pub async fn shared(plan: Plan) -> Result<&'static Shared> {
    static OIDC: OnceCell<Shared> = OnceCell::const_new();
    static FAPI: OnceCell<Shared> = OnceCell::const_new();
    static SHORT: OnceCell<Shared> = OnceCell::const_new();
    let cell = match plan {
        Plan::Oidc => &OIDC,
        Plan::Fapi => &FAPI,
        Plan::ShortLived => &SHORT,
    };
    cell.get_or_try_init(|| start(plan)).await
}

/// How the Basic modules receive the authorization response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The Basic OP plan: in the redirect's query.
    Query,
    /// The Form Post OP plan: `response_mode=form_post`, POSTed by the browser to the redirect URI.
    FormPost,
}

/// Generates one `#[tokio::test]` per module, calling its body in [`basic`] with the plan's mode.
macro_rules! modules {
    ($mode:expr; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $name() -> anyhow::Result<()> {
                super::basic::$name($mode).await
            }
        )*
    };
}

/// `oidcc-basic-certification-test-plan` (Basic OP), `client_secret_basic` (the one
/// `client_secret_post` module aside), discovery, static clients.
pub mod basic_op {
    modules!(super::Mode::Query;
        oidcc_server,
        oidcc_response_type_missing,
        oidcc_userinfo_get,
        oidcc_userinfo_post_header,
        oidcc_userinfo_post_body,
        oidcc_ensure_request_without_nonce_succeeds_for_code_flow,
        oidcc_scope_profile,
        oidcc_scope_email,
        oidcc_scope_address,
        oidcc_scope_phone,
        oidcc_scope_all,
        oidcc_ensure_other_scope_order_succeeds,
        oidcc_alternate_happy_flow,
        oidcc_display_page,
        oidcc_display_popup,
        oidcc_prompt_login,
        oidcc_prompt_none_not_logged_in,
        oidcc_prompt_none_logged_in,
        oidcc_max_age_1,
        oidcc_max_age_10000,
        oidcc_ensure_request_with_unknown_parameter_succeeds,
        oidcc_id_token_hint,
        oidcc_login_hint,
        oidcc_ui_locales,
        oidcc_claims_locales,
        oidcc_ensure_request_with_acr_values_succeeds,
        oidcc_codereuse,
        oidcc_codereuse_30seconds,
        oidcc_ensure_registered_redirect_uri,
        oidcc_ensure_post_request_succeeds,
        oidcc_server_client_secret_post,
        oidcc_unsigned_request_object_supported_correctly_or_rejected_as_unsupported,
        oidcc_claims_essential,
        oidcc_ensure_request_object_with_redirect_uri,
        oidcc_ensure_request_with_valid_pkce_succeeds,
    );
}

/// `oidcc-formpost-basic-certification-test-plan` (Form Post OP): the Basic modules with
/// `response_mode=form_post`; every response is read from the POST the hub's page makes the browser send.
pub mod form_post_op {
    modules!(super::Mode::FormPost;
        oidcc_server,
        oidcc_response_type_missing,
        oidcc_userinfo_get,
        oidcc_userinfo_post_header,
        oidcc_userinfo_post_body,
        oidcc_ensure_request_without_nonce_succeeds_for_code_flow,
        oidcc_scope_profile,
        oidcc_scope_email,
        oidcc_scope_address,
        oidcc_scope_phone,
        oidcc_scope_all,
        oidcc_ensure_other_scope_order_succeeds,
        oidcc_alternate_happy_flow,
        oidcc_display_page,
        oidcc_display_popup,
        oidcc_prompt_login,
        oidcc_prompt_none_not_logged_in,
        oidcc_prompt_none_logged_in,
        oidcc_max_age_1,
        oidcc_max_age_10000,
        oidcc_ensure_request_with_unknown_parameter_succeeds,
        oidcc_id_token_hint,
        oidcc_login_hint,
        oidcc_ui_locales,
        oidcc_claims_locales,
        oidcc_ensure_request_with_acr_values_succeeds,
        oidcc_codereuse,
        oidcc_codereuse_30seconds,
        oidcc_ensure_registered_redirect_uri,
        oidcc_ensure_post_request_succeeds,
        oidcc_server_client_secret_post,
        oidcc_unsigned_request_object_supported_correctly_or_rejected_as_unsupported,
        oidcc_claims_essential,
        oidcc_ensure_request_object_with_redirect_uri,
        oidcc_ensure_request_with_valid_pkce_succeeds,
    );
}
