//! The Cairn server binary. The network server is not built yet (issue 5).

fn main() {
    eprintln!("cairn-server: the network server is not built yet");
    std::process::exit(1);
}
