//! The smallest useful plugin: greet every viewer who joins.
use livecart_sdk::prelude::*;

#[derive(Default)]
struct Hello;

impl Plugin for Hello {
    fn manifest() -> Manifest {
        Manifest::new("hello", "0.1.0")
            .capability(Capability::Messages)
            .on(&[EventKind::ViewerJoined])
    }
    fn on_viewer_joined(&mut self, cx: &mut Context, p: &Presence) -> Result {
        cx.system_message(format!("Welcome, {}!", p.user_name));
        Ok(())
    }
}
export_plugin!(Hello);
