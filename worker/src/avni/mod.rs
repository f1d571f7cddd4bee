//! Avni API client (contracts/avni.md). Being written.
