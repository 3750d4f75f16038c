//! Ordered HTTP field maps and their proxy-wasm wire format
//! (count, key/value lengths, then NUL-terminated keys and values).

/// Field names compare ASCII-case-insensitively; order and duplicates are kept.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HeaderMap {
    pairs: Vec<(Vec<u8>, Vec<u8>)>,
}

/// Upper bound on fields in one decoded map; stops a guest from making the
/// host allocate per claimed entry before the lengths are checked.
const MAX_FIELDS: usize = 8192;

impl HeaderMap {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn from_pairs<K: AsRef<[u8]>, V: AsRef<[u8]>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        Self {
            pairs: pairs
                .into_iter()
                .map(|(k, v)| (k.as_ref().to_vec(), v.as_ref().to_vec()))
                .collect(),
        }
    }

    pub fn pairs(&self) -> &[(Vec<u8>, Vec<u8>)] {
        &self.pairs
    }

    pub fn len(&self) -> usize {
        self.pairs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    /// First value of `key`. (Repeated fields are not joined: proxy-wasm SDKs
    /// read repeated fields through the pairs call.)
    pub fn get(&self, key: &[u8]) -> Option<&[u8]> {
        self.pairs
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_slice())
    }

    pub fn add(&mut self, key: &[u8], value: &[u8]) {
        self.pairs.push((key.to_vec(), value.to_vec()));
    }

    /// Sets `key` to a single `value`, keeping the position of its first occurrence.
    pub fn replace(&mut self, key: &[u8], value: &[u8]) {
        match self
            .pairs
            .iter()
            .position(|(k, _)| k.eq_ignore_ascii_case(key))
        {
            Some(i) => {
                self.pairs[i].1 = value.to_vec();
                let mut j = i + 1;
                while j < self.pairs.len() {
                    if self.pairs[j].0.eq_ignore_ascii_case(key) {
                        self.pairs.remove(j);
                    } else {
                        j += 1;
                    }
                }
            }
            None => self.add(key, value),
        }
    }

    pub fn remove(&mut self, key: &[u8]) {
        self.pairs.retain(|(k, _)| !k.eq_ignore_ascii_case(key));
    }

    /// Size of `serialize()`'s output without building it.
    pub fn serialized_len(&self) -> usize {
        if self.pairs.is_empty() {
            return 0;
        }
        4 + self
            .pairs
            .iter()
            .map(|(k, v)| 8 + k.len() + 1 + v.len() + 1)
            .sum::<usize>()
    }

    pub fn serialize(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.serialized_len());
        if self.pairs.is_empty() {
            return out;
        }
        out.extend_from_slice(&(self.pairs.len() as u32).to_le_bytes());
        for (k, v) in &self.pairs {
            out.extend_from_slice(&(k.len() as u32).to_le_bytes());
            out.extend_from_slice(&(v.len() as u32).to_le_bytes());
        }
        for (k, v) in &self.pairs {
            out.extend_from_slice(k);
            out.push(0);
            out.extend_from_slice(v);
            out.push(0);
        }
        out
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
        let mut pairs = Vec::with_capacity(count);
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
            pairs.push((key.to_vec(), value.to_vec()));
        }
        if data != bytes.len() {
            return None;
        }
        Some(Self { pairs })
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
        assert_eq!(
            m.pairs(),
            &[
                (b"X-A".to_vec(), b"9".to_vec()),
                (b"b".to_vec(), b"2".to_vec())
            ]
        );
        m.remove(b"B");
        assert_eq!(m.len(), 1);
        assert_eq!(m.get(b"x-A"), Some(&b"9"[..]));
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
