//! Generated gRPC code for the `idcard.v1` contract and its encoded descriptor set.
//!
//! Owns nothing else: no conversions, no rules. Those live with the services and the
//! domain crate.

#![allow(clippy::all, missing_docs)]

pub mod v1 {
    tonic::include_proto!("idcard.v1");
}

/// The encoded `FileDescriptorSet` of every file under `proto/`, for server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/idcard_descriptor.bin"));
