use super::*;
use serde_json::json;

const SECRET: &[u8] = b"secret";

fn b64(json: &Value) -> String {
    URL_SAFE_NO_PAD.encode(json.to_string())
}

/// A token with this header and these claims, signed with `secret` (HS256)
/// whatever the header says.
fn signed(secret: &[u8], header: &Value, claims: &Value) -> String {
    let signing_input = format!("{}.{}", b64(header), b64(claims));
    let signature = URL_SAFE_NO_PAD.encode(Key::new(secret).mac(&signing_input).finalize().into_bytes());
    format!("{signing_input}.{signature}")
}

fn hs256() -> Value {
    json!({"alg": "HS256", "typ": "JWT"})
}

fn message(result: Result<String, TokenError>) -> String {
    result.expect_err("the token should be rejected").to_string()
}

#[test]
fn issued_tokens_verify_until_they_expire() {
    let key = Key::new(SECRET);
    let now = now();
    let token = key.issue("alice", now, now + 300);
    assert_eq!(key.verify(&token, now).unwrap(), "alice");
    assert_eq!(key.verify_header(Some(&format!("Bearer {token}")), now).unwrap(), "alice");
    assert_eq!(key.verify(&token, now + 300 + LEEWAY_SECONDS).unwrap(), "alice", "within the leeway");
    assert_eq!(message(key.verify(&token, now + 301 + LEEWAY_SECONDS)), "token expired");
    let claims: Claims =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(token.split('.').nth(1).unwrap()).unwrap()).unwrap();
    assert_eq!(claims, Claims { sub: "alice".into(), exp: now + 300, iat: now });
}

#[test]
fn rejections_say_what_is_wrong() {
    let key = Key::new(SECRET);
    let now = now();
    let exp = now + 300;
    let claims = json!({"sub": "alice", "exp": exp});
    let none = format!("{}.{}.", b64(&json!({"alg": "none", "typ": "JWT"})), b64(&claims));
    assert_eq!(message(key.verify(&none, now)), "invalid token");
    let hs512 = signed(SECRET, &json!({"alg": "HS512"}), &claims);
    assert_eq!(message(key.verify(&hs512, now)), "invalid token", "another algorithm");
    let no_alg = signed(SECRET, &json!({"typ": "JWT"}), &claims);
    assert_eq!(message(key.verify(&no_alg, now)), "invalid token");
    assert_eq!(message(key.verify("not a token", now)), "invalid token");
    assert_eq!(message(key.verify("a.b.c.d", now)), "invalid token");
    let other = Key::new(b"other").issue("alice", now, exp);
    assert_eq!(message(key.verify(&other, now)), "token signature invalid");
    let tampered = format!(
        "{}.{}.{}",
        b64(&hs256()),
        b64(&json!({"sub": "mallory", "exp": exp})),
        other.rsplit('.').next().unwrap()
    );
    assert_eq!(message(key.verify(&tampered, now)), "token signature invalid");
    assert_eq!(message(key.verify(&signed(SECRET, &hs256(), &json!({"exp": exp})), now)), "token missing sub");
    assert_eq!(message(key.verify(&signed(SECRET, &hs256(), &json!({"sub": "alice"})), now)), "token missing exp");
    assert_eq!(message(key.verify(&signed(SECRET, &hs256(), &json!({"sub": 7, "exp": exp})), now)), "invalid token");
    assert_eq!(message(key.verify(&key.issue("a b", now, exp), now)), "token sub is not a valid user id");
    assert_eq!(message(key.verify(&key.issue("alice", now - 600, now - 300), now)), "token expired");
    assert_eq!(message(key.verify_header(None, now)), "missing bearer token");
    assert_eq!(message(key.verify_header(Some("Basic x"), now)), "missing bearer token");
    assert_eq!(message(key.verify_header(Some("Bearer "), now)), "missing bearer token");
}

#[test]
fn user_ids() {
    for ok in ["alice", "a.b_c@d+e-f", &"x".repeat(128)] {
        assert!(valid_user_id(ok), "{ok}");
    }
    for bad in ["", "a b", "ä", "a/b", &"x".repeat(129)] {
        assert!(!valid_user_id(bad), "{bad}");
    }
}

/// What the host answered with `jsonwebtoken` (its validation and its
/// mapping of the library's errors), the reference for compatibility.
mod reference {
    use jsonwebtoken::{errors::ErrorKind, Algorithm, DecodingKey, EncodingKey, Header, Validation};

    #[derive(serde::Deserialize)]
    struct Subject {
        #[serde(default)]
        sub: Option<String>,
    }

