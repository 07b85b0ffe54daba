//! Passwords: Argon2id (memory-hard, the PHC string keeps its parameters and salt) and the
//! password policy. The policy follows common 等级保护 practice: a minimum length and three of
//! four character classes, not containing the user name.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;

pub const MIN_LEN: usize = 10;
pub const MAX_LEN: usize = 128;

#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("{0}")]
    Policy(String),
    #[error("password hashing failed: {0}")]
    Hash(String),
}

/// Why `password` is refused for `username`, in Chinese; `Ok` when it meets the policy.
pub fn check_policy(password: &str, username: &str) -> Result<(), PasswordError> {
    let n = password.chars().count();
    if n < MIN_LEN {
        return Err(PasswordError::Policy(format!(
            "密码至少 {MIN_LEN} 个字符（现为 {n} 个）。"
        )));
    }
    if n > MAX_LEN {
        return Err(PasswordError::Policy(format!("密码不能超过 {MAX_LEN} 个字符。")));
    }
    let classes = [
        password.chars().any(|c| c.is_ascii_uppercase()),
        password.chars().any(|c| c.is_ascii_lowercase()),
        password.chars().any(|c| c.is_ascii_digit()),
        password.chars().any(|c| !c.is_ascii_alphanumeric()),
    ];
    if classes.iter().filter(|c| **c).count() < 3 {
        return Err(PasswordError::Policy(
            "密码须包含大写字母、小写字母、数字、符号中的至少三类。".into(),
        ));
    }
    if !username.is_empty() && password.to_lowercase().contains(&username.to_lowercase()) {
        return Err(PasswordError::Policy("密码不能包含用户名。".into()));
    }
    Ok(())
}

/// The PHC string of `password` (Argon2id, default parameters: 19 MiB, 2 passes).
pub fn hash(password: &str) -> Result<String, PasswordError> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| PasswordError::Hash(e.to_string()))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| PasswordError::Hash(e.to_string()))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| PasswordError::Hash(e.to_string()))
}

/// Whether `password` matches the stored PHC string; a malformed string never matches.
pub fn verify(password: &str, phc: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(parsed) => Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok(),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_verifies_only_the_same_password() {
        let h = hash("Yanglao-2026!").expect("hash");
        assert!(h.starts_with("$argon2id$"), "memory-hard Argon2id: {h}");
        assert!(verify("Yanglao-2026!", &h));
        assert!(!verify("Yanglao-2026?", &h));
        assert!(!verify("Yanglao-2026!", "not a hash"));
        // Salted: the same password hashes differently each time.
        assert_ne!(h, hash("Yanglao-2026!").expect("hash"));
    }

    #[test]
    fn policy_refuses_short_simple_and_username_passwords() {
        assert!(check_policy("Ab1!ab1!a", "x").is_err(), "9 characters");
        assert!(check_policy("abcdefghijk1", "x").is_err(), "two classes");
        assert!(
            check_policy("Zhangsan-2026", "zhangsan").is_err(),
            "contains the user name"
        );
        assert!(check_policy(&"Aa1!".repeat(40), "x").is_err(), "too long");
        assert!(check_policy("Abcdefghij1", "x").is_ok());
        assert!(check_policy("养老服务平台Ab1!", "x").is_ok());
    }
}
