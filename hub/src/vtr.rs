//! Vectors of trust (RFC 8485 as profiled by GOV.UK One Login; INTERFACE.md §2): parsing the `vtr`
//! request parameter, its rules, and deciding whether a level reached meets a level asked for.
//!
//! Pure functions over typed values, tested by a table of cases.

use std::fmt;

/// Credential (authentication) level: `Cl` one factor, `Cl.Cm` two factors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Credential {
    Low,
    Medium,
}

/// Identity level of confidence (GPG 45): `P0` none up to `P3` high.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Identity {
    P0,
    P1,
    P2,
    P3,
}

/// One vector of trust: a credential level and, optionally, an identity level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Vector {
    pub credential: Credential,
    pub identity: Option<Identity>,
}

/// Why a `vtr` is refused; `Display` is the `error_description` sent to the service.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VtrError {
    #[error("vtr must be a JSON array of one or more vector strings")]
    NotAnArray,
    #[error("vtr value {0:?} is not a known vector of trust")]
    Unknown(String),
    #[error("vtr value {0:?} has more than one identity level")]
    SeveralIdentityLevels(String),
    #[error("vtr value {0:?} asks for an identity level without Cl.Cm")]
    IdentityNeedsMediumCredential(String),
    #[error("vtr mixes vectors that ask for identity with vectors that do not")]
    Mixed,
    #[error("client is not registered for vtr value {0:?}")]
    NotRegistered(String),
    #[error("client authenticating with a client secret cannot ask for identity levels")]
    IdentityNeedsPrivateKeyJwt,
}

impl Vector {
    /// The default when `vtr` is absent: `Cl.Cm`.
    pub const DEFAULT: Vector = Vector {
        credential: Credential::Medium,
        identity: None,
    };

    /// Parses one vector such as `Cl`, `Cl.Cm` or `Cl.Cm.P2` (components in that order).
    pub fn parse(s: &str) -> Result<Self, VtrError> {
        let unknown = || VtrError::Unknown(s.to_string());
        let mut parts = s.split('.').peekable();
        let credential = match (parts.next(), parts.peek().copied()) {
            (Some("Cl"), Some("Cm")) => {
                parts.next();
                Credential::Medium
            }
            (Some("Cl"), _) => Credential::Low,
            _ => return Err(unknown()),
        };
        let mut identity = None;
        for part in parts {
            let level = match part {
                "P0" => Identity::P0,
                "P1" => Identity::P1,
                "P2" => Identity::P2,
                "P3" => Identity::P3,
                _ => return Err(unknown()),
            };
            if identity.replace(level).is_some() {
                return Err(VtrError::SeveralIdentityLevels(s.to_string()));
            }
        }
        if identity.is_some_and(|p| p >= Identity::P1) && credential < Credential::Medium {
            return Err(VtrError::IdentityNeedsMediumCredential(s.to_string()));
        }
        Ok(Self { credential, identity })
    }

    /// Whether this vector asks for proven identity (P1 or above).
    pub fn asks_identity(&self) -> bool {
        self.identity.is_some_and(|p| p >= Identity::P1)
    }

    /// Whether a level reached (`self`) meets a level asked for.
    pub fn satisfies(&self, wanted: &Vector) -> bool {
        self.credential >= wanted.credential
            && self.identity.unwrap_or(Identity::P0) >= wanted.identity.unwrap_or(Identity::P0)
    }

    /// The credential part alone, as the ID token's `vot` (e.g. `Cl.Cm`).
    pub fn credential_vot(&self) -> &'static str {
        match self.credential {
            Credential::Low => "Cl",
            Credential::Medium => "Cl.Cm",
        }
    }

    /// The identity part alone, as the identity credential's `vot` (e.g. `P2`).
    pub fn identity_vot(&self) -> Option<&'static str> {
        self.identity.map(|p| match p {
            Identity::P0 => "P0",
            Identity::P1 => "P1",
            Identity::P2 => "P2",
            Identity::P3 => "P3",
        })
    }

    /// A total order for "the lowest vector": identity first, then credential.
    fn rank(&self) -> (Identity, Credential) {
        (self.identity.unwrap_or(Identity::P0), self.credential)
    }
}

