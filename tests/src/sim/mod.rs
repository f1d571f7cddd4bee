//! Simulators of the partner APIs and Avni, faithful to `../shared/contracts/`, seedable,
//! recording every write and able to inject faults at run time. Shared by the fleet tests, the
//! benchmarks and the demo (`avni-int-sim`).

pub mod avni;
pub mod faults;
pub mod goonj;
