//! Resolver result flags, with Postfix's bit values (`resolve_clnt.h`) so
//! they can be compared with, and passed on like, Postfix's.

/// The address class and problem flags of a resolved address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct ResolveFlags(u32);

impl ResolveFlags {
    /// Final delivery (`RESOLVE_FLAG_FINAL`).
    pub const FINAL: ResolveFlags = ResolveFlags(1 << 0);
    /// The local part holds routing operators (`RESOLVE_FLAG_ROUTED`).
    pub const ROUTED: ResolveFlags = ResolveFlags(1 << 1);
    /// Bad destination syntax (`RESOLVE_FLAG_ERROR`).
    pub const ERROR: ResolveFlags = ResolveFlags(1 << 2);
    /// A table lookup failed: try again later (`RESOLVE_FLAG_FAIL`).
    pub const FAIL: ResolveFlags = ResolveFlags(1 << 3);
    /// `mydestination`, `inet_interfaces`, `proxy_interfaces`.
    pub const CLASS_LOCAL: ResolveFlags = ResolveFlags(1 << 8);
    /// `virtual_alias_domains`.
    pub const CLASS_ALIAS: ResolveFlags = ResolveFlags(1 << 9);
    /// `virtual_mailbox_domains`.
    pub const CLASS_VIRTUAL: ResolveFlags = ResolveFlags(1 << 10);
    /// `relay_domains`.
    pub const CLASS_RELAY: ResolveFlags = ResolveFlags(1 << 11);
    /// Everything else.
    pub const CLASS_DEFAULT: ResolveFlags = ResolveFlags(1 << 12);
    /// The final-delivery classes (`RESOLVE_CLASS_FINAL`).
    pub const CLASS_FINAL: ResolveFlags = ResolveFlags((1 << 8) | (1 << 9) | (1 << 10));
    /// All class bits (`RESOLVE_CLASS_MASK`).
    pub const CLASS_MASK: ResolveFlags = ResolveFlags(0x1f << 8);

    /// No flags.
    pub const fn empty() -> ResolveFlags {
        ResolveFlags(0)
    }

    /// Flags from Postfix's integer value.
    pub const fn from_bits(bits: u32) -> ResolveFlags {
        ResolveFlags(bits)
    }

    /// Postfix's integer value.
    pub const fn bits(self) -> u32 {
        self.0
    }

    /// Whether all bits of `other` are set.
    pub const fn contains(self, other: ResolveFlags) -> bool {
        self.0 & other.0 == other.0
    }

    /// Whether any bit of `other` is set.
    pub const fn intersects(self, other: ResolveFlags) -> bool {
        self.0 & other.0 != 0
    }

    /// The address class, if one was decided.
    pub fn class(self) -> Option<AddressClass> {
        [
            (Self::CLASS_LOCAL, AddressClass::Local),
            (Self::CLASS_ALIAS, AddressClass::VirtualAlias),
            (Self::CLASS_VIRTUAL, AddressClass::VirtualMailbox),
            (Self::CLASS_RELAY, AddressClass::Relay),
            (Self::CLASS_DEFAULT, AddressClass::Default),
        ]
        .into_iter()
        .find(|(f, _)| self.contains(*f))
        .map(|(_, c)| c)
    }
}

impl std::ops::BitOr for ResolveFlags {
    type Output = ResolveFlags;
    fn bitor(self, rhs: ResolveFlags) -> ResolveFlags {
        ResolveFlags(self.0 | rhs.0)
    }
}

impl std::ops::BitOrAssign for ResolveFlags {
    fn bitor_assign(&mut self, rhs: ResolveFlags) {
        self.0 |= rhs.0;
    }
}

/// The address classes of ADDRESS_CLASS_README.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AddressClass {
    /// Local delivery (`local_transport`).
    Local,
    /// Virtual alias domain: every address must be aliased.
    VirtualAlias,
    /// Virtual mailbox domain (`virtual_transport`).
    VirtualMailbox,
    /// Relay domain (`relay_transport`).
    Relay,
    /// Anything else (`default_transport`).
    Default,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_and_classes() {
        let f = ResolveFlags::CLASS_DEFAULT | ResolveFlags::ROUTED;
        assert_eq!(f.bits(), 4098);
        assert_eq!(f.class(), Some(AddressClass::Default));
        assert!(f.contains(ResolveFlags::ROUTED));
        assert!(!f.intersects(ResolveFlags::CLASS_FINAL));
        assert_eq!(
            ResolveFlags::from_bits(264).class(),
            Some(AddressClass::Local)
        );
        assert_eq!(ResolveFlags::empty().class(), None);
        assert_eq!(ResolveFlags::CLASS_MASK.bits(), 0x1f00);
    }
}
