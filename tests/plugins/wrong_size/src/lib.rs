//! A library whose descriptor has the right ABI version but another size (a layout from another SDK).
//! The host must refuse it after reading only `abi_version` and `size`.

#[repr(C)]
pub struct Header {
    abi_version: u32,
    size: usize,
}

static HEADER: Header = Header { abi_version: meanfield_plugin::abi::ABI_VERSION, size: size_of::<Header>() };

#[unsafe(no_mangle)]
pub extern "C" fn mf_plugin_abi_version() -> u32 {
    meanfield_plugin::abi::ABI_VERSION
}

#[unsafe(no_mangle)]
pub extern "C" fn mf_plugin_descriptor() -> *const Header {
    &HEADER
}
