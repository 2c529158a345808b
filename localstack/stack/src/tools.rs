//! Where the repository and its installed tools are.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The repository root: `ASTROSHOP_ROOT`, else where this crate was built from.
pub fn repo_root() -> PathBuf {
    std::env::var_os("ASTROSHOP_ROOT")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../.."))
}

/// The project's virtual env `bin` folder (`./shop` installs the emulator
/// and cargo-lambda there).
pub fn venv_bin() -> PathBuf {
    repo_root().join(".venv/bin")
}

/// A tool from the virtual env, or from `PATH` when the env lacks it.
pub fn tool(name: &str) -> PathBuf {
    let local = venv_bin().join(name);
    if local.exists() {
        local
    } else {
        PathBuf::from(name)
    }
}

/// `PATH` with the virtual env first, for tools that find others on `PATH`
/// (`cargo lambda` is `cargo-lambda` found by cargo).
pub fn path_with_venv() -> std::ffi::OsString {
    let mut paths = vec![venv_bin()];
    paths.extend(
        std::env::var_os("PATH")
            .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
            .unwrap_or_default(),
    );
    std::env::join_paths(paths).unwrap_or_default()
}

/// A `cargo` command that builds as `cargo` run from a shell would (see
/// [`clear_package_variables`]).
pub fn cargo() -> Command {
    let mut command = Command::new("cargo");
    clear_package_variables(&mut command);
    command
}

/// Clears, for `command`, the variables cargo sets for the package under
/// test. A test binary (the end-to-end harness) runs with them
/// (`CARGO_PKG_NAME`, `CARGO_MANIFEST_DIR`, `OUT_DIR`, ...); build scripts
/// such as ring's ask to rerun when those change, so a cargo started with
/// them would rebuild every crate above ring (the whole AWS SDK) and the next
/// plain build would rebuild it all again.
pub fn clear_package_variables(command: &mut Command) {
    for (name, _) in std::env::vars_os() {
        let Some(name) = name.to_str() else { continue };
        let set_for_a_package = ["CARGO_PKG_", "CARGO_MANIFEST_", "CARGO_CRATE_", "CARGO_BIN_"]
            .iter()
            .any(|prefix| name.starts_with(prefix))
            || ["CARGO_PRIMARY_PACKAGE", "CARGO_TARGET_TMPDIR", "OUT_DIR"].contains(&name);
        if set_for_a_package {
            command.env_remove(name);
        }
    }
}
