//! The entry hash. Anyone re-implementing `verify` needs exactly this:
//!
//! ```text
//! hash = SHA-256( f(prev_hash) || f(position) || f(entry_id) || f(at_ms)
//!                 || f(actor) || f(role) || f(action) || f(target) || f(detail) )
//! f(x) = length of x as 8-byte big-endian || x
//! ```
//!
//! where `prev_hash` is the previous entry's hash (32 zero bytes for position 1),
//! `position` and `at_ms` are 8-byte big-endian signed integers, `entry_id` is the 16
//! bytes of the UUID and the texts are UTF-8. The length prefixes keep field boundaries
//! unambiguous (`"ab" + "c"` and `"a" + "bc"` hash differently).

use ring::digest::{Context, SHA256};
use uuid::Uuid;

/// The `prev_hash` of the first entry, and the head's hash before anything is sealed.
pub const GENESIS_HASH: [u8; 32] = [0; 32];

/// What an entry's hash covers besides the previous hash and its position.
pub(crate) struct Content {
    pub(crate) entry_id: Uuid,
    pub(crate) at_ms: i64,
    pub(crate) actor: String,
    pub(crate) role: String,
    pub(crate) action: String,
    pub(crate) target: String,
    pub(crate) detail: String,
}

pub(crate) fn entry_hash(prev_hash: &[u8], position: i64, content: &Content) -> [u8; 32] {
    let mut context = Context::new(&SHA256);
    let mut field = |bytes: &[u8]| {
        context.update(&(bytes.len() as u64).to_be_bytes());
        context.update(bytes);
    };
    field(prev_hash);
    field(&position.to_be_bytes());
    field(content.entry_id.as_bytes());
    field(&content.at_ms.to_be_bytes());
    field(content.actor.as_bytes());
    field(content.role.as_bytes());
    field(content.action.as_bytes());
    field(content.target.as_bytes());
    field(content.detail.as_bytes());
    let mut hash = [0u8; 32];
    hash.copy_from_slice(context.finish().as_ref());
    hash
}

#[cfg(test)]
mod tests {
    use super::*;

    fn content(actor: &str, role: &str) -> Content {
        Content {
            entry_id: Uuid::nil(),
            at_ms: 1,
            actor: actor.into(),
            role: role.into(),
            action: "a".into(),
            target: "t".into(),
            detail: "d".into(),
        }
    }

    #[test]
    fn field_boundaries_are_part_of_the_hash() {
        assert_ne!(
            entry_hash(&GENESIS_HASH, 1, &content("ab", "c")),
            entry_hash(&GENESIS_HASH, 1, &content("a", "bc"))
        );
    }

    #[test]
    fn position_and_previous_hash_are_part_of_the_hash() {
        let c = content("a", "b");
        assert_ne!(entry_hash(&GENESIS_HASH, 1, &c), entry_hash(&GENESIS_HASH, 2, &c));
        assert_ne!(entry_hash(&GENESIS_HASH, 1, &c), entry_hash(&[1; 32], 1, &c));
    }
}
