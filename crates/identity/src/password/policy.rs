//! Cognito's password policy (`Policies.PasswordPolicy` of a user pool) and the
//! `InvalidPasswordException` messages it answers with.
//!
//! Cognito reports one broken rule, in the order length, uppercase, lowercase, numbers, symbols
//! (the order emulators that copied Cognito use; clients' tests show an all-lowercase password
//! answered "uppercase"), as `Password did not conform with policy: Password must have uppercase
//! characters` or `Password does not conform to policy: …`. Both wordings appear in clients'
//! error tables against real Cognito: the first for SignUp, the second for ConfirmForgotPassword
//! and other operations that replace a password; [`PolicyWording`] lets the API pick per
//! operation (unverified beyond those two: AdminCreateUser, ChangePassword, AdminSetUserPassword
//! and NEW_PASSWORD_REQUIRED need checking against AWS when it can be reached). Letters and digits are Basic Latin only; the symbols are
//! the set Cognito's documentation lists, and a space inside the password (not at either end)
//! counts as one.

use time::{Duration, OffsetDateTime};

use super::PasswordError;

/// The characters Cognito counts as symbols (besides an inner space).
pub const SYMBOLS: &str = "^$*.[]{}()?\"!@#%&/\\,><':;|_~`=+-";

/// A pool's password policy, with Cognito's defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordPolicy {
    /// `MinimumLength`, 6–99 (default 8).
    pub minimum_length: u32,
    /// `RequireUppercase` (default true).
    pub require_uppercase: bool,
    /// `RequireLowercase` (default true).
    pub require_lowercase: bool,
    /// `RequireNumbers` (default true).
    pub require_numbers: bool,
    /// `RequireSymbols` (default true).
    pub require_symbols: bool,
    /// `TemporaryPasswordValidityDays`, 0–365 (default 7): how long a password set by
    /// AdminCreateUser may be used for the first sign-in.
    pub temporary_password_validity_days: u32,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        Self {
            minimum_length: 8,
            require_uppercase: true,
            require_lowercase: true,
            require_numbers: true,
            require_symbols: true,
            temporary_password_validity_days: 7,
        }
    }
}

/// The rule a password broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyViolation {
    /// Shorter than `MinimumLength`.
    TooShort,
    /// No `A`–`Z`.
    MissingUppercase,
    /// No `a`–`z`.
    MissingLowercase,
    /// No `0`–`9`.
    MissingNumber,
    /// No symbol from [`SYMBOLS`] and no inner space.
    MissingSymbol,
}

/// Which of Cognito's two prefixes an operation uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyWording {
    /// `Password did not conform with policy: ` (seen for SignUp).
    Creation,
    /// `Password does not conform to policy: ` (seen for ConfirmForgotPassword).
    Change,
}

impl PolicyViolation {
    /// The reason after the prefix, as Cognito words it.
    pub fn reason(self) -> &'static str {
        match self {
            Self::TooShort => "Password not long enough",
            Self::MissingUppercase => "Password must have uppercase characters",
            Self::MissingLowercase => "Password must have lowercase characters",
            Self::MissingNumber => "Password must have numeric characters",
            Self::MissingSymbol => "Password must have symbol characters",
        }
    }

    /// The whole `InvalidPasswordException` message.
    pub fn message(self, wording: PolicyWording) -> String {
        let prefix = match wording {
            PolicyWording::Creation => "Password did not conform with policy",
            PolicyWording::Change => "Password does not conform to policy",
        };
        format!("{prefix}: {}", self.reason())
    }
}

impl PasswordPolicy {
    /// The first rule `password` breaks, in Cognito's order.
    pub fn check(&self, password: &str) -> Result<(), PolicyViolation> {
        let length = password.chars().count();
        if length < self.minimum_length as usize {
            return Err(PolicyViolation::TooShort);
        }
        let has = |wanted: fn(char) -> bool| password.chars().any(wanted);
        if self.require_uppercase && !has(|c| c.is_ascii_uppercase()) {
            return Err(PolicyViolation::MissingUppercase);
        }
        if self.require_lowercase && !has(|c| c.is_ascii_lowercase()) {
            return Err(PolicyViolation::MissingLowercase);
        }
        if self.require_numbers && !has(|c| c.is_ascii_digit()) {
            return Err(PolicyViolation::MissingNumber);
        }
        if self.require_symbols && !has_symbol(password) {
            return Err(PolicyViolation::MissingSymbol);
        }
        Ok(())
    }

    /// When a temporary password issued at `issued_at` stops being accepted (the API validates
    /// `TemporaryPasswordValidityDays` against Cognito's range before it gets here).
    pub fn temporary_password_expires_at(&self, issued_at: OffsetDateTime) -> OffsetDateTime {
        issued_at + Duration::days(i64::from(self.temporary_password_validity_days))
    }
}

fn has_symbol(password: &str) -> bool {
    let inner = password.trim_matches(' ');
    password.chars().any(|c| SYMBOLS.contains(c)) || inner.contains(' ')
}

/// A random temporary password that satisfies `policy` (AdminCreateUser without
/// `TemporaryPassword`): at least one of every class, at least 12 characters, shuffled.
pub fn generate_temporary_password(policy: &PasswordPolicy) -> Result<String, PasswordError> {
    const UPPER: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ";
    const LOWER: &[u8] = b"abcdefghijkmnopqrstuvwxyz";
    const DIGITS: &[u8] = b"23456789";
    const SYMBOL_SET: &[u8] = b"^$*.[]{}()?!@#%&/,><:;|_~=+-";
    let all = [UPPER, LOWER, DIGITS, SYMBOL_SET].concat();
    let length = (policy.minimum_length as usize).max(12);
    let mut out = Vec::with_capacity(length);
    for alphabet in [UPPER, LOWER, DIGITS, SYMBOL_SET] {
        out.push(alphabet[random_below(alphabet.len())?]);
    }
    while out.len() < length {
        out.push(all[random_below(all.len())?]);
    }
    // Fisher–Yates, so the guaranteed classes are not always first.
    for i in (1..out.len()).rev() {
        out.swap(i, random_below(i + 1)?);
    }
    Ok(String::from_utf8(out).expect("ASCII"))
}

/// A uniform index below `n` (≤ 256), by rejection sampling.
fn random_below(n: usize) -> Result<usize, PasswordError> {
    let limit = 256 - 256 % n;
    loop {
        let mut byte = [0u8; 1];
        aws_lc_rs::rand::fill(&mut byte).map_err(|_| PasswordError::Random)?;
        if usize::from(byte[0]) < limit {
            return Ok(usize::from(byte[0]) % n);
        }
    }
}
