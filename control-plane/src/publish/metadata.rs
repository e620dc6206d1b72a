//! A video's metadata as the admin edits it and PeerTube validates it, pure: the title made
//! from a file name, PeerTube's limits (name 3–120 characters, description 3–10 000, at most 5
//! tags of 2–30), its licence and category numbers with their names, language codes.

use serde::{Deserialize, Serialize};

/// PeerTube's `CONSTRAINTS_FIELDS.VIDEOS`.
pub const NAME_MIN: usize = 3;
pub const NAME_MAX: usize = 120;
pub const DESCRIPTION_MIN: usize = 3;
pub const DESCRIPTION_MAX: usize = 10_000;
pub const TAG_MIN: usize = 2;
pub const TAG_MAX: usize = 30;
pub const TAGS_MAX: usize = 5;

/// PeerTube's licences (`VIDEO_LICENCES`), numbered from 1.
pub const LICENCES: [&str; 7] = [
    "Attribution",
    "Attribution - Share Alike",
    "Attribution - No Derivatives",
    "Attribution - Non Commercial",
    "Attribution - Non Commercial - Share Alike",
    "Attribution - Non Commercial - No Derivatives",
    "Public Domain Dedication",
];

/// PeerTube's categories (`VIDEO_CATEGORIES`), numbered from 1.
pub const CATEGORIES: [&str; 18] = [
    "Music",
    "Films",
    "Vehicles",
    "Art",
    "Sports",
    "Travels",
    "Gaming",
    "People",
    "Comedy",
    "Entertainment",
    "News & Politics",
    "How To",
    "Education",
    "Activism",
    "Science & Technology",
    "Animals",
    "Kids",
    "Food",
];

/// Names of common languages (others are sent with their code as name; PeerTube reads only
/// the code).
const LANGUAGES: [(&str, &str); 16] = [
    ("ar", "Arabic"),
    ("de", "German"),
    ("en", "English"),
    ("eo", "Esperanto"),
    ("es", "Spanish"),
    ("fr", "French"),
    ("hi", "Hindi"),
    ("it", "Italian"),
    ("ja", "Japanese"),
    ("ko", "Korean"),
    ("nl", "Dutch"),
    ("pl", "Polish"),
    ("pt", "Portuguese"),
    ("ru", "Russian"),
    ("sv", "Swedish"),
    ("zh", "Chinese"),
];

pub fn licence_name(id: i64) -> Option<&'static str> {
    usize::try_from(id).ok().and_then(|i| i.checked_sub(1)).and_then(|i| LICENCES.get(i)).copied()
}

pub fn category_name(id: i64) -> Option<&'static str> {
    usize::try_from(id).ok().and_then(|i| i.checked_sub(1)).and_then(|i| CATEGORIES.get(i)).copied()
}

pub fn language_name(code: &str) -> &str {
    LANGUAGES.iter().find(|(c, _)| *c == code).map_or(code, |(_, n)| n)
}

/// A title from a file name: the name without its extension, `_` and `.` as spaces, trimmed to
/// PeerTube's limits (padded when shorter than 3 characters).
pub fn title_from_file_name(file_name: &str) -> String {
    let stem = match file_name.rsplit_once('.') {
        Some((stem, _)) if !stem.is_empty() => stem,
        _ => file_name,
    };
    let spaced: String = stem.chars().map(|c| if c == '_' || c == '.' || c.is_control() { ' ' } else { c }).collect();
    let mut title = spaced.split_whitespace().collect::<Vec<_>>().join(" ");
    if title.chars().count() > NAME_MAX {
        title = title.chars().take(NAME_MAX - 1).collect::<String>().trim_end().to_owned() + "…";
    }
    while title.chars().count() < NAME_MIN {
        title.push('_');
    }
    title
}

/// An edit the admin asks for (absent fields stay; an empty string clears a field that may be
/// empty).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VideoEdit {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    /// 1 to 7 (0 clears).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub licence: Option<i64>,
    /// 1 to 18 (0 clears).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
}

/// The editable fields of a video.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Metadata {
    pub title: String,
    pub description: Option<String>,
    pub language: Option<String>,
    pub licence: Option<i64>,
    pub category: Option<i64>,
    pub tags: Vec<String>,
}

impl VideoEdit {
    pub fn is_empty(&self) -> bool {
        *self == VideoEdit::default()
    }

