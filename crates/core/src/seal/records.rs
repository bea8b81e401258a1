//! Where the sealed values are: each service names the stored records that hold sealed values
//! and, for each record, where the values are and what they are bound to. The server's
//! re-sealing walk (migration from `v1`, root key rotation) goes over the store with these,
//! without knowing any record's shape.

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::{SealError, SealPurpose};

/// One sealed value inside a record, with what it is bound to.
pub struct SealedSlot<'a> {
    pub purpose: SealPurpose,
    /// The context it was sealed with (an access key id, `<kms key id>:<version>`).
    pub context: String,
    /// The sealed value; a walk may replace it (re-sealed under another root key).
    pub sealed: &'a mut String,
}

/// A stored record type that holds sealed values.
pub trait HoldsSealed: Serialize + DeserializeOwned {
    /// Every sealed value in the record.
    fn sealed_slots(&mut self) -> Vec<SealedSlot<'_>>;
}

/// Why a record could not be walked.
#[derive(Debug, thiserror::Error)]
pub enum VisitError {
    /// The stored bytes are not a record of the namespace's type.
    #[error("not a valid record: {0}")]
    Record(String),
    /// A sealed value inside it could not be opened or re-sealed.
    #[error(transparent)]
    Seal(#[from] SealError),
}

type Visit = fn(
    &[u8],
    &mut dyn FnMut(SealedSlot<'_>) -> Result<bool, SealError>,
) -> Result<Option<Vec<u8>>, VisitError>;

/// A store namespace whose records hold sealed values, and how to find them.
#[derive(Clone, Copy)]
pub struct SealedNamespace {
    pub namespace: &'static str,
    visit: Visit,
}

impl std::fmt::Debug for SealedNamespace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SealedNamespace({})", self.namespace)
    }
}

impl SealedNamespace {
    /// The namespace `namespace`, whose records are `T`s.
    pub fn of<T: HoldsSealed>(namespace: &'static str) -> SealedNamespace {
        SealedNamespace {
            namespace,
            visit: visit_record::<T>,
        }
    }

    /// Calls `f` on every sealed value of the stored record `value`. `f` answers whether it
    /// replaced the value; if any was replaced, the record's new bytes come back.
    pub fn visit(
        &self,
        value: &[u8],
        f: &mut dyn FnMut(SealedSlot<'_>) -> Result<bool, SealError>,
    ) -> Result<Option<Vec<u8>>, VisitError> {
        (self.visit)(value, f)
    }
}

fn visit_record<T: HoldsSealed>(
    value: &[u8],
    f: &mut dyn FnMut(SealedSlot<'_>) -> Result<bool, SealError>,
) -> Result<Option<Vec<u8>>, VisitError> {
    let mut record: T =
        serde_json::from_slice(value).map_err(|e| VisitError::Record(e.to_string()))?;
    let mut changed = false;
    for slot in record.sealed_slots() {
        changed |= f(slot)?;
    }
    Ok(changed.then(|| serde_json::to_vec(&record).expect("plain records serialise")))
}
