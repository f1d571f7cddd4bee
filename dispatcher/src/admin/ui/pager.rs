//! Paging for the UI's lists: `page` (0-based) and `size` from the query string, forgiving
//! (a bad value falls back rather than failing a page) and capped at 100 rows, and the
//! "previous / next / rows per page" bar that keeps the page's other filters.

use crate::admin::extract::QueryParams;
use crate::admin::paging::{Page, PageRequest};
use maud::{html, Markup};

pub const MAX_SIZE: i64 = 100;
pub const DEFAULT_SIZE: i64 = 25;
const SIZES: [i64; 3] = [25, 50, 100];

/// The requested page, clamped to what the UI serves.
pub fn request(query: &QueryParams) -> PageRequest {
    let number = |name: &str| query.get(name).and_then(|v| v.trim().parse::<i64>().ok());
    let size = number("size").unwrap_or(DEFAULT_SIZE).clamp(1, MAX_SIZE);
    // Past ~2^31 rows nothing is there; keep the offset arithmetic far from overflow.
    let page = number("page")
        .unwrap_or(0)
        .clamp(0, i32::MAX as i64 / MAX_SIZE);
    PageRequest {
        page,
        size,
        sort: Vec::new(),
    }
}

/// `path?query` with `page`/`size` replaced (other parameters kept, in order).
pub fn link(path: &str, query: &QueryParams, page: i64, size: i64) -> String {
    let mut pairs: Vec<(String, String)> = query
        .0
        .iter()
        .filter(|(k, v)| k != "page" && k != "size" && !v.is_empty())
        .cloned()
        .collect();
    pairs.push(("page".into(), page.to_string()));
    pairs.push(("size".into(), size.to_string()));
    let encoded = serde_urlencoded::to_string(&pairs).unwrap_or_default();
    format!("{path}?{encoded}")
}

/// The bar under a list: where we are, previous/next, rows per page.
pub fn nav<T>(page: &Page<T>, path: &str, query: &QueryParams) -> Markup {
    let request = &page.request;
    let total_pages = page.total_pages().max(1);
    let first_row = request.offset() + 1;
    let last_row = request.offset() + page.content.len() as i64;
    html! {
        div.pager {
            span {
                @if page.content.is_empty() {
                    "No rows on this page"
                } @else {
                    "Showing " (first_row) "–" (last_row) " of " (page.total_elements)
                }
            }
            @if request.page > 0 {
                a href=(link(path, query, request.page - 1, request.size)) rel="prev" { "‹ Previous" }
            }
            span.muted { "Page " (request.page + 1) " of " (total_pages) }
            @if request.page + 1 < total_pages {
                a href=(link(path, query, request.page + 1, request.size)) rel="next" { "Next ›" }
            }
            span.sizes.muted {
                "Rows per page:"
                @for size in SIZES {
                    @if size == request.size { strong { (size) } }
                    @else { a href=(link(path, query, 0, size)) { (size) } }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paging_is_clamped_and_links_keep_filters() {
        let query = QueryParams::parse("entity=a%20b&page=-3&size=5000").unwrap();
        let request = request(&query);
        assert_eq!((request.page, request.size), (0, MAX_SIZE));
        assert_eq!(
            link("/errors", &query, 2, 50),
            "/errors?entity=a+b&page=2&size=50"
        );
        let garbage = QueryParams::parse("page=x&size=y").unwrap();
        let request = super::request(&garbage);
        assert_eq!((request.page, request.size), (0, DEFAULT_SIZE));
    }
}
