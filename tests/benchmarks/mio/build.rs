// Tells main.rs which mio it is built with (MIO_VERSION, from Cargo.lock, which cargo
// writes before it runs this script) and which compiler (RUSTC_VERSION), so that the
// program prints the real versions instead of a number typed by hand.
use std::env;
use std::fs;
use std::path::Path;
use std::process::Command;

fn main() {
    let dir = env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let lock_path = Path::new(&dir).join("Cargo.lock");
    println!("cargo:rerun-if-changed={}", lock_path.display());
    println!("cargo:rerun-if-changed=build.rs");
    let lock = fs::read_to_string(&lock_path)
        .unwrap_or_else(|e| panic!("reading {} failed: {}", lock_path.display(), e));
    println!(
        "cargo:rustc-env=MIO_VERSION={}",
        package_version(&lock, "mio")
    );
    let rustc = env::var("RUSTC").unwrap_or_else(|_| "rustc".to_string());
    let version = Command::new(&rustc)
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|| "unknown".to_string());
    println!("cargo:rustc-env=RUSTC_VERSION={}", version);
}

// The version of [[package]] `name` in a Cargo.lock: the `version = "..."` line that
// follows its `name = "..."` line.
fn package_version(lock: &str, name: &str) -> String {
    let wanted = format!("name = \"{}\"", name);
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line.trim() == wanted {
            if let Some(v) = lines.next() {
                if let Some(rest) = v.trim().strip_prefix("version = \"") {
                    return rest.trim_end_matches('"').to_string();
                }
            }
        }
    }
    panic!("Cargo.lock names no package {}", name);
}
