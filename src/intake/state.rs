//! The bookkeeping a pass shares between its messages: how many notices each sender
//! was sent today, and which claims went to an MCO, on top of what the store holds.
//! What a message adds is kept only when its handling succeeds: a message that fails
//! half-way (and is quarantined) leaves no claim or notice count behind for the
//! messages after it.

use std::collections::HashMap;

use crate::ids::TicketId;

/// Per-pass bookkeeping shared by the messages of a pass.
#[derive(Default)]
pub struct PassState {
    /// Notices queued per `address|day` in this pass, on top of the stored counts.
    pub sent_counts: Journaled<u32>,
    /// Claims forwarded in this pass (`MCO|tracking|claim` → ticket).
    pub forwarded: Journaled<TicketId>,
}

impl PassState {
    /// Keeps what the message in hand added.
    pub(crate) fn commit(&mut self) {
        self.sent_counts.commit();
        self.forwarded.commit();
    }

    /// Forgets what the message in hand added.
    pub(crate) fn roll_back(&mut self) {
        self.sent_counts.roll_back();
        self.forwarded.roll_back();
    }
}

/// A map that remembers what changed since its last commit, so the changes can be
/// undone.
#[derive(Debug)]
pub struct Journaled<V> {
    map: HashMap<String, V>,
    /// Each key changed since the commit, with its value before.
    undo: Vec<(String, Option<V>)>,
}

impl<V> Default for Journaled<V> {
    fn default() -> Self {
        Journaled {
            map: HashMap::new(),
            undo: Vec::new(),
        }
    }
}

impl<V> Journaled<V> {
    pub fn get(&self, key: &str) -> Option<&V> {
        self.map.get(key)
    }

    pub fn insert(&mut self, key: String, value: V) {
        let before = self.map.insert(key.clone(), value);
        self.undo.push((key, before));
    }

    pub fn commit(&mut self) {
        self.undo.clear();
    }

    pub fn roll_back(&mut self) {
        while let Some((key, before)) = self.undo.pop() {
            match before {
                Some(value) => self.map.insert(key, value),
                None => self.map.remove(&key),
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Journaled;

    #[test]
    fn a_journaled_map_rolls_back_to_its_last_commit() {
        let mut map = Journaled::default();
        map.insert("a".to_owned(), 1);
        map.commit();
        map.insert("a".to_owned(), 2);
        map.insert("b".to_owned(), 3);
        map.insert("b".to_owned(), 4);
        map.roll_back();
        assert_eq!(map.get("a"), Some(&1));
        assert_eq!(map.get("b"), None);
        map.insert("b".to_owned(), 5);
        map.commit();
        map.roll_back();
        assert_eq!(map.get("b"), Some(&5));
    }
}
