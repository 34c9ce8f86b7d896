//! Checking the hash chain, without SQL: the store feeds entries in id order.
//!
//! The rules, in the order they are checked for each entry:
//! 1. its `hash` is the SHA-256 of its canonical encoding (else it was
//!    edited);
//! 2. its id is one more than the previous entry's (else entries were
//!    deleted in between);
//! 3. its `prev_hash` is the previous entry's `hash` (else entries were
//!    reordered, or deleted and the ids rewritten).
//!
//! The first entry either is entry 1 following [`GENESIS`], or follows the
//! anchor of a prune entry further on: pruning deletes a prefix and then
//! appends an entry naming the last deleted id and its hash. Finally the
//! last entry must be the head the store recorded with its last write, which
//! catches entries deleted from the end.
//!
//! What this cannot catch: someone who understands the format and rewrites
//! every later entry and the head. Printed reports carry the head hash so an
//! archived report anchors the log up to that point (see docs/usage-log.md).

use serde::Serialize;

use super::model::{Entry, Operation, GENESIS};

/// What is wrong with the first bad entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Problem {
    /// The entry's content no longer matches its hash.
    Edited,
    /// Entries between the previous one and this one are missing.
    Missing {
        /// The first missing id.
        from: i64,
        /// The last missing id.
        to: i64,
    },
    /// The entry does not follow the one before it.
    OutOfOrder {
        /// The entry it should follow.
        after: i64,
    },
    /// Entries before this one were removed without a prune entry.
    PrefixRemoved,
    /// Entries after the last one were removed (the head is further on).
    TailRemoved {
        /// The id the head names.
        head: i64,
    },
    /// Entries were added without going through Kyso.
    Unexpected {
        /// The id the head names.
        head: i64,
    },
    /// The record of the last write is gone, so removed entries at the end
    /// cannot be ruled out.
    HeadMissing,
    /// SQLite reports the database file itself as damaged.
    Corrupt {
        /// SQLite's message.
        detail: String,
    },
}

/// The first bad entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BadEntry {
    /// Its id (for a removed tail: the first missing id).
    pub id: i64,
    /// What is wrong.
    #[serde(flatten)]
    pub problem: Problem,
}

impl BadEntry {
    /// One English sentence.
    pub fn en(&self) -> String {
        let id = self.id;
        match &self.problem {
            Problem::Edited => format!("entry #{id} was changed after it was written"),
            Problem::Missing { from, to } if from == to => {
                format!("entry #{from} was deleted (found at entry #{id})")
            }
            Problem::Missing { from, to } => {
                format!("entries #{from} to #{to} were deleted (found at entry #{id})")
            }
            Problem::OutOfOrder { after } => {
                format!("entry #{id} does not follow entry #{after}: entries were reordered or replaced")
            }
            Problem::PrefixRemoved => {
                format!("the entries before #{id} were deleted without a prune record")
            }
            Problem::TailRemoved { head } => {
                format!("entries #{id} to #{head} were deleted from the end of the log")
            }
            Problem::Unexpected { head } => {
                format!("entry #{id} was added after the last entry Kyso wrote (#{head})")
            }
            Problem::HeadMissing => {
                format!("the record of the last write is missing (log starts at entry #{id})")
            }
            Problem::Corrupt { detail } => format!("the database file is damaged: {detail}"),
        }
    }

    /// The same in Vietnamese.
    pub fn vi(&self) -> String {
        let id = self.id;
        match &self.problem {
            Problem::Edited => format!("bản ghi #{id} đã bị sửa sau khi ghi"),
            Problem::Missing { from, to } if from == to => {
                format!("bản ghi #{from} đã bị xoá (phát hiện tại bản ghi #{id})")
            }
            Problem::Missing { from, to } => {
                format!("các bản ghi từ #{from} đến #{to} đã bị xoá (phát hiện tại bản ghi #{id})")
            }
            Problem::OutOfOrder { after } => format!(
                "bản ghi #{id} không nối tiếp bản ghi #{after}: các bản ghi đã bị đổi thứ tự hoặc thay thế"
            ),
            Problem::PrefixRemoved => {
                format!("các bản ghi trước #{id} đã bị xoá mà không có bản ghi dọn nhật ký")
            }
            Problem::TailRemoved { head } => {
                format!("các bản ghi từ #{id} đến #{head} ở cuối nhật ký đã bị xoá")
            }
            Problem::Unexpected { head } => {
                format!("bản ghi #{id} được thêm vào sau bản ghi cuối cùng Kyso đã ghi (#{head})")
            }
            Problem::HeadMissing => {
                format!("thông tin về lần ghi cuối cùng đã bị xoá (nhật ký bắt đầu từ bản ghi #{id})")
            }
            Problem::Corrupt { detail } => format!("tệp cơ sở dữ liệu bị hỏng: {detail}"),
        }
    }
}

