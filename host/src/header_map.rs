//! Ordered HTTP field maps and their proxy-wasm wire format
//! (count, key/value lengths, then NUL-terminated keys and values).
//!
//! A map keeps every name and value in one byte buffer with a list of spans
//! into it, so filling a map (once per request) does not allocate per field,
//! and a cleared map is reused with its capacity (see `HttpContext` pooling).

use std::fmt;
use std::ops::Range;

/// Field names compare ASCII-case-insensitively; order and duplicates are kept.
#[derive(Clone, Default)]
pub struct HeaderMap {
    /// Names and values, back to back; replaced or removed fields leave garbage
    /// here until `compact` (bounded by `garbage`).
    bytes: Vec<u8>,
    fields: Vec<Field>,
    /// Bytes of `bytes` no field refers to any more.
    garbage: usize,
}

#[derive(Clone, Copy)]
struct Field {
    key: (u32, u32),
    value: (u32, u32),
}

/// Upper bound on fields in one decoded map; stops a guest from making the
/// host allocate per claimed entry before the lengths are checked.
const MAX_FIELDS: usize = 8192;

/// Unreferenced bytes tolerated before `compact` rewrites the buffer.
const GARBAGE_SLACK: usize = 4096;

fn span(r: (u32, u32)) -> Range<usize> {
    r.0 as usize..(r.0 + r.1) as usize
}

