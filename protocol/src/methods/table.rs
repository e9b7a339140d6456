//! The one table of the protocol's methods: each is declared here once, with who may call it.
//!
//! [`for_each_method!`](crate::for_each_method) holds the table and hands it to a macro of the
//! caller's; [`METHODS`] is the table as data, for anyone who needs names and audiences. The
//! daemon routes requests from the same macro, so a method in the table without a handler does
//! not compile, and the add-on bridges admit what the table admits, nothing else.

use super::Method;

/// Calls `$callback! { … }` with every method of the protocol, one entry per method:
///
/// ```text
/// namespace::Type => AUDIENCE | AUDIENCE …,
/// ```
///
/// `namespace` is a module of [`methods`](crate::methods) and `Type` its [`Method`]; the
/// audience flags are constants of [`Audience`]: `LOCAL` for local programs on the socket only,
/// or the bridges that may call it too (`THUNDERBIRD`), optionally with `BRIDGE_PATHS`. The
/// order is the one `daemon.hello` announces. Callers name the module paths themselves, as
/// `mailseal_protocol::methods::$namespace::$Type`.
///
/// A new method goes here, in `protocol/README.md`, and in the daemon's handlers; the build and
/// the tests fail until all three agree.
#[macro_export]
macro_rules! for_each_method {
    ($callback:ident) => {
        $callback! {
            daemon::Hello => THUNDERBIRD,
            daemon::Ping => THUNDERBIRD,
            daemon::Status => THUNDERBIRD,
            key::ImportPkcs12 => LOCAL,
            key::ImportPkcs8 => LOCAL,
            key::Unlock => THUNDERBIRD,
            key::Lock => LOCAL,
            identity::List => THUNDERBIRD,
            cert::Import => LOCAL,
            cert::List => THUNDERBIRD,
            cert::Remove => LOCAL,
            cert::Find => THUNDERBIRD,
            smime::Sign => THUNDERBIRD,
            smime::Encrypt => THUNDERBIRD,
            smime::SignEncrypt => THUNDERBIRD,
            smime::Decrypt => THUNDERBIRD,
            smime::Verify => THUNDERBIRD,
            smime::Open => THUNDERBIRD,
            stream::Open => THUNDERBIRD,
            stream::Write => THUNDERBIRD,
            stream::Read => THUNDERBIRD,
            stream::Close => THUNDERBIRD,
            token::List => THUNDERBIRD,
            token::Login => THUNDERBIRD,
            token::Logout => LOCAL,
            token::GenerateKey => LOCAL,
            token::Csr => LOCAL,
            token::ImportCert => LOCAL,
            policy::Compose => THUNDERBIRD,
            mime::Display => THUNDERBIRD,
            ca::Init => LOCAL,
            ca::Issue => LOCAL,
            ca::Batch => LOCAL,
            ca::Renew => LOCAL,
            ca::Revoke => LOCAL,
            ca::Crl => LOCAL,
            ca::List => LOCAL,
            ca::Publish => LOCAL,
        }
    };
}

/// A way into the daemon for a mail-client add-on, which cannot open the local socket itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bridge {
    /// Thunderbird's native messaging, relayed by `mailseald native-host`.
    Thunderbird,
}

impl Bridge {
    /// The [`Audience`] flag that admits this bridge.
    const fn flag(self) -> Audience {
        match self {
            Bridge::Thunderbird => Audience::THUNDERBIRD,
        }
    }
}

/// Who may call a method, as a set of flags.
///
/// Local programs on the socket (the CLI, scripts, tests) may call every method, with every
/// kind of parameter: they run as the user anyway. A mail-client add-on handles untrusted mail
/// in a browser-like engine, so a bridge passes only the methods whose audience names it, and
/// only without file paths unless the audience also has [`Audience::BRIDGE_PATHS`]. A new
/// bridge is one more flag here and one more [`Bridge`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Audience(u8);

impl Audience {
    /// Local programs on the socket only.
    pub const LOCAL: Self = Self(0);
    /// Also the Thunderbird add-on, through [`Bridge::Thunderbird`].
    pub const THUNDERBIRD: Self = Self(1);
    /// The bridges admitted may pass `{"path": …}` parameters too. No method has it: a path
    /// would let a subverted add-on read or overwrite any of the user's files, so add-ons send
    /// large messages through `stream.*` instead.
    pub const BRIDGE_PATHS: Self = Self(1 << 7);

