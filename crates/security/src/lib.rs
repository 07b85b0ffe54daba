//! Security primitives, kept apart from storage and pages so that each is small and testable:
//! passwords (Argon2id, memory-hard) and their policy, the SM3 hash chain of the audit log,
//! SM4-GCM encryption of sensitive fields at rest, and the roles with their permissions.

pub mod chain;
pub mod fields;
pub mod password;
pub mod roles;

pub use roles::{Permission, Role};

/// `n` random bytes from the operating system, as lowercase hex.
pub fn random_hex(n: usize) -> Result<String, getrandom::Error> {
    let mut buf = vec![0u8; n];
    getrandom::fill(&mut buf)?;
    Ok(hex::encode(buf))
}

/// SM3 of a secret token, as stored instead of the token itself (sessions, API tokens).
pub fn token_digest(token: &str) -> String {
    use sm3::{Digest, Sm3};
    hex::encode(Sm3::digest(token.as_bytes()))
}
