// Guest memory the host writes into.
//
// The host returns variable-sized values (header values, buffers, shared data)
// by calling proxy_on_memory_allocate and writing the address and size into the
// two scratch slots we pass as `return_*` parameters.  Those blocks are
// unmanaged (arena or heap.alloc): every reader copies what it keeps and
// releases the block.

// Three 8-byte return slots in static data: no allocation per host call.
export const RETURN_A: usize = memory.data(8);
export const RETURN_B: usize = memory.data(8);
export const RETURN_C: usize = memory.data(8);

// Values the host returns live only until the callback ends (we copy what we
// keep), so small ones come from a bump arena reset at the start of every
// outermost callback: the cache-hit path then allocates nothing at all.
const ARENA_SIZE: usize = 16 * 1024;
const ARENA: usize = memory.data(<i32>ARENA_SIZE, 16);
let arenaUsed: usize = 0;

export function resetArena(): void {
  arenaUsed = 0;
}

function inArena(ptr: usize): bool {
  return ptr >= ARENA && ptr < ARENA + ARENA_SIZE;
}

export function proxy_on_memory_allocate(size: usize): usize {
  const aligned = (size + 7) & ~<usize>7;
  if (aligned >= size && aligned <= ARENA_SIZE - arenaUsed) {
    const ptr = ARENA + arenaUsed;
    arenaUsed += aligned;
    return ptr;
  }
  return heap.alloc(size);
}

/** Gives back a block the host returned (arena blocks go at the next reset). */
export function releaseReturned(ptr: usize): void {
  if (ptr != 0 && !inArena(ptr)) heap.free(ptr);
}

/** Address and size the host wrote into RETURN_A / RETURN_B, checked to lie inside linear memory. */
export function returnedPtr(): usize {
  return <usize>load<u32>(RETURN_A);
}

export function returnedSize(): usize {
  return <usize>load<u32>(RETURN_B);
}

export function insideMemory(ptr: usize, size: usize): bool {
  const end = <u64>ptr + <u64>size;
  return ptr != 0 && end <= (<u64>memory.size() << 16);
}

/**
 * Copies the host-returned block into a managed ArrayBuffer and frees the block.
 * Returns null if the host handed back an address outside our memory.
 */
export function takeReturnedBuffer(): ArrayBuffer | null {
  const ptr = returnedPtr();
  const size = returnedSize();
  if (size == 0) {
    releaseReturned(ptr);
    return new ArrayBuffer(0);
  }
  if (!insideMemory(ptr, size)) return null;
  const out = new ArrayBuffer(<i32>size);
  memory.copy(changetype<usize>(out), ptr, size);
  releaseReturned(ptr);
  return out;
}

/** Frees whatever block the host returned, without reading it. */
export function dropReturnedBuffer(): void {
  const ptr = returnedPtr();
  if (insideMemory(ptr, 1)) releaseReturned(ptr);
}

/** Clears the return slots so a host that writes nothing leaves no stale pointer behind. */
export function clearReturnSlots(): void {
  store<u64>(RETURN_A, 0);
  store<u64>(RETURN_B, 0);
  store<u64>(RETURN_C, 0);
}