    pub fn verify(secret: &[u8], token: &str) -> Result<String, String> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_required_spec_claims(&["exp", "sub"]);
        validation.leeway = 5;
        let data =
            jsonwebtoken::decode::<Subject>(token, &DecodingKey::from_secret(secret), &validation).map_err(|e| {
                match e.kind() {
                    ErrorKind::ExpiredSignature => "token expired",
                    ErrorKind::ImmatureSignature => "token not yet valid",
                    ErrorKind::InvalidSignature => "token signature invalid",
                    ErrorKind::MissingRequiredClaim(claim) if claim == "sub" => "token missing sub",
                    ErrorKind::MissingRequiredClaim(claim) if claim == "exp" => "token missing exp",
                    _ => "invalid token",
                }
                .to_owned()
            })?;
        let sub = data.claims.sub.ok_or("token missing sub")?;
        if !super::valid_user_id(&sub) {
            return Err("token sub is not a valid user id".into());
        }
        Ok(sub)
    }

    pub fn issue(secret: &[u8], claims: &serde_json::Value) -> String {
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &EncodingKey::from_secret(secret)).unwrap()
    }
}

#[test]
fn tokens_of_the_jwt_library_verify_and_ours_verify_with_it() {
    let key = Key::new(SECRET);
    let now = now();
    let theirs = reference::issue(SECRET, &json!({"sub": "bob", "exp": now + 60, "iat": now}));
    assert_eq!(key.verify(&theirs, now).unwrap(), "bob");
    let default_header = jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &json!({"sub": "bob", "exp": now + 60}),
        &jsonwebtoken::EncodingKey::from_secret(SECRET),
    )
    .unwrap();
    assert_eq!(key.verify(&default_header, now).unwrap(), "bob");
    assert_eq!(reference::verify(SECRET, &key.issue("carol", now, now + 60)).unwrap(), "carol");
}

/// Every kind of bad token gets the same answer from both.
#[test]
fn rejects_as_the_jwt_library_did() {
    let now = now();
    let exp = now + 300;
    let claims = |extra: Value| {
        let mut c = json!({"sub": "alice", "exp": exp});
        c.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        c
    };
    let cases = [
        format!("{}.{}.", b64(&json!({"alg": "none"})), b64(&claims(json!({})))),
        signed(SECRET, &json!({"alg": "HS384"}), &claims(json!({}))),
        signed(SECRET, &json!({"alg": "RS256"}), &claims(json!({}))),
        signed(SECRET, &json!({"typ": "JWT"}), &claims(json!({}))),
        signed(b"other", &hs256(), &claims(json!({}))),
        format!("{}.!!", signed(SECRET, &hs256(), &claims(json!({}))).rsplit_once('.').unwrap().0),
        signed(SECRET, &hs256(), &json!({"exp": exp})),
        signed(SECRET, &hs256(), &json!({"sub": "alice"})),
        signed(SECRET, &hs256(), &claims(json!({"sub": 7}))),
        signed(SECRET, &hs256(), &claims(json!({"sub": "a b"}))),
        signed(SECRET, &hs256(), &claims(json!({"sub": ""}))),
        signed(SECRET, &hs256(), &claims(json!({"exp": now - 60}))),
        signed(SECRET, &hs256(), &claims(json!({"exp": now - 3}))),
        signed(SECRET, &hs256(), &claims(json!({"exp": "soon"}))),
        signed(SECRET, &hs256(), &claims(json!({"exp": 1.5e12}))),
        signed(SECRET, &hs256(), &claims(json!({"nbf": now + 3600}))),
        signed(SECRET, &hs256(), &claims(json!({"aud": "someone"}))),
        signed(SECRET, &hs256(), &json!(["not", "an", "object"])),
        format!("{}.{}.sig", b64(&hs256()), URL_SAFE_NO_PAD.encode("not json")),
        "only.two".to_owned(),
        "a.b.c.d".to_owned(),
        String::new(),
    ];
    let key = Key::new(SECRET);
    let differing: Vec<String> = cases
        .iter()
        .filter_map(|token| {
            let (ours, theirs) = (key.verify(token, now).map_err(|e| e.to_string()), reference::verify(SECRET, token));
            (ours != theirs).then(|| format!("{token}: ours {ours:?}, theirs {theirs:?}"))
        })
        .collect();
    assert!(differing.is_empty(), "{differing:#?}");
    // Missing both, jsonwebtoken named whichever its HashSet of required
    // claims yielded first; ours always names exp.
    let neither = signed(SECRET, &hs256(), &json!({}));
    assert_eq!(key.verify(&neither, now).map_err(|e| e.to_string()), Err("token missing exp".into()));
}
