//! RFC 6238 time-based one-time passwords as Cognito's software-token MFA uses them: HMAC-SHA1,
//! 6 digits, 30-second steps, one step of drift either way, and a 20-byte secret handed out by
//! AssociateSoftwareToken as unpadded base32 (`SecretCode`, 32 characters).
//!
//! Hand-written over aws-lc-rs's HMAC (the algorithm is RFC 4226's dynamic truncation, a dozen
//! lines; a TOTP crate would bring a second SHA-1/HMAC implementation). Codes are compared in
//! constant time against all three candidate steps, and a code is refused for a step at or
//! before the last one the user spent: the caller stores the step [`verify`] returns.

use aws_lc_rs::hmac;
use data_encoding::BASE32_NOPAD;
use subtle::ConstantTimeEq;
use time::OffsetDateTime;
use zeroize::Zeroizing;

/// Seconds per step.
pub const STEP_SECONDS: i64 = 30;
/// Digits per code.
pub const DIGITS: u32 = 6;
/// Bytes of a generated secret (what AssociateSoftwareToken returns: 32 base32 characters).
pub const SECRET_BYTES: usize = 20;
/// Steps accepted on either side of the current one.
const DRIFT_STEPS: i64 = 1;

/// Why a code was refused.
#[derive(Debug, Clone, Copy, thiserror::Error, PartialEq, Eq)]
pub enum TotpError {
    /// Not six ASCII digits.
    #[error("the code is not six digits")]
    Malformed,
    /// Not the code of the current step or a neighbour.
    #[error("the code does not match")]
    Mismatch,
    /// The code of a step already used (a replay, or a second sign-in within the same step).
    #[error("the code was already used")]
    Replayed,
    /// A secret that is not base32, or is empty.
    #[error("the secret is not base32")]
    MalformedSecret,
    /// The system random source failed.
    #[error("the random source failed")]
    Random,
}

/// A user's TOTP secret. Sealed by the caller before storing; wiped on drop; not `Debug`.
#[derive(Clone)]
pub struct TotpSecret(Zeroizing<Vec<u8>>);

impl TotpSecret {
    /// A fresh 20-byte secret.
    pub fn generate() -> Result<Self, TotpError> {
        let mut bytes = Zeroizing::new(vec![0u8; SECRET_BYTES]);
        aws_lc_rs::rand::fill(&mut bytes).map_err(|_| TotpError::Random)?;
        Ok(Self(bytes))
    }

    /// A secret from its raw bytes (an unsealed stored secret).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, TotpError> {
        if bytes.is_empty() {
            return Err(TotpError::MalformedSecret);
        }
        Ok(Self(Zeroizing::new(bytes.to_vec())))
    }

    /// A secret from base32 as authenticator apps show it (case, spaces and `=` padding ignored).
    pub fn from_base32(text: &str) -> Result<Self, TotpError> {
        let normalized: Zeroizing<String> = Zeroizing::new(
            text.chars()
                .filter(|c| !c.is_whitespace() && *c != '=')
                .map(|c| c.to_ascii_uppercase())
                .collect(),
        );
        let bytes = BASE32_NOPAD
            .decode(normalized.as_bytes())
            .map_err(|_| TotpError::MalformedSecret)?;
        Self::from_bytes(&Zeroizing::new(bytes))
    }

    /// `SecretCode`: uppercase base32 without padding.
    pub fn to_base32(&self) -> Zeroizing<String> {
        Zeroizing::new(BASE32_NOPAD.encode(&self.0))
    }

    /// The raw secret, for sealing.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// RFC 4226 HOTP of `counter` with `digits` digits (the RFCs' vectors use 6 and 8).
    pub fn hotp(&self, counter: u64, digits: u32) -> u32 {
        let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, &self.0);
        let tag = hmac::sign(&key, &counter.to_be_bytes());
        let tag = tag.as_ref();
        // Dynamic truncation: the low nibble of the last byte picks four bytes.
        let offset = usize::from(tag[tag.len() - 1] & 0x0f);
        let binary =
            u32::from_be_bytes(tag[offset..offset + 4].try_into().expect("4 bytes")) & 0x7fff_ffff;
        binary % 10u32.pow(digits)
    }

    /// The code for the step containing `at`.
    pub fn code_at(&self, at: OffsetDateTime) -> String {
        let step = step_of(at).max(0) as u64;
        format!(
            "{:0width$}",
            self.hotp(step, DIGITS),
            width = DIGITS as usize
        )
    }
}

/// The step containing `at`.
pub fn step_of(at: OffsetDateTime) -> i64 {
    at.unix_timestamp().div_euclid(STEP_SECONDS)
}

