//! Placeholder: the Graph emulator binary is being written.
fn main() {}
