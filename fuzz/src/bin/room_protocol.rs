//! afl entry point for the `room_protocol` target (see `livecart_fuzz::room_protocol`).

fn main() {
    afl::fuzz_nohook!(|data: &[u8]| livecart_fuzz::room_protocol(data));
}