/// Checks `code` at `now` against the current step and one either side, in constant time, and
/// refuses a step at or before `last_used_step`. Returns the matched step, which the caller
/// stores as the new last-used step.
pub fn verify(
    secret: &TotpSecret,
    code: &str,
    now: OffsetDateTime,
    last_used_step: Option<i64>,
) -> Result<i64, TotpError> {
    if code.len() != DIGITS as usize || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(TotpError::Malformed);
    }
    let current = step_of(now);
    let mut matched: Option<i64> = None;
    // Every candidate is computed and compared, whichever matches.
    for step in current - DRIFT_STEPS..=current + DRIFT_STEPS {
        let expected = format!(
            "{:0width$}",
            secret.hotp(step.max(0) as u64, DIGITS),
            width = DIGITS as usize
        );
        if bool::from(expected.as_bytes().ct_eq(code.as_bytes())) && matched.is_none() {
            matched = Some(step);
        }
    }
    let step = matched.ok_or(TotpError::Mismatch)?;
    if last_used_step.is_some_and(|last| step <= last) {
        return Err(TotpError::Replayed);
    }
    Ok(step)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rfc_secret() -> TotpSecret {
        TotpSecret::from_bytes(b"12345678901234567890").unwrap()
    }

    #[test]
    fn rfc4226_hotp_vectors() {
        let expected = [
            755224, 287082, 359152, 969429, 338314, 254676, 287922, 162583, 399871, 520489,
        ];
        for (counter, code) in expected.into_iter().enumerate() {
            assert_eq!(
                rfc_secret().hotp(counter as u64, 6),
                code,
                "counter {counter}"
            );
        }
    }

    #[test]
    fn rfc6238_sha1_vectors() {
        // Appendix B, SHA-1 column (8 digits there; Cognito's 6 are the low six).
        let vectors = [
            (59, 94287082),
            (1111111109, 7081804),
            (1111111111, 14050471),
            (1234567890, 89005924),
            (2000000000, 69279037),
            (20000000000, 65353130),
        ];
        for (unix, code) in vectors {
            let at = OffsetDateTime::from_unix_timestamp(unix).unwrap();
            assert_eq!(rfc_secret().hotp(step_of(at) as u64, 8), code, "T = {unix}");
            assert_eq!(rfc_secret().code_at(at), format!("{:06}", code % 1_000_000));
        }
    }

    #[test]
    fn one_step_of_drift_either_way() {
        let secret = TotpSecret::generate().unwrap();
        let now = OffsetDateTime::from_unix_timestamp(1_796_043_615).unwrap();
        let step = step_of(now);
        for (offset, accepted) in [(-2, false), (-1, true), (0, true), (1, true), (2, false)] {
            let code = secret.code_at(now + time::Duration::seconds(STEP_SECONDS * offset));
            let result = verify(&secret, &code, now, None);
            if accepted {
                assert_eq!(result, Ok(step + offset), "offset {offset}");
            } else {
                // A neighbour's code may collide by chance (1 in 10^6): compare to the candidates.
                let candidates: Vec<String> = (-1..=1)
                    .map(|d| secret.code_at(now + time::Duration::seconds(STEP_SECONDS * d)))
                    .collect();
                if !candidates.contains(&code) {
                    assert_eq!(result, Err(TotpError::Mismatch), "offset {offset}");
                }
            }
        }
    }

    #[test]
    fn a_used_step_is_not_accepted_again() {
        let secret = TotpSecret::generate().unwrap();
        let now = OffsetDateTime::from_unix_timestamp(1_796_043_615).unwrap();
        let code = secret.code_at(now);
        let step = verify(&secret, &code, now, None).unwrap();
        assert_eq!(
            verify(&secret, &code, now, Some(step)),
            Err(TotpError::Replayed)
        );
        // Nor the previous step's code once a later one was used.
        let earlier = secret.code_at(now - time::Duration::seconds(STEP_SECONDS));
        if earlier != code {
            assert_eq!(
                verify(&secret, &earlier, now, Some(step)),
                Err(TotpError::Replayed)
            );
        }
        // The next step's code is fine.
        let later = now + time::Duration::seconds(STEP_SECONDS);
        assert_eq!(
            verify(&secret, &secret.code_at(later), later, Some(step)),
            Ok(step + 1)
        );
    }

    #[test]
    fn malformed_codes_are_refused() {
        let secret = rfc_secret();
        let now = OffsetDateTime::from_unix_timestamp(59).unwrap();
        for code in [
            "",
            "28708",
            "2870821",
            "28708a",
            " 287082",
            "２８７０８２",
            "-28708",
        ] {
            assert_eq!(
                verify(&secret, code, now, None),
                Err(TotpError::Malformed),
                "{code:?}"
            );
        }
        assert_eq!(verify(&secret, "287082", now, None), Ok(1));
        assert_eq!(
            verify(&secret, "287083", now, None),
            Err(TotpError::Mismatch)
        );
    }

    #[test]
    fn secrets_are_cognitos_base32() {
        let secret = TotpSecret::generate().unwrap();
        let text = secret.to_base32();
        assert_eq!(text.len(), 32);
        assert!(text
            .bytes()
            .all(|b| b.is_ascii_uppercase() || (b'2'..=b'7').contains(&b)));
        let back = TotpSecret::from_base32(&text).unwrap();
        assert_eq!(back.as_bytes(), secret.as_bytes());
        let spaced = text
            .to_lowercase()
            .as_bytes()
            .chunks(4)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect::<Vec<_>>()
            .join(" ");
        assert_eq!(
            TotpSecret::from_base32(&spaced).unwrap().as_bytes(),
            secret.as_bytes()
        );
        // RFC 4648 test vector.
        assert_eq!(
            TotpSecret::from_base32("MZXW6YTBOI======")
                .unwrap()
                .as_bytes(),
            b"foobar"
        );
        for bad in ["", "1", "MZXW6YTBO!", "===="] {
            assert!(TotpSecret::from_base32(bad).is_err(), "{bad:?}");
        }
        assert!(TotpSecret::generate().unwrap().as_bytes() != secret.as_bytes());
    }
}
