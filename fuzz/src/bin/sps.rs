//! afl entry point for the `sps` target (see `livecart_fuzz::sps`).

fn main() {
    afl::fuzz_nohook!(|data: &[u8]| livecart_fuzz::sps(data));
}
