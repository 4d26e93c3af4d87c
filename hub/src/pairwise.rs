//! Pairwise subject identifiers (OIDC Core §8.1, INTERFACE.md §4): the same person at the same sector
//! always gets the same `sub`; two sectors get values nobody without the secret can link. Computed, never
//! stored: the hub keeps no account database.

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine as _};
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// `<prefix><base64url(HMAC-SHA256(secret, sector ‖ provider issuer ‖ provider subject))>`, each input
/// length-prefixed so no two different triples can produce the same message.
pub fn pairwise_sub(secret: &[u8], prefix: &str, sector: &str, provider_issuer: &str, provider_sub: &str) -> String {
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret) {
        Ok(mac) => mac,
        // HMAC accepts keys of any length; this arm cannot be reached.
        Err(_) => return String::new(),
    };
    for part in [sector, provider_issuer, provider_sub] {
        mac.update(&(part.len() as u64).to_be_bytes());
        mac.update(part.as_bytes());
    }
    format!("{prefix}{}", URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_sector_same_sub_other_sector_other_sub() {
        let s = b"secret";
        let a1 = pairwise_sub(s, "urn:fdc:gov.uk:2022:", "service.gov.uk", "https://idp", "p1");
        let a2 = pairwise_sub(s, "urn:fdc:gov.uk:2022:", "service.gov.uk", "https://idp", "p1");
        let b = pairwise_sub(s, "urn:fdc:gov.uk:2022:", "other.gov.uk", "https://idp", "p1");
        let c = pairwise_sub(s, "urn:fdc:gov.uk:2022:", "service.gov.uk", "https://idp", "p2");
        let d = pairwise_sub(
            b"other secret",
            "urn:fdc:gov.uk:2022:",
            "service.gov.uk",
            "https://idp",
            "p1",
        );
        assert_eq!(a1, a2);
        assert!(a1.starts_with("urn:fdc:gov.uk:2022:"));
        assert_ne!(a1, b);
        assert_ne!(a1, c);
        assert_ne!(a1, d);
        // Length-prefixing: moving a boundary changes the value.
        assert_ne!(pairwise_sub(s, "", "ab", "c", "d"), pairwise_sub(s, "", "a", "bc", "d"));
    }
}
