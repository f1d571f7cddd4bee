//! The built-in web UI, driven as ops drive it: headless Chromium against a running dispatcher
//! (and, for the repair flow, a worker serving Goonj against the simulators).

use avni_int_dispatcher::catalog::ModuleSpec;
use avni_int_tests::admin_client::AdminClient;
use avni_int_tests::browser::Browser;
use avni_int_tests::fleet::TestApp;
use avni_int_tests::goonj_world::{goonj, reqwest_client, world};
use avni_int_worker::goonj::Goonj;
use avni_int_worker::module::Registry;
use reqwest::{Method, StatusCode};
use std::time::Duration;

const EMAIL: &str = "night-ops@example.org";
const PASSWORD: &str = "correct horse";

async fn log_in(browser: &Browser, password: &str) {
    browser.open("/login").await;
    browser.fill("input[name=email]", EMAIL).await;
    browser.fill("input[name=password]", password).await;
    browser
        .click("form[action='/login'] button[type=submit]")
        .await;
}

#[tokio::test]
async fn admin_ui_refuses_a_bad_password_and_a_form_without_the_sessions_token() {
    let app = TestApp::new().await;
    let tenant = app.add_probe_tenant(&[]).await;
    app.add_user(EMAIL, PASSWORD, tenant).await;
    let dispatcher = app.start_dispatcher(app.dispatcher_config()).await;
    let addr = dispatcher.admin.unwrap();
    let browser = Browser::start(&format!("http://{addr}")).await;

    // No session: any page leads to the login page.
    browser.open("/errors").await;
    assert_eq!(browser.path().await, "/login");

    log_in(&browser, "wrong password").await;
    let text = browser.wait_for_text("Wrong email or password").await;
    assert!(!text.contains("Log out"), "{text}");
    assert_eq!(browser.path().await, "/login");
    browser.open("/errors").await;
    assert_eq!(
        browser.path().await,
        "/login",
        "a bad password opens no session"
    );

    log_in(&browser, PASSWORD).await;
    browser.wait_for_path("/errors").await;
    browser
        .wait_for_text("No errors. Every record synced.")
        .await;

    // Every tab opens, and says what to do when it is empty.
    for (tab, heading, hint) in [
        (
            "Metadata Mapping",
            "Metadata mapping",
            "Add the first mapping",
        ),
        ("Error Types", "Error types", "Add the first one"),
        ("Integration Systems", "Integration system", "probe"),
        ("Errors", "Errors", "No errors. Every record synced."),
    ] {
        browser.click_link(tab).await;
        browser.wait_for_heading(heading).await;
        browser.wait_for_text(hint).await;
    }

    // Jobs: run now, and a pause that asks first.
    browser.click_link("Jobs").await;
    browser
        .wait_for_text("No job has run for this integration system yet.")
        .await;
    browser
        .click("#module-probe form[action$='/run/regular'] button")
        .await;
    browser.wait_for_text("Started the sync job of probe").await;
    let question = browser
        .click_and_confirm("#module-probe form[action$='/pause'] button")
        .await;
    assert!(
        question.starts_with("Pause probe's scheduled jobs?"),
        "{question}"
    );
    let text = browser.wait_for_text("Paused probe").await;
    assert!(text.contains(&format!("by {EMAIL}")), "{text}");
    let paused: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM int_module_pause WHERE integration_system_id = $1 AND module = 'probe'",
    )
    .bind(tenant)
    .fetch_one(app.db.pool())
    .await
    .unwrap();
    assert_eq!(paused, 1);
    let jobs = app.jobs(tenant).await;
    assert_eq!(jobs.len(), 1);
    assert_eq!(
        (jobs[0].kind.as_str(), jobs[0].trigger.as_str()),
        ("regular", "manual")
    );

    // A form whose token is not the session's changes nothing: the logout is refused.
    browser
        .client
        .execute(
            "document.querySelectorAll('input[name=_csrf]').forEach(i => i.value = 'forged');",
            vec![],
        )
        .await
        .unwrap();
    browser.click("form[action='/logout'] button").await;
    browser
        .wait_for_text("This form has expired or did not come from this site")
        .await;
    browser.open("/systems").await;
    let text = browser.wait_for_text("Integration system").await;
    assert!(text.contains(EMAIL), "still logged in: {text}");

    // The real logout ends the session.
    browser.click("form[action='/logout'] button").await;
    browser.wait_for_text("You are logged out.").await;
    browser.open("/errors").await;
    assert_eq!(browser.path().await, "/login");
    browser.close().await;

    // The same check for a script: 403 without the token or with another, 303 with it.
    let client = AdminClient::new(addr);
    client.login(EMAIL, PASSWORD).await;
    let form = "application/x-www-form-urlencoded";
    for body in [
        "name=Demand",
        "name=Demand&_csrf=forged",
        "name=Demand&_csrf=",
    ] {
        let (status, _) = client
            .send_raw(Method::POST, "/mappings/groups", form, body)
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    }
    let groups: i64 = sqlx::query_scalar("SELECT count(*) FROM mapping_group")
        .fetch_one(app.db.pool())
        .await
        .unwrap();
    assert_eq!(groups, 0, "a refused form wrote nothing");
    let html = client
        .http
        .get(client.url("/mappings/groups"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let token = html
        .split("name=\"_csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the page's forms carry the token");
    let (status, _) = client
        .send_raw(
            Method::POST,
            "/mappings/groups",
            form,
            format!("name=Demand&_csrf={token}"),
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    dispatcher.stop().await;
}

#[tokio::test]
async fn admin_ui_ops_add_the_missing_mapping_and_retry_until_the_error_is_gone() {
    let w = world("GoonjDemand").await;
    w.seed_demand_with_unmapped_answer().await;
    assert_eq!(w.run_main_job().await, "succeeded");
    assert_eq!(w.errors().await.len(), 1);

    // The fleet as deployed: a dispatcher that knows Goonj, a worker that serves it.
    let mut config = w.app.dispatcher_config();
    config
        .catalog
        .push(ModuleSpec::tenant_config(goonj(), "Goonj"));
    let dispatcher = w.app.start_dispatcher(config).await;
    let registry =
        Registry::new().with(Goonj::module(reqwest_client(), Duration::from_secs(3600)).unwrap());
    let worker = w.app.start_worker_with(w.app.worker_config(), registry);
    w.app.add_user(EMAIL, PASSWORD, w.tenant).await;
    let browser = Browser::start(&format!("http://{}", dispatcher.admin.unwrap())).await;

    browser.open("/").await;
    assert_eq!(browser.path().await, "/login");
    log_in(&browser, PASSWORD).await;
    browser.wait_for_path("/errors").await;
    let row = "tr[data-entity='a0B000000000FLOOD']";
    let text = browser.find(row).await.text().await.unwrap();
    assert!(
        text.contains("AnswerMappingNotFoundForCodedConcept"),
        "{text}"
    );
    assert!(text.contains("TypeOfDisaster"), "{text}");
    let action = browser
        .find(&format!("{row} .required-action"))
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(
        action,
        "Add the missing answer mapping in Metadata Mapping (the field and value are in the message)."
    );

    // Add the answer mapping the action asks for, through the form.
    browser.click_link("Metadata Mapping").await;
    browser.wait_for_heading("Metadata mapping").await;
    browser.wait_for_text("TypeOfDisaster").await;
    browser.click_link("Add a mapping").await;
    browser.choose("select[name=mappingGroup]", "Demand").await;
    browser
        .choose("select[name=mappingType]", "Observations")
        .await;
    browser.fill("input[name=intSystemValue]", "Flood").await;
    browser.fill("input[name=avniValue]", "Flood").await;
    browser.click("#mapping-form button[type=submit]").await;
    browser.wait_for_text("Mapping added: Flood → Flood").await;
    let mapped: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM mapping_metadata
          WHERE integration_system_id = $1 AND int_system_value = 'Flood' AND avni_value = 'Flood'",
    )
    .bind(w.tenant)
    .fetch_one(w.app.db.pool())
    .await
    .unwrap();
    assert_eq!(mapped, 1);

    // Retry now, then watch the error leave the list once the error job has run.
    browser.click_link("Errors").await;
    browser.wait_for_heading("Errors").await;
    browser.click(&format!("{row} button.retry")).await;
    browser.wait_for_text("Retry started").await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        browser.open("/errors").await;
        let text = browser.text().await;
        if text.contains("No errors. Every record synced.") {
            assert!(!text.contains("a0B000000000FLOOD"), "{text}");
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the error was still listed after 60 s:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(w.errors().await.is_empty());
    let subject = w
        .avni
        .subject("a0B000000000FLOOD")
        .expect("the demand synced");
    assert_eq!(subject["observations"]["Type of Disaster"], "Flood");

    browser.close().await;
    worker.stop().await;
    dispatcher.stop().await;
}
