//! The fictional people a tester can sign in as, and the level vectors (`Cl` … `Cl.Cm.P3`) they can reach.
//! Every name, address and document number here is invented.

use serde::Serialize;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

/// A level vector in the order the stub understands them (GOV.UK One Login vtr syntax).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum Level {
    /// `Cl`: low-confidence authentication only.
    #[serde(rename = "Cl")]
    Cl,
    /// `Cl.Cm`: medium-confidence authentication, no identity.
    #[serde(rename = "Cl.Cm")]
    ClCm,
    /// `Cl.Cm.P1`: low-confidence identity.
    #[serde(rename = "Cl.Cm.P1")]
    P1,
    /// `Cl.Cm.P2`: medium-confidence identity.
    #[serde(rename = "Cl.Cm.P2")]
    P2,
    /// `Cl.Cm.P3`: high-confidence identity.
    #[serde(rename = "Cl.Cm.P3")]
    P3,
}

impl Level {
    /// All levels, lowest first.
    pub const ALL: [Level; 5] = [Level::Cl, Level::ClCm, Level::P1, Level::P2, Level::P3];

    /// The vector as it appears in `acr_values` and `acr`.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Cl => "Cl",
            Level::ClCm => "Cl.Cm",
            Level::P1 => "Cl.Cm.P1",
            Level::P2 => "Cl.Cm.P2",
            Level::P3 => "Cl.Cm.P3",
        }
    }

    /// Parses a vector; anything else (a URI of another scheme, a typo) is `None`.
    pub fn parse(s: &str) -> Option<Level> {
        Level::ALL.into_iter().find(|l| l.as_str() == s)
    }

    /// The vector one below, or `Cl` itself at the bottom.
    pub fn one_below(self) -> Level {
        match self {
            Level::Cl | Level::ClCm => Level::Cl,
            Level::P1 => Level::ClCm,
            Level::P2 => Level::P1,
            Level::P3 => Level::P2,
        }
    }
}

/// The `acr` a successful sign-in answers: the first of `acr_values` (preference order) the persona can
/// reach; if none is reachable, the persona's maximum (so the client sees a level below what it wanted);
/// without `acr_values`, `Cl.Cm` (capped at the persona's maximum). Unknown values are skipped.
pub fn choose_acr(acr_values: &[String], max: Level) -> Level {
    let asked: Vec<Level> = acr_values.iter().filter_map(|v| Level::parse(v)).collect();
    if asked.is_empty() {
        return Level::ClCm.min(max);
    }
    asked.into_iter().find(|l| *l <= max).unwrap_or(max)
}

/// The `acr` of the `level-not-reached` outcome: one vector below the first known level asked for
/// (`Cl.Cm` when nothing known was asked); the caller caps it at the persona's maximum.
pub fn level_below_asked(acr_values: &[String]) -> Level {
    acr_values
        .iter()
        .find_map(|v| Level::parse(v))
        .unwrap_or(Level::ClCm)
        .one_below()
}

/// A postal address, rendered both as the OIDC standard `address` claim and in One Login's form.
#[derive(Debug, Clone, Serialize)]
pub struct Address {
    pub sub_building_name: Option<&'static str>,
    pub building_name: Option<&'static str>,
    pub building_number: Option<&'static str>,
    pub street_name: &'static str,
    pub address_locality: &'static str,
    pub region: Option<&'static str>,
    pub postal_code: &'static str,
    pub valid_from: &'static str,
}

/// A passport as One Login describes it.
#[derive(Debug, Clone, Serialize)]
pub struct Passport {
    pub document_number: &'static str,
    pub expiry_date: &'static str,
    pub icao_issuer_code: &'static str,
}

/// A driving permit as One Login describes it.
#[derive(Debug, Clone, Serialize)]
pub struct DrivingPermit {
    pub personal_number: &'static str,
    pub expiry_date: &'static str,
    pub issued_by: &'static str,
}

/// One fictional person.
#[derive(Debug, Clone, Serialize)]
pub struct Persona {
    pub id: &'static str,
    pub given_name: &'static str,
    pub family_name: &'static str,
    pub birthdate: &'static str,
    pub email: &'static str,
    pub phone: &'static str,
    pub address: Address,
    pub passport: Option<Passport>,
    pub driving_permit: Option<DrivingPermit>,
    pub max_level: Level,
    /// A line for the page saying what is special about this person.
    pub note: &'static str,
}

