//! afl entry point for the `mp4_boxes` target (see `livecart_fuzz::mp4_boxes`).

fn main() {
    afl::fuzz_nohook!(|data: &[u8]| livecart_fuzz::mp4_boxes(data));
}
