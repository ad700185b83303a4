//! A library that claims an ABI version no host knows. The host must refuse it before calling
//! anything else (so the descriptor symbol is deliberately a trap).

#[unsafe(no_mangle)]
pub extern "C" fn mf_plugin_abi_version() -> u32 {
    meanfield_plugin::abi::ABI_VERSION + 998
}

#[unsafe(no_mangle)]
pub extern "C" fn mf_plugin_descriptor() -> *const u8 {
    std::process::abort()
}
