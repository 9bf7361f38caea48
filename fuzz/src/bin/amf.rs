//! afl entry point for the `amf` target (see `livecart_fuzz::amf`).

fn main() {
    afl::fuzz_nohook!(|data: &[u8]| livecart_fuzz::amf(data));
}