/// The personas, the first being the page's default.
pub static PERSONAS: &[Persona] = &[
    Persona {
        id: "alex-morgan",
        given_name: "Alex",
        family_name: "Morgan",
        birthdate: "1984-02-29",
        email: "alex.morgan@example.com",
        phone: "+447700900123",
        address: Address {
            sub_building_name: None,
            building_name: None,
            building_number: Some("12"),
            street_name: "Acacia Avenue",
            address_locality: "Bristol",
            region: None,
            postal_code: "BS1 4ZZ",
            valid_from: "2019-06-01",
        },
        passport: Some(Passport {
            document_number: "549364783",
            expiry_date: "2031-08-01",
            icao_issuer_code: "GBR",
        }),
        driving_permit: Some(DrivingPermit {
            personal_number: "MORGA842294A99XY",
            expiry_date: "2030-02-28",
            issued_by: "DVLA",
        }),
        max_level: Level::P2,
        note: "Passport and driving licence; identity to P2",
    },
    Persona {
        id: "bethan-jones",
        given_name: "Bethan",
        family_name: "Jones",
        birthdate: "1990-11-03",
        email: "bethan.jones@example.com",
        phone: "+447700900456",
        address: Address {
            sub_building_name: None,
            building_name: Some("Tŷ Gwyn"),
            building_number: Some("3"),
            street_name: "Heol y Frenhines",
            address_locality: "Caerdydd",
            region: Some("Cymru"),
            postal_code: "CF10 9ZZ",
            valid_from: "2021-03-15",
        },
        passport: None,
        driving_permit: Some(DrivingPermit {
            personal_number: "JONES911030B99ZX",
            expiry_date: "2029-11-02",
            issued_by: "DVLA",
        }),
        max_level: Level::P2,
        note: "Welsh address; driving licence only, no passport",
    },
    Persona {
        id: "chidi-okafor",
        given_name: "Chidi",
        family_name: "Okafor",
        birthdate: "1976-05-21",
        email: "chidi.okafor@example.org",
        phone: "+447700900789",
        address: Address {
            sub_building_name: Some("Flat 4"),
            building_name: Some("Riverside House"),
            building_number: Some("27"),
            street_name: "Wharf Road",
            address_locality: "London",
            region: None,
            postal_code: "N1 9ZZ",
            valid_from: "2015-09-01",
        },
        passport: Some(Passport {
            document_number: "120398457",
            expiry_date: "2033-01-15",
            icao_issuer_code: "GBR",
        }),
        driving_permit: None,
        max_level: Level::P3,
        note: "Passport only; identity to P3",
    },
    Persona {
        id: "dana-whitfield",
        given_name: "Dana",
        family_name: "Whitfield",
        birthdate: "2001-07-30",
        email: "dana.whitfield@example.net",
        phone: "+447700900321",
        address: Address {
            sub_building_name: None,
            building_name: None,
            building_number: Some("8"),
            street_name: "Mill Lane",
            address_locality: "Norwich",
            region: None,
            postal_code: "NR2 9ZZ",
            valid_from: "2023-01-10",
        },
        passport: None,
        driving_permit: None,
        max_level: Level::ClCm,
        note: "No documents; sign-in only (Cl.Cm), no identity",
    },
    Persona {
        id: "eilidh-macleod",
        given_name: "Eilidh",
        family_name: "MacLeod",
        birthdate: "1968-12-09",
        email: "eilidh.macleod@example.com",
        phone: "+447700900654",
        address: Address {
            sub_building_name: None,
            building_name: Some("Croft Cottage"),
            building_number: None,
            street_name: "Shore Road",
            address_locality: "Portree",
            region: Some("Isle of Skye"),
            postal_code: "IV51 9ZZ",
            valid_from: "2010-04-01",
        },
        passport: Some(Passport {
            document_number: "887712340",
            expiry_date: "2027-05-30",
            icao_issuer_code: "GBR",
        }),
        driving_permit: None,
        max_level: Level::P1,
        note: "Scottish address with a house name, no number; identity to P1 only",
    },
    Persona {
        id: "farhan-akhtar",
        given_name: "Farhan",
        family_name: "Akhtar",
        birthdate: "1995-01-17",
        email: "farhan.akhtar@example.org",
        phone: "+447700900987",
        address: Address {
            sub_building_name: Some("Apartment 12"),
            building_name: None,
            building_number: Some("150"),
            street_name: "Broad Street",
            address_locality: "Birmingham",
            region: None,
            postal_code: "B15 9ZZ",
            valid_from: "2024-02-01",
        },
        passport: Some(Passport {
            document_number: "302918475",
            expiry_date: "2034-06-11",
            icao_issuer_code: "GBR",
        }),
        driving_permit: Some(DrivingPermit {
            personal_number: "AKHTA901175F99QW",
            expiry_date: "2032-01-16",
            issued_by: "DVLA",
        }),
        max_level: Level::P2,
        note: "Recently moved flat; passport and driving licence",
    },
    Persona {
        id: "gwen-ap-rhys",
        given_name: "Gwenllian",
        family_name: "ap Rhys",
        birthdate: "1952-08-14",
        email: "gwen.aprhys@example.cymru",
        phone: "+447700900246",
        address: Address {
            sub_building_name: None,
            building_name: None,
            building_number: Some("41"),
            street_name: "Stryd Fawr",
            address_locality: "Aberystwyth",
            region: Some("Ceredigion"),
            postal_code: "SY23 9ZZ",
            valid_from: "1998-10-01",
        },
        passport: Some(Passport {
            document_number: "660014529",
            expiry_date: "2028-09-09",
            icao_issuer_code: "GBR",
        }),
        driving_permit: None,
        max_level: Level::P2,
        note: "Welsh address, two-part family name, older person",
    },
];

