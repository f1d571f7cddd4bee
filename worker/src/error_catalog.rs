//! PLACEHOLDER: every module's error types, rendered as docs/errors.md.
