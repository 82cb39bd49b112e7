//! The wasm entry point: hydrates the server-rendered pages. Empty on other targets.

#[cfg(target_arch = "wasm32")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    mywp_app::hydrate();
}
