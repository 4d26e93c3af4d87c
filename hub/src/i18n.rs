//! The person's language, English or Welsh, and the messages of the hub's pages in it (Welsh Language
//! Standards; GOV.UK Design System "Welsh language"). Messages live in `hub/locales/{en,cy}/hub.ftl`
//! (Project Fluent), compiled in. Which language a request is in is the web layer's to decide
//! (`web::chrome`); this module knows only languages and messages.

use fluent_templates::{fluent_bundle::FluentValue, LanguageIdentifier, Loader as _};
use std::{borrow::Cow, collections::HashMap, sync::LazyLock};

fluent_templates::static_loader! {
    static LOCALES = {
        locales: "./locales",
        fallback_language: "en",
        // No Unicode isolation marks around placeables: names are plain text in HTML.
        customise: |bundle| bundle.set_use_isolating(false),
    };
}

static EN: LazyLock<LanguageIdentifier> = LazyLock::new(|| LanguageIdentifier::from_bytes(b"en").unwrap_or_default());
static CY: LazyLock<LanguageIdentifier> = LazyLock::new(|| LanguageIdentifier::from_bytes(b"cy").unwrap_or_default());

/// A language the hub's pages are written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    #[default]
    En,
    Cy,
}

impl Lang {
    /// The BCP 47 tag, for `<html lang>` and the cookie.
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Cy => "cy",
        }
    }

    /// `en` or `cy` (a region such as `cy-GB` is accepted); anything else is not a language of ours.
    pub fn parse(tag: &str) -> Option<Lang> {
        let primary = tag.split(['-', '_']).next().unwrap_or_default().to_ascii_lowercase();
        match primary.as_str() {
            "en" => Some(Lang::En),
            "cy" => Some(Lang::Cy),
            _ => None,
        }
    }

    /// The first language of ours in a space-separated `ui_locales` list, in the service's order.
    pub fn from_ui_locales(ui_locales: &str) -> Option<Lang> {
        ui_locales.split(' ').find_map(Lang::parse)
    }

    fn id(self) -> &'static LanguageIdentifier {
        match self {
            Lang::En => &EN,
            Lang::Cy => &CY,
        }
    }

    /// The message `id` in this language (its id itself if it is missing, which a unit test forbids).
    pub fn t(self, id: &str) -> String {
        self.t_args(id, &[])
    }

    /// The message `id` with its placeables filled in.
    pub fn t_args(self, id: &str, args: &[(&'static str, String)]) -> String {
        let args: HashMap<Cow<'static, str>, FluentValue<'_>> = args
            .iter()
            .map(|(k, v)| (Cow::Borrowed(*k), FluentValue::from(v.as_str())))
            .collect();
        LOCALES.try_lookup_with_args(self.id(), id, &args).unwrap_or_else(|| {
            tracing::error!(message = id, lang = self.code(), "no such message");
            id.to_string()
        })
    }
}

/// A value for a placeable: plain text, or a name registered in both languages (a provider's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Arg {
    Plain(String),
    Named { en: String, cy: String },
}

/// A message for a person, rendered in their language when the page is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Text {
    pub id: &'static str,
    pub args: Vec<(&'static str, Arg)>,
}

impl Text {
    /// The message `id`.
    pub fn new(id: &'static str) -> Self {
        Self { id, args: Vec::new() }
    }

    /// Fills the placeable `name` with plain text.
    pub fn arg(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.args.push((name, Arg::Plain(value.into())));
        self
    }

    /// Fills the placeable `name` with a name that has an English and a Welsh form.
    pub fn named(mut self, name: &'static str, en: impl Into<String>, cy: impl Into<String>) -> Self {
        self.args.push((
            name,
            Arg::Named {
                en: en.into(),
                cy: cy.into(),
            },
        ));
        self
    }