impl fmt::Display for Vector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.credential_vot())?;
        if let Some(p) = self.identity_vot() {
            write!(f, ".{p}")?;
        }
        Ok(())
    }
}

impl serde::Serialize for Vector {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Vector {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Vector::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// What a client may ask for: its registered vectors and whether it authenticates with a private key.
#[derive(Debug, Clone)]
pub struct VtrPolicy<'a> {
    pub registered: &'a [Vector],
    pub private_key_jwt: bool,
}

/// Decides a request's `vtr` (INTERFACE.md §2): parses, applies every rule, and returns the vectors any of
/// which will do, lowest first (the hub aims for the first).
pub fn decide(vtr: Option<&str>, policy: &VtrPolicy<'_>) -> Result<Vec<Vector>, VtrError> {
    let mut vectors = match vtr {
        None => vec![Vector::DEFAULT],
        Some(raw) => {
            let list: Vec<String> = serde_json::from_str(raw).map_err(|_| VtrError::NotAnArray)?;
            if list.is_empty() {
                return Err(VtrError::NotAnArray);
            }
            list.iter().map(|v| Vector::parse(v)).collect::<Result<Vec<_>, _>>()?
        }
    };
    let identity = vectors.iter().filter(|v| v.asks_identity()).count();
    if identity != 0 && identity != vectors.len() {
        return Err(VtrError::Mixed);
    }
    for v in &vectors {
        if !policy.registered.contains(v) {
            return Err(VtrError::NotRegistered(v.to_string()));
        }
        if v.asks_identity() && !policy.private_key_jwt {
            return Err(VtrError::IdentityNeedsPrivateKeyJwt);
        }
    }
    vectors.sort_by_key(Vector::rank);
    vectors.dedup();
    Ok(vectors)
}

/// The first of the wanted vectors that `reached` meets, if any: what `vot` reports.
pub fn met<'a>(reached: &Vector, wanted: &'a [Vector]) -> Option<&'a Vector> {
    wanted.iter().find(|w| reached.satisfies(w))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn v(s: &str) -> Vector {
        Vector::parse(s).unwrap()
    }

    #[test]
    fn parse_table() {
        let cases: &[(&str, Result<&str, VtrError>)] = &[
            ("Cl", Ok("Cl")),
            ("Cl.Cm", Ok("Cl.Cm")),
            ("Cl.Cm.P0", Ok("Cl.Cm.P0")),
            ("Cl.Cm.P1", Ok("Cl.Cm.P1")),
            ("Cl.Cm.P2", Ok("Cl.Cm.P2")),
            ("Cl.Cm.P3", Ok("Cl.Cm.P3")),
            ("Cl.P0", Ok("Cl.P0")),
            ("Cl.P2", Err(VtrError::IdentityNeedsMediumCredential("Cl.P2".into()))),
            (
                "Cl.Cm.P2.P1",
                Err(VtrError::SeveralIdentityLevels("Cl.Cm.P2.P1".into())),
            ),
            ("Cm", Err(VtrError::Unknown("Cm".into()))),
            ("P2", Err(VtrError::Unknown("P2".into()))),
            ("Cl.Cm.P4", Err(VtrError::Unknown("Cl.Cm.P4".into()))),
            ("", Err(VtrError::Unknown("".into()))),
            ("Cl.Cm.Cm", Err(VtrError::Unknown("Cl.Cm.Cm".into()))),
        ];
        for (input, want) in cases {
            let got = Vector::parse(input).map(|v| v.to_string());
            assert_eq!(got, want.clone().map(str::to_string), "{input}");
        }
    }

    #[test]
    fn decide_table() {
        let all = [v("Cl"), v("Cl.Cm"), v("Cl.Cm.P1"), v("Cl.Cm.P2"), v("Cl.Cm.P3")];
        let low_only = [v("Cl"), v("Cl.Cm")];
        let full = VtrPolicy {
            registered: &all,
            private_key_jwt: true,
        };
        let secret = VtrPolicy {
            registered: &all,
            private_key_jwt: false,
        };
        let narrow = VtrPolicy {
            registered: &low_only,
            private_key_jwt: true,
        };
        type Case<'a> = (Option<&'a str>, &'a VtrPolicy<'a>, Result<Vec<&'a str>, VtrError>);
        let cases: &[Case] = &[
            (None, &full, Ok(vec!["Cl.Cm"])),
            (Some(r#"["Cl.Cm"]"#), &full, Ok(vec!["Cl.Cm"])),
            (Some(r#"["Cl.Cm.P2"]"#), &full, Ok(vec!["Cl.Cm.P2"])),
            (
                Some(r#"["Cl.Cm.P2","Cl.Cm.P1"]"#),
                &full,
                Ok(vec!["Cl.Cm.P1", "Cl.Cm.P2"]),
            ),
            (Some(r#"["Cl.Cm","Cl"]"#), &full, Ok(vec!["Cl", "Cl.Cm"])),
            (Some(r#"["Cl.Cm","Cl.Cm.P2"]"#), &full, Err(VtrError::Mixed)),
            (
                Some(r#"["Cl.Cm.P2"]"#),
                &narrow,
                Err(VtrError::NotRegistered("Cl.Cm.P2".into())),
            ),
            (
                Some(r#"["Cl.Cm.P2"]"#),
                &secret,
                Err(VtrError::IdentityNeedsPrivateKeyJwt),
            ),
            (Some(r#"["Cl.Cm"]"#), &secret, Ok(vec!["Cl.Cm"])),
            (Some(r#"[]"#), &full, Err(VtrError::NotAnArray)),
            (Some(r#""Cl.Cm""#), &full, Err(VtrError::NotAnArray)),
            (Some("Cl.Cm"), &full, Err(VtrError::NotAnArray)),
            (
                Some(r#"["Cl.P1"]"#),
                &full,
                Err(VtrError::IdentityNeedsMediumCredential("Cl.P1".into())),
            ),
            (
                Some(r#"["Cl.Cm.P1.P2"]"#),
                &full,
                Err(VtrError::SeveralIdentityLevels("Cl.Cm.P1.P2".into())),
            ),
        ];
        for (input, policy, want) in cases {
            let got = decide(*input, policy).map(|vs| vs.iter().map(|v| v.to_string()).collect::<Vec<_>>());
            let want = want
                .clone()
                .map(|vs| vs.into_iter().map(str::to_string).collect::<Vec<_>>());
            assert_eq!(got, want, "{input:?}");
        }
    }

    #[test]
    fn satisfies_table() {
        let cases = [
            ("Cl.Cm", "Cl", true),
            ("Cl", "Cl.Cm", false),
            ("Cl.Cm.P2", "Cl.Cm", true),
            ("Cl.Cm.P2", "Cl.Cm.P2", true),
            ("Cl.Cm.P1", "Cl.Cm.P2", false),
            ("Cl.Cm.P3", "Cl.Cm.P2", true),
            ("Cl.Cm", "Cl.Cm.P1", false),
            ("Cl.Cm.P0", "Cl.Cm", true),
        ];
        for (reached, wanted, want) in cases {
            assert_eq!(v(reached).satisfies(&v(wanted)), want, "{reached} meets {wanted}");
        }
        assert_eq!(
            met(&v("Cl.Cm.P2"), &[v("Cl.Cm.P1"), v("Cl.Cm.P2")]),
            Some(&v("Cl.Cm.P1"))
        );
        assert_eq!(v("Cl.Cm.P2").credential_vot(), "Cl.Cm");
        assert_eq!(v("Cl.Cm.P2").identity_vot(), Some("P2"));
    }
}