/// The persona with this id.
pub fn find(id: &str) -> Option<&'static Persona> {
    PERSONAS.iter().find(|p| p.id == id)
}

impl Persona {
    /// The persona's stable subject at one provider: `{provider}-{persona}-{suffix}`, the suffix derived from
    /// both so it looks random and differs per provider.
    pub fn subject(&self, provider_id: &str) -> String {
        let digest = Sha256::digest(format!("idp-stub subject {provider_id} {}", self.id).as_bytes());
        let suffix: String = digest.iter().take(6).map(|b| format!("{b:02x}")).collect();
        format!("{provider_id}-{}-{suffix}", self.id)
    }

    /// The OIDC Core §5.1.1 address object.
    fn oidc_address(&self) -> Value {
        let a = &self.address;
        let first_line: Vec<&str> = [a.sub_building_name, a.building_name].into_iter().flatten().collect();
        let street = match a.building_number {
            Some(n) => format!("{n} {}", a.street_name),
            None => a.street_name.to_string(),
        };
        let mut lines: Vec<String> = first_line.into_iter().map(str::to_string).collect();
        lines.push(street);
        let street_address = lines.join("\n");
        let mut formatted = vec![street_address.clone(), a.address_locality.to_string()];
        if let Some(r) = a.region {
            formatted.push(r.to_string());
        }
        formatted.push(a.postal_code.to_string());
        formatted.push("United Kingdom".to_string());
        let mut obj = json!({
            "formatted": formatted.join("\n"),
            "street_address": street_address,
            "locality": a.address_locality,
            "postal_code": a.postal_code,
            "country": "GB",
        });
        if let (Some(region), Some(map)) = (a.region, obj.as_object_mut()) {
            map.insert("region".into(), json!(region));
        }
        obj
    }

    /// One Login's `https://vocab.account.gov.uk/v1/address` entry.
    fn one_login_address(&self) -> Value {
        let a = &self.address;
        let mut m = Map::new();
        for (key, value) in [
            ("subBuildingName", a.sub_building_name),
            ("buildingName", a.building_name),
            ("buildingNumber", a.building_number),
        ] {
            if let Some(v) = value {
                m.insert(key.into(), json!(v));
            }
        }
        m.insert("streetName".into(), json!(a.street_name));
        m.insert("addressLocality".into(), json!(a.address_locality));
        m.insert("postalCode".into(), json!(a.postal_code));
        m.insert("addressCountry".into(), json!("GB"));
        m.insert("validFrom".into(), json!(a.valid_from));
        Value::Object(m)
    }

