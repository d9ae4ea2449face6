//! Helpers shared by the command's integration tests.

use std::process::{Command, Output};

/// Runs the `dbshm` program with `args` and waits for it.
pub fn dbshm(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dbshm"))
        .args(args)
        .output()
        .expect("run dbshm")
}

/// Its stdout and stderr, as text.
pub fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
