//! The `[reconcile]` config section, read with the strict [`Section`] reader (every problem
//! reported at once, unknown keys refused).
//!
//! ```toml
//! [reconcile]
//! enabled = true             # default true; the poller runs beside every trading session
//! interval_ms = 5000         # time between cycles (100 ..= 600000)
//! grace_ms = 5000            # an order never seen open is looked up only after this long
//! alert_after_cycles = 3     # fill debt / position drift lasting this many cycles alerts
//! drift_tolerance = "0"      # base-asset balance difference not counted as drift
//! ring = 1024                # capacity of the poller's report ring to the core
//! ```

use std::time::Duration;

use tickwire_core::config::Section;
use tickwire_core::num::Qty;

use super::{PollerConfig, ViewConfig};

/// What `[reconcile]` configures.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReconcileConfig {
    /// Whether to run the poller at all.
    pub enabled: bool,
    /// Poller timing.
    pub poller: PollerConfig,
    /// Grace period for orders never seen open.
    pub grace: Duration,
    /// Cycles before a debt or drift alerts.
    pub alert_after_cycles: u32,
    /// Drift tolerance.
    pub drift_tolerance: Qty,
    /// Report ring capacity.
    pub ring: usize,
}

impl Default for ReconcileConfig {
    fn default() -> Self {
        let view = ViewConfig::default();
        Self {
            enabled: true,
            poller: PollerConfig::default(),
            grace: Duration::from_nanos(view.grace_ns),
            alert_after_cycles: view.debt_alert_cycles,
            drift_tolerance: view.drift_tolerance,
            ring: 1024,
        }
    }
}

impl ReconcileConfig {
    /// Reads the section (absent keys keep their defaults); errors are recorded in `s`.
    pub fn read(s: &mut Section<'_>) -> Self {
        let d = Self::default();
        let ms = |d: Duration| i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        let interval = s.int_or("interval_ms", 100, 600_000, ms(d.poller.interval));
        let grace = s.int_or("grace_ms", 0, 3_600_000, ms(d.grace));
        let cycles = s.int_or(
            "alert_after_cycles",
            1,
            1000,
            i64::from(d.alert_after_cycles),
        );
        let ring = s.int_or("ring", 16, 1 << 20, d.ring as i64);
        let drift_tolerance = s
            .opt_parsed::<Qty>("drift_tolerance", "a quantity")
            .unwrap_or(d.drift_tolerance);
        if drift_tolerance.is_negative() {
            s.error("drift_tolerance", "must not be negative");
        }
        let millis = |v: i64| Duration::from_millis(u64::try_from(v).unwrap_or(0));
        Self {
            enabled: s.opt_bool("enabled").unwrap_or(d.enabled),
            poller: PollerConfig {
                interval: millis(interval),
            },
            grace: millis(grace),
            alert_after_cycles: u32::try_from(cycles).unwrap_or(d.alert_after_cycles),
            drift_tolerance,
            ring: usize::try_from(ring).unwrap_or(d.ring),
        }
    }

    /// The view settings for one venue trading `instruments`, counting fills from
    /// `session_start_ns` (wall-clock epoch ns of the run's start).
    pub fn view(
        &self,
        instruments: Vec<tickwire_core::ids::InstrumentId>,
        session_start_ns: i64,
    ) -> ViewConfig {
        ViewConfig {
            instruments,
            not_before_venue_ns: session_start_ns,
            grace_ns: u64::try_from(self.grace.as_nanos()).unwrap_or(u64::MAX),
            debt_alert_cycles: self.alert_after_cycles,
            drift_tolerance: self.drift_tolerance,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> (ReconcileConfig, Vec<String>) {
        let table: toml::Table = text.parse().expect("toml");
        let mut s = Section::new("reconcile", &table);
        let c = ReconcileConfig::read(&mut s);
        (c, s.finish())
    }

    #[test]
    fn defaults_and_values() {
        let (c, errors) = read("");
        assert!(errors.is_empty());
        assert_eq!(c, ReconcileConfig::default());
        let (c, errors) = read(
            "enabled = false\ninterval_ms = 250\ngrace_ms = 0\nalert_after_cycles = 5\n\
             drift_tolerance = \"0.001\"\nring = 64\n",
        );
        assert!(errors.is_empty(), "{errors:?}");
        assert!(!c.enabled);
        assert_eq!(c.poller.interval, Duration::from_millis(250));
        assert_eq!(c.grace, Duration::ZERO);
        assert_eq!(c.alert_after_cycles, 5);
        assert_eq!(c.drift_tolerance, Qty::parse("0.001").unwrap());
        assert_eq!(c.ring, 64);
        let v = c.view(vec![tickwire_core::ids::InstrumentId(2)], 7);
        assert_eq!(
            (v.not_before_venue_ns, v.grace_ns, v.debt_alert_cycles),
            (7, 0, 5)
        );
    }

    #[test]
    fn every_problem_is_reported() {
        let (_, errors) =
            read("interval_ms = 5\ndrift_tolerance = \"x\"\nalert_after_cycles = 0\nspeed = 1\n");
        assert_eq!(errors.len(), 4, "{errors:?}");
        assert!(
            errors
                .iter()
                .any(|e| e.starts_with("reconcile.interval_ms"))
        );
        assert!(
            errors
                .iter()
                .any(|e| e.starts_with("reconcile.drift_tolerance"))
        );
        assert!(
            errors
                .iter()
                .any(|e| e.starts_with("reconcile.alert_after_cycles"))
        );
        assert!(errors.iter().any(|e| e == "reconcile.speed: unknown key"));
    }
}
