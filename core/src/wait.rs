//! How a thread waits when a poll finds nothing: the configured [`WaitPolicy`] and the
//! [`Backoff`] state machine that carries it out.
//!
//! A hot thread busy-polls its inputs (rings, sockets). When a poll finds no work the thread
//! calls [`Backoff::idle`]; when it finds work it calls [`Backoff::reset`]. The policy decides
//! what "idle" costs: latency (how late the thread notices new work) against CPU (how much it
//! takes from other threads on the same core).
//!
//! | policy | idle does | wake-up latency | use it |
//! |---|---|---|---|
//! | `spin` | one `spin_loop` hint, forever | tens of ns | pinned, isolated cores only |
//! | `spin-then-yield` | spins, then `yield_now` | µs when others want the core | a core shared with few threads |
//! | `spin-then-park` | spins, yields, then sleeps `park` | up to `park` + timer slack | shared hosts, laptops, CI (default) |

use core::fmt;
use core::str::FromStr;
use std::thread;
use std::time::Duration;

/// What a thread does when a poll found no work. Config names: `spin`, `spin-then-yield`,
/// `spin-then-park`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum WaitPolicy {
    /// Busy-poll forever (a `spin_loop` hint between polls): the lowest latency, and a whole
    /// core burnt at 100 %.
    ///
    /// **Only for a thread pinned to an isolated core.** On a shared or small host (this
    /// project's 2-core machines, CI) a spinning thread takes a core from the threads it waits
    /// for and from the OS; the planner in [`crate::topology`] never gives `Spin` to an unpinned
    /// thread.
    Spin,
    /// Spin `spins` polls, then give the core away with `thread::yield_now` between polls.
    /// Yielding still keeps the thread runnable (a yielding thread shows 100 % CPU), but it lets
    /// any other runnable thread on the core go first.
    SpinThenYield {
        /// Polls answered with a `spin_loop` hint before yielding.
        spins: u32,
    },
    /// Spin `spins` polls, yield `yields` polls, then sleep up to `park` between polls
    /// (`thread::park_timeout`, so an `unpark` wakes it early). The only policy that lets an
    /// idle thread use no CPU; the price is up to `park` (plus the OS timer slack, ~50 µs on
    /// Linux) of extra latency for the first record after a quiet spell.
    SpinThenPark {
        /// Polls answered with a `spin_loop` hint before yielding.
        spins: u32,
        /// Polls answered with `thread::yield_now` before parking.
        yields: u32,
        /// How long to sleep between polls once parked.
        park: Duration,
    },
}

impl WaitPolicy {
    /// Default spin count: about 1–10 µs of `pause` depending on the CPU, long enough to catch
    /// a peer that is about to produce, short enough not to matter on a shared core.
    pub const DEFAULT_SPINS: u32 = 128;
    /// Default yield count before parking: a few scheduler round trips.
    pub const DEFAULT_YIELDS: u32 = 16;
    /// Default park: short enough that a quiet thread reacts within ~0.1 ms, long enough that
    /// idle threads cost next to no CPU on a 2-core host.
    pub const DEFAULT_PARK: Duration = Duration::from_micros(50);

    /// All config names, in declaration order (for error messages and `--help`).
    pub const NAMES: [&'static str; 3] = ["spin", "spin-then-yield", "spin-then-park"];

    /// `spin-then-yield` with the default spin count.
    pub const fn spin_then_yield() -> Self {
        Self::SpinThenYield {
            spins: Self::DEFAULT_SPINS,
        }
    }

    /// `spin-then-park` with the default counts and park duration.
    pub const fn spin_then_park() -> Self {
        Self::SpinThenPark {
            spins: Self::DEFAULT_SPINS,
            yields: Self::DEFAULT_YIELDS,
            park: Self::DEFAULT_PARK,
        }
    }

    /// The config name.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Spin => "spin",
            Self::SpinThenYield { .. } => "spin-then-yield",
            Self::SpinThenPark { .. } => "spin-then-park",
        }
    }

    /// True for [`WaitPolicy::Spin`], the policy that never gives its core away.
    pub const fn is_spin(self) -> bool {
        matches!(self, Self::Spin)
    }
}

impl Default for WaitPolicy {
    /// `spin-then-park`: the only policy that is safe everywhere, including 2-core hosts where
    /// hot threads outnumber cores. Pinned deployments choose `spin` explicitly.
    fn default() -> Self {
        Self::spin_then_park()
    }
}

impl fmt::Display for WaitPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A wait policy name that is not one of [`WaitPolicy::NAMES`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseWaitPolicyError(pub String);

impl fmt::Display for ParseWaitPolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown wait policy {:?} (expected one of: {})",
            self.0,
            WaitPolicy::NAMES.join(", ")
        )
    }
}

impl std::error::Error for ParseWaitPolicyError {}

impl FromStr for WaitPolicy {
    type Err = ParseWaitPolicyError;

    /// Parses a config name; the counts and park duration take their defaults.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "spin" => Ok(Self::Spin),
            "spin-then-yield" => Ok(Self::spin_then_yield()),
            "spin-then-park" => Ok(Self::spin_then_park()),
            _ => Err(ParseWaitPolicyError(s.to_owned())),
        }
    }
}

/// Which stage of its policy a [`Backoff`] is in: what the next [`Backoff::idle`] will do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// A `spin_loop` hint.
    Spin,
    /// `thread::yield_now`.
    Yield,
    /// `thread::park_timeout` for the policy's park duration.
    Park,
}

/// The per-thread wait state machine for a [`WaitPolicy`]: call [`idle`](Self::idle) each time a
/// poll found nothing and [`reset`](Self::reset) each time it found work.
///
/// It is a counter and a copy of the policy: no allocation, no shared state; `idle` makes a
/// syscall only in the yield and park phases, which is what those phases are for.
#[derive(Clone, Debug)]
pub struct Backoff {
    policy: WaitPolicy,
    /// Consecutive idle polls since the last reset, saturating.
    idle_polls: u32,
}

