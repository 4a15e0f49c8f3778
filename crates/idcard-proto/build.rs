//! Compiles `proto/` with protox (pure Rust, no protoc) and writes the descriptor set
//! that the services hand to gRPC reflection.

use std::path::PathBuf;

use prost::Message;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../proto");
    let files = [
        "idcard/v1/common.proto",
        "idcard/v1/acceptance.proto",
        "idcard/v1/review.proto",
        "idcard/v1/production.proto",
        "idcard/v1/status.proto",
    ];
    for file in &files {
        println!("cargo:rerun-if-changed={}", root.join(file).display());
    }
    let fds = protox::compile(files, [&root])?;
    // compile_fds does not write the descriptor set itself.
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(out.join("idcard_descriptor.bin"), fds.encode_to_vec())?;
    tonic_prost_build::configure().compile_fds(fds)?;
    Ok(())
}
