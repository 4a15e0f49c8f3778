//! Bearer tokens: EdDSA (Ed25519) JWTs, verified against public keys chosen by the `kid`
//! header so that keys can rotate.

use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::path::Path;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::Deserialize;

use crate::caller::unix_now;
use crate::keys::{self, PUBLIC_KEY_SUFFIX, SigningKeyFiles, check_kid};
use crate::token_cache::TokenCache;
use crate::{ALL_SCOPE, AuthError, Caller, Claims, Role};

/// The longest clock skew a verifier tolerates, whatever the setting says.
pub const MAX_LEEWAY: Duration = Duration::from_secs(300);

/// The `iss` an [`Issuer`] writes unless told otherwise.
pub const DEFAULT_ISSUER: &str = "idcard";

/// Verifies bearer tokens against the configured public keys, by key id.
///
/// Rotation: configure the new public key next to the old one, move issuers to the new
/// key, and remove the old one once its last token has expired. The keys are read when
/// the verifier is built (at service start); removing one takes a restart.
///
/// A token that verified is remembered (by its SHA-256, a bounded number of them) until
/// its `exp` passes, so a front end calling again with the same token skips the
/// signature check; a token that fails is never remembered. Adding a key or setting the
/// issuer starts the memory afresh, and a clone starts with an empty one.
pub struct Verifier {
    keys: BTreeMap<String, DecodingKey>,
    validation: Validation,
    cache: TokenCache,
}

impl Clone for Verifier {
    fn clone(&self) -> Self {
        Verifier {
            keys: self.keys.clone(),
            validation: self.validation.clone(),
            cache: TokenCache::default(),
        }
    }
}

impl Verifier {
    /// A verifier with no keys yet (every token fails with an unknown key id), tolerating
    /// `leeway` of clock skew on `exp` (at most [`MAX_LEEWAY`]).
    pub fn new(leeway: Duration) -> Self {
        keys::install_jwt_provider();
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.leeway = leeway.min(MAX_LEEWAY).as_secs();
        validation.set_required_spec_claims(&["exp", "sub", "iss"]);
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.validate_aud = false;
        Verifier {
            keys: BTreeMap::new(),
            validation,
            cache: TokenCache::default(),
        }
    }

    /// Keys from a setting `kid=PATH,...` of PEM Ed25519 public keys.
    pub fn from_setting(setting: &'static str, text: &str, leeway: Duration) -> Result<Self, AuthError> {
        let mut verifier = Verifier::new(leeway);
        verifier.add_setting(setting, text)?;
        Ok(verifier)
    }

    /// Keys from every `<kid>.pub.pem` file in `dir`.
    pub fn from_dir(dir: &Path, leeway: Duration) -> Result<Self, AuthError> {
        let mut verifier = Verifier::new(leeway);
        verifier.add_dir(dir)?;
        Ok(verifier)
    }

    /// Accept only tokens whose `iss` is `issuer`.
    pub fn with_issuer(mut self, issuer: impl Into<String>) -> Self {
        self.validation.set_issuer(&[issuer.into()]);
        self.cache = TokenCache::default();
        self
    }

    /// Adds public key `kid` from a PEM `PUBLIC KEY` (Ed25519).
    pub fn add_public_key_pem(&mut self, kid: &str, pem: &[u8]) -> Result<(), AuthError> {
        check_kid(kid)?;
        let raw = keys::ed25519_public_key_from_pem(&format!("token key {kid}"), pem)?;
        if self.keys.contains_key(kid) {
            return Err(AuthError::bad_key(
                format!("token key {kid}"),
                "key id configured twice",
            ));
        }
        self.keys.insert(kid.to_string(), DecodingKey::from_ed_der(&raw));
        self.cache = TokenCache::default();
        Ok(())
    }

    pub fn add_public_key_file(&mut self, kid: &str, path: &Path) -> Result<(), AuthError> {
        let pem = keys::read(path)?;
        self.add_public_key_pem(kid, &pem).map_err(|err| {
            if let AuthError::BadKey { reason, .. } = err {
                AuthError::bad_key(path.display().to_string(), reason)
            } else {
                err
            }
        })
    }

