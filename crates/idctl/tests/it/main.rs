//! Runs the built `idctl` binary: `id check` on its own, `register import` and the
//! outbox commands against files, and the RPC subcommands against a stack started in
//! the test (real gRPC on port 0, fresh databases).

mod flow;
mod id_check;
mod load;
mod outbox;
mod overdue;
mod register;
mod support;