impl Backoff {
    /// A backoff at the start of its policy.
    pub const fn new(policy: WaitPolicy) -> Self {
        Self {
            policy,
            idle_polls: 0,
        }
    }

    /// The policy this backoff carries out.
    pub const fn policy(&self) -> WaitPolicy {
        self.policy
    }

    /// What the next [`idle`](Self::idle) call will do.
    pub const fn phase(&self) -> Phase {
        match self.policy {
            WaitPolicy::Spin => Phase::Spin,
            WaitPolicy::SpinThenYield { spins } => {
                if self.idle_polls < spins {
                    Phase::Spin
                } else {
                    Phase::Yield
                }
            }
            WaitPolicy::SpinThenPark { spins, yields, .. } => {
                if self.idle_polls < spins {
                    Phase::Spin
                } else if self.idle_polls < spins.saturating_add(yields) {
                    Phase::Yield
                } else {
                    Phase::Park
                }
            }
        }
    }

    /// Consecutive idle polls since the last [`reset`](Self::reset) (saturates at `u32::MAX`).
    pub const fn idle_polls(&self) -> u32 {
        self.idle_polls
    }

    /// A poll found nothing: wait according to the policy's current phase, then advance it.
    #[inline]
    pub fn idle(&mut self) {
        match self.phase() {
            Phase::Spin => core::hint::spin_loop(),
            Phase::Yield => thread::yield_now(),
            Phase::Park => {
                if let WaitPolicy::SpinThenPark { park, .. } = self.policy {
                    // park_timeout rather than sleep: a future waker (`Thread::unpark`) can cut
                    // the wait short, and spurious wake-ups are harmless because the caller
                    // re-polls anyway.
                    thread::park_timeout(park);
                }
            }
        }
        self.idle_polls = self.idle_polls.saturating_add(1);
    }

    /// A poll found work: the next idle spell starts again with spinning.
    #[inline]
    pub fn reset(&mut self) {
        self.idle_polls = 0;
    }
}

impl Default for Backoff {
    /// A backoff for the default policy ([`WaitPolicy::spin_then_park`]).
    fn default() -> Self {
        Self::new(WaitPolicy::default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for name in WaitPolicy::NAMES {
            let policy: WaitPolicy = name.parse().unwrap();
            assert_eq!(policy.name(), name);
            assert_eq!(policy.to_string(), name);
        }
        assert_eq!(
            "spin-then-park".parse::<WaitPolicy>(),
            Ok(WaitPolicy::default())
        );
    }

    #[test]
    fn unknown_name_is_a_clear_error() {
        let err = "spinny".parse::<WaitPolicy>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown wait policy \"spinny\" (expected one of: spin, spin-then-yield, spin-then-park)"
        );
        assert!("Spin".parse::<WaitPolicy>().is_err(), "names are exact");
    }

    #[test]
    fn default_never_spins_forever() {
        assert!(!WaitPolicy::default().is_spin());
        assert!(matches!(
            WaitPolicy::default(),
            WaitPolicy::SpinThenPark { .. }
        ));
        assert_eq!(Backoff::default().policy(), WaitPolicy::default());
    }

    #[test]
    fn spin_stays_spinning() {
        let mut b = Backoff::new(WaitPolicy::Spin);
        for _ in 0..10_000 {
            assert_eq!(b.phase(), Phase::Spin);
            b.idle();
        }
        assert_eq!(b.idle_polls(), 10_000);
    }

    #[test]
    fn spin_then_yield_phases_and_reset() {
        let mut b = Backoff::new(WaitPolicy::SpinThenYield { spins: 3 });
        let phases: Vec<Phase> = (0..5)
            .map(|_| {
                let p = b.phase();
                b.idle();
                p
            })
            .collect();
        assert_eq!(
            phases,
            [
                Phase::Spin,
                Phase::Spin,
                Phase::Spin,
                Phase::Yield,
                Phase::Yield
            ]
        );
        b.reset();
        assert_eq!(b.phase(), Phase::Spin);
        assert_eq!(b.idle_polls(), 0);
    }

    #[test]
    fn spin_then_park_phases() {
        let mut b = Backoff::new(WaitPolicy::SpinThenPark {
            spins: 2,
            yields: 2,
            park: Duration::from_micros(1),
        });
        let phases: Vec<Phase> = (0..6)
            .map(|_| {
                let p = b.phase();
                b.idle();
                p
            })
            .collect();
        assert_eq!(
            phases,
            [
                Phase::Spin,
                Phase::Spin,
                Phase::Yield,
                Phase::Yield,
                Phase::Park,
                Phase::Park
            ]
        );
        b.reset();
        assert_eq!(b.phase(), Phase::Spin);
    }

    #[test]
    fn zero_counts_go_straight_to_the_last_phase() {
        let b = Backoff::new(WaitPolicy::SpinThenYield { spins: 0 });
        assert_eq!(b.phase(), Phase::Yield);
        let b = Backoff::new(WaitPolicy::SpinThenPark {
            spins: 0,
            yields: 0,
            park: Duration::from_micros(1),
        });
        assert_eq!(b.phase(), Phase::Park);
    }

    #[test]
    fn counts_saturate_instead_of_wrapping_back_to_spin() {
        let mut b = Backoff::new(WaitPolicy::SpinThenYield { spins: 1 });
        b.idle_polls = u32::MAX - 1;
        b.idle();
        b.idle();
        assert_eq!(b.idle_polls(), u32::MAX);
        assert_eq!(b.phase(), Phase::Yield);
    }
}
