//! Finds the system DPDK with `pkg-config libdpdk`, rejects versions this project has not been
//! tested with, generates the bindings with bindgen (narrow allowlists) and compiles the C shim
//! for the static-inline functions. Every `pkg-config --cflags` token goes to both bindgen and
//! the shim: DPDK's headers need `-include rte_config.h -march=corei7`, which the `pkg-config`
//! crate would drop.

use std::env;
use std::path::PathBuf;
use std::process::Command;

/// The DPDK release lines this crate was built and tested against.
const TESTED: &[(u32, u32)] = &[(22, 11)];

fn pkg_config(args: &[&str]) -> Result<String, String> {
    let out = Command::new("pkg-config")
        .args(args)
        .arg("libdpdk")
        .output()
        .map_err(|e| {
            format!("cannot run pkg-config ({e}); install it (Debian: apt-get install pkg-config)")
        })?;
    if !out.status.success() {
        return Err(format!(
            "pkg-config cannot find libdpdk: {}",
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .next()
                .unwrap_or("")
                .trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn fail(msg: &str) -> ! {
    eprintln!("error: {msg}");
    eprintln!(
        "hint: install DPDK 22.11 (Debian 12: apt-get install libdpdk-dev pkg-config clang libclang-dev), \
         or build without the DPDK driver: cargo build --no-default-features"
    );
    panic!("dpdk-sys: {msg}");
}

fn main() {
    println!("cargo::rustc-check-cfg=cfg(dpdk_ge_2211)");
    println!("cargo:rerun-if-changed=wrapper.h");
    println!("cargo:rerun-if-changed=shim.h");
    println!("cargo:rerun-if-changed=shim.c");
    println!("cargo:rerun-if-env-changed=PKG_CONFIG_PATH");
    println!("cargo:rerun-if-env-changed=TSTAT_DPDK_ALLOW_UNTESTED");
    if env::var_os("CARGO_FEATURE_DOCS_ONLY").is_some() {
        // Documentation builds use src/bindings_pregenerated.rs and link nothing.
        println!("cargo:rustc-cfg=dpdk_ge_2211");
        return;
    }

    let version = pkg_config(&["--modversion"]).unwrap_or_else(|e| fail(&e));
    let mut parts = version.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    let (major, minor) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    if (major, minor) < (22, 11) {
        fail(&format!(
            "DPDK {version} is too old: 22.11 or later is required"
        ));
    }
    if !TESTED.contains(&(major, minor)) && env::var_os("TSTAT_DPDK_ALLOW_UNTESTED").is_none() {
        fail(&format!(
            "DPDK {version} has not been tested with tstat-dpdk (tested: 22.11); \
             set TSTAT_DPDK_ALLOW_UNTESTED=1 to try it anyway"
        ));
    }
    println!("cargo:rustc-cfg=dpdk_ge_2211");
    println!("cargo:version={version}");

    let cflags: Vec<String> = pkg_config(&["--cflags"])
        .unwrap_or_else(|e| fail(&e))
        .split_whitespace()
        .map(str::to_string)
        .collect();
    let libs = pkg_config(&["--libs"]).unwrap_or_else(|e| fail(&e));
    for tok in libs.split_whitespace() {
        if let Some(dir) = tok.strip_prefix("-L") {
            println!("cargo:rustc-link-search=native={dir}");
        } else if let Some(lib) = tok.strip_prefix("-l") {
            println!("cargo:rustc-link-lib={lib}");
        }
    }
    // The in-process ring device (`rte_eth_from_rings`) is a PMD library that pkg-config does
    // not list; drivers are otherwise loaded by EAL from its plugin directory.
    println!("cargo:rustc-link-lib=rte_net_ring");

    let mut shim = cc::Build::new();
    shim.file("shim.c").warnings(false);
    for f in &cflags {
        shim.flag(f);
    }
    shim.compile("tstat_dpdk_shim");

    let bindings = bindgen::Builder::default()
        .header("wrapper.h")
        .clang_args(&cflags)
        .allowlist_function("rte_.*|shim_.*")
        .allowlist_type("rte_.*")
        .allowlist_var("RTE_.*|rte_.*|RING_F_.*")
        .opaque_type("rte_l2tpv2_.*")
        .opaque_type("rte_gtp_.*")
        .clang_macro_fallback()
        .layout_tests(false)
        .derive_default(true)
        .generate_comments(false)
        .parse_callbacks(Box::new(bindgen::CargoCallbacks::new()))
        .generate()
        .unwrap_or_else(|e| fail(&format!("bindgen failed on DPDK's headers: {e}")));
    let out = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    bindings
        .write_to_file(out.join("bindings.rs"))
        .unwrap_or_else(|e| fail(&format!("cannot write the bindings: {e}")));
}