    /// Adds every `<kid>.pub.pem` in `dir`; other files are ignored. Returns how many.
    pub fn add_dir(&mut self, dir: &Path) -> Result<usize, AuthError> {
        let entries = fs::read_dir(dir).map_err(|err| AuthError::io(dir, err))?;
        let mut added = 0;
        for entry in entries {
            let path = entry.map_err(|err| AuthError::io(dir, err))?.path();
            let Some(kid) = path
                .file_name()
                .and_then(|name| name.to_str())
                .and_then(|name| name.strip_suffix(PUBLIC_KEY_SUFFIX))
            else {
                continue;
            };
            let kid = kid.to_string();
            self.add_public_key_file(&kid, &path)?;
            added += 1;
        }
        Ok(added)
    }

    /// Adds the keys of a setting `kid=PATH,...`. Returns how many.
    pub fn add_setting(&mut self, setting: &'static str, text: &str) -> Result<usize, AuthError> {
        let mut added = 0;
        for entry in text.split(',').map(str::trim).filter(|entry| !entry.is_empty()) {
            let Some((kid, path)) = entry
                .split_once('=')
                .map(|(k, p)| (k.trim(), p.trim()))
                .filter(|(k, p)| !k.is_empty() && !p.is_empty())
            else {
                return Err(AuthError::BadSetting {
                    setting,
                    reason: format!("expected kid=PATH, got {entry:?}"),
                });
            };
            self.add_public_key_file(kid, Path::new(path))?;
            added += 1;
        }
        Ok(added)
    }

    pub fn key_ids(&self) -> impl Iterator<Item = &str> {
        self.keys.keys().map(String::as_str)
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The caller a token stands for, or why it does not verify. Checked in this order:
    /// shape, algorithm (EdDSA only), key id, signature, then the claims (`exp` with the
    /// leeway, `iss` when configured, the scope's shape). A token that verified before
    /// answers from memory while its `exp` (with the leeway) has not passed.
    pub fn verify(&self, token: &str) -> Result<Caller, AuthError> {
        let key = TokenCache::digest(token);
        let leeway = self.validation.leeway;
        if let Some(caller) = self.cache.get(&key, unix_now(), leeway) {
            return Ok(caller);
        }
        let caller = self.verify_uncached(token)?;
        // Read after the checks, so that a later hit is never before the time they ran.
        self.cache.insert(key, &caller, unix_now(), leeway);
        Ok(caller)
    }

    fn verify_uncached(&self, token: &str) -> Result<Caller, AuthError> {
        let header = peek_header(token)?;
        if header.alg != "EdDSA" {
            return Err(AuthError::WrongAlgorithm(header.alg));
        }
        let kid = header.kid.ok_or(AuthError::MissingKeyId)?;
        let key = self.keys.get(&kid).ok_or(AuthError::UnknownKeyId(kid))?;
        let data = jsonwebtoken::decode::<Claims>(token, key, &self.validation).map_err(classify)?;
        let claims = data.claims;
        if claims.iat > unix_now().saturating_add(self.validation.leeway) {
            return Err(AuthError::NotYetValid);
        }
        check_scope(&claims)?;
        Ok(Caller::from_claims(claims))
    }
}

impl fmt::Debug for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Verifier")
            .field("key_ids", &self.keys.keys().collect::<Vec<_>>())
            .field("leeway_secs", &self.validation.leeway)
            .field("issuer", &self.validation.iss)
            .finish()
    }
}

#[derive(Deserialize)]
struct PeekedHeader {
    alg: String,
    kid: Option<String>,
}

