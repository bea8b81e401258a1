//! `Marker`/`IsTruncated`/`MaxItems` as IAM pages its lists.
//!
//! A marker is opaque to clients: here, the URL-safe base64 of the sort key of the last item
//! returned, so the next page starts strictly after it even if items were added or removed in
//! between (no offsets to drift).

use base64::Engine;
use rampart_store::Store;
use rampart_wire::protocol::query::{QueryParams, XmlWriter};

use super::error::IamError;
use super::input;
use crate::entities::{self, Entity, Versioned};

/// Items per page when the caller does not say.
pub const DEFAULT_MAX_ITEMS: usize = 100;
/// The most items a caller may ask for.
pub const MAX_MAX_ITEMS: usize = 1000;

/// Rows read from the store per round trip while filling a filtered page.
const SCAN_BATCH: usize = 500;

/// Where a page starts and how long it may be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    /// The sort key of the last item of the previous page.
    pub after: Option<String>,
    /// The most items the page may hold (`MaxItems`, 1..=1000, default 100).
    pub max_items: usize,
}

impl PageRequest {
    /// Reads `Marker` and `MaxItems`.
    pub fn from_params(p: &QueryParams) -> Result<Self, IamError> {
        let max_items = input::integer(p, "MaxItems", 1, MAX_MAX_ITEMS as i64)?
            .map_or(DEFAULT_MAX_ITEMS, |n| n as usize);
        let after = match p.get("Marker") {
            Some(marker) => Some(decode_marker(marker)?),
            None => None,
        };
        Ok(PageRequest { after, max_items })
    }
}

/// A page of items and, when more follow, the key to continue after.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    /// The items, in key order.
    pub items: Vec<T>,
    /// The key of the last item when more follow (the next `Marker`), else None.
    pub next_after: Option<String>,
}

impl<T> Page<T> {
    /// Writes `<IsTruncated>` and, when truncated, `<Marker>`.
    pub fn write_tail(&self, xml: &mut XmlWriter) {
        xml.element(
            "IsTruncated",
            if self.next_after.is_some() {
                "true"
            } else {
                "false"
            },
        );
        if let Some(after) = &self.next_after {
            xml.element("Marker", &encode_marker(after));
        }
    }
}

/// The marker a client sends back for a page ending at `key`.
pub fn encode_marker(key: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(key.as_bytes())
}

/// The key a marker stands for; anything else is refused rather than guessed at.
pub fn decode_marker(marker: &str) -> Result<String, IamError> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(marker.as_bytes())
        .ok()
        .and_then(|raw| String::from_utf8(raw).ok())
        .ok_or_else(|| IamError::ValidationError("Invalid Marker.".into()))
}

/// Pages an in-memory list. `items` need not be sorted: they are ordered by `key` first.
pub fn paginate<T>(mut items: Vec<T>, key: impl Fn(&T) -> String, req: &PageRequest) -> Page<T> {
    items.sort_by_cached_key(|item| key(item));
    let mut rest: Vec<T> = match &req.after {
        Some(after) => items.into_iter().filter(|i| key(i) > *after).collect(),
        None => items,
    };
    let truncated = rest.len() > req.max_items;
    rest.truncate(req.max_items);
    let next_after = if truncated {
        rest.last().map(&key)
    } else {
        None
    };
    Page {
        items: rest,
        next_after,
    }
}

/// Pages stored entities in key order, keeping those `keep` accepts; reads the store in
/// batches until the page is full (one extra item tells whether more follow).
pub async fn scan_page<T: Entity + Send>(
    store: &dyn Store,
    req: &PageRequest,
    keep: impl Fn(&T) -> bool,
) -> Result<Page<Versioned<T>>, IamError> {
    let mut items = Vec::new();
    let mut after = req.after.clone();
    loop {
        let batch = entities::list::<T>(store, "", after.as_deref(), SCAN_BATCH).await?;
        let exhausted = batch.len() < SCAN_BATCH;
        after = batch.last().map(|v| v.entity.key().to_owned());
        for item in batch {
            if keep(&item.entity) {
                items.push(item);
                if items.len() > req.max_items {
                    items.truncate(req.max_items);
                    let next_after = items.last().map(|v| v.entity.key().to_owned());
                    return Ok(Page { items, next_after });
                }
            }
        }
        if exhausted {
            return Ok(Page {
                items,
                next_after: None,
            });
        }
    }
}

/// Every stored entity of a kind, for the operations that must look across all of them
/// (membership, attachments, account details). One account's IAM is small enough.
pub async fn scan_all<T: Entity + Send>(store: &dyn Store) -> Result<Vec<Versioned<T>>, IamError> {
    let mut items = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let batch = entities::list::<T>(store, "", after.as_deref(), SCAN_BATCH).await?;
        let exhausted = batch.len() < SCAN_BATCH;
        after = batch.last().map(|v| v.entity.key().to_owned());
        items.extend(batch);
        if exhausted {
            return Ok(items);
        }
    }
}

/// Whether an entity named `name` exists, comparing names case-insensitively: IAM does not
/// distinguish `Bob` from `bob` when it checks a new name. (A scan, checked before the
/// create's commit; two creates racing with names differing only in case can both pass.)
pub async fn name_taken<T: Entity + Send>(store: &dyn Store, name: &str) -> Result<bool, IamError> {
    if entities::load::<T>(store, name).await?.is_some() {
        return Ok(true);
    }
    Ok(scan_all::<T>(store)
        .await?
        .iter()
        .any(|v| v.entity.key().eq_ignore_ascii_case(name)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_round_trip_and_refuse_garbage() {
        for key in ["", "bob", "arn:aws:iam::123:policy/a/b", "ü/+="] {
            assert_eq!(decode_marker(&encode_marker(key)).unwrap(), key);
        }
        assert!(decode_marker("!!!").is_err());
        assert!(decode_marker("_w").is_err()); // not UTF-8
    }

    #[test]
    fn pages_in_key_order() {
        let items = vec!["c", "a", "e", "b", "d"];
        let mut req = PageRequest {
            after: None,
            max_items: 2,
        };
        let mut seen = Vec::new();
        loop {
            let page = paginate(items.clone(), |s| s.to_string(), &req);
            seen.extend(page.items.clone());
            match page.next_after {
                Some(after) => req.after = Some(after),
                None => break,
            }
        }
        assert_eq!(seen, vec!["a", "b", "c", "d", "e"]);
        let exact = paginate(
            vec!["a", "b"],
            |s| s.to_string(),
            &PageRequest {
                after: None,
                max_items: 2,
            },
        );
        assert_eq!(exact.next_after, None);
    }

    #[test]
    fn reads_marker_and_max_items() {
        let p =
            QueryParams::parse(&[format!("MaxItems=2&Marker={}", encode_marker("x")).as_bytes()])
                .unwrap();
        let req = PageRequest::from_params(&p).unwrap();
        assert_eq!(req.max_items, 2);
        assert_eq!(req.after.as_deref(), Some("x"));
        let p = QueryParams::parse(&[b"MaxItems=0"]).unwrap();
        assert!(PageRequest::from_params(&p).is_err());
        let p = QueryParams::parse(&[b""]).unwrap();
        assert_eq!(PageRequest::from_params(&p).unwrap().max_items, 100);
    }
}
