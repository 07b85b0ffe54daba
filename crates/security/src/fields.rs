//! Sensitive fields at rest: SM4 (GB/T 32907) in GCM mode, a fresh 96-bit nonce per value, the
//! row and field bound in as associated data so a ciphertext cannot be moved to another person.
//! The key never lives in the database: it comes from `YANGLAO_FIELD_KEY` (32 hex digits) or the
//! file named by `YANGLAO_FIELD_KEY_FILE`.

use aes_gcm::aead::consts::U12;
use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{AesGcm, Nonce};
use sm4::Sm4;

type Sm4Gcm = AesGcm<Sm4, U12>;

const PREFIX: &str = "sm4gcm1:";

#[derive(Debug, thiserror::Error)]
pub enum FieldError {
    #[error("field key: {0}")]
    Key(String),
    #[error("encrypted value is malformed")]
    Malformed,
    #[error("encrypted value does not decrypt with this key (wrong key or altered value)")]
    Decrypt,
    #[error("random: {0}")]
    Random(String),
}

#[derive(Clone)]
pub struct FieldKey {
    cipher: Sm4Gcm,
}

impl std::fmt::Debug for FieldKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FieldKey(…)")
    }
}

impl FieldKey {
    /// A key from 32 hex digits (128 bits).
    pub fn from_hex(text: &str) -> Result<FieldKey, FieldError> {
        let bytes = hex::decode(text.trim()).map_err(|_| FieldError::Key("not hexadecimal".into()))?;
        if bytes.len() != 16 {
            return Err(FieldError::Key(format!(
                "SM4 keys are 128 bits (32 hex digits), got {} digits",
                text.trim().len()
            )));
        }
        let cipher = Sm4Gcm::new_from_slice(&bytes).map_err(|e| FieldError::Key(e.to_string()))?;
        Ok(FieldKey { cipher })
    }

    /// A new random key, as hex, for `yanglao key generate`.
    pub fn generate_hex() -> Result<String, FieldError> {
        crate::random_hex(16).map_err(|e| FieldError::Random(e.to_string()))
    }

    /// The key from the environment, if one is configured.
    pub fn from_env() -> Result<Option<FieldKey>, FieldError> {
        if let Ok(k) = std::env::var("YANGLAO_FIELD_KEY") {
            return FieldKey::from_hex(&k).map(Some);
        }
        if let Ok(path) = std::env::var("YANGLAO_FIELD_KEY_FILE") {
            let text = std::fs::read_to_string(&path).map_err(|e| FieldError::Key(format!("{path}: {e}")))?;
            return FieldKey::from_hex(&text).map(Some);
        }
        Ok(None)
    }

    pub fn encrypt(&self, plaintext: &str, context: &str) -> Result<String, FieldError> {
        let mut nonce = [0u8; 12];
        getrandom::fill(&mut nonce).map_err(|e| FieldError::Random(e.to_string()))?;
        let ct = self
            .cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plaintext.as_bytes(),
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| FieldError::Decrypt)?;
        let mut out = Vec::with_capacity(12 + ct.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ct);
        Ok(format!("{PREFIX}{}", hex::encode(out)))
    }

    pub fn decrypt(&self, stored: &str, context: &str) -> Result<String, FieldError> {
        let bytes = stored
            .strip_prefix(PREFIX)
            .and_then(|h| hex::decode(h).ok())
            .filter(|b| b.len() > 12)
            .ok_or(FieldError::Malformed)?;
        let (nonce, ct) = bytes.split_at(12);
        let pt = self
            .cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: ct,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| FieldError::Decrypt)?;
        String::from_utf8(pt).map_err(|_| FieldError::Malformed)
    }
}

/// A phone number as shown by default: the first three and last four digits.
pub fn mask_phone(phone: &str) -> String {
    let chars: Vec<char> = phone.chars().collect();
    if chars.len() <= 7 {
        return "*".repeat(chars.len());
    }
    let head: String = chars[..3].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}{}{tail}", "*".repeat(chars.len() - 7))
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "0123456789abcdeffedcba9876543210";

    #[test]
    fn sm4_block_matches_the_standard_example() {
        // GB/T 32907-2016 附录A 示例1: key = plaintext = 0123456789abcdeffedcba9876543210.
        use sm4::cipher::{BlockEncrypt, KeyInit as _};
        let key = hex::decode(KEY).expect("hex");
        let c = Sm4::new_from_slice(&key).expect("key");
        let mut block = sm4::cipher::generic_array::GenericArray::clone_from_slice(&key);
        c.encrypt_block(&mut block);
        assert_eq!(hex::encode(block), "681edf34d206965e86b3e94f536e4246");
    }

    #[test]
    fn round_trip_and_tamper_detection() {
        let k = FieldKey::from_hex(KEY).expect("key");
        let a = k.encrypt("13912345678", "person:7:phone").expect("enc");
        let b = k.encrypt("13912345678", "person:7:phone").expect("enc");
        assert_ne!(a, b, "fresh nonce per value");
        assert!(!a.contains("13912345678"));
        assert_eq!(k.decrypt(&a, "person:7:phone").expect("dec"), "13912345678");
        // Moved to another person: refused.
        assert!(matches!(k.decrypt(&a, "person:8:phone"), Err(FieldError::Decrypt)));
        // One hex digit changed: refused.
        let mut t = a.clone().into_bytes();
        let last = t.len() - 1;
        t[last] = if t[last] == b'0' { b'1' } else { b'0' };
        let t = String::from_utf8(t).expect("ascii");
        assert!(matches!(k.decrypt(&t, "person:7:phone"), Err(FieldError::Decrypt)));
        // Another key: refused.
        let other = FieldKey::from_hex("00000000000000000000000000000001").expect("key");
        assert!(other.decrypt(&a, "person:7:phone").is_err());
        assert!(FieldKey::from_hex("abcd").is_err());
    }

    #[test]
    fn phones_are_masked() {
        assert_eq!(mask_phone("13912345678"), "139****5678");
        assert_eq!(mask_phone("123"), "***");
    }
}
