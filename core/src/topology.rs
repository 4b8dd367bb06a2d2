//! Which thread runs where: the configured [`Topology`], the thread [`Role`]s, a pure planner
//! that turns them and the host's cores into a [`ThreadPlan`], and [`spawn`], which starts a
//! role's thread as planned (named, and pinned when the plan says so).
//!
//! The planner is a pure function of its inputs ([`plan`]); only [`plan_for_this_host`] asks the
//! OS for its cores. That keeps every decision — and every warning — testable with made-up core
//! lists.
//!
//! The rule behind every decision: **a thread spins only on a core of its own.** An unpinned
//! thread never gets [`WaitPolicy::Spin`]; on a host with fewer cores than hot threads, busy
//! threads would take turns on the cores and the one holding the record would wait for the one
//! spinning (this project's own machines have 2 cores).

use core::fmt;
use core::str::FromStr;
use std::io;
use std::thread::{self, JoinHandle};

pub use core_affinity::CoreId;

use crate::wait::{Backoff, WaitPolicy};

/// How hot threads are placed on cores. Config names: `pinned`, `shared`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Topology {
    /// Each hot role on a core of its own, busy-polling: the colocated deployment.
    Pinned,
    /// No pinning; the OS schedules hot threads on whatever cores there are. For small hosts,
    /// laptops and CI. The default, because it is safe on any host.
    #[default]
    Shared,
}

impl Topology {
    /// All config names, in declaration order.
    pub const NAMES: [&'static str; 2] = ["pinned", "shared"];

    /// The config name.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Pinned => "pinned",
            Self::Shared => "shared",
        }
    }
}

impl fmt::Display for Topology {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A topology name that is not one of [`Topology::NAMES`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseTopologyError(pub String);

impl fmt::Display for ParseTopologyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown topology {:?} (expected one of: {})",
            self.0,
            Topology::NAMES.join(", ")
        )
    }
}

impl std::error::Error for ParseTopologyError {}

impl FromStr for Topology {
    type Err = ParseTopologyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "pinned" => Ok(Self::Pinned),
            "shared" => Ok(Self::Shared),
            _ => Err(ParseTopologyError(s.to_owned())),
        }
    }
}

/// What a thread does in the engine.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    /// A feed thread, one per venue connection group (the number tells them apart).
    Feed(u16),
    /// The single-threaded core: books, strategies, risk, orders, journal.
    Core,
    /// Order entry: signing, sending, reading acks and fills.
    Exec,
    /// Histograms, alerts, metrics, control socket: never hot, never pinned.
    Ops,
}

impl Role {
    /// Whether the role is on the tick-to-trade path, and so gets a core of its own when the
    /// topology is `pinned`.
    pub const fn is_hot(self) -> bool {
        !matches!(self, Self::Ops)
    }

    /// The OS thread name: `tw-` and the role (`tw-core`, `tw-exec`, `tw-feed-0`, `tw-ops`), at
    /// most 13 bytes, inside Linux's 15-byte limit so `top -H` and `perf` show it whole.
    pub fn thread_name(self) -> String {
        format!("tw-{self}")
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Feed(n) => write!(f, "feed-{n}"),
            Self::Core => f.write_str("core"),
            Self::Exec => f.write_str("exec"),
            Self::Ops => f.write_str("ops"),
        }
    }
}

/// One role's place in a [`ThreadPlan`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PlannedThread {
    /// The role.
    pub role: Role,
    /// The core to pin the thread to, if any.
    pub core: Option<CoreId>,
    /// How the thread waits when idle. Never [`WaitPolicy::Spin`] when `core` is `None`.
    pub wait: WaitPolicy,
}

/// Something the planner changed or wants the operator to know. [`fmt::Display`] gives the
/// message to log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PlanWarning {
    /// `pinned` was requested but the host has fewer cores than hot roles: every role runs
    /// unpinned (`shared`) instead.
    TooFewCores {
        /// Hot roles that wanted a core each.
        roles: Vec<Role>,
        /// Cores this host offers.
        available: usize,
    },
    /// `pinned` uses every core of the host: the OS, interrupts and the ops thread share cores
    /// with busy-polling threads.
    NoSpareCore {
        /// Cores this host offers (all taken).
        cores: usize,
    },
    /// `spin` was requested for a thread that has no core of its own: it waits with `instead`.
    SpinUnpinned {
        /// The role.
        role: Role,
        /// The policy it gets instead.
        instead: WaitPolicy,
    },
    /// The role was listed more than once; only its first entry is planned.
    DuplicateRole(Role),
}