/// The header, read before choosing a key so that the algorithm and the key id each get
/// their own answer (`jsonwebtoken` would call an unknown `alg` such as `none` malformed).
fn peek_header(token: &str) -> Result<PeekedHeader, AuthError> {
    let malformed = |why: &str| AuthError::MalformedToken(why.to_string());
    if token.split('.').count() != 3 {
        return Err(malformed("expected three dot-separated parts"));
    }
    let encoded = token.split('.').next().unwrap_or_default();
    let json = URL_SAFE_NO_PAD
        .decode(encoded)
        .map_err(|_| malformed("header is not base64url"))?;
    serde_json::from_slice(&json).map_err(|_| malformed("header is not a JSON object with alg"))
}

fn classify(error: jsonwebtoken::errors::Error) -> AuthError {
    match error.kind() {
        ErrorKind::InvalidSignature => AuthError::BadSignature,
        ErrorKind::ExpiredSignature => AuthError::Expired,
        ErrorKind::ImmatureSignature => AuthError::NotYetValid,
        ErrorKind::InvalidIssuer => AuthError::WrongIssuer,
        ErrorKind::InvalidAlgorithm => AuthError::WrongAlgorithm("not EdDSA".to_string()),
        ErrorKind::MissingRequiredClaim(claim) => AuthError::InvalidClaims(format!("missing {claim}")),
        ErrorKind::InvalidClaimFormat(claim) => AuthError::InvalidClaims(format!("{claim} has the wrong type")),
        // Claims that do not fit `Claims` (an unknown role, a missing scope type...). The
        // serde message could quote a citizen ID, so it is not passed on.
        ErrorKind::Json(_) => {
            AuthError::InvalidClaims("expected sub, role, scope, exp, iat and iss of the idcard claim set".to_string())
        }
        ErrorKind::InvalidToken | ErrorKind::Base64(_) | ErrorKind::Utf8(_) => {
            AuthError::MalformedToken("not a compact JWS".to_string())
        }
        other => AuthError::MalformedToken(format!("{other:?}")),
    }
}

fn check_scope(claims: &Claims) -> Result<(), AuthError> {
    if claims.scope.iter().any(|entry| entry.trim().is_empty()) {
        return Err(AuthError::InvalidClaims("scope has an empty entry".to_string()));
    }
    if claims.role == Role::Citizen && (claims.scope.len() != 1 || claims.scope[0] == ALL_SCOPE) {
        return Err(AuthError::InvalidClaims(
            "a citizen token carries exactly one citizen id as its scope".to_string(),
        ));
    }
    Ok(())
}

/// Signs bearer tokens with one Ed25519 private key, for `idctl token issue`, demos and
/// tests. Production tokens come from the identity provider, not from here.
#[derive(Clone)]
pub struct Issuer {
    kid: String,
    key: EncodingKey,
    iss: String,
}

impl Issuer {
    /// An issuer for key `kid` from a PKCS#8 PEM `PRIVATE KEY` (Ed25519).
    pub fn from_pem(kid: &str, private_key_pem: &[u8]) -> Result<Self, AuthError> {
        keys::install_jwt_provider();
        check_kid(kid)?;
        let der = keys::ed25519_private_key_from_pem(&format!("token key {kid}"), private_key_pem)?;
        Ok(Issuer {
            kid: kid.to_string(),
            key: EncodingKey::from_ed_der(&der),
            iss: DEFAULT_ISSUER.to_string(),
        })
    }

    pub fn from_file(kid: &str, private_key: &Path) -> Result<Self, AuthError> {
        Issuer::from_pem(kid, &keys::read(private_key)?)
    }

    /// The issuer of a key made by [`crate::generate_signing_key`].
    pub fn from_key_files(files: &SigningKeyFiles) -> Result<Self, AuthError> {
        Issuer::from_file(&files.kid, &files.private_key)
    }

