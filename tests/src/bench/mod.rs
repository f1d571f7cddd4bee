//! Measurement code shared by the benchmarks (`tests/benches/`): raw broker and simulator
//! rates, the fleet's no-op rate and lag, Goonj backlogs through worker processes, process
//! RSS, and the report table. Benches pass the binaries' paths (`env!("CARGO_BIN_EXE_…")`
//! exists only in bench and test targets).

pub mod broker;
pub mod fleet;
pub mod goonj;
pub mod process;
pub mod raw_sim;
pub mod receipts;
pub mod table;

/// A `BENCH_…` knob, or its default when unset or unreadable.
pub fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Test runners list or run every target; only `cargo bench` (which passes `--bench`) measures.
pub fn invoked_by_cargo_bench() -> bool {
    std::env::args().any(|a| a == "--bench")
}
