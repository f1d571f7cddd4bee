//! PLACEHOLDER: filled in by its owner.