    /// Both sets of flags.
    pub const fn union(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }

    const fn has(self, flag: Self) -> bool {
        self.0 & flag.0 == flag.0
    }
}

/// One method of the table: its wire name and who may call it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MethodInfo {
    /// The wire name, [`Method::NAME`].
    pub name: &'static str,
    /// Who may call it.
    pub audience: Audience,
}

impl MethodInfo {
    /// The entry of `M`.
    const fn of<M: Method>(audience: Audience) -> Self {
        Self {
            name: M::NAME,
            audience,
        }
    }

    /// The method called `name`, if the protocol has one.
    pub fn find(name: &str) -> Option<&'static MethodInfo> {
        METHODS.iter().find(|method| method.name == name)
    }

    /// Whether `bridge` may call this method.
    pub const fn allowed_for(&self, bridge: Bridge) -> bool {
        self.audience.has(bridge.flag())
    }

    /// Whether `bridge` may call this method with `{"path": …}` parameters.
    pub const fn paths_allowed_for(&self, bridge: Bridge) -> bool {
        self.allowed_for(bridge) && self.audience.has(Audience::BRIDGE_PATHS)
    }
}

macro_rules! method_infos {
    ($($namespace:ident::$method:ident => $($flag:ident)|+,)*) => {
        /// Every method of the protocol, in the order `daemon.hello` announces them.
        pub const METHODS: &[MethodInfo] = &[$(
            MethodInfo::of::<super::$namespace::$method>(
                Audience::LOCAL$(.union(Audience::$flag))+,
            ),
        )*];
    };
}

for_each_method!(method_infos);

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn every_method_is_in_the_table_once() {
        let mut seen = HashSet::new();
        for method in METHODS {
            assert!(seen.insert(method.name), "{} twice", method.name);
        }
        assert_eq!(METHODS.len(), 38);
    }

    #[test]
    fn a_bridge_gets_what_its_flag_admits_and_paths_only_with_their_own_flag() {
        let local = MethodInfo::find("ca.issue").unwrap();
        assert!(!local.allowed_for(Bridge::Thunderbird));
        let add_on = MethodInfo::find("smime.sign").unwrap();
        assert!(add_on.allowed_for(Bridge::Thunderbird));
        assert!(!add_on.paths_allowed_for(Bridge::Thunderbird));
        let with_paths = MethodInfo {
            audience: Audience::THUNDERBIRD.union(Audience::BRIDGE_PATHS),
            ..*add_on
        };
        assert!(with_paths.paths_allowed_for(Bridge::Thunderbird));
        let paths_alone = MethodInfo {
            audience: Audience::BRIDGE_PATHS,
            ..*add_on
        };
        assert!(!paths_alone.paths_allowed_for(Bridge::Thunderbird));
        assert!(MethodInfo::find("smime.nonesuch").is_none());
    }

    /// The names in backticks in the README's third-level headings, which is where the
    /// specification documents each method, e.g. ``### `smime.open`, `smime.decrypt` ``.
    fn documented() -> HashSet<String> {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/README.md");
        let readme = std::fs::read_to_string(path).expect("protocol/README.md");
        readme
            .lines()
            .filter_map(|line| line.strip_prefix("### "))
            .flat_map(|heading| heading.split('`').skip(1).step_by(2))
            .map(str::to_owned)
            .collect()
    }

    #[test]
    fn the_readme_documents_every_method_of_the_table_and_no_other() {
        let documented = documented();
        let table: HashSet<String> = METHODS.iter().map(|m| m.name.to_owned()).collect();
        let mut undocumented: Vec<_> = table.difference(&documented).collect();
        let mut unknown: Vec<_> = documented.difference(&table).collect();
        undocumented.sort();
        unknown.sort();
        assert!(
            undocumented.is_empty(),
            "protocol/README.md has no `### `name`` heading for {undocumented:?}"
        );
        assert!(
            unknown.is_empty(),
            "protocol/README.md documents {unknown:?}, which the method table lacks"
        );
    }
}
