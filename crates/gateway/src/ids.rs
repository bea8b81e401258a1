//! Identifiers as API Gateway makes them: an API id is 10 lowercase letters and digits (it is
//! the first label of the API's host name), a route, integration or authorizer id 7.

const ALPHABET: &[u8; 36] = b"abcdefghijklmnopqrstuvwxyz0123456789";

fn random(len: usize) -> String {
    let mut out = String::with_capacity(len);
    while out.len() < len {
        for b in uuid::Uuid::new_v4().into_bytes() {
            // 252 = 7 × 36: below it, `b % 36` is uniform.
            if b < 252 && out.len() < len {
                out.push(char::from(ALPHABET[usize::from(b % 36)]));
            }
        }
    }
    out
}

/// A new API id.
pub fn api_id() -> String {
    random(10)
}

/// A new route, integration or authorizer id.
pub fn child_id() -> String {
    random(7)
}

fn shaped(s: &str, max: usize) -> bool {
    (1..=max).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

/// Whether `s` can be an API id (the data plane's front end accepts the same shape).
pub fn is_api_id(s: &str) -> bool {
    shaped(s, 10)
}

/// Whether `s` can be a route, integration or authorizer id.
pub fn is_child_id(s: &str) -> bool {
    shaped(s, 10)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_have_api_gateways_shape() {
        let a = api_id();
        assert!(is_api_id(&a) && a.len() == 10, "{a}");
        let c = child_id();
        assert!(is_child_id(&c) && c.len() == 7, "{c}");
        assert_ne!(api_id(), api_id());
        assert!(
            !is_api_id("ABC") && !is_api_id("a-b") && !is_api_id("") && !is_api_id("abcdefghijk")
        );
    }
}
