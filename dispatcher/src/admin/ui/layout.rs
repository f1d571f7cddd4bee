//! The page shell every tab renders into: the tab bar, who is logged in with a logout button,
//! the flash message, and the inline stylesheet.

use super::context::Ctx;
use super::csrf;
use super::flash::{Flash, FlashKind};
use super::style::CSS;
use maud::{html, Markup, PreEscaped, DOCTYPE};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tab {
    Errors,
    Mappings,
    ErrorTypes,
    Jobs,
    Systems,
}

impl Tab {
    pub const ALL: [Tab; 5] = [
        Tab::Errors,
        Tab::Mappings,
        Tab::ErrorTypes,
        Tab::Jobs,
        Tab::Systems,
    ];

    pub fn path(self) -> &'static str {
        match self {
            Tab::Errors => "/errors",
            Tab::Mappings => "/mappings",
            Tab::ErrorTypes => "/error-types",
            Tab::Jobs => "/jobs",
            Tab::Systems => "/systems",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Tab::Errors => "Errors",
            Tab::Mappings => "Metadata Mapping",
            Tab::ErrorTypes => "Error Types",
            Tab::Jobs => "Jobs",
            Tab::Systems => "Integration Systems",
        }
    }
}

/// A whole page of `tab` titled `title`.
pub fn page(ctx: &Ctx, tab: Tab, title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Avni integration" }
                style { (PreEscaped(CSS)) }
            }
            body {
                header {
                    span.brand { "Avni integration" }
                    nav {
                        @for t in Tab::ALL {
                            a href=(t.path()) class=[(t == tab).then_some("active")] { (t.label()) }
                        }
                    }
                    div.who {
                        span { (ctx.user.email) }
                        (post_button(ctx, "/logout", "Log out", "secondary", None, &[]))
                    }
                }
                main {
                    @if let Some(flash) = &ctx.flash { (flash_box(flash)) }
                    h1 { (title) }
                    (body)
                }
            }
        }
    }
}

pub fn flash_box(flash: &Flash) -> Markup {
    let class = match flash.kind {
        FlashKind::Success => "flash ok",
        FlashKind::Error => "flash err",
    };
    html! { div class=(class) role="status" id="flash" { (flash.text) } }
}

/// What a list shows when it has nothing: what that means and what to do.
pub fn empty(what: &str, todo: Markup) -> Markup {
    html! { div.empty { p { strong { (what) } } p { (todo) } } }
}

/// A POST button with the session's token and `hidden` fields; `confirm` asks first
/// (destructive actions).
pub fn post_button(
    ctx: &Ctx,
    action: &str,
    label: &str,
    class: &str,
    confirm: Option<&str>,
    hidden: &[(&str, &str)],
) -> Markup {
    // The one piece of script in the UI: a native confirm() before a destructive post.
    let onsubmit = confirm.map(|question| {
        format!(
            "return confirm({});",
            serde_json::to_string(question).unwrap_or_else(|_| "\"Are you sure?\"".into())
        )
    });
    html! {
        form.inline method="post" action=(action) onsubmit=[onsubmit] {
            (csrf::field(&ctx.user))
            @for (name, value) in hidden { input type="hidden" name=(name) value=(value); }
            button type="submit" class=(class) { (label) }
        }
    }
}
