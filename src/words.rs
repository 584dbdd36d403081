//! Enums that are words: one declaration gives each variant its one spelling, used
//! alike by JSON (serde), by text (`Display`), by the command line (`FromStr`) and by
//! the store. Before, a status became a word three ways (serde renames, a `match` in
//! the staff views, a `name()` method) that could drift apart; now they cannot.

/// A word that names no variant of the enum it was read as.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{word:?} is not one of: {}", expected.join(", "))]
pub struct UnknownWord {
    pub word: String,
    pub expected: &'static [&'static str],
}

/// Declares an enum whose variants are written as the given words:
///
/// ```ignore
/// words! {
///     /// A ticket's or a line's state.
///     pub enum Status { Forwarded = "forwarded", Closed = "closed" }
/// }
/// ```
///
/// The enum gets `Debug, Clone, Copy, PartialEq, Eq, Hash`, `ALL`, `WORDS`,
/// `as_str`, `Display`, `FromStr` (exact words), comparison with a `&str`, and serde
/// as the word.
#[macro_export]
macro_rules! words {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $( $(#[$variant_meta:meta])* $variant:ident = $word:literal ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        $vis enum $name {
            $( $(#[$variant_meta])* $variant ),+
        }

        impl $name {
            /// Every variant, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            /// Every variant's word, in declaration order.
            pub const WORDS: &'static [&'static str] = &[$($word),+];

            /// The variant's word.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $word),+
                }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.pad(self.as_str())
            }
        }

        impl ::std::cmp::PartialEq<str> for $name {
            fn eq(&self, word: &str) -> bool {
                self.as_str() == word
            }
        }

        impl ::std::cmp::PartialEq<&str> for $name {
            fn eq(&self, word: &&str) -> bool {
                self.as_str() == *word
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = $crate::words::UnknownWord;

            fn from_str(text: &str) -> ::std::result::Result<Self, Self::Err> {
                match text {
                    $($word => Ok($name::$variant),)+
                    _ => Err($crate::words::UnknownWord {
                        word: text.to_owned(),
                        expected: $name::WORDS,
                    }),
                }
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, serializer: S) -> ::std::result::Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(deserializer: D) -> ::std::result::Result<Self, D::Error> {
                let word = <::std::string::String as ::serde::Deserialize>::deserialize(deserializer)?;
                word.parse().map_err(::serde::de::Error::custom)
            }
        }
    };
}

#[cfg(test)]
mod tests {
    crate::words! {
        /// A test enum.
        pub enum Colour { Red = "red", DarkBlue = "dark_blue" }
    }

    #[test]
    fn one_spelling_everywhere() {
        for colour in Colour::ALL {
            let word = colour.as_str();
            assert_eq!(colour.to_string(), word);
            assert_eq!(word.parse::<Colour>().unwrap(), *colour);
            assert_eq!(
                serde_json::to_string(colour).unwrap(),
                format!("\"{word}\"")
            );
            assert_eq!(
                serde_json::from_str::<Colour>(&format!("\"{word}\"")).unwrap(),
                *colour
            );
        }
        assert_eq!(format!("{:<5}|", Colour::Red), "red  |");
        assert!(Colour::DarkBlue == "dark_blue" && Colour::Red != "Red");
        let error = "green".parse::<Colour>().unwrap_err();
        assert_eq!(error.to_string(), "\"green\" is not one of: red, dark_blue");
        assert!(serde_json::from_str::<Colour>("\"Red\"").is_err());
    }
}
