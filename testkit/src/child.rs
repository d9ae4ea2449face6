//! A program that re-runs itself as its own child processes: a test binary
//! as the writers and readers its tests need, the benchmark harness as its
//! peers. The parent sets [`CHILD_ENV`]; the child's first argument names
//! its role, one of a list of [`Role`]s kept beside the code that spawns
//! them (see [`roles!`](crate::roles)).

use std::process::Command;

/// Set in a program's environment when it runs as a child of itself.
pub const CHILD_ENV: &str = "DBSHM_TEST_CHILD";

/// A child's role: its name, and the function that plays it, given the
/// arguments after the name.
pub type Role = (&'static str, fn(&[String]));

/// The roles named by their functions: `roles![writer, reader]` is
/// `[("writer", writer), ("reader", reader)]`, each a `fn(&[String])`.
#[macro_export]
macro_rules! roles {
    ($($role:ident),* $(,)?) => {
        [$((stringify!($role), $role as fn(&[::std::string::String]))),*]
    };
}

/// This program's arguments (without the program) when it runs as a child
/// of itself, otherwise `None`.
pub fn args() -> Option<Vec<String>> {
    std::env::var_os(CHILD_ENV).map(|_| std::env::args().skip(1).collect())
}

/// Plays the role `args[0]` names, with the rest of `args`.
///
/// # Panics
///
/// If `args` is empty or names no role in `roles`.
pub fn play(roles: &[Role], args: &[String]) {
    let Some((name, rest)) = args.split_first() else {
        panic!("a child needs its role as the first argument");
    };
    match roles.iter().find(|(role, _)| role == name) {
        Some((_, play)) => play(rest),
        None => {
            let known: Vec<&str> = roles.iter().map(|(role, _)| *role).collect();
            panic!("unknown child role {name:?}; the roles are {known:?}")
        }
    }
}

/// When this program runs as a child of itself, plays the role its
/// arguments name and returns `true`; otherwise returns `false`, so that
/// `main` goes on as the parent.
pub fn play_if_child(roles: &[Role]) -> bool {
    match args() {
        Some(args) => {
            play(roles, &args);
            true
        }
        None => false,
    }
}

/// This program again, as the child `role`, with [`CHILD_ENV`] set; add its
/// arguments, standard streams and so on.
pub fn command(role: &str) -> Command {
    let me = std::env::current_exe().expect("the path of this program");
    let mut command = program(me);
    command.env(CHILD_ENV, "1").arg(role);
    command
}

/// The variable naming the program that runs this target's binaries, as
/// cargo's `runner` does for the tests themselves: for aarch64 under
/// emulation, `qemu-aarch64 -L /usr/aarch64-linux-gnu` (words split at
/// spaces). Unset, binaries run as they are.
pub const RUNNER_ENV: &str = "DBSHM_TEST_RUNNER";

/// A command running the binary at `path` (built for the target, as this
/// test is), through [`RUNNER_ENV`]'s runner where one is set, so that an
/// emulated test's children are emulated too, without binfmt_misc.
pub fn program(path: impl AsRef<std::ffi::OsStr>) -> Command {
    let runner = std::env::var(RUNNER_ENV).unwrap_or_default();
    let mut words = runner.split_whitespace();
    match words.next() {
        Some(first) => {
            let mut command = Command::new(first);
            command.args(words).arg(path);
            command
        }
        None => Command::new(path),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    static PLAYED: AtomicUsize = AtomicUsize::new(0);

    fn first(args: &[String]) {
        assert_eq!(args, ["x", "y"]);
        PLAYED.fetch_add(1, Ordering::Relaxed);
    }

    fn second(_: &[String]) {
        PLAYED.fetch_add(10, Ordering::Relaxed);
    }

    const ROLES: [Role; 2] = roles![first, second];

    fn strings(words: &[&str]) -> Vec<String> {
        words.iter().map(|w| w.to_string()).collect()
    }

    #[test]
    fn roles_are_named_by_their_functions_and_get_the_rest_of_the_arguments() {
        assert_eq!(ROLES[0].0, "first");
        assert_eq!(ROLES[1].0, "second");
        play(&ROLES, &strings(&["first", "x", "y"]));
        play(&ROLES, &strings(&["second"]));
        assert_eq!(PLAYED.load(Ordering::Relaxed), 11);
    }

    #[test]
    #[should_panic(expected = "unknown child role \"third\"")]
    fn an_unknown_role_panics_naming_it() {
        play(&ROLES, &strings(&["third"]));
    }
}
