//! The access layer and mutual TLS over real gRPC: a tiny server of the review contract
//! (trivial handlers) behind `AuthLayer`, with certificates from the development PKI.

#![allow(clippy::unwrap_used)]

mod contract;
mod insecure;
mod peers;
mod support;
mod tokens;
