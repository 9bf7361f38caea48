//! afl entry point for the `flv_tags` target (see `livecart_fuzz::flv_tags`).

fn main() {
    afl::fuzz_nohook!(|data: &[u8]| livecart_fuzz::flv_tags(data));
}
