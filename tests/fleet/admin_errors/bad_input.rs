//! Bad input to the error log and error type calls: a 400 naming the field, and nothing written.

use super::world;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

#[tokio::test]
async fn admin_errors_bad_input_is_a_400_naming_the_field() {
    let w = world().await;
    let (_dispatcher, client) = w.app.admin_session(w.a).await;
    let long = "x".repeat(251);
    let cases: Vec<(Method, String, Option<Value>, &str)> = vec![
        (
            Method::GET,
            "/int/errorRecordLog/search/findByStartDate?startDate=2024-13-01".into(),
            None,
            "startDate",
        ),
        (
            Method::GET,
            "/int/errorRecordLog/search/findByEndDate?endDate=01/02/2024".into(),
            None,
            "endDate",
        ),
        (
            Method::GET,
            "/int/errorRecordLog/search/findByErrorType?errorType=abc".into(),
            None,
            "errorType",
        ),
        (
            Method::GET,
            "/int/errorRecordLog/search/findByEntity".into(),
            None,
            "entityId",
        ),
        (
            Method::GET,
            "/int/errorRecordLog/search/find?startDate=2024-03-01&endDate=2024-01-01".into(),
            None,
            "endDate",
        ),
        (
            Method::GET,
            "/int/errorRecordLog?sort=errorMsg,ASC".into(),
            None,
            "sort",
        ),
        (
            Method::GET,
            "/int/errorRecordLog?size=0".into(),
            None,
            "size",
        ),
        (Method::GET, "/int/errorType?ids=1,x".into(), None, "ids"),
        (
            Method::GET,
            "/int/errorType?page=0&size=10&sort=comparisonValue,ASC".into(),
            None,
            "sort",
        ),
        (
            Method::POST,
            "/int/errorType".into(),
            Some(
                json!({"name": "R", "comparisonOperator": "MATCHES", "comparisonValue": "(unclosed"}),
            ),
            "comparisonValue",
        ),
        (
            Method::POST,
            "/int/errorType".into(),
            Some(json!({"name": "R", "comparisonOperator": "LIKE", "comparisonValue": "x"})),
            "comparisonOperator",
        ),
        (
            Method::POST,
            "/int/errorType".into(),
            Some(json!({"name": "R", "comparisonOperator": "CONTAINS"})),
            "comparisonValue",
        ),
        (
            Method::POST,
            "/int/errorType".into(),
            Some(json!({"name": "R", "followUpStep": "Later"})),
            "followUpStep",
        ),
        (
            Method::POST,
            "/int/errorType".into(),
            Some(json!({"name": " "})),
            "name",
        ),
        (
            Method::POST,
            "/int/errorType".into(),
            Some(json!({"name": long})),
            "name",
        ),
        (
            Method::POST,
            "/int/errorType".into(),
            Some(json!({"comparisonValue": "x"})),
            "name",
        ),
        (
            Method::POST,
            "/int/errorType".into(),
            Some(json!({"name": "AddressNotFound"})),
            "name",
        ),
        (
            Method::PUT,
            format!("/int/errorType/{}", w.address_a),
            Some(json!({"name": 7})),
            "name",
        ),
        (
            Method::PUT,
            format!("/int/errorRecordLog/{}", 1),
            Some(json!({"processingDisabled": "yes"})),
            "processingDisabled",
        ),
    ];
    for (method, path, body, field) in cases {
        let (status, answer) = client.call(method.clone(), &path, body.as_ref()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{method} {path}: {answer}");
        assert!(
            answer.get(field).is_some(),
            "{method} {path}: expected {field} named in {answer}"
        );
    }
    let (status, _) = client
        .send_raw(
            Method::PUT,
            "/int/errorRecordLog/1",
            "application/json",
            "{",
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    for path in [
        "/int/errorRecordLog/999999",
        "/int/errorRecordLog/abc",
        "/int/errorType/999999",
    ] {
        assert_eq!(client.get(path).await.0, StatusCode::NOT_FOUND, "{path}");
    }
    let before: i64 = sqlx::query_scalar("SELECT count(*) FROM error_type")
        .fetch_one(w.app.db.pool())
        .await
        .unwrap();
    assert_eq!(before, 4, "no refused create wrote a row");
}
