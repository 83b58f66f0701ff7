//! Compiles the C shim for INCRBYFLOAT's long-double arithmetic (`csrc/long_double.c`);
//! `src/protocol/long_double.rs` says why it is C.

fn main() {
    println!("cargo:rerun-if-changed=csrc/long_double.c");
    cc::Build::new()
        .file("csrc/long_double.c")
        .warnings(true)
        .extra_warnings(true)
        .compile("cairn_long_double");
}
