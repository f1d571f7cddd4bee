//! `avni-int-sim`: the Avni and Goonj Salesforce simulators as a process, for the demo.
fn main() {}
