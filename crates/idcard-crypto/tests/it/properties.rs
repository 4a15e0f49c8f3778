use idcard_crypto::Purpose;
use proptest::prelude::*;

use crate::keyring;

proptest! {
    #[test]
    fn open_of_seal_gives_back_the_plaintext(
        plaintext in proptest::collection::vec(any::<u8>(), 0..2048),
        aad in proptest::collection::vec(any::<u8>(), 0..128),
        biometric in any::<bool>(),
    ) {
        let keyring = keyring();
        let purpose = if biometric { Purpose::Biometric } else { Purpose::Data };

        let sealed = keyring.seal(purpose, &plaintext, &aad).unwrap();

        prop_assert_eq!(keyring.open(purpose, &sealed, &aad).unwrap(), plaintext);
    }

    #[test]
    fn strings_survive_seal_and_open(text in ".{0,200}") {
        let keyring = keyring();

        let sealed = keyring.seal_str(Purpose::Data, &text, b"t.c:1").unwrap();

        prop_assert_eq!(keyring.open_string(Purpose::Data, &sealed, b"t.c:1").unwrap(), text);
    }
}
