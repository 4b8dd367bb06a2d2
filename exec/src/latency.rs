//! Per-venue order-entry latency: command→bytes written, written→ack and written→first fill,
//! each an HDR histogram ([`StageHistogram`], allocated once, recording allocation-free).

use tickwire_core::latency::StageHistogram;

/// The three order-entry latency stages of one venue session.
pub struct ExecLatency {
    /// Command received by the exec thread → request bytes written to the socket.
    pub written: StageHistogram,
    /// Request written → the venue's ack (or reject) read.
    pub ack: StageHistogram,
    /// Request written → first fill of the order read.
    pub fill: StageHistogram,
}

impl Default for ExecLatency {
    fn default() -> Self {
        Self::new()
    }
}

impl ExecLatency {
    /// Empty histograms.
    pub fn new() -> Self {
        Self {
            written: StageHistogram::new("command→written"),
            ack: StageHistogram::new("written→ack"),
            fill: StageHistogram::new("written→fill"),
        }
    }

    /// The command arrived at `command_ns` and its bytes were written at `written_ns`.
    #[inline]
    pub fn record_written(&mut self, command_ns: u64, written_ns: u64) {
        self.written.record_span(command_ns, written_ns);
    }

    /// The request written at `written_ns` was acknowledged at `ack_ns`.
    #[inline]
    pub fn record_ack(&mut self, written_ns: u64, ack_ns: u64) {
        self.ack.record_span(written_ns, ack_ns);
    }

    /// The order written at `written_ns` saw its first fill at `fill_ns`.
    #[inline]
    pub fn record_fill(&mut self, written_ns: u64, fill_ns: u64) {
        self.fill.record_span(written_ns, fill_ns);
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.written.is_empty() && self.ack.is_empty() && self.fill.is_empty()
    }

    /// A summary table titled `title` (e.g. the venue name): a header and one line per stage.
    pub fn summary(&self, title: &str) -> String {
        let mut s = format!("exec latency {title}\n{}\n", StageHistogram::header());
        for h in [&self.written, &self.ack, &self.fill] {
            s.push_str(&h.summary());
            s.push('\n');
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_each_stage() {
        let mut l = ExecLatency::new();
        assert!(l.is_empty());
        l.record_written(100, 1_100);
        l.record_ack(1_100, 51_100);
        l.record_fill(1_100, 91_100);
        l.record_fill(0, 5); // missing stamp: not a sample
        assert_eq!(l.written.len(), 1);
        assert_eq!(l.ack.len(), 1);
        assert_eq!(l.fill.len(), 1);
        let s = l.summary("binance");
        assert!(s.starts_with("exec latency binance\n"));
        assert!(s.contains("written→ack"));
        assert_eq!(s.lines().count(), 5);
    }
}