/// The result of checking the whole log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verification {
    /// How many entries were checked.
    pub entries: u64,
    /// The first entry present.
    pub first_id: Option<i64>,
    /// The last entry present.
    pub last_id: Option<i64>,
    /// The last entry's hash: write it down to anchor the log.
    pub last_hash: Option<String>,
    /// The first problem, or `None` when the chain is intact.
    pub first_bad: Option<BadEntry>,
}

impl Verification {
    /// Whether the chain is intact.
    pub fn is_ok(&self) -> bool {
        self.first_bad.is_none()
    }
}

/// Checks entries fed in id order. Feed every entry with [`Checker::push`],
/// then call [`Checker::finish`] with the head the store recorded.
#[derive(Debug, Default)]
pub struct Checker {
    entries: u64,
    first: Option<(i64, String)>,
    prev: Option<(i64, String)>,
    first_bad: Option<BadEntry>,
    /// Set once a prune entry's anchor matches the first entry.
    first_anchored: bool,
}

impl Checker {
    /// A checker with nothing seen.
    pub fn new() -> Self {
        Self::default()
    }

    /// Checks one entry. Returns `false` once a problem is found: later
    /// entries cannot change which one is first, so the caller may stop.
    pub fn push(&mut self, e: &Entry) -> bool {
        if self.first_bad.is_some() {
            return false;
        }
        self.entries += 1;
        let problem = if e.compute_hash() != e.hash {
            Some(Problem::Edited)
        } else {
            match &self.prev {
                Some((pid, _)) if e.id > pid + 1 => Some(Problem::Missing {
                    from: pid + 1,
                    to: e.id - 1,
                }),
                Some((pid, phash)) if e.id != pid + 1 || &e.prev_hash != phash => {
                    Some(Problem::OutOfOrder { after: *pid })
                }
                _ => None,
            }
        };
        if let Some(problem) = problem {
            self.first_bad = Some(BadEntry { id: e.id, problem });
            return false;
        }
        if self.first.is_none() {
            self.first = Some((e.id, e.prev_hash.clone()));
            self.first_anchored = e.id == 1 && e.prev_hash == GENESIS;
        }
        // The prune entry may itself be the first one left.
        if e.operation == Operation::Prune && !self.first_anchored {
            if let (Some(a), Some((fid, fprev))) = (&e.anchor, &self.first) {
                self.first_anchored = a.through_id == fid - 1 && &a.hash == fprev;
            }
        }
        self.prev = Some((e.id, e.hash.clone()));
        true
    }

    /// Records that the entry `id` holds a value no Kyso writes (an unknown
    /// operation name, a number where text belongs): it was edited.
    pub fn mark_edited(&mut self, id: i64) {
        if self.first_bad.is_none() {
            self.entries += 1;
            self.first_bad = Some(BadEntry {
                id,
                problem: Problem::Edited,
            });
        }
    }

