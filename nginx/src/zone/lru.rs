//! The LRU list: circular and doubly linked through the entries' `Link`s, with a
//! sentinel in the store header (`next` is the most recently used entry, `prev`
//! the least). Every link is reached through raw pointers only: the links point
//! into the store header and into each other, and a `&mut` to any of them would
//! let the optimizer assume writes through the others away (the worker hang of
//! commit ba028f9).

use core::ptr;

#[repr(C)]
pub(super) struct Link {
    pub(super) prev: *mut Link,
    pub(super) next: *mut Link,
}

/// Makes `head` an empty list.
///
/// # Safety
/// `head` is valid for writes, and the zone's lock is held.
pub(super) unsafe fn init(head: *mut Link) {
    // SAFETY: the caller's contract.
    unsafe {
        (*head).prev = head;
        (*head).next = head;
    }
}

/// Puts `l` first.
///
/// # Safety
/// `head` is a list's sentinel, `l` a link on no list; the zone's lock is held.
pub(super) unsafe fn link_front(head: *mut Link, l: *mut Link) {
    // SAFETY: on a well-formed list `head.next` is a valid link (or `head`).
    unsafe {
        (*l).next = (*head).next;
        (*l).prev = head;
        (*(*head).next).prev = l;
        (*head).next = l;
    }
}

/// Takes `l` off its list.
///
/// # Safety
/// `l` is on a well-formed list; the zone's lock is held.
pub(super) unsafe fn unlink(l: *mut Link) {
    // SAFETY: on a well-formed list both neighbours are valid links.
    unsafe {
        (*(*l).prev).next = (*l).next;
        (*(*l).next).prev = (*l).prev;
        (*l).prev = ptr::null_mut();
        (*l).next = ptr::null_mut();
    }
}

/// The front-quarter rule: whether a read must move its entry to the front. The
/// store counts moves to the front (wrapping) and stamps an entry with the count
/// when it moves; an entry stamped `touched` is then at most `moves - touched`
/// places from the front, so one still within the front quarter stays put and the
/// read writes nothing.
pub(super) fn read_moves_to_front(moves: u32, touched: u32, entries: u64) -> bool {
    u64::from(moves.wrapping_sub(touched)) >= entries / 4
}
