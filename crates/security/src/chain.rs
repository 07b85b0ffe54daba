//! The audit log's hash chain: each entry's SM3 hash covers the previous entry's hash and every
//! field of the entry, so editing, inserting or deleting an entry breaks every hash after it.
//! Fields are length-prefixed so that moving text from one field to the next changes the hash.

use sm3::{Digest, Sm3};

/// The `prev_hash` of the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// SM3(prev ‖ seq ‖ each field), lowercase hex.
pub fn entry_hash(prev: &str, seq: i64, fields: &[&str]) -> String {
    let mut h = Sm3::new();
    h.update(prev.as_bytes());
    h.update(seq.to_be_bytes());
    for f in fields {
        h.update((f.len() as u64).to_be_bytes());
        h.update(f.as_bytes());
    }
    hex::encode(h.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sm3_matches_the_standard_test_vector() {
        // GB/T 32905-2016 附录A 示例1: SM3("abc").
        assert_eq!(
            hex::encode(Sm3::digest(b"abc")),
            "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
        );
    }

    #[test]
    fn every_field_and_the_link_count() {
        let base = entry_hash(GENESIS, 1, &["a", "b"]);
        assert_ne!(base, entry_hash(GENESIS, 2, &["a", "b"]));
        assert_ne!(base, entry_hash(GENESIS, 1, &["ab", ""]));
        assert_ne!(base, entry_hash(&base, 1, &["a", "b"]));
        assert_eq!(base, entry_hash(GENESIS, 1, &["a", "b"]));
    }
}
