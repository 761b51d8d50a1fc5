//! The one SHA-256 helper: what Vigil stores in place of secrets (API keys,
//! refresh tokens), the digest of an idempotent request's body, and a log
//! file's first-line identity.
use sha2::{Digest, Sha256};

/// SHA-256 of `bytes`, as 64 lowercase hex digits.
#[must_use]
pub fn sha256_hex(bytes: impl AsRef<[u8]>) -> String {
    hex::encode(Sha256::digest(bytes.as_ref()))
}

/// [`sha256_hex`] of `parts` one after the other (as if concatenated,
/// without the copy).
#[must_use]
pub fn sha256_hex_parts(parts: &[&[u8]]) -> String {
    let mut h = Sha256::new();
    for part in parts {
        h.update(part);
    }
    hex::encode(h.finalize())
}

/// Whether two secrets (tokens, CSRF nonces) are equal, in time that does
/// not tell where they differ.
#[must_use]
pub fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0_u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

#[cfg(test)]
mod tests {
    #[test]
    fn secrets_compare_whole() {
        assert!(super::same_secret("abc", "abc"));
        assert!(!super::same_secret("abc", "abd"));
        assert!(!super::same_secret("abc", "ab"));
    }

    #[test]
    fn is_lowercase_hex_of_sha256() {
        // printf abc | sha256sum
        assert_eq!(
            super::sha256_hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            super::sha256_hex_parts(&[b"a", b"", b"bc"]),
            super::sha256_hex("abc")
        );
    }
}
