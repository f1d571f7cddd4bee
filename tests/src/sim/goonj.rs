//! Goonj Salesforce simulator (contracts/goonj.md). Being written.