impl HeaderMap {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn from_pairs<K: AsRef<[u8]>, V: AsRef<[u8]>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        let mut map = Self::new();
        for (k, v) in pairs {
            map.add(k.as_ref(), v.as_ref());
        }
        map
    }

    /// Every field in order, as (name, value).
    pub fn pairs(&self) -> impl ExactSizeIterator<Item = (&[u8], &[u8])> + '_ {
        self.fields
            .iter()
            .map(|f| (&self.bytes[span(f.key)], &self.bytes[span(f.value)]))
    }

    pub fn len(&self) -> usize {
        self.fields.len()
    }

    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// Empties the map, keeping its allocations for the next use.
    pub fn clear(&mut self) {
        self.bytes.clear();
        self.fields.clear();
        self.garbage = 0;
    }

    fn key(&self, f: &Field) -> &[u8] {
        &self.bytes[span(f.key)]
    }

    /// First value of `key`. (Repeated fields are not joined: proxy-wasm SDKs
    /// read repeated fields through the pairs call.)
    pub fn get(&self, key: &[u8]) -> Option<&[u8]> {
        self.fields
            .iter()
            .find(|f| self.key(f).eq_ignore_ascii_case(key))
            .map(|f| &self.bytes[span(f.value)])
    }

    fn push_bytes(&mut self, b: &[u8]) -> (u32, u32) {
        let start = self.bytes.len();
        self.bytes.extend_from_slice(b);
        (start as u32, b.len() as u32)
    }

    pub fn add(&mut self, key: &[u8], value: &[u8]) {
        let key = self.push_bytes(key);
        let value = self.push_bytes(value);
        self.fields.push(Field { key, value });
    }

    /// Sets `key` to a single `value`, keeping the position of its first occurrence.
    pub fn replace(&mut self, key: &[u8], value: &[u8]) {
        let Some(i) = self
            .fields
            .iter()
            .position(|f| self.key(f).eq_ignore_ascii_case(key))
        else {
            return self.add(key, value);
        };
        self.garbage += self.fields[i].value.1 as usize;
        self.fields[i].value = self.push_bytes(value);
        self.drop_fields_after(i, key);
        self.compact_if_wasteful();
    }

    pub fn remove(&mut self, key: &[u8]) {
        if let Some(i) = self
            .fields
            .iter()
            .position(|f| self.key(f).eq_ignore_ascii_case(key))
        {
            let f = self.fields.remove(i);
            self.garbage += (f.key.1 + f.value.1) as usize;
            if i < self.fields.len() {
                self.drop_fields_after(i, key);
            }
        }
        self.compact_if_wasteful();
    }

    /// Removes the fields named `key` that come after position `i`.
    fn drop_fields_after(&mut self, i: usize, key: &[u8]) {
        let mut j = i + 1;
        while j < self.fields.len() {
            let f = self.fields[j];
            if self.key(&f).eq_ignore_ascii_case(key) {
                self.garbage += (f.key.1 + f.value.1) as usize;
                self.fields.remove(j);
            } else {
                j += 1;
            }
        }
    }

    /// A filter that keeps replacing a field must not grow the buffer without
    /// bound: rewrite it once garbage outweighs what is live.
    fn compact_if_wasteful(&mut self) {
        if self.garbage <= GARBAGE_SLACK || self.garbage <= self.bytes.len() / 2 {
            return;
        }
        let old = std::mem::take(&mut self.bytes);
        let mut bytes = Vec::with_capacity(old.len() - self.garbage);
        for f in &mut self.fields {
            for r in [&mut f.key, &mut f.value] {
                let start = bytes.len() as u32;
                bytes.extend_from_slice(&old[span(*r)]);
                r.0 = start;
            }
        }
        self.bytes = bytes;
        self.garbage = 0;
    }

    /// Size of `serialize()`'s output without building it.
    pub fn serialized_len(&self) -> usize {
        if self.fields.is_empty() {
            return 0;
        }
        4 + self
            .fields
            .iter()
            .map(|f| 8 + f.key.1 as usize + 1 + f.value.1 as usize + 1)
            .sum::<usize>()
    }

    pub fn serialize(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.serialized_len());
        self.serialize_into(&mut out);
        out
    }

    /// Appends the wire format to `out` (nothing for an empty map).
    pub fn serialize_into(&self, out: &mut Vec<u8>) {
        if self.fields.is_empty() {
            return;
        }
        out.reserve(self.serialized_len());
        out.extend_from_slice(&(self.fields.len() as u32).to_le_bytes());
        for f in &self.fields {
            out.extend_from_slice(&f.key.1.to_le_bytes());
            out.extend_from_slice(&f.value.1.to_le_bytes());
        }
        for (k, v) in self.pairs() {
            out.extend_from_slice(k);
            out.push(0);
            out.extend_from_slice(v);
            out.push(0);
        }
    }

    /// Decodes the wire format; `None` when it is malformed (lengths running
    /// past the end, missing NUL terminators, trailing bytes).
    pub fn deserialize(bytes: &[u8]) -> Option<Self> {
        // The spec allows an empty map as zero bytes or a single 0x00.
        if bytes.is_empty() || bytes == [0] {
            return Some(Self::new());
        }
        let u32_at = |at: usize| -> Option<usize> {
            let b = bytes.get(at..at.checked_add(4)?)?;
            Some(u32::from_le_bytes(b.try_into().ok()?) as usize)
        };
        let count = u32_at(0)?;
        if count > MAX_FIELDS {
            return None;
        }
        let mut data = 4usize.checked_add(count.checked_mul(8)?)?;
        if data > bytes.len() {
            return None;
        }
        let mut map = Self {
            bytes: Vec::with_capacity(bytes.len() - data),
            fields: Vec::with_capacity(count),
            garbage: 0,
        };
        for i in 0..count {
            let klen = u32_at(4 + i * 8)?;
            let vlen = u32_at(8 + i * 8)?;
            let key = bytes.get(data..data.checked_add(klen)?)?;
            data += klen;
            if bytes.get(data) != Some(&0) {
                return None;
            }
            data += 1;
            let value = bytes.get(data..data.checked_add(vlen)?)?;
            data += vlen;
            if bytes.get(data) != Some(&0) {
                return None;
            }
            data += 1;
            map.add(key, value);
        }
        if data != bytes.len() {
            return None;
        }
        Some(map)
    }
}

/// Equal when the fields are the same, in the same order (garbage and
/// capacity do not count).
impl PartialEq for HeaderMap {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.pairs().eq(other.pairs())
    }
}

impl Eq for HeaderMap {}