impl fmt::Display for PlanWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooFewCores { roles, available } => {
                let names = roles
                    .iter()
                    .map(Role::to_string)
                    .collect::<Vec<_>>()
                    .join(", ");
                write!(
                    f,
                    "pinned topology needs {} cores for {names} but this host has {available}: \
                     falling back to shared for {names} (unpinned, no busy spinning)",
                    roles.len()
                )
            }
            Self::NoSpareCore { cores } => write!(
                f,
                "pinned topology uses all {cores} cores of this host for hot threads: none is \
                 left for the OS, interrupts and the ops thread"
            ),
            Self::SpinUnpinned { role, instead } => write!(
                f,
                "wait policy spin needs a pinned core but the {role} thread has none: using \
                 {instead} instead"
            ),
            Self::DuplicateRole(role) => {
                write!(
                    f,
                    "role {role} is listed more than once: only the first counts"
                )
            }
        }
    }
}

/// Where each role's thread runs and how it waits: the output of [`plan`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ThreadPlan {
    /// The topology the config asked for.
    pub requested: Topology,
    /// The topology actually used (`shared` after a fallback).
    pub topology: Topology,
    /// One entry per role, in the order the roles were given.
    pub threads: Vec<PlannedThread>,
    /// What the planner changed, for the log. Empty when the config was followed as written.
    pub warnings: Vec<PlanWarning>,
}

impl ThreadPlan {
    /// The plan for `role`, if it was planned.
    pub fn thread(&self, role: Role) -> Option<&PlannedThread> {
        self.threads.iter().find(|t| t.role == role)
    }
}

/// Plans `roles` (each with its configured wait policy) on a host offering `cores`.
///
/// - `shared`: nobody is pinned.
/// - `pinned` with at least as many cores as hot roles: hot roles get a core each, in the order
///   given. If there is a spare core, the first one in `cores` (usually CPU 0, which takes most
///   interrupts and housekeeping) is left to the OS and the ops thread, and the roles take the
///   cores after it in order. The planner knows nothing of SMT siblings or NUMA nodes: choose
///   the cores by restricting the process (`taskset`, a cgroup cpuset) — `cores` is then the
///   allowed set.
/// - `pinned` with too few cores: [`PlanWarning::TooFewCores`] and the `shared` plan. There is
///   no partial pinning: an unpinned thread could still be scheduled on a pinned spinner's core
///   and fight it.
///
/// In every case an unpinned thread configured with `spin` gets the default
/// [`WaitPolicy::spin_then_park`] and a [`PlanWarning::SpinUnpinned`].
pub fn plan(topology: Topology, roles: &[(Role, WaitPolicy)], cores: &[CoreId]) -> ThreadPlan {
    let mut warnings = Vec::new();
    let mut unique: Vec<(Role, WaitPolicy)> = Vec::with_capacity(roles.len());
    for &(role, wait) in roles {
        if unique.iter().any(|&(r, _)| r == role) {
            warnings.push(PlanWarning::DuplicateRole(role));
        } else {
            unique.push((role, wait));
        }
    }

    let hot: Vec<Role> = unique
        .iter()
        .map(|&(r, _)| r)
        .filter(|r| r.is_hot())
        .collect();
    let effective = match topology {
        Topology::Shared => Topology::Shared,
        Topology::Pinned if cores.len() < hot.len() => {
            warnings.push(PlanWarning::TooFewCores {
                roles: hot.clone(),
                available: cores.len(),
            });
            Topology::Shared
        }
        Topology::Pinned => {
            if cores.len() == hot.len() && !hot.is_empty() {
                warnings.push(PlanWarning::NoSpareCore { cores: cores.len() });
            }
            Topology::Pinned
        }
    };

    // Pinned: the first core stays spare when there is one to spare; hot roles take the
    // following cores in order.
    let skip = usize::from(cores.len() > hot.len());
    let mut free_cores = cores[skip..].iter().copied();
    let threads = unique
        .into_iter()
        .map(|(role, wait)| {
            let core = match effective {
                Topology::Pinned if role.is_hot() => free_cores.next(),
                _ => None,
            };
            let wait = if core.is_none() && wait.is_spin() {
                let instead = WaitPolicy::spin_then_park();
                warnings.push(PlanWarning::SpinUnpinned { role, instead });
                instead
            } else {
                wait
            };
            PlannedThread { role, core, wait }
        })
        .collect();

    ThreadPlan {
        requested: topology,
        topology: effective,
        threads,
        warnings,
    }
}

