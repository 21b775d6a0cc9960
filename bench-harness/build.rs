//! Builds `native/trivial.c` into a static binary for the `posix_spawn` baseline and
//! `native/factor.c` (seed 004's factorization in C, the pool bench's baseline) into a
//! static library, and records the toolchain for the reports.
//!
//! Exposes to the crate:
//! - `TRIVIAL_STATIC_BIN`: the path of the static binary, or empty when it could not be
//!   built (no static C library, say); the baseline is then left out with a note.
//! - `BENCH_RUSTC_VERSION`: `rustc -vV`'s first line for the compiler building this crate.

use std::path::PathBuf;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=native/trivial.c");
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=native/factor.c");

    // -O2, as a C programmer would build the loop.
    cc::Build::new()
        .file("native/factor.c")
        .opt_level(2)
        .compile("multiproc_bench_native");
    println!("cargo:rustc-link-lib=m");

    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let bin = out_dir.join("trivial-static");
    let mut cmd = cc::Build::new()
        .cargo_metadata(false)
        .get_compiler()
        .to_command();
    cmd.args(["-static", "-O2", "-s", "-o"])
        .arg(&bin)
        .arg("native/trivial.c");
    let built = match cmd.output() {
        Ok(out) if out.status.success() => true,
        Ok(out) => {
            let err = String::from_utf8_lossy(&out.stderr);
            println!(
                "cargo:warning=cannot build the static trivial binary ({}): {}",
                out.status,
                err.lines().next().unwrap_or("")
            );
            false
        }
        Err(e) => {
            println!("cargo:warning=cannot run the C compiler for the static trivial binary: {e}");
            false
        }
    };
    let path = if built {
        bin.display().to_string()
    } else {
        String::new()
    };
    println!("cargo:rustc-env=TRIVIAL_STATIC_BIN={path}");

    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let version = Command::new(rustc)
        .arg("-V")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".to_string());
    println!("cargo:rustc-env=BENCH_RUSTC_VERSION={version}");
}
