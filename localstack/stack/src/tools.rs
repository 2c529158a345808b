//! Where the repository and its installed tools are.

use std::path::{Path, PathBuf};

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