/// [`plan`] with the cores this process may run on (`core_affinity::get_core_ids`, which honours
/// `taskset` and cgroup cpusets). A host that cannot report its cores counts as having none,
/// which makes `pinned` fall back to `shared`.
pub fn plan_for_this_host(topology: Topology, roles: &[(Role, WaitPolicy)]) -> ThreadPlan {
    let cores = core_affinity::get_core_ids().unwrap_or_default();
    plan(topology, roles, &cores)
}

/// What a thread started by [`spawn`] gets: its place in the plan, and whether pinning worked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ThreadCtx {
    /// The role.
    pub role: Role,
    /// The core the plan gave it.
    pub core: Option<CoreId>,
    /// Whether the thread is actually pinned to `core` (false if the OS refused).
    pub pinned: bool,
    /// The wait policy to use: the plan's, except that `spin` becomes
    /// [`WaitPolicy::spin_then_park`] if pinning failed.
    pub wait: WaitPolicy,
}

impl ThreadCtx {
    /// A fresh [`Backoff`] for this thread's wait policy.
    pub fn backoff(&self) -> Backoff {
        Backoff::new(self.wait)
    }

    /// The plan gave this thread a core but the OS refused to pin it: worth a log line (the
    /// thread itself cannot know whether it may log).
    pub fn pin_failed(&self) -> bool {
        self.core.is_some() && !self.pinned
    }
}

