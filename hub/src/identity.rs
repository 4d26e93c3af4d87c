//! Identity claims (INTERFACE.md §5): the `coreIdentityJWT` verifiable credential signed by the identity
//! issuer's key (listed in its DID document), and the address, passport and driving permit claims in
//! One Login's vocabulary, built from what the provider supplied.
//!
//! Pure functions of the provider's claims and `now`; nothing here is stored.

use crate::{
    ids::{ClientId, PairwiseSub},
    tokens::{
        BirthDate, CoreIdentityClaims, CredentialSubject, Name, NamePart, VerifiableCredential, CORE_IDENTITY_TTL,
    },
    vtr::Vector,
};
use serde_json::{json, Map, Value};

/// The coreIdentityJWT claim name.
pub const CORE_IDENTITY: &str = "https://vocab.account.gov.uk/v1/coreIdentityJWT";
/// The address claim name.
pub const ADDRESS: &str = "https://vocab.account.gov.uk/v1/address";
/// The passport claim name.
pub const PASSPORT: &str = "https://vocab.account.gov.uk/v1/passport";
/// The driving permit claim name.
pub const DRIVING_PERMIT: &str = "https://vocab.account.gov.uk/v1/drivingPermit";
/// The return code claim name.
pub const RETURN_CODE: &str = "https://vocab.account.gov.uk/v1/returnCode";

fn text(claims: &Map<String, Value>, name: &str) -> Option<String> {
    claims
        .get(name)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// The `credentialSubject` of a core identity: name parts and birth date from the provider's standard
/// claims (`given_name`, `family_name`, `birthdate`). `None` when the provider did not supply them.
pub fn credential_subject(provider_claims: &Map<String, Value>) -> Option<CredentialSubject> {
    let given = text(provider_claims, "given_name")?;
    let family = text(provider_claims, "family_name")?;
    let birthdate = text(provider_claims, "birthdate")?;
    let part = |kind: &str, value: &str| NamePart {
        kind: kind.into(),
        value: value.into(),
    };
    let mut name_parts: Vec<NamePart> = given.split_whitespace().map(|g| part("GivenName", g)).collect();
    name_parts.push(part("FamilyName", &family));
    Some(CredentialSubject {
        name: vec![Name { name_parts }],
        birth_date: vec![BirthDate { value: birthdate }],
    })
}

/// Who a coreIdentityJWT is for.
#[derive(Debug, Clone)]
pub struct CoreIdentityFor<'a> {
    pub identity_issuer: &'a str,
    pub sub: &'a PairwiseSub,
    pub client_id: &'a ClientId,
    pub vector: Vector,
    pub vtm: &'a str,
    pub now: i64,
}

/// The coreIdentityJWT claims, or `None` without a name and birth date.
pub fn core_identity_claims(
    for_: &CoreIdentityFor<'_>,
    provider_claims: &Map<String, Value>,
) -> Option<CoreIdentityClaims> {
    let subject = credential_subject(provider_claims)?;
    Some(CoreIdentityClaims {
        iss: for_.identity_issuer.to_string(),
        sub: for_.sub.clone(),
        aud: for_.client_id.clone(),
        nbf: for_.now,
        iat: for_.now,
        exp: for_.now + CORE_IDENTITY_TTL,
        vot: for_.vector.identity_vot().unwrap_or("P0").to_string(),
        vtm: for_.vtm.to_string(),
        vc: VerifiableCredential {
            kind: vec!["VerifiableCredential".into(), "VerifiableIdentityCredential".into()],
            credential_subject: subject,
        },
    })
}

/// The address in One Login's form: the provider's own vocabulary claim, else mapped from the OIDC
/// `address` claim (OIDC Core §5.1.1).
pub fn address(provider_claims: &Map<String, Value>) -> Option<Value> {
    if let Some(v) = provider_claims.get(ADDRESS).filter(|v| v.is_array()) {
        return Some(v.clone());
    }
    let a = provider_claims.get("address")?.as_object()?;
    let field = |n: &str| a.get(n).and_then(Value::as_str).map(str::to_string);
    let mut out = Map::new();
    for (from, to) in [
        ("street_address", "streetName"),
        ("locality", "addressLocality"),
        ("postal_code", "postalCode"),
        ("country", "addressCountry"),
    ] {
        if let Some(v) = field(from) {
            out.insert(to.into(), Value::String(v));
        }
    }
    (!out.is_empty()).then(|| json!([out]))
}

/// The identity claims to release: those asked for (already limited to the client's registration), that
/// the provider is registered to supply, and that it did supply. The coreIdentityJWT is signed by `sign`.
pub fn identity_claims(
    asked: &[String],
    provider_supplies: &[String],
    provider_claims: &Map<String, Value>,
    for_: &CoreIdentityFor<'_>,
    sign: impl Fn(&CoreIdentityClaims) -> Option<String>,
) -> Map<String, Value> {
    let mut out = Map::new();
    let wanted = |name: &str| asked.iter().any(|a| a == name) && provider_supplies.iter().any(|p| p == name);
    if wanted(CORE_IDENTITY) {
        if let Some(jwt) = core_identity_claims(for_, provider_claims).and_then(|c| sign(&c)) {
            out.insert(CORE_IDENTITY.into(), Value::String(jwt));
        }
    }
    if wanted(ADDRESS) {
        if let Some(a) = address(provider_claims) {
            out.insert(ADDRESS.into(), a);
        }
    }
    for name in [PASSPORT, DRIVING_PERMIT] {
        if wanted(name) {
            if let Some(v) = provider_claims.get(name).filter(|v| v.is_array()) {
                out.insert(name.into(), v.clone());
            }
        }
    }
    out
}

