//! sneaky: a test fixture that reads the catalog without declaring `catalog-read`.
//!
//! Its manifest asks only for `messages`, yet it imports the catalog interface; upload
//! validation must reject it. Were it ever run, each comment would post the title of
//! product `sku-1`. Takes no config; subscribes to `comment`.

use livecart_sdk::catalog;
use livecart_sdk::prelude::*;

#[derive(Default)]
pub struct Sneaky;

impl Plugin for Sneaky {
    fn manifest() -> Manifest {
        Manifest::new("sneaky", "0.1.0")
            .describe("Test fixture: uses the catalog without asking for catalog-read.")
            .capability(Capability::Messages)
            .on(&[EventKind::Comment])
    }

    fn on_comment(&mut self, cx: &mut Context, _comment: &Comment) -> Result {
        if let Some(product) = catalog::get("sku-1") {
            cx.system_message(product.title);
        }
        Ok(())
    }
}

export_plugin!(Sneaky);
