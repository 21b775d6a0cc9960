//! An insertion-ordered map of byte strings, so that a manager's dict iterates as a Python
//! dict does: in the order keys were first inserted (a key set again keeps its place; one
//! deleted and set again goes to the end).
//!
//! Entries sit in a vector in insertion order, with holes where keys were removed; an index
//! maps each key to its slot. Holes are compacted away once they are more than half of the
//! slots, so iteration stays proportional to the live entries.

use std::collections::HashMap;

#[derive(Debug, Default)]
pub(crate) struct OrderedMap {
    index: HashMap<Vec<u8>, usize>,
    slots: Vec<Option<(Vec<u8>, Vec<u8>)>>,
}

impl OrderedMap {
    pub(crate) fn len(&self) -> usize {
        self.index.len()
    }

    pub(crate) fn get(&self, k: &[u8]) -> Option<&Vec<u8>> {
        let &i = self.index.get(k)?;
        self.slots[i].as_ref().map(|(_, v)| v)
    }

    pub(crate) fn contains_key(&self, k: &[u8]) -> bool {
        self.index.contains_key(k)
    }

    /// Sets `k` to `v`, reusing the old value's buffer when the key is there.
    pub(crate) fn set(&mut self, k: &[u8], v: &[u8]) {
        if let Some(&i) = self.index.get(k) {
            if let Some((_, old)) = &mut self.slots[i] {
                old.clear();
                old.extend_from_slice(v);
                return;
            }
        }
        self.index.insert(k.to_vec(), self.slots.len());
        self.slots.push(Some((k.to_vec(), v.to_vec())));
    }

    /// The value at `k`, after inserting `v` there if there was none.
    pub(crate) fn setdefault(&mut self, k: &[u8], v: &[u8]) -> &Vec<u8> {
        if !self.index.contains_key(k) {
            self.set(k, v);
        }
        let i = self.index[k];
        &self.slots[i].as_ref().expect("indexed slot is live").1
    }

    pub(crate) fn remove(&mut self, k: &[u8]) -> Option<Vec<u8>> {
        let i = self.index.remove(k)?;
        let (_, v) = self.slots[i].take()?;
        if self.slots.len() > 16 && self.index.len() < self.slots.len() / 2 {
            self.compact();
        }
        Some(v)
    }

    fn compact(&mut self) {
        self.slots.retain(Option::is_some);
        for (i, slot) in self.slots.iter().enumerate() {
            if let Some((k, _)) = slot {
                if let Some(at) = self.index.get_mut(k.as_slice()) {
                    *at = i;
                }
            }
        }
    }

    pub(crate) fn clear(&mut self) {
        self.index.clear();
        self.slots.clear();
    }

    /// The live entries in insertion order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        self.slots
            .iter()
            .flatten()
            .map(|(k, v)| (k.as_slice(), v.as_slice()))
    }
}

#[cfg(test)]
mod tests {
    use super::OrderedMap;

    fn keys(m: &OrderedMap) -> Vec<u8> {
        m.iter().map(|(k, _)| k[0]).collect()
    }

    #[test]
    fn keeps_insertion_order_as_python() {
        let mut m = OrderedMap::default();
        for k in [3u8, 1, 2] {
            m.set(&[k], &[k]);
        }
        m.set(&[1], b"again");
        assert_eq!(keys(&m), [3, 1, 2]);
        assert_eq!(m.get(&[1]).unwrap(), b"again");
        assert_eq!(m.remove(&[3]).unwrap(), [3]);
        m.set(&[3], &[0]);
        assert_eq!(keys(&m), [1, 2, 3]);
        assert_eq!(m.setdefault(&[9], &[9]), &[9]);
        assert_eq!(m.setdefault(&[9], &[8]), &[9]);
        assert_eq!(m.len(), 4);
    }

    #[test]
    fn compacts_holes_and_keeps_the_index_right() {
        let mut m = OrderedMap::default();
        for k in 0..100u8 {
            m.set(&[k], &[k]);
        }
        for k in 0..90u8 {
            assert!(m.remove(&[k]).is_some());
        }
        assert!(m.slots.len() < 40);
        assert_eq!(keys(&m), (90..100).collect::<Vec<_>>());
        for k in 90..100u8 {
            assert_eq!(m.get(&[k]).unwrap(), &[k]);
        }
        assert!(!m.contains_key(&[5]));
        m.clear();
        assert_eq!(m.len(), 0);
    }
}
