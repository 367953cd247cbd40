//! Running the real `densing` binary from the CLI tests.

use std::process::{Command, Output};

pub fn densing(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_densing"))
        .args(args)
        .output()
        .expect("run densing")
}

/// Stdout of a run that must succeed (its stderr in the panic message otherwise).
pub fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}
