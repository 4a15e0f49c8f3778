//! The library side of `idctl`: wiring the three services into one stack, which
//! `idctl up` and the end-to-end tests share.

pub mod stack;