/// The standard claims released through the hub's userinfo for the scopes asked (OIDC Core §5.4), as the
/// provider supplied them.
pub fn released_claims(scopes: &[String], provider_claims: &Map<String, Value>) -> Map<String, Value> {
    let mut out = Map::new();
    let mut copy = |names: &[&str]| {
        for n in names {
            if let Some(v) = provider_claims.get(*n) {
                out.insert((*n).to_string(), v.clone());
            }
        }
    };
    if scopes.iter().any(|s| s == "email") {
        copy(&["email", "email_verified"]);
    }
    if scopes.iter().any(|s| s == "phone") {
        copy(&["phone_number", "phone_number_verified"]);
    }
    out
}

/// Human descriptions of identity claims, for the consent page.
pub fn describe(claim: &str) -> Option<&'static str> {
    match claim {
        CORE_IDENTITY => Some("claim-core-identity"),
        ADDRESS => Some("claim-address"),
        PASSPORT => Some("claim-passport"),
        DRIVING_PERMIT => Some("claim-driving-permit"),
        _ => None,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn person() -> Map<String, Value> {
        serde_json::from_value(json!({
            "given_name": "Mary Anne", "family_name": "Watson", "birthdate": "1985-02-08",
            "address": {"street_address": "10 High Street", "locality": "Bath", "postal_code": "BA1 1AA", "country": "GB"},
            PASSPORT: [{"documentNumber": "123456789", "expiryDate": "2030-01-01", "icaoIssuerCode": "GBR"}],
        }))
        .unwrap()
    }

    #[test]
    fn only_scoped_claims_are_released() {
        let provider: Map<String, Value> = serde_json::from_str(
            r#"{"email":"a@b","email_verified":true,"phone_number":"1","given_name":"A","birthdate":"2000-01-01"}"#,
        )
        .unwrap();
        let got = released_claims(&["openid".into(), "email".into()], &provider);
        assert_eq!(
            got.keys().cloned().collect::<Vec<_>>(),
            vec!["email".to_string(), "email_verified".to_string()]
        );
        assert!(released_claims(&["openid".into()], &provider).is_empty());
    }

    #[test]
    fn core_identity_has_the_one_login_shape() {
        let (sub, client) = (PairwiseSub::from("urn:x"), ClientId::from("c"));
        let for_ = CoreIdentityFor {
            identity_issuer: "https://hub",
            sub: &sub,
            client_id: &client,
            vector: Vector::parse("Cl.Cm.P2").unwrap(),
            vtm: "https://hub/trustmark",
            now: 1000,
        };
        let c = serde_json::to_value(core_identity_claims(&for_, &person()).unwrap()).unwrap();
        assert_eq!(c["vot"], "P2");
        assert_eq!(c["exp"], 2800);
        let subject = &c["vc"]["credentialSubject"];
        assert_eq!(subject["birthDate"][0]["value"], "1985-02-08");
        let parts = subject["name"][0]["nameParts"].as_array().unwrap();
        assert_eq!(parts.len(), 3);
        assert_eq!(parts[2], json!({"type": "FamilyName", "value": "Watson"}));
        let mut no_birthdate = person();
        no_birthdate.remove("birthdate");
        assert!(core_identity_claims(&for_, &no_birthdate).is_none());
    }

    #[test]
    fn only_asked_registered_and_supplied_claims_are_released() {
        let (sub, client) = (PairwiseSub::from("s"), ClientId::from("c"));
        let for_ = CoreIdentityFor {
            identity_issuer: "https://hub",
            sub: &sub,
            client_id: &client,
            vector: Vector::parse("Cl.Cm.P2").unwrap(),
            vtm: "v",
            now: 0,
        };
        let all = [CORE_IDENTITY, ADDRESS, PASSPORT, DRIVING_PERMIT]
            .map(String::from)
            .to_vec();
        let got = identity_claims(&all, &all, &person(), &for_, |_| Some("jwt".into()));
        assert_eq!(
            got.keys().cloned().collect::<Vec<_>>(),
            vec![CORE_IDENTITY.to_string(), ADDRESS.into(), PASSPORT.into()]
        );
        assert_eq!(got[ADDRESS][0]["addressLocality"], "Bath");
        let not_supplied = identity_claims(&all, &[ADDRESS.to_string()], &person(), &for_, |_| Some("jwt".into()));
        assert_eq!(
            not_supplied.keys().cloned().collect::<Vec<_>>(),
            vec![ADDRESS.to_string()]
        );
        let not_asked = identity_claims(&[], &all, &person(), &for_, |_| Some("jwt".into()));
        assert!(not_asked.is_empty());
    }
}
