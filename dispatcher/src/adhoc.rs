//! PLACEHOLDER: fires stored ad-hoc tasks at their trigger time, filled in by its owner.
