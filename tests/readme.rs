//! The README's promises kept in step with the code: exactly two set-up commands, and the
//! client example it shows is `examples/readme.rs`, which `cargo test` compiles.

// A failing test should fail loudly: expect and unwrap are its assertions.
#![allow(clippy::expect_used, clippy::unwrap_used)]

fn read(path: &str) -> String {
    std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(path))
        .unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn two_set_up_commands() {
    let readme = read("README.md");
    let setup = readme
        .split("\n## ")
        .find(|s| s.starts_with("Set up"))
        .expect("a Set up section");
    let commands: Vec<&str> = setup
        .lines()
        .filter(|l| l.starts_with("    "))
        .map(str::trim)
        .collect();
    assert_eq!(commands, ["cargo run --release", "cargo test --release"]);
}

#[test]
fn the_client_example_is_examples_readme() {
    let readme = read("README.md");
    let shown = readme
        .split("```rust\n")
        .nth(1)
        .and_then(|s| s.split("```").next())
        .expect("a rust block");
    let example = read("examples/readme.rs");
    let code: Vec<&str> = example.lines().filter(|l| !l.starts_with("//!")).collect();
    assert_eq!(shown.trim(), code.join("\n").trim());
}
