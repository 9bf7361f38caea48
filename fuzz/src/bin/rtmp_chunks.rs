//! afl entry point for the `rtmp_chunks` target (see `livecart_fuzz::rtmp_chunks`).

fn main() {
    afl::fuzz_nohook!(|data: &[u8]| livecart_fuzz::rtmp_chunks(data));
}
