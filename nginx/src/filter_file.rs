//! Configuration-time check of the filter file, done in the master.
//!
//! The master must not start wasmtime (its runtime owns threads and signal handlers,
//! and the seed deadlocked by starting a runtime before fork), so `nginx -t` checks
//! what can be checked by parsing alone: that the file is a WebAssembly module and
//! that it speaks proxy-wasm ABI 0.2.1. Compilation happens in each worker.
//!
//! A file made by `proxy-wasm-precompile` (host/) is accepted too: native code for
//! this machine, which workers load without compiling. Only its kind is checked
//! here; whether it matches this build's wasmtime is checked by the worker.

use proxy_wasm_host::ABI_MARKER;
use wasmparser::{Parser, Payload};

use crate::error::FilterFileError;

/// The section wasmtime writes into its serialized modules (ELF objects).
const WASMTIME_SECTION: &[u8] = b".wasmtime.engine";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Wasm,
    Precompiled,
}

pub fn check(bytes: &[u8]) -> Result<Kind, FilterFileError> {
    if bytes.starts_with(b"\x7fELF") {
        if bytes
            .windows(WASMTIME_SECTION.len())
            .any(|w| w == WASMTIME_SECTION)
        {
            return Ok(Kind::Precompiled);
        }
        return Err(FilterFileError::ElfNotPrecompiled);
    }
    if bytes.len() < 8 || &bytes[0..4] != b"\0asm" {
        return Err(FilterFileError::NotWasm);
    }
    if bytes[4..8] != [1, 0, 0, 0] {
        return Err(FilterFileError::NotCoreModule);
    }
    let mut abi = false;
    let mut memory = false;
    let malformed = |e: wasmparser::BinaryReaderError| FilterFileError::Malformed(e.to_string());
    for payload in Parser::new(0).parse_all(bytes) {
        match payload.map_err(malformed)? {
            Payload::ExportSection(exports) => {
                for export in exports {
                    let export = export.map_err(malformed)?;
                    abi |= export.name == ABI_MARKER;
                    memory |= export.name == "memory";
                }
            }
            Payload::End(_) => break,
            _ => {}
        }
    }
    if !abi {
        return Err(FilterFileError::NoAbiExport);
    }
    if !memory {
        return Err(FilterFileError::NoMemory);
    }
    Ok(Kind::Wasm)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_text_and_empty_files() {
        assert_eq!(check(b""), Err(FilterFileError::NotWasm));
        assert_eq!(check(b"(module)"), Err(FilterFileError::NotWasm));
        assert!(
            FilterFileError::NotWasm
                .to_string()
                .contains("is not a WebAssembly module")
        );
    }

    #[test]
    fn rejects_module_without_abi_export() {
        // The smallest valid module: header only.
        let empty = b"\0asm\x01\0\0\0";
        assert_eq!(check(empty), Err(FilterFileError::NoAbiExport));
        assert!(
            FilterFileError::NoAbiExport
                .to_string()
                .contains("proxy_abi_version_0_2_1")
        );
    }

    #[test]
    fn tells_precompiled_modules_from_other_elf_files() {
        let mut elf = b"\x7fELF\x02\x01\x01".to_vec();
        assert_eq!(check(&elf), Err(FilterFileError::ElfNotPrecompiled));
        elf.extend_from_slice(b"....\0.wasmtime.engine\0");
        assert_eq!(check(&elf), Ok(Kind::Precompiled));
    }

    #[test]
    fn rejects_truncated_module() {
        let mut m = b"\0asm\x01\0\0\0".to_vec();
        m.extend_from_slice(&[7, 20, 1]); // export section claiming 20 bytes, holding 1
        assert!(matches!(check(&m), Err(FilterFileError::Malformed(_))));
    }
}
