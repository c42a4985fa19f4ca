//! Finds the system librrd with `pkg-config librrd` and links it. Without it the build stops
//! here with the Debian package to install (scripts/setup.sh installs it).

use std::process::Command;

fn fail(msg: &str) -> ! {
    eprintln!("error: {msg}");
    eprintln!(
        "hint: install librrd (Debian 12: apt-get install librrd-dev pkg-config; \
         scripts/setup.sh does it)"
    );
    panic!("rrd-sys: {msg}; install the Debian package librrd-dev");
}

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=PKG_CONFIG_PATH");
    println!("cargo:rerun-if-env-changed=PKG_CONFIG_LIBDIR");
    let out = Command::new("pkg-config")
        .args(["--libs", "librrd"])
        .output()
        .unwrap_or_else(|e| {
            fail(&format!(
                "cannot run pkg-config ({e}); install it (Debian: apt-get install pkg-config)"
            ))
        });
    if !out.status.success() {
        fail(&format!(
            "pkg-config cannot find librrd: {}",
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .next()
                .unwrap_or("")
                .trim()
        ));
    }
    let libs = String::from_utf8_lossy(&out.stdout).to_string();
    let mut linked = false;
    for token in libs.split_whitespace() {
        if let Some(dir) = token.strip_prefix("-L") {
            println!("cargo:rustc-link-search=native={dir}");
        } else if let Some(lib) = token.strip_prefix("-l") {
            println!("cargo:rustc-link-lib={lib}");
            linked |= lib == "rrd";
        }
    }
    if !linked {
        println!("cargo:rustc-link-lib=rrd");
    }
}
