//! Embeds the application's SQLite migrations (`migrations/sqlite/*.sql`,
//! in name order) and the host's own (`host/migrations/sqlite/`): under Spin
//! nothing else applies them before the first request.

use std::{env, fmt::Write, fs, path::Path};

fn history(dir: &Path) -> String {
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut files: Vec<_> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "sql"))
        .collect();
    files.sort();
    let mut out = String::from("&[");
    for file in files {
        let version = file.file_stem().expect("a file name").to_string_lossy();
        let path = file.canonicalize().expect("a migration path");
        write!(out, "({version:?}, include_str!({:?})),", path.display().to_string()).unwrap();
    }
    out + "]"
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let code = format!(
        "/// The host's own history (`todo_host_migration`).\n\
         pub const HOST: &[(&str, &str)] = {};\n\
         /// The application's history (`schema_migration`).\n\
         pub const APP: &[(&str, &str)] = {};\n",
        history(&root.join("host/migrations/sqlite")),
        history(&root.join("migrations/sqlite")),
    );
    fs::write(Path::new(&env::var("OUT_DIR").unwrap()).join("histories.rs"), code).unwrap();
}