    /// The verdict, given the head (`id`, `hash`) the store recorded with
    /// its last write (`None` for a log never written).
    pub fn finish(self, head: Option<(i64, String)>) -> Verification {
        let mut first_bad = self.first_bad;
        // A removed prefix is found last but concerns the earliest entry.
        if let Some((fid, _)) = &self.first {
            if !self.first_anchored {
                first_bad = Some(BadEntry {
                    id: *fid,
                    problem: Problem::PrefixRemoved,
                });
            }
        }
        if first_bad.is_none() {
            first_bad = match (&self.prev, &head) {
                (None, None) => None,
                (None, Some((hid, _))) => Some(BadEntry {
                    id: 1,
                    problem: Problem::TailRemoved { head: *hid },
                }),
                // Entries but no head: the head row was deleted, or the
                // entries were written by something other than Kyso.
                (Some(_), None) => {
                    let id = self.first.as_ref().map_or(1, |f| f.0);
                    Some(BadEntry {
                        id,
                        problem: Problem::HeadMissing,
                    })
                }
                (Some((lid, lhash)), Some((hid, hhash))) => {
                    if lid < hid {
                        Some(BadEntry {
                            id: lid + 1,
                            problem: Problem::TailRemoved { head: *hid },
                        })
                    } else if lid > hid {
                        Some(BadEntry {
                            id: hid + 1,
                            problem: Problem::Unexpected { head: *hid },
                        })
                    } else if lhash != hhash {
                        Some(BadEntry {
                            id: *lid,
                            problem: Problem::Edited,
                        })
                    } else {
                        None
                    }
                }
            };
        }
        Verification {
            entries: self.entries,
            first_id: self.first.as_ref().map(|f| f.0),
            last_id: self.prev.as_ref().map(|p| p.0),
            last_hash: self.prev.map(|p| p.1),
            first_bad,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::usage_log::model::{Anchor, NewEntry, Outcome};

    fn chain(n: i64) -> Vec<Entry> {
        let mut prev = GENESIS.to_string();
        (1..=n)
            .map(|id| {
                let mut new = NewEntry::now(Operation::Sign, Outcome::Ok);
                new.detail = Some(format!("entry {id}"));
                let e = Entry::seal(new, id, prev.clone());
                prev = e.hash.clone();
                e
            })
            .collect()
    }

    fn check(entries: &[Entry], head: Option<&Entry>) -> Verification {
        let mut c = Checker::new();
        for e in entries {
            c.push(e);
        }
        c.finish(head.map(|h| (h.id, h.hash.clone())))
    }

    fn bad(v: &Verification) -> (i64, Problem) {
        let b = v.first_bad.clone().expect("a problem");
        (b.id, b.problem)
    }

    #[test]
    fn intact_chain_verifies() {
        let c = chain(5);
        let v = check(&c, c.last());
        assert!(v.is_ok(), "{v:?}");
        assert_eq!((v.entries, v.first_id, v.last_id), (5, Some(1), Some(5)));
        assert!(check(&[], None).is_ok());
    }

    #[test]
    fn edited_entry_is_named() {
        let mut c = chain(5);
        c[2].os_user = "mallory".into();
        assert_eq!(bad(&check(&c, c.last())), (3, Problem::Edited));
    }

    #[test]
    fn rehashed_edit_is_caught_at_the_next_entry() {
        let mut c = chain(5);
        c[2].os_user = "mallory".into();
        c[2].hash = c[2].compute_hash();
        assert_eq!(
            bad(&check(&c, c.last())),
            (4, Problem::OutOfOrder { after: 3 })
        );
    }

    #[test]
    fn deleted_entry_is_named() {
        let mut c = chain(5);
        c.remove(2);
        assert_eq!(
            bad(&check(&c, c.last())),
            (4, Problem::Missing { from: 3, to: 3 })
        );
    }

    #[test]
    fn swapped_contents_are_caught() {
        let mut c = chain(5);
        // Swap everything but the ids, as an UPDATE would.
        let (a, b) = (c[1].clone(), c[3].clone());
        c[1] = Entry { id: 2, ..b };
        c[3] = Entry { id: 4, ..a };
        assert_eq!(bad(&check(&c, c.last())), (2, Problem::Edited));
    }

    #[test]
    fn removed_tail_and_prefix_are_caught() {
        let c = chain(5);
        assert_eq!(
            bad(&check(&c[..3], c.last())),
            (4, Problem::TailRemoved { head: 5 })
        );
        assert_eq!(bad(&check(&c[2..], c.last())), (3, Problem::PrefixRemoved));
        assert_eq!(
            bad(&check(&[], c.last())),
            (1, Problem::TailRemoved { head: 5 })
        );
        assert_eq!(
            bad(&check(&c, Some(&c[3]))),
            (5, Problem::Unexpected { head: 4 })
        );
    }

    #[test]
    fn prune_anchor_accounts_for_a_removed_prefix() {
        let mut c = chain(5);
        let mut prune = NewEntry::now(Operation::Prune, Outcome::Ok);
        prune.anchor = Some(Anchor {
            through_id: 2,
            hash: c[1].hash.clone(),
        });
        let p = Entry::seal(prune, 6, c[4].hash.clone());
        c.push(p);
        let v = check(&c[2..], c.last());
        assert!(v.is_ok(), "{v:?}");
        assert_eq!(v.first_id, Some(3));
        // An anchor for a different point does not vouch for the prefix.
        let v = check(&c[3..], c.last());
        assert_eq!(bad(&v), (4, Problem::PrefixRemoved));
    }
}
