//! The typed Avni calls the sync makes, and the `PageSource`s that feed the incremental reader
//! from `/api/subjects` and `/api/encounters`. Reads pin `version` to the config's
//! `read_version`; writes take theirs explicitly (3 for `Address map`).

use super::client::{AvniClient, Repeat};
use super::cursor::AvniCursor;
use super::entity::{Encounter, Page, Subject, SubjectRequest};
use super::error::AvniError;
use super::query::{EncounterQuery, SubjectQuery};
use super::raw::Raw;
use super::reader::{IncrementalReader, PageSource};
use chrono::{DateTime, TimeDelta, Utc};
use reqwest::header::CONTENT_TYPE;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::Value;

/// A path segment: IDs may be External IDs with spaces or slashes.
fn segment(id: &str) -> String {
    urlencoding::encode(id).into_owned()
}

/// 404 means "no such record" for single-record calls.
fn found<T>(result: Result<T, AvniError>) -> Result<Option<T>, AvniError> {
    match result {
        Ok(value) => Ok(Some(value)),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e),
    }
}

impl AvniClient {
    /// `GET /api/subjects`: one page as asked (the reader does the incremental walking).
    pub async fn subjects_page(&self, query: &SubjectQuery) -> Result<Page<Subject>, AvniError> {
        self.list(
            "/api/subjects",
            query.query_string(self.config().read_version).as_str(),
        )
        .await
    }

    /// [`Self::subjects_page`] with the records kept as text until each is processed.
    pub async fn subjects_page_raw(
        &self,
        query: &SubjectQuery,
    ) -> Result<Page<Raw<Subject>>, AvniError> {
        self.list(
            "/api/subjects",
            query.query_string(self.config().read_version).as_str(),
        )
        .await
    }

    /// `GET /api/encounters` (general encounters).
    pub async fn encounters_page(
        &self,
        query: &EncounterQuery,
    ) -> Result<Page<Encounter>, AvniError> {
        self.list(
            "/api/encounters",
            query.query_string(self.config().read_version).as_str(),
        )
        .await
    }

    /// [`Self::encounters_page`] with the records kept as text until each is processed.
    pub async fn encounters_page_raw(
        &self,
        query: &EncounterQuery,
    ) -> Result<Page<Raw<Encounter>>, AvniError> {
        self.list(
            "/api/encounters",
            query.query_string(self.config().read_version).as_str(),
        )
        .await
    }

    async fn list<T: DeserializeOwned>(&self, path: &str, query: &str) -> Result<T, AvniError> {
        let url = self.url(&format!("{path}?{query}"));
        let what = format!("GET {path}");
        self.send_json(&what, Repeat::Safe, |http| http.get(&url))
            .await
    }

    /// `GET /api/subject/{id}` by UUID or External ID; `None` if Avni has no such subject.
    pub async fn get_subject(&self, id: &str) -> Result<Option<Subject>, AvniError> {
        self.subject_as(id).await
    }

    /// Whether the subject is voided (`GET /api/subject/{id}`, reading nothing else of it);
    /// `None` if Avni has no such subject.
    pub async fn subject_voided(&self, id: &str) -> Result<Option<bool>, AvniError> {
        #[derive(Deserialize)]
        struct Voided {
            // Read as `Entity::voided` reads it: anything but `true` is not voided.
            #[serde(rename = "Voided", default)]
            voided: Option<Value>,
        }
        let subject: Option<Voided> = self.subject_as(id).await?;
        Ok(subject.map(|s| s.voided.and_then(|v| v.as_bool()).unwrap_or(false)))
    }

    async fn subject_as<T: DeserializeOwned>(&self, id: &str) -> Result<Option<T>, AvniError> {
        let url = self.url(&format!(
            "/api/subject/{}?version={}",
            segment(id),
            self.config().read_version
        ));
        found(
            self.send_json("GET /api/subject", Repeat::Safe, |http| http.get(&url))
                .await,
        )
    }

    /// `GET /api/encounter/{id}`; `None` if missing.
    pub async fn get_encounter(&self, id: &str) -> Result<Option<Encounter>, AvniError> {
        let url = self.url(&format!(
            "/api/encounter/{}?version={}",
            segment(id),
            self.config().read_version
        ));
        found(
            self.send_json("GET /api/encounter", Repeat::Safe, |http| http.get(&url))
                .await,
        )
    }

    /// `POST /api/subject`: creates, or updates the subject with the same `External ID`.
    /// Without an External ID a repeat could create a second subject, so it is not retried.
    pub async fn upsert_subject(
        &self,
        request: &SubjectRequest,
        version: u32,
    ) -> Result<Subject, AvniError> {
        let url = self.url(&format!("/api/subject?version={version}"));
        let repeat = if request.external_id.is_some() {
            Repeat::Write
        } else {
            Repeat::Never
        };
        self.send_json("POST /api/subject", repeat, |http| {
            http.post(&url).json(request)
        })
        .await
    }

