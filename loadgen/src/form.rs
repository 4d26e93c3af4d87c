//! The hub's two forms a person submits, read from the page as a browser would: the provider choice and the
//! consent. Generic on purpose: every hidden input the form carries (a journey id, a CSRF token, whatever
//! the hub adds) goes back, to the form's own action, with its own method.

use scraper::{ElementRef, Html, Selector};
use std::sync::LazyLock;

/// A form ready to submit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Form {
    /// The `action` attribute, relative to the page (empty: the page itself).
    pub action: String,
    /// `method="post"`; otherwise the fields go in the query of a GET.
    pub post: bool,
    pub fields: Vec<(String, String)>,
}

/// Why a page could not be submitted as expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormError {
    #[error("no {0} form on the page")]
    NoForm(&'static str),
    #[error("the provider is not offered")]
    ProviderNotOffered,
    #[error("the provider is shown as unavailable")]
    ProviderUnavailable,
    #[error("a selector did not parse")]
    Selector,
}

fn selector(css: &str) -> Option<Selector> {
    Selector::parse(css).ok()
}

static FORM: LazyLock<Option<Selector>> = LazyLock::new(|| selector("form"));
static HIDDEN: LazyLock<Option<Selector>> = LazyLock::new(|| selector(r#"input[type="hidden"][name]"#));
static PROVIDER: LazyLock<Option<Selector>> = LazyLock::new(|| selector(r#"input[name="provider"]"#));
static ACCEPT: LazyLock<Option<Selector>> = LazyLock::new(|| selector(r#"[name="decision"][value="accept"]"#));

fn get(s: &'static LazyLock<Option<Selector>>) -> Result<&'static Selector, FormError> {
    s.as_ref().ok_or(FormError::Selector)
}

/// The form's action, method and hidden inputs.
fn hidden_fields(form: ElementRef<'_>) -> Result<Form, FormError> {
    let fields = form
        .select(get(&HIDDEN)?)
        .filter_map(|i| {
            let v = i.value();
            Some((v.attr("name")?.to_string(), v.attr("value").unwrap_or("").to_string()))
        })
        .collect();
    Ok(Form {
        action: form.value().attr("action").unwrap_or("").to_string(),
        post: form
            .value()
            .attr("method")
            .is_some_and(|m| m.eq_ignore_ascii_case("post")),
        fields,
    })
}

/// Where `needle` (ASCII) starts in `haystack`, ignoring ASCII case.
fn find_ignore_case(haystack: &str, needle: &str) -> Option<usize> {
    haystack
        .as_bytes()
        .windows(needle.len())
        .position(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
}

/// Each `<form>…</form>` of a page, parsed on its own: forms do not nest, and the rest of a GOV.UK page
/// (header, crown, footer) is most of its bytes and never holds a field, so it is not parsed at all.
fn forms(html: &str) -> impl Iterator<Item = Html> + '_ {
    const END: &str = "</form>";
    let mut rest = html;
    std::iter::from_fn(move || {
        let start = find_ignore_case(rest, "<form")?;
        let end = find_ignore_case(&rest[start..], END).map_or(rest.len(), |e| start + e + END.len());
        let fragment = Html::parse_fragment(&rest[start..end]);
        rest = &rest[end..];
        Some(fragment)
    })
}

/// The choice page's form (the one with `provider` radios), with `provider` chosen.
pub fn choice(html: &str, provider: &str) -> Result<Form, FormError> {
    let (form_sel, radios) = (get(&FORM)?, get(&PROVIDER)?);
    for fragment in forms(html) {
        let Some(form) = fragment.select(form_sel).next() else {
            continue;
        };
        let mut offered = form.select(radios).peekable();
        if offered.peek().is_none() {
            continue;
        }
        let radio = offered
            .find(|r| r.value().attr("value") == Some(provider))
            .ok_or(FormError::ProviderNotOffered)?;
        if radio.value().attr("disabled").is_some() {
            return Err(FormError::ProviderUnavailable);
        }
        let mut submit = hidden_fields(form)?;
        submit.fields.push(("provider".into(), provider.into()));
        return Ok(submit);
    }
    Err(FormError::NoForm("provider choice"))
}

/// The consent page's form whose button is `decision=accept`, with that decision.
pub fn consent(html: &str) -> Result<Form, FormError> {
    let (form_sel, accept) = (get(&FORM)?, get(&ACCEPT)?);
    for fragment in forms(html) {
        if let Some(form) = fragment.select(form_sel).find(|f| f.select(accept).next().is_some()) {
            let mut submit = hidden_fields(form)?;
            submit.fields.push(("decision".into(), "accept".into()));
            return Ok(submit);
        }
    }
    Err(FormError::NoForm("consent"))
}

/// A page's first form with its hidden inputs, as submitted by pressing its one button (a generic
/// provider's sign-in and consent pages, in peer mode).
pub fn first(html: &str) -> Result<Form, FormError> {
    let form_sel = get(&FORM)?;
    for fragment in forms(html) {
        if let Some(form) = fragment.select(form_sel).next() {
            return hidden_fields(form);
        }
    }
    Err(FormError::NoForm("any"))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    const CHOICE: &str = r#"<html><body>
<a href="?lang=cy" id="switch-language">Cymraeg</a>
<form method="post" action="/choose-provider" novalidate>
  <input type="hidden" name="journey" value="j-123">
  <input type="hidden" name="csrf" value="t-456">
  <input name="provider" type="radio" value="stub-a">
  <input name="provider" type="radio" value="stub-b" disabled>
  <input name="note" type="text" value="not hidden">
  <button type="submit" id="continue">Continue</button>
</form>
<FORM method="post" action="/cancel"><input type="hidden" name="journey" value="j-123">
  <button type="submit">Return</button></FORM>
<footer><form action="/search"><input type="hidden" name="q" value="unclosed">
</body></html>"#;

    #[test]
    fn choice_submits_every_hidden_input_and_the_provider() {
        let form = choice(CHOICE, "stub-a").unwrap();
        assert_eq!(
            form,
            Form {
                action: "/choose-provider".into(),
                post: true,
                fields: vec![
                    ("journey".into(), "j-123".into()),
                    ("csrf".into(), "t-456".into()),
                    ("provider".into(), "stub-a".into()),
                ],
            }
        );
        assert_eq!(choice(CHOICE, "stub-b"), Err(FormError::ProviderUnavailable));
        assert_eq!(choice(CHOICE, "stub-c"), Err(FormError::ProviderNotOffered));
        assert_eq!(
            choice("<form action=/cancel></form>", "stub-a"),
            Err(FormError::NoForm("provider choice"))
        );
    }

    #[test]
    fn consent_takes_the_accepting_form() {
        let page = r#"<form method="get" action="/other"><button name="x">X</button></form>
<form method="post" action="/consent"><input type="hidden" name="journey" value="j">
<button type="submit" name="decision" value="accept">Share</button>
<button type="submit" name="decision" value="decline">No</button></form>"#;
        let form = consent(page).unwrap();
        assert_eq!(form.action, "/consent");
        assert!(form.post);
        assert_eq!(
            form.fields,
            vec![("journey".into(), "j".into()), ("decision".into(), "accept".into())]
        );
        assert_eq!(consent(CHOICE), Err(FormError::NoForm("consent")));
        let cancel = forms(CHOICE).nth(1).unwrap();
        let form = hidden_fields(cancel.select(get(&FORM).unwrap()).next().unwrap()).unwrap();
        assert_eq!(form.action, "/cancel", "forms are found whatever their case");
        assert_eq!(forms(CHOICE).count(), 3, "an unclosed form runs to the end of the page");
    }
}