    /// The text in `lang`.
    pub fn render(&self, lang: Lang) -> String {
        let args: Vec<(&'static str, String)> = self
            .args
            .iter()
            .map(|(k, v)| {
                let value = match (v, lang) {
                    (Arg::Plain(s), _) => s.clone(),
                    (Arg::Named { en, .. }, Lang::En) => en.clone(),
                    (Arg::Named { cy, .. }, Lang::Cy) => cy.clone(),
                };
                (*k, value)
            })
            .collect();
        lang.t_args(self.id, &args)
    }
}

impl From<&'static str> for Text {
    fn from(id: &'static str) -> Self {
        Text::new(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn ids(ftl: &str) -> BTreeSet<String> {
        ftl.lines()
            .filter(|l| !l.starts_with('#') && !l.starts_with(' '))
            .filter_map(|l| l.split_once(" = ").map(|(id, _)| id.trim().to_string()))
            .collect()
    }

    const EN_FTL: &str = include_str!("../locales/en/hub.ftl");
    const CY_FTL: &str = include_str!("../locales/cy/hub.ftl");

    #[test]
    fn english_and_welsh_have_the_same_messages() {
        let (en, cy) = (ids(EN_FTL), ids(CY_FTL));
        assert!(en.len() > 50, "{en:?}");
        assert_eq!(
            en.difference(&cy).collect::<Vec<_>>(),
            Vec::<&String>::new(),
            "missing in Welsh"
        );
        assert_eq!(
            cy.difference(&en).collect::<Vec<_>>(),
            Vec::<&String>::new(),
            "missing in English"
        );
        let args: Vec<(&'static str, String)> = ["provider", "service", "mode", "reason"]
            .iter()
            .map(|k| (*k, format!("<{k}>")))
            .collect();
        for id in &en {
            let (e, c) = (Lang::En.t_args(id, &args), Lang::Cy.t_args(id, &args));
            assert_ne!(&e, id, "{id} does not resolve in English");
            assert_ne!(&c, id, "{id} does not resolve in Welsh");
        }
    }

    /// Every message id the hub's code and templates name exists (and every message is used).
    #[test]
    fn every_message_used_exists_and_every_message_is_used() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut sources = String::new();
        let mut stack = vec![root.join("src"), root.join("templates")];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| unreachable!("{}: {e}", dir.display())) {
                let path = entry.map(|e| e.path()).unwrap_or_default();
                if path.is_dir() {
                    stack.push(path);
                } else if path.file_name() != Some(std::ffi::OsStr::new("i18n.rs")) {
                    sources.push_str(&std::fs::read_to_string(&path).unwrap_or_default());
                }
            }
        }
        let known = ids(EN_FTL);
        let unused: Vec<_> = known
            .iter()
            .filter(|id| !sources.contains(&format!("\"{id}\"")))
            .collect();
        assert!(unused.is_empty(), "messages never used: {unused:?}");
        for call in [".t(\"", "Text::new(\"", ".text(\"", ".para(\""] {
            for rest in sources.split(call).skip(1) {
                let id = rest.split('"').next().unwrap_or_default();
                assert!(known.contains(id), "{call}{id}\" names no message");
            }
        }
        for rest in sources.split("Page::new(StatusCode::").skip(1) {
            let Some((_, after)) = rest.split_once(", ") else {
                continue;
            };
            if let Some(id) = after.strip_prefix('"').and_then(|a| a.split('"').next()) {
                assert!(known.contains(id), "Page::new(.., \"{id}\") names no message");
            }
        }
    }

    #[test]
    fn placeables_and_named_values_follow_the_language() {
        let text = Text::new("denied-heading").named("provider", "Stub Identity A", "Darparwr Hunaniaeth A");
        assert_eq!(text.render(Lang::En), "You have not signed in with Stub Identity A");
        assert_eq!(
            text.render(Lang::Cy),
            "Nid ydych wedi mewngofnodi gyda Darparwr Hunaniaeth A"
        );
        let text = Text::new("choose-heading").arg("service", "Apply for a licence");
        assert_eq!(
            text.render(Lang::Cy),
            "Dewiswch sut i fewngofnodi i Apply for a licence"
        );
    }
}