    /// `PATCH /api/subject/{id}`: only the keys sent change; observations merge, and a null
    /// observation deletes it.
    pub async fn patch_subject(
        &self,
        id: &str,
        patch: &Value,
        version: u32,
    ) -> Result<Subject, AvniError> {
        let url = self.url(&format!("/api/subject/{}?version={version}", segment(id)));
        self.send_json("PATCH /api/subject", Repeat::Write, |http| {
            http.patch(&url).json(patch)
        })
        .await
    }

    /// `DELETE /api/subject/{id}`: voids it and returns it; `None` if Avni has no such subject.
    pub async fn delete_subject(&self, id: &str) -> Result<Option<Subject>, AvniError> {
        let url = self.url(&format!("/api/subject/{}", segment(id)));
        found(
            self.send_json("DELETE /api/subject", Repeat::Safe, |http| {
                http.delete(&url)
            })
            .await,
        )
    }

    /// `GET /media/uploadUrl/{file_name}`: a presigned URL to PUT the file to.
    pub async fn media_upload_url(&self, file_name: &str) -> Result<String, AvniError> {
        let url = self.url(&format!("/media/uploadUrl/{}", segment(file_name)));
        let answer = self
            .send("GET /media/uploadUrl", Repeat::Safe, |http| http.get(&url))
            .await?;
        // A plain-text URL; tolerate it arriving as a JSON string.
        let text = answer.text();
        let text = text.trim();
        let upload = serde_json::from_str::<String>(text).unwrap_or_else(|_| text.to_owned());
        if upload.is_empty() {
            return Err(AvniError::Unexpected(
                "GET /media/uploadUrl answered an empty URL".into(),
            ));
        }
        Ok(upload)
    }

    /// PUTs a file to a presigned URL from `media_upload_url` (no Avni credentials: the URL
    /// carries its own).
    pub async fn put_media(
        &self,
        upload_url: &str,
        bytes: Vec<u8>,
        content_type: &str,
    ) -> Result<(), AvniError> {
        self.send_elsewhere("PUT media", |http| {
            http.put(upload_url)
                .header(CONTENT_TYPE, content_type)
                .body(bytes.clone())
        })
        .await
        .map(drop)
    }

    /// The end of a read window: the query's `now`, else now minus `read_lag`.
    fn read_until(&self, now: Option<DateTime<Utc>>) -> DateTime<Utc> {
        now.unwrap_or_else(|| {
            Utc::now() - TimeDelta::from_std(self.config().read_lag).unwrap_or_default()
        })
    }

    /// New subjects matching `query` (its time and paging fields are the reader's) after
    /// `cursor`.
    pub fn subjects_reader(
        &self,
        query: SubjectQuery,
        cursor: AvniCursor,
    ) -> IncrementalReader<SubjectSource> {
        let now = self.read_until(query.now);
        let size = self.config().effective_page_size();
        let source = SubjectSource {
            client: self.clone(),
            query,
        };
        IncrementalReader::new(source, cursor, now, size)
    }

    /// New general encounters matching `query` after `cursor`.
    pub fn encounters_reader(
        &self,
        query: EncounterQuery,
        cursor: AvniCursor,
    ) -> IncrementalReader<EncounterSource> {
        let now = self.read_until(query.now);
        let size = self.config().effective_page_size();
        let source = EncounterSource {
            client: self.clone(),
            query,
        };
        IncrementalReader::new(source, cursor, now, size)
    }
}

/// `/api/subjects` as a `PageSource`.
pub struct SubjectSource {
    client: AvniClient,
    query: SubjectQuery,
}

impl PageSource for SubjectSource {
    type Item = Raw<Subject>;

    async fn fetch(
        &self,
        after: DateTime<Utc>,
        now: DateTime<Utc>,
        page: u32,
        size: u32,
    ) -> Result<Page<Raw<Subject>>, AvniError> {
        let query = SubjectQuery {
            last_modified_after: Some(after),
            now: Some(now),
            page,
            size,
            ..self.query.clone()
        };
        self.client.subjects_page_raw(&query).await
    }
}

/// `/api/encounters` as a `PageSource`.
pub struct EncounterSource {
    client: AvniClient,
    query: EncounterQuery,
}

impl PageSource for EncounterSource {
    type Item = Raw<Encounter>;

    async fn fetch(
        &self,
        after: DateTime<Utc>,
        now: DateTime<Utc>,
        page: u32,
        size: u32,
    ) -> Result<Page<Raw<Encounter>>, AvniError> {
        let query = EncounterQuery {
            last_modified_after: Some(after),
            now: Some(now),
            page,
            size,
            ..self.query.clone()
        };
        self.client.encounters_page_raw(&query).await
    }
}
