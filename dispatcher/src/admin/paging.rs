//! Spring Data paging as the admin app speaks it: `page` (0-based), `size`, `sort=field,ASC|DESC`
//! in, `{"content": [...], "totalElements": N, ...}` out. Sort fields are checked against a
//! per-resource allow-list, so a sort never reaches SQL as text from the client.

use super::error::ApiError;
use super::extract::QueryParams;
use serde::ser::SerializeStruct;
use serde::{Serialize, Serializer};

/// The largest page anyone gets: the UI and the app ask for 10–100; scripts may ask for more.
pub const MAX_PAGE_SIZE: i64 = 2000;
/// Spring's default when `size` is absent.
pub const DEFAULT_PAGE_SIZE: i64 = 20;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SortOrder {
    /// The API's (camelCase) field name.
    pub field: String,
    pub descending: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    pub page: i64,
    pub size: i64,
    pub sort: Vec<SortOrder>,
}

impl PageRequest {
    /// Reads `page`, `size` and every `sort`; out-of-range values are a 400 naming the field.
    pub fn from_query(query: &QueryParams) -> Result<Self, ApiError> {
        let page: i64 = query.parse_opt("page", "a page number")?.unwrap_or(0);
        if page < 0 {
            return Err(ApiError::bad("page", "must be 0 or more"));
        }
        let size: i64 = query
            .parse_opt("size", "a page size")?
            .unwrap_or(DEFAULT_PAGE_SIZE);
        if !(1..=MAX_PAGE_SIZE).contains(&size) {
            return Err(ApiError::bad(
                "size",
                format!("must be between 1 and {MAX_PAGE_SIZE}"),
            ));
        }
        if page.checked_mul(size).is_none_or(|o| o > i32::MAX as i64) {
            return Err(ApiError::bad("page", "is beyond any result"));
        }
        let mut sort = Vec::new();
        for text in query.all("sort").filter(|t| !t.is_empty()) {
            let mut parts = text.split(',').map(str::trim);
            let field = parts.next().unwrap_or_default().to_owned();
            let descending = match parts.next().map(str::to_ascii_uppercase).as_deref() {
                None | Some("ASC") => false,
                Some("DESC") => true,
                Some(other) => {
                    return Err(ApiError::bad(
                        "sort",
                        format!("direction must be ASC or DESC, got {other:?}"),
                    ))
                }
            };
            sort.push(SortOrder { field, descending });
        }
        Ok(PageRequest { page, size, sort })
    }

    /// True when the client asked for paging at all (small resources answer a bare array
    /// otherwise, as the original did).
    pub fn requested(query: &QueryParams) -> bool {
        query.has("page") || query.has("size")
    }

    pub fn offset(&self) -> i64 {
        self.page * self.size
    }

    pub fn limit(&self) -> i64 {
        self.size
    }

    /// An `ORDER BY` clause from the requested sort, mapping API fields to SQL expressions
    /// through `columns`; an unknown field is a 400 naming `sort`. `tiebreak` (for example
    /// `"id"`) is appended so paging is stable.
    pub fn order_by(
        &self,
        columns: &[(&str, &str)],
        default: &str,
        tiebreak: &str,
    ) -> Result<String, ApiError> {
        let mut parts = Vec::new();
        for order in &self.sort {
            let Some((_, column)) = columns.iter().find(|(api, _)| *api == order.field) else {
                let known: Vec<&str> = columns.iter().map(|(api, _)| *api).collect();
                return Err(ApiError::bad(
                    "sort",
                    format!(
                        "cannot sort by {:?}; sortable: {}",
                        order.field,
                        known.join(", ")
                    ),
                ));
            };
            parts.push(format!(
                "{column} {}",
                if order.descending { "DESC" } else { "ASC" }
            ));
        }
        if parts.is_empty() {
            parts.push(default.to_owned());
        }
        parts.push(tiebreak.to_owned());
        Ok(parts.join(", "))
    }
}

