//! [`InFlightTable`]: the requests a venue session has written and not yet seen answered,
//! keyed by the request id the session chose.
//!
//! Every venue session needs the same bookkeeping: remember a request when it is written,
//! match the reply by its id, turn the ones unanswered for too long into `Unknown(Timeout)`
//! and, when the connection drops, all of them into `Unknown(Disconnect)`. What a session
//! remembers per request differs (the type parameter); the table does not.
//!
//! The room is reserved once, at construction: the table never grows, so nothing on the order
//! path allocates, and a full table refuses the request instead (the session rejects the
//! command). Requests outstanding are few (a venue's rate limit bounds them), so a linear
//! search by id beats a map and keeps the memory in one block. Removal is `swap_remove`: the
//! order of the entries changes, but only as a function of the calls made, so the order in
//! which a sweep or a drain hands entries over is deterministic.

/// One request in flight.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InFlight<T> {
    /// The id the session put in the request; the venue echoes it in its reply.
    pub req_id: u64,
    /// Monotonic ns when it was written (or handed to a helper thread); ages it for timeouts.
    pub written_ns: u64,
    /// What the session needs when the reply (or its absence) is handled.
    pub op: T,
}

/// Requests in flight, at most a fixed number. See the [module docs](self).
#[derive(Debug)]
pub struct InFlightTable<T> {
    entries: Vec<InFlight<T>>,
    /// The room promised at construction (`Vec::with_capacity` may reserve more).
    cap: usize,
}

/// The placeholder left behind while a session lends its table out (`mem::take`) to hand
/// entries to its own methods: empty, with no room (nothing allocated), so it refuses inserts.
impl<T> Default for InFlightTable<T> {
    fn default() -> Self {
        Self {
            entries: Vec::new(),
            cap: 0,
        }
    }
}