    /// The metadata after this edit, or what is wrong with it (all problems, one per line).
    pub fn apply(&self, old: &Metadata) -> Result<Metadata, String> {
        let mut m = old.clone();
        let mut problems = Vec::new();
        if let Some(t) = &self.title {
            let t = t.trim();
            let n = t.chars().count();
            if !(NAME_MIN..=NAME_MAX).contains(&n) {
                problems.push(format!("the title has {n} characters: PeerTube takes {NAME_MIN} to {NAME_MAX}"));
            }
            m.title = t.to_owned();
        }
        if let Some(d) = &self.description {
            let n = d.trim().chars().count();
            if n == 0 {
                m.description = None;
            } else if !(DESCRIPTION_MIN..=DESCRIPTION_MAX).contains(&n) {
                problems.push(format!("the description has {n} characters: PeerTube takes {DESCRIPTION_MIN} to {DESCRIPTION_MAX} (or none)"));
            } else {
                m.description = Some(d.trim().to_owned());
            }
        }
        if let Some(l) = &self.language {
            let l = l.trim();
            if l.is_empty() {
                m.language = None;
            } else if !is_language_code(l) {
                problems.push(format!("{l:?} is not a language code (like en, fr, pt-br)"));
            } else {
                m.language = Some(l.to_owned());
            }
        }
        if let Some(id) = self.licence {
            match id {
                0 => m.licence = None,
                id if licence_name(id).is_some() => m.licence = Some(id),
                id => problems.push(format!("licence {id}: PeerTube's licences are 1 to {}", LICENCES.len())),
            }
        }
        if let Some(id) = self.category {
            match id {
                0 => m.category = None,
                id if category_name(id).is_some() => m.category = Some(id),
                id => problems.push(format!("category {id}: PeerTube's categories are 1 to {}", CATEGORIES.len())),
            }
        }
        if let Some(tags) = &self.tags {
            let tags: Vec<String> = tags.iter().map(|t| t.trim().to_owned()).filter(|t| !t.is_empty()).collect();
            if tags.len() > TAGS_MAX {
                problems.push(format!("{} tags: PeerTube takes at most {TAGS_MAX}", tags.len()));
            }
            for t in &tags {
                let n = t.chars().count();
                if !(TAG_MIN..=TAG_MAX).contains(&n) {
                    problems.push(format!("tag {t:?} has {n} characters: PeerTube takes {TAG_MIN} to {TAG_MAX}"));
                }
            }
            m.tags = tags;
        }
        if problems.is_empty() {
            Ok(m)
        } else {
            Err(problems.join("\n"))
        }
    }
}

fn is_language_code(s: &str) -> bool {
    let mut parts = s.split('-');
    let main = parts.next().unwrap_or("");
    let main_ok = (2..=3).contains(&main.len()) && main.chars().all(|c| c.is_ascii_lowercase());
    let rest: Vec<&str> = parts.collect();
    main_ok && rest.len() <= 1 && rest.iter().all(|r| (2..=4).contains(&r.len()) && r.chars().all(|c| c.is_ascii_alphanumeric()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_from_file_names() {
        assert_eq!(title_from_file_name("My_holiday.2024.mp4"), "My holiday 2024");
        assert_eq!(title_from_file_name("a.mp4"), "a__");
        assert_eq!(title_from_file_name(".mp4"), "mp4");
        assert_eq!(title_from_file_name("noext"), "noext");
        let long = title_from_file_name(&format!("{}.webm", "x".repeat(300)));
        assert_eq!(long.chars().count(), NAME_MAX);
        for name in ["a.mp4", "ab", "日本.mp4", &"é".repeat(500)] {
            let n = title_from_file_name(name).chars().count();
            assert!((NAME_MIN..=NAME_MAX).contains(&n), "{name}: {n}");
        }
    }

    #[test]
    fn edits_follow_peertube_limits() {
        let old = Metadata { title: "Old title".into(), ..Metadata::default() };
        let e = VideoEdit { title: Some(" New ".into()), description: Some("A video about things".into()), language: Some("fr".into()), licence: Some(7), category: Some(15), tags: Some(vec!["rust".into(), " p2p ".into()]) };
        let m = e.apply(&old).unwrap();
        assert_eq!(m.title, "New");
        assert_eq!((m.licence, m.category, m.language.as_deref()), (Some(7), Some(15), Some("fr")));
        assert_eq!(m.tags, vec!["rust".to_owned(), "p2p".to_owned()]);
        let bad = VideoEdit { title: Some("ab".into()), description: Some("ab".into()), language: Some("French".into()), licence: Some(8), category: Some(19), tags: Some(vec!["x".into(); 6]) };
        let err = bad.apply(&old).unwrap_err();
        for needle in ["title has 2", "description has 2", "\"French\"", "licence 8", "category 19", "6 tags", "tag \"x\""] {
            assert!(err.contains(needle), "{needle} in {err}");
        }
        // Clearing.
        let cleared = VideoEdit { description: Some(String::new()), licence: Some(0), category: Some(0), language: Some(String::new()), ..VideoEdit::default() }.apply(&m).unwrap();
        assert_eq!((cleared.description, cleared.licence, cleared.category, cleared.language), (None, None, None, None));
        assert!(VideoEdit::default().is_empty());
        assert!(serde_json::from_str::<VideoEdit>("{\"titel\":\"x\"}").is_err(), "unknown fields are refused");
    }

    #[test]
    fn names_of_numbers() {
        assert_eq!(licence_name(1), Some("Attribution"));
        assert_eq!(licence_name(0), None);
        assert_eq!(category_name(18), Some("Food"));
        assert_eq!(category_name(-1), None);
        assert_eq!(language_name("en"), "English");
        assert_eq!(language_name("pt-br"), "pt-br");
        assert!(is_language_code("pt-br") && is_language_code("zh-Hans") && !is_language_code("english") && !is_language_code("e"));
    }
}