    /// The standard claims the scopes release (OIDC Core §5.4), for the ID token and userinfo alike.
    pub fn standard_claims(&self, scopes: &[String]) -> Map<String, Value> {
        let has = |s: &str| scopes.iter().any(|x| x == s);
        let mut m = Map::new();
        if has("profile") {
            m.insert("given_name".into(), json!(self.given_name));
            m.insert("family_name".into(), json!(self.family_name));
            m.insert("birthdate".into(), json!(self.birthdate));
        }
        if has("email") {
            m.insert("email".into(), json!(self.email));
            m.insert("email_verified".into(), json!(true));
        }
        if has("phone") {
            m.insert("phone_number".into(), json!(self.phone));
            m.insert("phone_number_verified".into(), json!(true));
        }
        if has("address") {
            m.insert("address".into(), self.oidc_address());
        }
        m
    }

    /// The userinfo claims: the standard ones plus One Login's identity vocabulary.
    pub fn userinfo_claims(&self, subject: &str, scopes: &[String]) -> Map<String, Value> {
        let has = |s: &str| scopes.iter().any(|x| x == s);
        let mut m = Map::new();
        m.insert("sub".into(), json!(subject));
        m.extend(self.standard_claims(scopes));
        if has("profile") {
            if let Some(p) = &self.passport {
                m.insert(
                    "https://vocab.account.gov.uk/v1/passport".into(),
                    json!([{
                        "documentNumber": p.document_number,
                        "expiryDate": p.expiry_date,
                        "icaoIssuerCode": p.icao_issuer_code,
                    }]),
                );
            }
            if let Some(d) = &self.driving_permit {
                m.insert(
                    "https://vocab.account.gov.uk/v1/drivingPermit".into(),
                    json!([{
                        "personalNumber": d.personal_number,
                        "expiryDate": d.expiry_date,
                        "issuingCountry": "GB",
                        "issuedBy": d.issued_by,
                    }]),
                );
            }
        }
        if has("address") {
            m.insert(
                "https://vocab.account.gov.uk/v1/address".into(),
                json!([self.one_login_address()]),
            );
        }
        m
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn v(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn acr_choice_table() {
        use Level::*;
        let cases: &[(&[&str], Level, Level)] = &[
            (&[], P2, ClCm),
            (&[], ClCm, ClCm),
            (&["Cl.Cm.P2"], P2, P2),
            (&["Cl.Cm.P2"], P3, P2),
            (&["Cl.Cm.P2"], P1, P1), // unreachable: persona's max, below what was asked
            (&["Cl.Cm.P2", "Cl.Cm"], ClCm, ClCm), // preference order, second reachable
            (&["Cl.Cm.P3", "Cl.Cm.P2"], P2, P2),
            (&["Cl.Cm.P1", "Cl.Cm.P2"], P3, P1), // first reachable, not the highest
            (&["urn:other", "Cl.Cm.P2"], P2, P2),
            (&["urn:other"], P2, ClCm),
        ];
        for (asked, max, expected) in cases {
            assert_eq!(choose_acr(&v(asked), *max), *expected, "asked {asked:?} max {max:?}");
        }
    }

    #[test]
    fn level_not_reached_is_one_below_asked() {
        assert_eq!(level_below_asked(&v(&["Cl.Cm.P2"])), Level::P1);
        assert_eq!(level_below_asked(&v(&["Cl.Cm.P1"])), Level::ClCm);
        assert_eq!(level_below_asked(&v(&["Cl.Cm"])), Level::Cl);
        assert_eq!(level_below_asked(&v(&[])), Level::Cl);
    }

    #[test]
    fn personas_are_varied_and_subjects_differ_per_provider() {
        assert!(PERSONAS.len() >= 6);
        assert!(PERSONAS
            .iter()
            .any(|p| p.passport.is_none() && p.driving_permit.is_some()));
        assert!(PERSONAS.iter().any(|p| p.max_level == Level::ClCm));
        assert!(PERSONAS.iter().any(|p| p.max_level == Level::P1));
        assert!(PERSONAS.iter().any(|p| p.max_level == Level::P3));
        let p = &PERSONAS[0];
        assert_ne!(p.subject("stub-a"), p.subject("stub-b"));
        assert_eq!(p.subject("stub-a"), p.subject("stub-a"));
        assert!(p.subject("stub-a").starts_with("stub-a-alex-morgan-"));
    }
}