/// Starts `role`'s thread as `plan` says: named [`Role::thread_name`], pinned to its core if it
/// has one, and running `f` with its [`ThreadCtx`].
///
/// Fails if `role` is not in the plan (a config or wiring mistake, better caught at start-up
/// than run unpinned by accident) or if the OS cannot create the thread.
pub fn spawn<F, R>(role: Role, plan: &ThreadPlan, f: F) -> io::Result<JoinHandle<R>>
where
    F: FnOnce(ThreadCtx) -> R + Send + 'static,
    R: Send + 'static,
{
    let planned = *plan.thread(role).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("role {role} is not in the thread plan"),
        )
    })?;
    thread::Builder::new()
        .name(role.thread_name())
        .spawn(move || {
            // Pin from inside the thread: affinity is per thread, and pinning before the first
            // instruction of `f` means its stack and first allocations land on the right core.
            let pinned = planned.core.is_some_and(core_affinity::set_for_current);
            let wait = if !pinned && planned.wait.is_spin() {
                WaitPolicy::spin_then_park()
            } else {
                planned.wait
            };
            f(ThreadCtx {
                role,
                core: planned.core,
                pinned,
                wait,
            })
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(ids: &[usize]) -> Vec<CoreId> {
        ids.iter().map(|&id| CoreId { id }).collect()
    }

    const HOT_SPIN: [(Role, WaitPolicy); 3] = [
        (Role::Feed(0), WaitPolicy::Spin),
        (Role::Core, WaitPolicy::Spin),
        (Role::Exec, WaitPolicy::Spin),
    ];

    fn cores_of(plan: &ThreadPlan) -> Vec<Option<usize>> {
        plan.threads.iter().map(|t| t.core.map(|c| c.id)).collect()
    }

    #[test]
    fn names_round_trip() {
        for name in Topology::NAMES {
            let t: Topology = name.parse().unwrap();
            assert_eq!(t.name(), name);
            assert_eq!(t.to_string(), name);
        }
        assert_eq!(Topology::default(), Topology::Shared);
        assert_eq!(
            "pined".parse::<Topology>().unwrap_err().to_string(),
            "unknown topology \"pined\" (expected one of: pinned, shared)"
        );
    }

    #[test]
    fn thread_names() {
        assert_eq!(Role::Core.thread_name(), "tw-core");
        assert_eq!(Role::Exec.thread_name(), "tw-exec");
        assert_eq!(Role::Feed(0).thread_name(), "tw-feed-0");
        assert_eq!(Role::Ops.thread_name(), "tw-ops");
        assert!(Role::Feed(u16::MAX).thread_name().len() <= 15);
    }

    #[test]
    fn pinned_with_a_spare_core_leaves_the_first_one_free() {
        let roles = [
            (Role::Feed(0), WaitPolicy::Spin),
            (Role::Core, WaitPolicy::Spin),
            (Role::Exec, WaitPolicy::spin_then_yield()),
            (Role::Ops, WaitPolicy::spin_then_park()),
        ];
        let p = plan(Topology::Pinned, &roles, &ids(&[0, 1, 2, 3]));
        assert_eq!(p.topology, Topology::Pinned);
        assert_eq!(p.warnings, []);
        assert_eq!(cores_of(&p), [Some(1), Some(2), Some(3), None]);
        assert_eq!(p.thread(Role::Core).unwrap().wait, WaitPolicy::Spin);
        assert_eq!(
            p.thread(Role::Exec).unwrap().wait,
            WaitPolicy::spin_then_yield(),
            "non-spin policies are kept as configured"
        );
    }

    #[test]
    fn pinned_uses_the_cores_it_is_given_whatever_their_ids() {
        let p = plan(Topology::Pinned, &HOT_SPIN, &ids(&[2, 5, 7, 9, 11]));
        assert_eq!(cores_of(&p), [Some(5), Some(7), Some(9)]);
        assert_eq!(p.warnings, []);
    }

    #[test]
    fn pinned_with_exactly_enough_cores_pins_and_warns() {
        let p = plan(Topology::Pinned, &HOT_SPIN, &ids(&[0, 1, 2]));
        assert_eq!(p.topology, Topology::Pinned);
        assert_eq!(cores_of(&p), [Some(0), Some(1), Some(2)]);
        assert_eq!(p.warnings, [PlanWarning::NoSpareCore { cores: 3 }]);
        assert!(p.threads.iter().all(|t| t.wait == WaitPolicy::Spin));
    }

    #[test]
    fn pinned_with_too_few_cores_falls_back_to_shared_without_spinning() {
        let p = plan(Topology::Pinned, &HOT_SPIN, &ids(&[0, 1]));
        assert_eq!(p.requested, Topology::Pinned);
        assert_eq!(p.topology, Topology::Shared);
        assert_eq!(cores_of(&p), [None, None, None]);
        assert!(
            p.threads
                .iter()
                .all(|t| t.wait == WaitPolicy::spin_then_park())
        );
        assert_eq!(
            p.warnings[0].to_string(),
            "pinned topology needs 3 cores for feed-0, core, exec but this host has 2: \
             falling back to shared for feed-0, core, exec (unpinned, no busy spinning)"
        );
        assert_eq!(
            p.warnings[1..],
            [
                PlanWarning::SpinUnpinned {
                    role: Role::Feed(0),
                    instead: WaitPolicy::spin_then_park()
                },
                PlanWarning::SpinUnpinned {
                    role: Role::Core,
                    instead: WaitPolicy::spin_then_park()
                },
                PlanWarning::SpinUnpinned {
                    role: Role::Exec,
                    instead: WaitPolicy::spin_then_park()
                },
            ]
        );
        assert_eq!(
            p.warnings[2].to_string(),
            "wait policy spin needs a pinned core but the core thread has none: using \
             spin-then-park instead"
        );
    }

    #[test]
    fn a_host_that_reports_no_cores_cannot_pin() {
        let p = plan(Topology::Pinned, &HOT_SPIN[..1], &[]);
        assert_eq!(p.topology, Topology::Shared);
        assert!(matches!(
            p.warnings[0],
            PlanWarning::TooFewCores { available: 0, .. }
        ));
    }

    #[test]
    fn ops_needs_no_core() {
        let roles = [
            (Role::Core, WaitPolicy::Spin),
            (Role::Exec, WaitPolicy::Spin),
            (Role::Ops, WaitPolicy::spin_then_park()),
        ];
        let p = plan(Topology::Pinned, &roles, &ids(&[0, 1, 2]));
        assert_eq!(p.topology, Topology::Pinned);
        assert_eq!(cores_of(&p), [Some(1), Some(2), None]);
        assert_eq!(p.warnings, []);
    }

    #[test]
    fn shared_pins_nothing_and_never_spins() {
        let roles = [
            (Role::Feed(0), WaitPolicy::Spin),
            (Role::Feed(1), WaitPolicy::spin_then_yield()),
            (Role::Core, WaitPolicy::spin_then_park()),
            (Role::Ops, WaitPolicy::Spin),
        ];
        let p = plan(Topology::Shared, &roles, &ids(&[0, 1, 2, 3, 4, 5, 6, 7]));
        assert_eq!(p.topology, Topology::Shared);
        assert_eq!(cores_of(&p), [None, None, None, None]);
        let waits: Vec<WaitPolicy> = p.threads.iter().map(|t| t.wait).collect();
        assert_eq!(
            waits,
            [
                WaitPolicy::spin_then_park(),
                WaitPolicy::spin_then_yield(),
                WaitPolicy::spin_then_park(),
                WaitPolicy::spin_then_park(),
            ]
        );
        assert_eq!(p.warnings.len(), 2, "{:?}", p.warnings);
        assert!(
            p.warnings
                .iter()
                .all(|w| matches!(w, PlanWarning::SpinUnpinned { .. }))
        );
    }

    #[test]
    fn duplicate_roles_are_planned_once() {
        let roles = [
            (Role::Core, WaitPolicy::spin_then_yield()),
            (Role::Core, WaitPolicy::Spin),
        ];
        let p = plan(Topology::Pinned, &roles, &ids(&[0, 1]));
        assert_eq!(p.threads.len(), 1);
        assert_eq!(
            p.thread(Role::Core).unwrap().wait,
            WaitPolicy::spin_then_yield()
        );
        assert_eq!(p.warnings, [PlanWarning::DuplicateRole(Role::Core)]);
    }

    #[test]
    fn spawn_names_and_pins_the_thread() {
        let p = plan_for_this_host(
            Topology::Pinned,
            &[(Role::Core, WaitPolicy::spin_then_park())],
        );
        let handle = spawn(Role::Core, &p, |ctx| {
            let name = thread::current().name().map(str::to_owned);
            let mask = core_affinity::get_core_ids();
            (ctx, name, mask)
        })
        .unwrap();
        let (ctx, name, mask) = handle.join().unwrap();
        assert_eq!(name.as_deref(), Some("tw-core"));
        assert_eq!(ctx.role, Role::Core);
        assert_eq!(ctx.core, p.thread(Role::Core).unwrap().core);
        if ctx.pinned {
            // The thread's own affinity mask is now exactly its core.
            assert_eq!(mask, ctx.core.map(|c| vec![c]));
        }
        assert_eq!(ctx.wait, WaitPolicy::spin_then_park());
    }

    #[test]
    fn spawn_unpinned_in_shared_mode() {
        let p = plan(
            Topology::Shared,
            &[(Role::Feed(3), WaitPolicy::spin_then_yield())],
            &ids(&[0, 1]),
        );
        let ctx = spawn(Role::Feed(3), &p, |ctx| {
            assert_eq!(thread::current().name(), Some("tw-feed-3"));
            ctx
        })
        .unwrap()
        .join()
        .unwrap();
        assert!(!ctx.pinned);
        assert!(!ctx.pin_failed());
        assert_eq!(ctx.backoff().policy(), WaitPolicy::spin_then_yield());
    }

    #[test]
    fn spawn_refuses_a_role_that_is_not_planned() {
        let p = plan(
            Topology::Shared,
            &[(Role::Core, WaitPolicy::default())],
            &[],
        );
        let err = spawn(Role::Exec, &p, |_| ()).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        assert_eq!(err.to_string(), "role exec is not in the thread plan");
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_failed_pin_never_leaves_a_thread_spinning() {
        // CPU 1000 does not exist here, so the OS refuses the affinity mask.
        let p = plan(
            Topology::Pinned,
            &[(Role::Core, WaitPolicy::Spin)],
            &ids(&[1000]),
        );
        assert_eq!(
            p.thread(Role::Core).unwrap().core,
            Some(CoreId { id: 1000 })
        );
        let ctx = spawn(Role::Core, &p, |ctx| ctx).unwrap().join().unwrap();
        assert!(ctx.pin_failed());
        assert_eq!(ctx.wait, WaitPolicy::spin_then_park());
    }
}
