//! afl entry point for the `plugin_config` target (see `livecart_fuzz::plugin_config`).

fn main() {
    afl::fuzz_nohook!(|data: &[u8]| livecart_fuzz::plugin_config(data));
}
