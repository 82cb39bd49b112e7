//! Characters that make text look like something it is not: invisible ones (a soft hyphen,
//! zero-width characters) and bidirectional controls (a right-to-left override), refused in
//! titles and domains; and confusable domain labels (mixed scripts, a whole label that
//! reads as another ASCII name), judged by UTS #39 through `unicode-security`.

use unicode_security::{skeleton, RestrictionLevel, RestrictionLevelDetection};

/// The invisible and direction-changing characters refused, with their names.
const INVISIBLE: &[(char, &str)] = &[
    ('\u{00AD}', "soft hyphen"),
    ('\u{034F}', "combining grapheme joiner"),
    ('\u{061C}', "Arabic letter mark"),
    ('\u{180E}', "Mongolian vowel separator"),
    ('\u{200B}', "zero-width space"),
    ('\u{200C}', "zero-width non-joiner"),
    ('\u{200D}', "zero-width joiner"),
    ('\u{200E}', "left-to-right mark"),
    ('\u{200F}', "right-to-left mark"),
    ('\u{202A}', "left-to-right embedding"),
    ('\u{202B}', "right-to-left embedding"),
    ('\u{202C}', "pop directional formatting"),
    ('\u{202D}', "left-to-right override"),
    ('\u{202E}', "right-to-left override"),
    ('\u{2060}', "word joiner"),
    ('\u{2066}', "left-to-right isolate"),
    ('\u{2067}', "right-to-left isolate"),
    ('\u{2068}', "first strong isolate"),
    ('\u{2069}', "pop directional isolate"),
    ('\u{FEFF}', "zero-width no-break space"),
];

/// The name of `c` if it is invisible or changes the text's direction.
fn invisible_name(c: char) -> Option<&'static str> {
    INVISIBLE.iter().find(|(i, _)| *i == c).map(|(_, n)| *n)
}

/// `c` as a person can find it: `soft hyphen (U+00AD)`.
fn describe(c: char, name: &str) -> String {
    format!("{name} (U+{:04X})", c as u32)
}

/// The first invisible or direction-changing character of `text`, described.
pub fn invisible_in(text: &str) -> Option<String> {
    text.chars()
        .find_map(|c| invisible_name(c).map(|n| describe(c, n)))
}

/// Like [`invisible_in`], but a zero-width joiner between two pictographs (an emoji
/// sequence such as a family) is what it is meant for, and allowed.
pub fn invisible_in_title(text: &str) -> Option<String> {
    let chars: Vec<char> = text.chars().collect();
    chars.iter().enumerate().find_map(|(i, &c)| {
        let name = invisible_name(c)?;
        let joins_emoji = c == '\u{200D}'
            && i > 0
            && chars[..i]
                .iter()
                .rev()
                .find(|p| **p != '\u{FE0F}')
                .is_some_and(|p| is_pictograph(*p))
            && chars.get(i + 1).is_some_and(|n| is_pictograph(*n));
        (!joins_emoji).then(|| describe(c, name))
    })
}

/// Emoji and pictographs, where zero-width joiners build sequences.
fn is_pictograph(c: char) -> bool {
    matches!(c as u32, 0x1F000..=0x1FAFF | 0x2600..=0x27BF)
}

/// Why the Unicode domain label `label` (one label of a domain, as people read it) could
/// pass for another name, if it could: it mixes scripts (Latin with Cyrillic), holds a
/// character not meant for identifiers, or all of it reads as an ASCII name.
pub fn confusable_label(label: &str) -> Option<String> {
    if label.is_ascii() {
        return None;
    }
    if let Some(c) = label.chars().find(|c| {
        !unicode_security::GeneralSecurityProfile::identifier_allowed(*c) && !c.is_ascii()
    }) {
        return Some(format!(
            "the character {c:?} (U+{:04X}) is not allowed in a domain name",
            c as u32
        ));
    }
    if label.detect_restriction_level() > RestrictionLevel::HighlyRestrictive {
        return Some(format!(
            "{label:?} mixes letters of different scripts, which can imitate another name"
        ));
    }
    let looks_like: String = skeleton(label).collect();
    if looks_like.is_ascii() {
        return Some(format!(
            "{label:?} can be mistaken for the plain name {looks_like:?}"
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invisible_characters_are_named() {
        assert_eq!(
            invisible_in("ex\u{AD}ample.com").as_deref(),
            Some("soft hyphen (U+00AD)")
        );
        assert_eq!(
            invisible_in("a\u{202E}b").as_deref(),
            Some("right-to-left override (U+202E)")
        );
        for c in ['\u{200B}', '\u{200C}', '\u{200D}', '\u{2060}', '\u{FEFF}'] {
            assert!(invisible_in(&format!("a{c}b")).is_some(), "{c:?}");
        }
        for c in 0x202A..=0x202E_u32 {
            assert!(invisible_in(&char::from_u32(c).unwrap().to_string()).is_some());
        }
        for c in 0x2066..=0x2069_u32 {
            assert!(invisible_in(&char::from_u32(c).unwrap().to_string()).is_some());
        }
        assert_eq!(invisible_in("Ann's Café — 🎉"), None);
    }

    #[test]
    fn a_joiner_between_emoji_is_kept_in_titles() {
        assert_eq!(invisible_in_title("👨\u{200D}👩\u{200D}👧"), None);
        assert_eq!(invisible_in_title("❤\u{FE0F}\u{200D}🔥"), None);
        assert!(invisible_in_title("a\u{200D}b").is_some());
        assert!(invisible_in_title("\u{200D}🎉").is_some());
        assert!(invisible_in_title("🎉\u{200B}🎉").is_some());
    }

    #[test]
    fn confusable_labels() {
        assert_eq!(confusable_label("example"), None);
        assert_eq!(confusable_label("bücher"), None);
        assert_eq!(confusable_label("münchen"), None);
        assert_eq!(confusable_label("日本語"), None);
        assert_eq!(confusable_label("пример"), None);
        // Latin "p", "y", "p", "a", "l" with a Cyrillic "а" (U+0430).
        assert!(confusable_label("p\u{430}ypal").unwrap().contains("mixes"));
        // All Cyrillic, and it reads "apple".
        assert!(confusable_label("\u{430}\u{440}\u{440}\u{4CF}\u{435}")
            .unwrap()
            .contains("mistaken"));
    }
}
