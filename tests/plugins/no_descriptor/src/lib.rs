//! A library with the version symbol but without `mf_plugin_descriptor`.

#[unsafe(no_mangle)]
pub extern "C" fn mf_plugin_abi_version() -> u32 {
    meanfield_plugin::abi::ABI_VERSION
}
