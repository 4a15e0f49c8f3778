use ring::hmac;

use crate::Keyring;

impl Keyring {
    /// The blind index of `value`: HMAC-SHA256 under the active index key, 32 bytes.
    /// Equal values give equal indexes, so a store keeps this beside the sealed value and
    /// looks records up by it; without the key it reveals nothing about the value.
    ///
    /// Normalize before indexing (the canonical form of a citizen id, upper-case `X`),
    /// and prefix the field when indexing more than one kind of value
    /// (`"citizen_id:..."`), so equal strings of different fields do not match.
    ///
    /// Rotating the index key changes every index: stored indexes must be recomputed (a
    /// re-index, which opens each value and stores its new index). Until that is done,
    /// look up by all of [`Keyring::blind_indexes`].
    pub fn blind_index(&self, value: &str) -> Vec<u8> {
        // A keyring cannot be built without an index key.
        let key = self.index.last().expect("a keyring holds at least one index key");
        hmac::sign(&key.key, value.as_bytes()).as_ref().to_vec()
    }

    /// The index of `value` under every index key, active key first: during a re-index a
    /// lookup matches rows indexed under either the new or an old key.
    pub fn blind_indexes(&self, value: &str) -> Vec<Vec<u8>> {
        self.index
            .iter()
            .rev()
            .map(|key| hmac::sign(&key.key, value.as_bytes()).as_ref().to_vec())
            .collect()
    }
}
