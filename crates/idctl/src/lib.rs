//! The library side of `idctl`: wiring the three services into one stack, the
//! development security material, and token-carrying clients, which `idctl` and the
//! end-to-end tests share.

pub mod client;
pub mod security;
pub mod stack;