/// One page of results in Spring's JSON shape.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub content: Vec<T>,
    pub total_elements: i64,
    pub request: PageRequest,
}

impl<T> Page<T> {
    pub fn new(content: Vec<T>, total_elements: i64, request: PageRequest) -> Self {
        Page {
            content,
            total_elements,
            request,
        }
    }

    pub fn total_pages(&self) -> i64 {
        (self.total_elements + self.request.size - 1) / self.request.size
    }

    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            content: self.content.into_iter().map(f).collect(),
            total_elements: self.total_elements,
            request: self.request,
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SortJson {
    sorted: bool,
    unsorted: bool,
    empty: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PageableJson {
    page_number: i64,
    page_size: i64,
    offset: i64,
    paged: bool,
    unpaged: bool,
    sort: SortJson,
}

impl<T: Serialize> Serialize for Page<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let sorted = !self.request.sort.is_empty();
        let sort = || SortJson {
            sorted,
            unsorted: !sorted,
            empty: !sorted,
        };
        let total_pages = self.total_pages();
        let mut s = serializer.serialize_struct("Page", 11)?;
        s.serialize_field("content", &self.content)?;
        s.serialize_field(
            "pageable",
            &PageableJson {
                page_number: self.request.page,
                page_size: self.request.size,
                offset: self.request.offset(),
                paged: true,
                unpaged: false,
                sort: sort(),
            },
        )?;
        s.serialize_field("totalElements", &self.total_elements)?;
        s.serialize_field("totalPages", &total_pages)?;
        s.serialize_field("last", &(self.request.page + 1 >= total_pages))?;
        s.serialize_field("first", &(self.request.page == 0))?;
        s.serialize_field("size", &self.request.size)?;
        s.serialize_field("number", &self.request.page)?;
        s.serialize_field("sort", &sort())?;
        s.serialize_field("numberOfElements", &self.content.len())?;
        s.serialize_field("empty", &self.content.is_empty())?;
        s.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(query: &str) -> Result<PageRequest, ApiError> {
        PageRequest::from_query(&QueryParams::parse(query).unwrap())
    }

    #[test]
    fn reads_spring_paging() {
        let r = request("page=2&size=10&sort=loggedAt,DESC").unwrap();
        assert_eq!((r.page, r.size, r.offset()), (2, 10, 20));
        let sql = r
            .order_by(&[("loggedAt", "l.logged_at")], "l.id", "l.id DESC")
            .unwrap();
        assert_eq!(sql, "l.logged_at DESC, l.id DESC");
    }

    #[test]
    fn out_of_range_paging_names_the_field() {
        for (query, field) in [
            ("page=-1", "page"),
            ("size=0", "size"),
            ("size=5000", "size"),
            ("size=ten", "size"),
            ("page=99999999999&size=2000", "page"),
            ("sort=id,SIDEWAYS", "sort"),
        ] {
            match request(query) {
                Err(ApiError::BadRequest { field: f, .. }) => assert_eq!(f, field, "{query}"),
                other => panic!("{query}: expected 400 on {field}, got {other:?}"),
            }
        }
    }

    #[test]
    fn unknown_sort_field_is_refused() {
        let r = request("sort=password,ASC").unwrap();
        assert!(matches!(
            r.order_by(&[("id", "id")], "id", "id"),
            Err(ApiError::BadRequest { .. })
        ));
    }

    #[test]
    fn page_json_has_springs_shape() {
        let page = Page::new(vec![1, 2], 12, request("page=1&size=2").unwrap());
        let json = serde_json::to_value(&page).unwrap();
        assert_eq!(json["content"], serde_json::json!([1, 2]));
        assert_eq!(json["totalElements"], 12);
        assert_eq!(json["totalPages"], 6);
        assert_eq!(json["number"], 1);
        assert_eq!(json["size"], 2);
        assert_eq!(json["first"], false);
        assert_eq!(json["last"], false);
        assert_eq!(json["pageable"]["offset"], 2);
    }
}
