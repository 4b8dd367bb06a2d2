//! Benchmark support shared by the criterion benches and the instruction-count examples.

pub mod parse;
