//! The metadata-mapping resources of the original `/int` API: `mappingGroup`, `mappingType`
//! and `mappingMetadata`. Query functions are public for the built-in web UI; handlers are thin
//! wrappers over them.

pub mod metadata;
pub mod metadata_http;
pub mod named;

pub use metadata::{
    create_mapping, get_mapping, list_mappings, mappings_by_ids, update_mapping, void_mapping,
    MappingFilter, MappingInput, MappingJson, DATA_TYPE_HINTS,
};
pub use named::{
    get_named, list_groups, list_named, list_types, named_by_ids, save_named, void_named,
    NamedInput, NamedJson, NamedKind,
};

use super::AdminState;
use axum::routing::get;
use axum::Router;
use named::{GROUP, TYPE};

pub fn routes() -> Router<AdminState> {
    Router::new()
        .route(
            "/mappingGroup",
            get(named::list::<GROUP>).post(named::create::<GROUP>),
        )
        .route(
            "/mappingGroup/{id}",
            get(named::get_one::<GROUP>)
                .put(named::update::<GROUP>)
                .delete(named::delete::<GROUP>),
        )
        .route(
            "/mappingType",
            get(named::list::<TYPE>).post(named::create::<TYPE>),
        )
        .route(
            "/mappingType/{id}",
            get(named::get_one::<TYPE>)
                .put(named::update::<TYPE>)
                .delete(named::delete::<TYPE>),
        )
        .route(
            "/mappingMetadata",
            get(metadata_http::list).post(metadata_http::create),
        )
        .route("/mappingMetadata/search/{name}", get(metadata_http::search))
        .route(
            "/mappingMetadata/{id}",
            get(metadata_http::get_one)
                .put(metadata_http::update)
                .delete(metadata_http::delete),
        )
}