    /// Write `iss` instead of [`DEFAULT_ISSUER`].
    pub fn with_issuer(mut self, iss: impl Into<String>) -> Self {
        self.iss = iss.into();
        self
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// A token for `sub` with `role` and `scope`, valid for `ttl` from now.
    pub fn issue(&self, sub: &str, role: Role, scope: Vec<String>, ttl: Duration) -> Result<String, AuthError> {
        self.sign(&Claims::new(sub, role, scope, ttl, self.iss.clone()))
    }

    /// A token carrying exactly `claims` (tests use it for expired tokens).
    pub fn sign(&self, claims: &Claims) -> Result<String, AuthError> {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.key).map_err(|err| AuthError::Signing(err.to_string()))
    }
}

impl fmt::Debug for Issuer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Issuer")
            .field("kid", &self.kid)
            .field("iss", &self.iss)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::generate_signing_key;

    const LEEWAY: Duration = Duration::from_secs(30);

    struct Keys {
        _dir: tempfile::TempDir,
        k1: Issuer,
        k2: Issuer,
        verifier: Verifier,
    }

    /// Two keys, k1 and k2, both configured (a rotation in progress).
    fn keys() -> Keys {
        let dir = tempfile::tempdir().unwrap();
        let f1 = generate_signing_key(dir.path(), "k1").unwrap();
        let f2 = generate_signing_key(dir.path(), "k2").unwrap();
        let verifier = Verifier::from_dir(dir.path(), LEEWAY).unwrap();
        Keys {
            k1: Issuer::from_key_files(&f1).unwrap(),
            k2: Issuer::from_key_files(&f2).unwrap(),
            verifier,
            _dir: dir,
        }
    }

    fn scope(entries: &[&str]) -> Vec<String> {
        entries.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn tokens_of_every_configured_key_verify() {
        let keys = keys();
        assert_eq!(keys.verifier.key_ids().collect::<Vec<_>>(), ["k1", "k2"]);
        for issuer in [&keys.k1, &keys.k2] {
            let token = issuer
                .issue("clerk-7", Role::Clerk, scope(&["4401060001"]), Duration::from_secs(60))
                .unwrap();
            let caller = keys.verifier.verify(&token).unwrap();
            assert_eq!(caller.subject(), "clerk-7");
            assert_eq!(caller.role(), Role::Clerk);
            assert_eq!(caller.scope(), ["4401060001"]);
        }
    }

    #[test]
    fn expired_token_is_refused_beyond_the_leeway_only() {
        let keys = keys();
        let now = unix_now();
        let mut claims = Claims::new("r1", Role::Reviewer, scope(&["44"]), Duration::ZERO, "idcard");
        claims.iat = now - 3600;
        claims.exp = now - 10;
        assert!(
            keys.verifier.verify(&keys.k1.sign(&claims).unwrap()).is_ok(),
            "within leeway"
        );
        claims.exp = now - 120;
        assert!(matches!(
            keys.verifier.verify(&keys.k1.sign(&claims).unwrap()),
            Err(AuthError::Expired)
        ));
    }

    #[test]
    fn token_of_an_unconfigured_key_is_an_unknown_key_id() {
        let keys = keys();
        let other_dir = tempfile::tempdir().unwrap();
        let other = Issuer::from_key_files(&generate_signing_key(other_dir.path(), "k3").unwrap()).unwrap();
        let token = other
            .issue("a", Role::Auditor, vec![], Duration::from_secs(60))
            .unwrap();
        assert!(matches!(keys.verifier.verify(&token), Err(AuthError::UnknownKeyId(kid)) if kid == "k3"));
    }

    #[test]
    fn token_signed_by_another_key_under_a_known_kid_has_a_bad_signature() {
        let keys = keys();
        let other_dir = tempfile::tempdir().unwrap();
        let impostor = Issuer::from_key_files(&generate_signing_key(other_dir.path(), "k1").unwrap()).unwrap();
        let token = impostor
            .issue("a", Role::Auditor, vec![], Duration::from_secs(60))
            .unwrap();
        assert!(matches!(keys.verifier.verify(&token), Err(AuthError::BadSignature)));
    }

    #[test]
    fn tampered_claims_break_the_signature() {
        let keys = keys();
        let token = keys
            .k1
            .issue("c", Role::Clerk, scope(&["p1"]), Duration::from_secs(60))
            .unwrap();
        let parts: Vec<&str> = token.split('.').collect();
        let forged_claims = Claims::new("c", Role::Auditor, vec![], Duration::from_secs(60), "idcard");
        let forged_payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&forged_claims).unwrap());
        let forged = format!("{}.{}.{}", parts[0], forged_payload, parts[2]);
        assert!(matches!(keys.verifier.verify(&forged), Err(AuthError::BadSignature)));
    }

    #[test]
    fn other_algorithms_are_refused_before_any_key_is_used() {
        let keys = keys();
        let body = URL_SAFE_NO_PAD
            .encode(br#"{"sub":"x","role":"auditor","scope":[],"exp":9999999999,"iat":0,"iss":"idcard"}"#);
        for alg in ["HS256", "RS256", "none"] {
            let header = URL_SAFE_NO_PAD.encode(format!(r#"{{"alg":"{alg}","typ":"JWT","kid":"k1"}}"#));
            let token = format!("{header}.{body}.c2ln");
            assert!(
                matches!(keys.verifier.verify(&token), Err(AuthError::WrongAlgorithm(a)) if a == alg),
                "{alg}"
            );
        }
    }

    #[test]
    fn garbage_and_kidless_tokens_are_told_apart() {
        let keys = keys();
        assert!(matches!(
            keys.verifier.verify("not-a-jwt"),
            Err(AuthError::MalformedToken(_))
        ));
        assert!(matches!(
            keys.verifier.verify("a.b.c"),
            Err(AuthError::MalformedToken(_))
        ));
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"EdDSA"}"#);
        assert!(matches!(
            keys.verifier.verify(&format!("{header}.e30.c2ln")),
            Err(AuthError::MissingKeyId)
        ));
    }

    #[test]
    fn issuer_is_checked_when_configured() {
        let keys = keys();
        let verifier = keys.verifier.clone().with_issuer("https://idp.example");
        let token = keys
            .k1
            .issue("a", Role::Auditor, vec![], Duration::from_secs(60))
            .unwrap();
        assert!(matches!(verifier.verify(&token), Err(AuthError::WrongIssuer)));
        let token = keys
            .k1
            .clone()
            .with_issuer("https://idp.example")
            .issue("a", Role::Auditor, vec![], Duration::from_secs(60))
            .unwrap();
        assert!(verifier.verify(&token).is_ok());
    }

    #[test]
    fn unknown_roles_and_citizen_tokens_without_exactly_one_id_are_refused() {
        let keys = keys();
        let token = keys
            .k1
            .issue("c", Role::Citizen, scope(&["*"]), Duration::from_secs(60))
            .unwrap();
        assert!(matches!(keys.verifier.verify(&token), Err(AuthError::InvalidClaims(_))));
        let token = keys
            .k1
            .issue(
                "c",
                Role::Citizen,
                scope(&["11010519491231002X", "x"]),
                Duration::from_secs(60),
            )
            .unwrap();
        assert!(matches!(keys.verifier.verify(&token), Err(AuthError::InvalidClaims(_))));
        let token = keys
            .k1
            .issue(
                "c",
                Role::Citizen,
                scope(&["11010519491231002X"]),
                Duration::from_secs(60),
            )
            .unwrap();
        assert!(keys.verifier.verify(&token).unwrap().is_citizen("11010519491231002X"));
    }

    #[test]
    fn a_remembered_token_answers_the_same_caller() {
        let keys = keys();
        let token = keys
            .k1
            .issue("bank-1", Role::Verifier, vec![], Duration::from_secs(60))
            .unwrap();
        let first = keys.verifier.verify(&token).unwrap();
        assert_eq!(keys.verifier.cache.len(), 1);
        assert_eq!(keys.verifier.verify(&token).unwrap(), first);
        assert_eq!(keys.verifier.cache.len(), 1);
    }

    #[test]
    fn a_remembered_token_is_refused_once_it_expires() {
        let dir = tempfile::tempdir().unwrap();
        let issuer = Issuer::from_key_files(&generate_signing_key(dir.path(), "k1").unwrap()).unwrap();
        let verifier = Verifier::from_dir(dir.path(), Duration::ZERO).unwrap();
        let token = issuer
            .issue("bank-1", Role::Verifier, vec![], Duration::from_secs(2))
            .unwrap();
        let exp = verifier.verify(&token).unwrap().claims().exp;
        assert!(verifier.verify(&token).is_ok(), "from memory");
        assert_eq!(verifier.cache.len(), 1);
        while unix_now() <= exp {
            std::thread::sleep(Duration::from_millis(100));
        }
        assert!(matches!(verifier.verify(&token), Err(AuthError::Expired)));
        assert!(matches!(verifier.verify(&token), Err(AuthError::Expired)));
        assert_eq!(verifier.cache.len(), 0);
    }

    #[test]
    fn a_token_that_fails_is_refused_every_time_and_never_remembered() {
        let keys = keys();
        let other_dir = tempfile::tempdir().unwrap();
        let impostor = Issuer::from_key_files(&generate_signing_key(other_dir.path(), "k1").unwrap()).unwrap();
        let forged = impostor
            .issue("a", Role::Verifier, vec![], Duration::from_secs(60))
            .unwrap();
        let mut claims = Claims::new("b", Role::Verifier, vec![], Duration::ZERO, "idcard");
        claims.exp = unix_now() - 3600;
        let expired = keys.k1.sign(&claims).unwrap();
        for _ in 0..3 {
            assert!(matches!(keys.verifier.verify(&forged), Err(AuthError::BadSignature)));
            assert!(matches!(keys.verifier.verify(&expired), Err(AuthError::Expired)));
        }
        assert_eq!(keys.verifier.cache.len(), 0);
    }

    #[test]
    fn a_changed_configuration_does_not_use_what_the_old_one_verified() {
        let keys = keys();
        let token = keys
            .k1
            .issue("a", Role::Auditor, vec![], Duration::from_secs(60))
            .unwrap();
        assert!(keys.verifier.verify(&token).is_ok());
        let strict = keys.verifier.clone().with_issuer("https://idp.example");
        assert!(matches!(strict.verify(&token), Err(AuthError::WrongIssuer)));
        let mut verifier = keys.verifier;
        assert!(verifier.verify(&token).is_ok());
        let extra = tempfile::tempdir().unwrap();
        let files = generate_signing_key(extra.path(), "k9").unwrap();
        verifier.add_public_key_file("k9", &files.public_key).unwrap();
        assert_eq!(verifier.cache.len(), 0);
        let verifier = verifier.with_issuer("https://idp.example");
        assert!(matches!(verifier.verify(&token), Err(AuthError::WrongIssuer)));
    }

    #[test]
    fn setting_lists_keys_by_id_and_rejects_garbage() {
        let dir = tempfile::tempdir().unwrap();
        let f1 = generate_signing_key(dir.path(), "a").unwrap();
        let f2 = generate_signing_key(dir.path(), "b").unwrap();
        let text = format!("old={}, new={}", f1.public_key.display(), f2.public_key.display());
        let verifier = Verifier::from_setting("IDCARD_AUTH_PUBLIC_KEYS", &text, LEEWAY).unwrap();
        assert_eq!(verifier.key_ids().collect::<Vec<_>>(), ["new", "old"]);
        let err = Verifier::from_setting("IDCARD_AUTH_PUBLIC_KEYS", "nokid", LEEWAY).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("IDCARD_AUTH_PUBLIC_KEYS: expected kid=PATH"),
            "{err}"
        );
        let private_as_public = format!("a={}", f1.private_key.display());
        assert!(matches!(
            Verifier::from_setting("IDCARD_AUTH_PUBLIC_KEYS", &private_as_public, LEEWAY),
            Err(AuthError::BadKey { .. })
        ));
    }
}