impl fmt::Debug for HeaderMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.pairs().map(|(k, v)| {
                (
                    String::from_utf8_lossy(k).into_owned(),
                    String::from_utf8_lossy(v).into_owned(),
                )
            }))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_the_spec_example() {
        let map = HeaderMap::from_pairs([("a", "1"), ("b", "22")]);
        let bytes = map.serialize();
        assert_eq!(
            bytes,
            [
                2, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, b'a', 0, b'1', 0, b'b',
                0, b'2', b'2', 0
            ]
        );
        assert_eq!(bytes.len(), map.serialized_len());
        assert_eq!(HeaderMap::deserialize(&bytes), Some(map));
    }

    #[test]
    fn rejects_malformed_maps() {
        let good = HeaderMap::from_pairs([("a", "1")]).serialize();
        assert!(HeaderMap::deserialize(&good[..good.len() - 1]).is_none());
        let mut no_nul = good.clone();
        let last = no_nul.len() - 1;
        no_nul[last] = b'x';
        assert!(HeaderMap::deserialize(&no_nul).is_none());
        let mut trailing = good.clone();
        trailing.push(0);
        assert!(HeaderMap::deserialize(&trailing).is_none());
        assert!(HeaderMap::deserialize(&[0xff, 0xff, 0xff, 0xff]).is_none());
        let mut huge_len = good;
        huge_len[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(HeaderMap::deserialize(&huge_len).is_none());
        assert_eq!(HeaderMap::deserialize(&[0]), Some(HeaderMap::new()));
    }

    #[test]
    fn replace_keeps_one_value_case_insensitively() {
        let mut m = HeaderMap::from_pairs([("X-A", "1"), ("b", "2"), ("x-a", "3")]);
        m.replace(b"x-a", b"9");
        assert_eq!(m, HeaderMap::from_pairs([("X-A", "9"), ("b", "2")]));
        m.remove(b"B");
        assert_eq!(m.len(), 1);
        assert_eq!(m.get(b"x-A"), Some(&b"9"[..]));
    }

    #[test]
    fn remove_drops_every_occurrence_and_keeps_order() {
        let mut m = HeaderMap::from_pairs([("a", "1"), ("X", "2"), ("b", "3"), ("x", "4")]);
        m.remove(b"x");
        assert_eq!(m, HeaderMap::from_pairs([("a", "1"), ("b", "3")]));
        m.remove(b"missing");
        assert_eq!(m.len(), 2);
    }

    #[test]
    fn repeated_replaces_do_not_grow_the_buffer_without_bound() {
        let mut m = HeaderMap::from_pairs([("keep", "k"), ("x", "0")]);
        let value = vec![b'v'; 1000];
        for _ in 0..10_000 {
            m.replace(b"x", &value);
        }
        assert_eq!(m.get(b"keep"), Some(&b"k"[..]));
        assert_eq!(m.get(b"x"), Some(&value[..]));
        assert!(
            m.bytes.len() < 4 * (GARBAGE_SLACK + 1000),
            "buffer {} bytes",
            m.bytes.len()
        );
    }

    #[test]
    fn a_cleared_map_keeps_its_capacity_and_forgets_its_fields() {
        let mut m = HeaderMap::from_pairs([(":authority", "a.example"), ("accept", "*/*")]);
        let capacity = m.bytes.capacity();
        m.clear();
        assert!(m.is_empty() && m.get(b":authority").is_none());
        assert_eq!(m.bytes.capacity(), capacity);
        m.add(b"k", b"v");
        assert_eq!(
            m.serialize(),
            HeaderMap::from_pairs([("k", "v")]).serialize()
        );
    }

    #[test]
    fn arbitrary_bytes_never_panic_and_valid_results_round_trip() {
        // xorshift: deterministic, no dependency
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let seed = HeaderMap::from_pairs([("a", "1"), (":authority", "x.example")]).serialize();
        for _ in 0..20_000 {
            let mut bytes = if next() % 2 == 0 {
                seed.clone()
            } else {
                vec![0; (next() % 64) as usize]
            };
            for _ in 0..(next() % 4) {
                if !bytes.is_empty() {
                    let i = (next() as usize) % bytes.len();
                    bytes[i] = next() as u8;
                }
            }
            if let Some(map) = HeaderMap::deserialize(&bytes) {
                let again = map.serialize();
                assert_eq!(HeaderMap::deserialize(&again), Some(map));
            }
        }
    }
}