impl<T> InFlightTable<T> {
    /// An empty table with room for `capacity` requests, allocated now and never again.
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            entries: Vec::with_capacity(capacity),
            cap: capacity,
        }
    }

    /// Remembers `entry`. A full table refuses it and hands it back, untouched.
    ///
    /// Request ids are expected to be unique; the table does not check.
    pub fn insert(&mut self, entry: InFlight<T>) -> Result<(), InFlight<T>> {
        if self.is_full() {
            return Err(entry);
        }
        self.entries.push(entry);
        Ok(())
    }

    /// Removes and returns the request with id `req_id`, if it is in flight (a reply to a
    /// request already timed out or lost finds nothing).
    pub fn take(&mut self, req_id: u64) -> Option<InFlight<T>> {
        let i = self.entries.iter().position(|e| e.req_id == req_id)?;
        Some(self.entries.swap_remove(i))
    }

    /// Removes every request written `limit_ns` or more before `now_ns` and hands each to
    /// `timed_out`, in a deterministic order. A `written_ns` after `now_ns` counts as age 0.
    pub fn sweep_timeouts(
        &mut self,
        now_ns: u64,
        limit_ns: u64,
        mut timed_out: impl FnMut(InFlight<T>),
    ) {
        let mut i = 0;
        while i < self.entries.len() {
            if now_ns.saturating_sub(self.entries[i].written_ns) >= limit_ns {
                // The last entry moves into slot `i`: look at `i` again.
                timed_out(self.entries.swap_remove(i));
            } else {
                i += 1;
            }
        }
    }

    /// Removes every request, oldest insert first, handing each to `lost` (the connection is
    /// gone: none will be answered).
    pub fn drain(&mut self, lost: impl FnMut(InFlight<T>)) {
        self.entries.drain(..).for_each(lost);
    }

    /// Requests in flight.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Nothing in flight.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// No room for another request: [`insert`](Self::insert) would refuse it.
    pub fn is_full(&self) -> bool {
        self.entries.len() >= self.cap
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use proptest::prelude::*;

    use super::*;

    fn entry(req_id: u64, written_ns: u64) -> InFlight<u64> {
        InFlight {
            req_id,
            written_ns,
            op: req_id * 10,
        }
    }

    #[test]
    fn insert_take_and_refuse_when_full() {
        let mut t = InFlightTable::with_capacity(2);
        let reserved = t.entries.capacity();
        assert!(t.is_empty() && !t.is_full());
        assert_eq!(t.insert(entry(1, 100)), Ok(()));
        assert_eq!(t.insert(entry(2, 200)), Ok(()));
        assert!(t.is_full());
        assert_eq!(
            t.insert(entry(3, 300)),
            Err(entry(3, 300)),
            "handed back whole"
        );
        assert_eq!(t.len(), 2);
        assert_eq!(t.take(1), Some(entry(1, 100)));
        assert_eq!(t.take(1), None, "a second reply finds nothing");
        assert_eq!(t.take(9), None);
        assert_eq!(t.insert(entry(3, 300)), Ok(()), "room again");
        assert_eq!(t.entries.capacity(), reserved, "never grown");
    }

    #[test]
    fn sweep_removes_what_waited_the_limit_or_longer() {
        let mut t = InFlightTable::with_capacity(8);
        for (id, at) in [(1, 100), (2, 500), (3, 150), (4, 900), (5, 1_000)] {
            t.insert(entry(id, at)).unwrap();
        }
        let mut out = Vec::new();
        t.sweep_timeouts(1_000, 901, |e| out.push(e.req_id));
        assert!(out.is_empty(), "none has waited 901 ns");
        t.sweep_timeouts(1_000, 900, |e| out.push(e.req_id));
        assert_eq!(out, [1], "waited exactly the limit: timed out");
        out.clear();
        t.sweep_timeouts(1_000, 100, |e| out.push(e.req_id));
        assert_eq!(
            out,
            [2, 4, 3],
            "an entry moved into a freed slot is looked at too"
        );
        assert_eq!(t.len(), 1);
        // A clock behind a `written_ns` (read after the caller's `now_ns`) is age 0.
        out.clear();
        t.sweep_timeouts(0, 1, |e| out.push(e.req_id));
        assert!(out.is_empty());
    }

    #[test]
    fn drain_hands_over_everything_in_insert_order() {
        let mut t = InFlightTable::with_capacity(4);
        for id in [7, 3, 5] {
            t.insert(entry(id, id)).unwrap();
        }
        let mut out = Vec::new();
        t.drain(|e| out.push((e.req_id, e.op)));
        assert_eq!(out, [(7, 70), (3, 30), (5, 50)]);
        assert!(t.is_empty());
        assert_eq!(t.insert(entry(1, 1)), Ok(()), "usable after a drain");
    }

    #[test]
    fn the_placeholder_has_no_room() {
        let mut t = InFlightTable::<u64>::default();
        assert!(t.is_full() && t.is_empty());
        assert_eq!(t.insert(entry(1, 1)), Err(entry(1, 1)));
    }

    #[derive(Clone, Debug)]
    enum Step {
        Insert { written_ns: u64 },
        Take { back: u64 },
        Sweep { now_ns: u64, limit_ns: u64 },
        Drain,
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            4 => (0u64..1_000).prop_map(|written_ns| Step::Insert { written_ns }),
            3 => (0u64..12).prop_map(|back| Step::Take { back }),
            2 => (0u64..1_200, 0u64..600)
                .prop_map(|(now_ns, limit_ns)| Step::Sweep { now_ns, limit_ns }),
            1 => Just(Step::Drain),
        ]
    }

    /// Runs `steps` against a table of `cap` and a map by request id, checking they agree after
    /// every step; returns the request ids in the order sweeps and drains handed them over.
    fn run(cap: usize, steps: &[Step]) -> Result<Vec<u64>, TestCaseError> {
        let mut t = InFlightTable::with_capacity(cap);
        let reserved = t.entries.capacity();
        let mut model: BTreeMap<u64, u64> = BTreeMap::new();
        let mut handed = Vec::new();
        let mut next_id = 1u64;
        let expired = |now_ns: u64, limit_ns: u64, w: u64| now_ns.saturating_sub(w) >= limit_ns;
        for s in steps {
            match *s {
                Step::Insert { written_ns } => {
                    let e = entry(next_id, written_ns);
                    let room = model.len() < cap;
                    prop_assert_eq!(t.insert(e), if room { Ok(()) } else { Err(e) });
                    if room {
                        model.insert(next_id, written_ns);
                    }
                    next_id += 1;
                }
                Step::Take { back } => {
                    // Ids recently issued: some in flight, some gone, some never kept.
                    let id = next_id.saturating_sub(back);
                    let want = model.remove(&id).map(|w| entry(id, w));
                    prop_assert_eq!(t.take(id), want);
                }
                Step::Sweep { now_ns, limit_ns } => {
                    let mut got = Vec::new();
                    t.sweep_timeouts(now_ns, limit_ns, |e| got.push(e));
                    handed.extend(got.iter().map(|e| e.req_id));
                    got.sort_by_key(|e| e.req_id);
                    let want: Vec<_> = model
                        .iter()
                        .filter(|&(_, &w)| expired(now_ns, limit_ns, w))
                        .map(|(&id, &w)| entry(id, w))
                        .collect();
                    model.retain(|_, w| !expired(now_ns, limit_ns, *w));
                    prop_assert_eq!(got, want);
                }
                Step::Drain => {
                    let mut got = Vec::new();
                    t.drain(|e| got.push(e));
                    handed.extend(got.iter().map(|e| e.req_id));
                    got.sort_by_key(|e| e.req_id);
                    let want: Vec<_> = model.iter().map(|(&id, &w)| entry(id, w)).collect();
                    model.clear();
                    prop_assert_eq!(got, want);
                }
            }
            prop_assert_eq!(t.len(), model.len());
            prop_assert_eq!(t.is_empty(), model.is_empty());
            prop_assert_eq!(t.is_full(), model.len() == cap);
            prop_assert_eq!(t.entries.capacity(), reserved, "never grown");
        }
        Ok(handed)
    }

    proptest! {
        /// The table holds exactly what a map by request id would, refuses exactly when full,
        /// never grows, and the same steps hand entries over in the same order.
        #[test]
        fn matches_a_map_by_request_id(
            cap in 1usize..8,
            steps in proptest::collection::vec(step(), 1..200),
        ) {
            let first = run(cap, &steps)?;
            prop_assert_eq!(first, run(cap, &steps)?, "deterministic");
        }
    }
}
