//! The pause container: it holds an awsvpc task's network namespace (its interface and
//! address) while the task's containers come and go, as the ECS agent's pause container
//! does. Its image is made here, on first use, from a tiny static program that waits
//! for a signal forever, so it needs no registry.

use berth_runtime::{ContainerRuntime, RuntimeError};

/// The image the pause containers run.
pub const PAUSE_IMAGE: &str = "berth-pause:1";
/// The container name of a task's pause container (the ECS agent's name for it).
pub const PAUSE_CONTAINER: &str = "~internal~ecs~pause";

/// Where programs are loaded (a conventional static-executable base).
const LOAD_ADDRESS: u64 = 0x40_0000;
const ELF_HEADER: usize = 64;
const PROGRAM_HEADER: usize = 56;

/// The machine code of a loop around a blocking system call, for this architecture:
/// `pause()` on x86-64; `ppoll(NULL, 0, NULL, NULL)` on arm64 (which has no pause).
/// A container's first process ignores signals it does not handle, so it runs until the
/// agent removes the container (SIGKILL).
fn machine_code() -> Option<(u16, Vec<u8>)> {
    match std::env::consts::ARCH {
        // mov eax, 34 (pause); syscall; jmp back 9 bytes.
        "x86_64" => Some((0x3e, vec![0xb8, 0x22, 0x00, 0x00, 0x00, 0x0f, 0x05, 0xeb, 0xf7])),
        "aarch64" => {
            let words: [u32; 7] = [
                0xd280_0000, // mov x0, #0
                0xd280_0001, // mov x1, #0
                0xd280_0002, // mov x2, #0
                0xd280_0003, // mov x3, #0
                0xd280_0928, // mov x8, #73 (ppoll)
                0xd400_0001, // svc #0
                0x17ff_fffa, // b back 6 instructions
            ];
            Some((0xb7, words.iter().flat_map(|w| w.to_le_bytes()).collect()))
        }
        _ => None,
    }
}

/// A static ELF executable (one loadable segment) running `code`.
fn elf(machine: u16, code: &[u8]) -> Vec<u8> {
    let entry = LOAD_ADDRESS + (ELF_HEADER + PROGRAM_HEADER) as u64;
    let size = (ELF_HEADER + PROGRAM_HEADER + code.len()) as u64;
    let mut out = Vec::with_capacity(size as usize);
    out.extend_from_slice(b"\x7fELF");
    out.extend_from_slice(&[2, 1, 1, 0]); // 64-bit, little-endian, version 1, System V ABI
    out.extend_from_slice(&[0; 8]);
    out.extend_from_slice(&2u16.to_le_bytes()); // an executable
    out.extend_from_slice(&machine.to_le_bytes());
    out.extend_from_slice(&1u32.to_le_bytes());
    out.extend_from_slice(&entry.to_le_bytes());
    out.extend_from_slice(&(ELF_HEADER as u64).to_le_bytes()); // program headers follow
    out.extend_from_slice(&0u64.to_le_bytes()); // no section headers
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&(ELF_HEADER as u16).to_le_bytes());
    out.extend_from_slice(&(PROGRAM_HEADER as u16).to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&[0; 6]); // section header size, count, names index
    out.extend_from_slice(&1u32.to_le_bytes()); // PT_LOAD
    out.extend_from_slice(&5u32.to_le_bytes()); // readable, executable
    out.extend_from_slice(&0u64.to_le_bytes()); // from the start of the file
    out.extend_from_slice(&LOAD_ADDRESS.to_le_bytes());
    out.extend_from_slice(&LOAD_ADDRESS.to_le_bytes());
    out.extend_from_slice(&size.to_le_bytes());
    out.extend_from_slice(&size.to_le_bytes());
    out.extend_from_slice(&0x1000u64.to_le_bytes());
    out.extend_from_slice(code);
    out
}

/// The pause image's root file system: `/pause`, as a tar archive.
fn rootfs() -> Result<Vec<u8>, RuntimeError> {
    let (machine, code) = machine_code().ok_or_else(|| {
        RuntimeError::Engine(format!("awsvpc tasks are not supported on {} hosts", std::env::consts::ARCH))
    })?;
    let program = elf(machine, &code);
    let mut archive = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    header.set_size(program.len() as u64);
    header.set_mode(0o755);
    header.set_cksum();
    let io = |e: std::io::Error| RuntimeError::Engine(format!("building the pause image: {e}"));
    archive.append_data(&mut header, "pause", program.as_slice()).map_err(io)?;
    archive.into_inner().map_err(io)
}

/// Makes the pause image unless the engine has it.
pub async fn ensure_image<R: ContainerRuntime>(runtime: &R) -> Result<(), RuntimeError> {
    if runtime.has_image(PAUSE_IMAGE).await? {
        return Ok(());
    }
    runtime.import_image(PAUSE_IMAGE, rootfs()?).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_program_is_a_well_formed_executable() {
        let (machine, code) = machine_code().expect("a supported architecture");
        let bin = elf(machine, &code);
        assert_eq!(&bin[..4], b"\x7fELF");
        assert_eq!(bin.len(), ELF_HEADER + PROGRAM_HEADER + code.len());
        let entry = u64::from_le_bytes(bin[24..32].try_into().unwrap());
        assert_eq!(entry - LOAD_ADDRESS, (ELF_HEADER + PROGRAM_HEADER) as u64, "entry is the first instruction");
        let archive = rootfs().unwrap();
        let mut entries = tar::Archive::new(archive.as_slice());
        let file = entries.entries().unwrap().next().unwrap().unwrap();
        assert_eq!(file.path().unwrap().to_str(), Some("pause"));
        assert_eq!(file.header().mode().unwrap(), 0o755);
    }
}
