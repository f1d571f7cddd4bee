//! Avni server simulator (contracts/avni.md). Being written.
