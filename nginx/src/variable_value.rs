//! Filling an nginx variable value. Pure (no nginx calls), so it is unit-tested.

use ngx::ffi::ngx_http_variable_value_t;

/// Points `v` at `len` bytes at `data`, which must live as long as the request.
///
/// # Safety
/// `data` must stay valid for the request's lifetime.
pub unsafe fn set_value(v: &mut ngx_http_variable_value_t, data: *mut u8, len: usize) {
    v._bitfield_1 = ngx::ffi::__BindgenBitfieldUnit::new(found_value_bits(len));
    v.data = data;
}

/// `len:28 valid:1 no_cacheable:1 not_found:1 escape:1` of a found value, written
/// as one word: bindgen's per-field setters move a bit at a time (a 28-step loop
/// for `len`), which showed in profiles on every request. Bitfields fill from the
/// least significant bit on the ABIs nginx builds for (the test compares with the
/// setters).
fn found_value_bits(len: usize) -> [u8; 4] {
    const LEN_BITS: u32 = 28;
    debug_assert!(len < 1 << LEN_BITS);
    let valid = 1u32 << LEN_BITS;
    ((len as u32 & ((1 << LEN_BITS) - 1)) | valid).to_le_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_word_write_matches_the_field_setters() {
        for len in [0usize, 1, 17, 255, 256, 65_537, (1 << 28) - 1] {
            // SAFETY: a variable value is a pointer and bitfields: all zeroes is valid.
            let mut by_setters: ngx_http_variable_value_t = unsafe { core::mem::zeroed() };
            by_setters.set_len(len as u32);
            by_setters.set_valid(1);
            by_setters.set_no_cacheable(0);
            by_setters.set_not_found(0);
            by_setters.set_escape(0);
            // SAFETY: as above.
            let mut by_word: ngx_http_variable_value_t = unsafe { core::mem::zeroed() };
            by_word.set_not_found(1);
            by_word.set_no_cacheable(1);
            by_word.set_escape(1);
            // SAFETY: the value is only compared, never read through its pointer.
            unsafe { set_value(&mut by_word, core::ptr::null_mut(), len) };
            assert_eq!(
                by_word._bitfield_1.get(0, 32),
                by_setters._bitfield_1.get(0, 32),
                "len {len}"
            );
            assert_eq!(by_word.len() as usize, len);
            assert!(
                by_word.valid() == 1 && by_word.not_found() == 0 && by_word.no_cacheable() == 0
            );
        }
    }
}
